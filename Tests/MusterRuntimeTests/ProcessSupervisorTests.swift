import Foundation
import Synchronization
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Real processes through the supervisor: exit statuses, captured output, the cap, process groups.
@Suite struct ProcessSupervisorTests {
    final class Exits: Sendable {
        let received = Mutex<[String: TerminationStatus]>([:])
        /// The limit only stops a broken test from hanging the suite: synchronous end-to-end tests
        /// can hold both of a 2-core machine's concurrency threads for many seconds.
        func wait(for key: String, timeout: Duration = .seconds(180)) async throws -> TerminationStatus {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let status = received.withLock({ $0[key] }) { return status }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw CancellationError()
        }
    }

    let folder = try! TemporaryFolder("sup")
    var dir: URL { folder.url }

    func launch(_ supervisor: ProcessSupervisor, key: String, _ script: String, logCap: Int = 1 << 20) throws -> LaunchedProcess {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return try supervisor.launch(LaunchRequest(
            key: key, executable: "/bin/sh", arguments: ["sh", "-c", script], environment: ["PATH": "/usr/bin:/bin"],
            directory: dir.path, logPath: dir.appendingPathComponent("\(key).log").path,
            stdoutPath: dir.appendingPathComponent("\(key).out").path, logCap: logCap))
    }

    func makeSupervisor() -> (ProcessSupervisor, Exits) {
        let exits = Exits()
        return (ProcessSupervisor { exit in exits.received.withLock { $0[exit.key] = exit.status } }, exits)
    }

    @Test func reportsExitStatusAndCapturesBothStreams() async throws {
        let (supervisor, exits) = makeSupervisor()
        _ = try launch(supervisor, key: "a", "echo out; echo err >&2; exit 3")
        #expect(try await exits.wait(for: "a") == .exited(3))
        let log = try String(contentsOf: dir.appendingPathComponent("a.log"), encoding: .utf8)
        let out = try String(contentsOf: dir.appendingPathComponent("a.out"), encoding: .utf8)
        #expect(log.contains("out") && log.contains("err"))
        #expect(out == "out\n", "stdout alone is the result; stderr stays out of it")
    }

    @Test func runsInItsOwnProcessGroupInTheRequestedFolder() async throws {
        let (supervisor, exits) = makeSupervisor()
        let process = try launch(supervisor, key: "g", "pwd; ps -o pgid= -p $$")
        #expect(try await exits.wait(for: "g") == .exited(0))
        let out = try String(contentsOf: dir.appendingPathComponent("g.out"), encoding: .utf8).split(separator: "\n").map(String.init)
        let folder = out.first ?? ""
        #expect(folder == dir.path || folder == dir.resolvingSymlinksInPath().path)
        let pgid = Int32((out.last ?? "").trimmingCharacters(in: .whitespaces))
        #expect(pgid == process.pid, "pgid must equal the leader's pid")
    }

    @Test func capsTheLogAndKeepsTheTail() async throws {
        let (supervisor, exits) = makeSupervisor()
        // ~1.1 MB of numbered lines against a 64 KiB cap.
        _ = try launch(supervisor, key: "big", "i=0; while [ $i -lt 100000 ]; do echo \"line $i\"; i=$((i+1)); done", logCap: 64 * 1024)
        let status = try await exits.wait(for: "big")
        #expect(status == .exited(0))
        let log = try String(contentsOf: dir.appendingPathComponent("big.log"), encoding: .utf8)
        let size = log.utf8.count
        #expect(size <= 2 * 64 * 1024 + 200, "log must stay within cap + tail + marker, was \(size)")
        #expect(log.hasPrefix("line 0\n"))
        #expect(log.contains("[muster: output capped at 65536 bytes"))
        #expect(log.hasSuffix("line 99999\n"), "the tail of the output must be kept")
    }

    @Test func signallingTheGroupStopsTheWholeTree() async throws {
        let (supervisor, exits) = makeSupervisor()
        let process = try launch(supervisor, key: "tree", "sleep 30 & sleep 30 & wait")
        // The shell and both of its children are in the group.
        #expect(try await eventually { Self.members(ofGroup: process.pgid) == 3 })
        #expect(ProcessSupervisor.groupAlive(process.pgid))
        ProcessSupervisor.signalGroup(process.pgid, SIGTERM)
        #expect(try await exits.wait(for: "tree") == .signaled(SIGTERM))
        #expect(try await eventually { !ProcessSupervisor.groupAlive(process.pgid) }, "a child of the task survived")
    }

    /// Live processes (not zombies) whose process group is `pgid`, from /proc.
    static func members(ofGroup pgid: Int32) -> Int {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { entry in
            guard Int32(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            // After "(comm)": state, ppid, pgrp.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && fields[0] != "Z" && Int32(fields[2]) == pgid
        }.count
    }

    @Test func leftoverBackgroundProcessesAreStoppedWhenTheTaskEnds() async throws {
        let (supervisor, exits) = makeSupervisor()
        // The leader exits at once; its background child holds the output pipe open.
        let process = try launch(supervisor, key: "bg", "sleep 30 & echo started")
        #expect(try await exits.wait(for: "bg") == .exited(0))
        #expect(!ProcessSupervisor.groupAlive(process.pgid))
    }

    @Test func manyConcurrentProcessesAllReport() async throws {
        let (supervisor, exits) = makeSupervisor()
        for i in 0..<200 { _ = try launch(supervisor, key: "p\(i)", "exit \(i % 7)") }
        for i in 0..<200 { #expect(try await exits.wait(for: "p\(i)") == .exited(Int32(i % 7))) }
    }

    @Test func descriptorsDoNotLeakIntoChildren() async throws {
        let (supervisor, exits) = makeSupervisor()
        let held = open("/dev/null", O_RDONLY)  // not close-on-exec on purpose
        defer { close(held) }
        _ = try launch(supervisor, key: "fds", "ls /proc/self/fd | wc -l")
        #expect(try await exits.wait(for: "fds") == .exited(0))
        let count = try String(contentsOf: dir.appendingPathComponent("fds.out"), encoding: .utf8)
        // stdin, stdout, stderr, and the directory `ls` itself opens.
        #expect(Int(count.trimmingCharacters(in: .whitespacesAndNewlines)) == 4, "inherited descriptors: \(count)")
    }

    @Test func resolverFindsExecutablesAndNamesMissingOnes() throws {
        let resolver = ExecutableResolver(path: "/nonexistent:/usr/bin:/bin")
        #expect(try resolver.resolve("sh", relativeTo: "/").hasSuffix("sh"))
        #expect(throws: SystemError.self) { try resolver.resolve("no-such-agent-cli", relativeTo: "/") }
    }
}
