import Foundation
import MusterPostgres
import MusterRuntime
import MusterStore
import Testing

/// The built binaries against a real PostgreSQL: claimers in several processes, and `muster run`.
@Suite(.enabled(if: PostgresTestDatabase.enabled, PostgresTestDatabase.skipReason))
struct PostgresProcessTests {
    /// The folder the test runner was built into holds `muster` and `muster-bench` too.
    static let binDirectory: URL = {
        if let override = ProcessInfo.processInfo.environment["MUSTER_BIN_DIR"] { return URL(fileURLWithPath: override) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("muster").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }()

    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "MUSTER_STORE")
        for (key, value) in extra { env[key] = value }
        return env
    }

    /// Runs a binary to its end on a thread of its own (never a concurrency pool thread).
    static func run(_ tool: String, _ arguments: [String], in directory: URL, environment extra: [String: String] = [:])
        async throws -> CommandRunner.Output {
        try await CommandRunner.run(binDirectory.appendingPathComponent(tool).path, arguments, in: directory.path,
                                    environment: environment(extra))
    }

    static func temporaryFolder(_ name: String) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("muster-pg-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Eight `muster-bench claim-worker` processes race for the same 4,000 tasks in one PostgreSQL
    /// store: each task is claimed exactly once and ends `succeeded`. Correctness only, no timing.
    @Test(.timeLimit(.minutes(10)))
    func eightProcessesClaimEveryTaskOnce() async throws {
        let taskCount = 4_000, workers = 8
        try await PostgresTestDatabase.withFreshStore { store, url in
            let dir = try Self.temporaryFolder("claims")
            defer { try? FileManager.default.removeItem(at: dir) }
            let seed = try await Self.run("muster-bench", ["seed", "--store", url, "--run", "claims", "--tasks", "\(taskCount)"], in: dir)
            try #require(seed.succeeded, "seed failed: \(seed.stderr)")
            let outs = (0..<workers).map { dir.appendingPathComponent("worker-\($0).ids").path }
            let results = try await withThrowingTaskGroup(of: (Int, CommandRunner.Output).self) { group in
                for index in 0..<workers {
                    group.addTask {
                        (index, try await Self.run("muster-bench", [
                            "claim-worker", "--store", url, "--run", "claims", "--holder", "worker-\(index)",
                            "--batch", index % 2 == 0 ? "1" : "16", "--out", outs[index],
                        ], in: dir))
                    }
                }
                var all: [Int: CommandRunner.Output] = [:]
                for try await (index, output) in group { all[index] = output }
                return all
            }
            for (index, output) in results.sorted(by: { $0.key < $1.key }) {
                try #require(output.succeeded, "worker \(index) failed: \(output.stderr)")
            }
            let ids = try outs.flatMap { try String(contentsOfFile: $0, encoding: .utf8).split(separator: "\n").map(String.init) }
            let doubles = Dictionary(grouping: ids, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
            #expect(doubles.isEmpty, "\(doubles.count) tasks claimed twice, e.g. \(doubles.prefix(5))")
            #expect(ids.count == taskCount, "claimed \(ids.count) ids in total")
            #expect(Set(ids) == Set((1...taskCount).map { "t\($0)" }), "some tasks were never claimed")
            let counts = try await store.counts(run: "claims")
            #expect(counts[.succeeded] == taskCount && counts.total == taskCount, "store counts: \(counts.byState)")
        }
    }

    /// `muster run --store postgres://…` runs a small workflow with a fan-in to the end; `status`
    /// and `runs` read it back through MUSTER_STORE, from a folder with no .muster store at all.
    @Test(.timeLimit(.minutes(5)))
    func musterRunOnAPostgresStore() async throws {
        try await PostgresTestDatabase.withFreshStore { store, url in
            let repo = try Self.temporaryFolder("run")
            defer { try? FileManager.default.removeItem(at: repo) }
            for arguments in [["init", "-q", "-b", "main"], ["config", "user.name", "Test"], ["config", "user.email", "t@example.com"]] {
                _ = try await CommandRunner.run("/usr/bin/env", ["git"] + arguments, in: repo.path, environment: Self.environment())
            }
            try """
            name: pg-e2e
            agent: shell
            tasks:
              write:
                foreach: {items: [a, b, c]}
                command: ["sh", "-c", "echo {{item}} > {{item}}.txt"]
                owns: ["{{item}}.txt"]
              gather:
                needs: [write]
                command: ["sh", "-c", "echo done"]
            """.write(to: repo.appendingPathComponent("muster.yml"), atomically: true, encoding: .utf8)
            _ = try await CommandRunner.run("/usr/bin/env", ["git", "add", "-A"], in: repo.path, environment: Self.environment())
            _ = try await CommandRunner.run("/usr/bin/env", ["git", "commit", "-qm", "spec"], in: repo.path, environment: Self.environment())

            let run = try await Self.run("muster", ["run", "muster.yml", "--store", url, "--json"], in: repo)
            try #require(run.succeeded, "muster run failed: \(run.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            #expect(summary["status"] as? String == "succeeded")
            #expect((summary["counts"] as? [String: Int])?["succeeded"] == 4, "\(summary)")
            #expect(!FileManager.default.fileExists(atPath: repo.appendingPathComponent(".muster/muster.db").path),
                    "a SQLite store was made beside the PostgreSQL one")

            let id = try #require(summary["run"] as? String)
            let record = try #require(try await store.run(id))
            #expect(record.status == .succeeded)
            #expect(try await store.tasks(run: id).allSatisfy { $0.state == .succeeded })

            let status = try await Self.run("muster", ["status", id, "--json"], in: repo, environment: ["MUSTER_STORE": url])
            try #require(status.succeeded, "status failed: \(status.stderr)")
            let tasks = try #require((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["tasks"]
                as? [[String: Any]])
            #expect(tasks.count == 4 && tasks.allSatisfy { $0["state"] as? String == "succeeded" })
        }
    }

    @Test func aMalformedStoreURLIsBadInput() async throws {
        let dir = try Self.temporaryFolder("bad-url")
        defer { try? FileManager.default.removeItem(at: dir) }
        let result = try await Self.run("muster", ["runs", "--store", "postgres://u@127.0.0.1/db?pool=zero"], in: dir)
        #expect(result.status == .exited(2), "\(result.status): \(result.stderr)")
        #expect(result.stderr.contains("pool=zero"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "one line: \(result.stderr)")
    }
}
