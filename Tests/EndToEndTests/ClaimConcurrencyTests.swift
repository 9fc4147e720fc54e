import Foundation
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing

/// Eight `muster-bench claim-worker` processes race for the same 20,000 tasks in one SQLite store:
/// every task must be claimed exactly once and end `succeeded`. Correctness only, no timing.
@Suite("Claim concurrency across processes")
struct ClaimConcurrencyTests {
    static let taskCount = 20_000
    static let workers = 8

    @Test("8 claim-worker processes: no double claim, nothing lost", .timeLimit(.minutes(10)))
    func eightProcessesClaimEveryTaskOnce() async throws {
        let bench = try Self.benchBinary()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("muster-claims-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = dir.appendingPathComponent("muster.db").path
        let run = "claims"

        let seed = try Self.launch(bench, ["seed", "--store", store, "--run", run, "--tasks", String(Self.taskCount)], in: dir, name: "seed")
        let seeded = await seed.process.exited()
        try #require(seeded == .exited(0), "seed failed: \(seed.stderr())")

        // Alternate single claims and batches of 16, so small and large claims contend.
        let outs = (0..<Self.workers).map { dir.appendingPathComponent("worker-\($0).ids").path }
        let launched = try (0..<Self.workers).map { index in
            try Self.launch(bench, ["claim-worker", "--store", store, "--run", run, "--holder", "worker-\(index)",
                                    "--batch", index % 2 == 0 ? "1" : "16", "--out", outs[index]], in: dir, name: "worker-\(index)")
        }
        var statuses: [TerminationStatus] = []
        for worker in launched { statuses.append(await worker.process.exited()) }

        var reported = 0
        for (index, worker) in launched.enumerated() {
            try #require(statuses[index] == .exited(0), "worker \(index) ended with \(statuses[index]): \(worker.stderr())")
            let line = worker.stdout().trimmingCharacters(in: .whitespacesAndNewlines)
            let claims = line.split(separator: " ").first { $0.hasPrefix("claims=") }.flatMap { Int($0.dropFirst(7)) }
            try #require(claims != nil, "worker \(index) printed \(line)")
            reported += claims ?? 0
        }

        let ids = try outs.flatMap { path in
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        #expect(ids.count == Self.taskCount, "claimed \(ids.count) ids in total")
        #expect(reported == ids.count, "workers reported \(reported) claims but wrote \(ids.count) ids")
        let distinct = Set(ids)
        #expect(distinct.count == Self.taskCount, "\(distinct.count) distinct ids")
        let doubles = Dictionary(grouping: ids, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(doubles.isEmpty, "\(doubles.count) tasks claimed twice, e.g. \(doubles.prefix(5))")
        let expected = Set((1...Self.taskCount).map { "t\($0)" })
        #expect(distinct == expected, "\(expected.subtracting(distinct).count) tasks never claimed, \(distinct.subtracting(expected).count) unknown ids")

        let counts = try await SQLiteStore(path: store).counts(run: run)
        #expect(counts[.succeeded] == Self.taskCount, "store counts: \(counts.byState)")
        #expect(counts.total == Self.taskCount, "store counts: \(counts.byState)")
    }

    // MARK: Helpers

    struct Launched {
        let process: BackgroundProcess
        let stdoutPath: String
        let stderrPath: String
        func stdout() -> String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
        func stderr() -> String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    }

    /// Output goes to files, so a chatty process can never block on a full pipe.
    static func launch(_ executable: URL, _ arguments: [String], in dir: URL, name: String) throws -> Launched {
        let stdoutPath = dir.appendingPathComponent("\(name).stdout").path
        let stderrPath = dir.appendingPathComponent("\(name).stderr").path
        let process = try Command.start(executable.path, arguments, in: dir, stdout: stdoutPath, stderr: stderrPath)
        return Launched(process: process, stdoutPath: stdoutPath, stderrPath: stderrPath)
    }

    struct MissingBinary: Error, CustomStringConvertible {
        var searched: [String]
        var description: String {
            "muster-bench not found next to the test bundle (looked in \(searched.joined(separator: ", "))): "
                + "build it first with `swift build --build-tests --scratch-path …`, or set MUSTER_BENCH"
        }
    }

    /// `muster-bench` sits in the build products folder beside the test bundle (`.build/debug/`).
    static func benchBinary() throws -> URL {
        if let override = ProcessInfo.processInfo.environment["MUSTER_BENCH"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        let runner = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.resolvingSymlinksInPath()
        let bundle = Bundle.main.bundleURL.standardizedFileURL
        // Linux: the test runner is an executable in the products folder. macOS: the .xctest bundle is.
        let folders = [runner.deletingLastPathComponent(), bundle, bundle.deletingLastPathComponent()]
            + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        var searched: [String] = []
        for folder in folders where !searched.contains(folder.path) {
            let candidate = folder.appendingPathComponent("muster-bench")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            searched.append(folder.path)
        }
        throw MissingBinary(searched: searched)
    }
}
