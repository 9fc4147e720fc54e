import Foundation
import MusterCore
import MusterStore
import MusterTestKit
@testable import MusterTerminal

/// A recorded run, replayed into a fresh SQLite store with fixed clocks: 13 tasks of which three
/// are running (one waiting for approval), two finished, one failed; three warnings; two orchestrators
/// (one lost).
enum Fixture {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }
    static let now = at(180)
    static let holder = "orchestrator@build-01:4100:abc"

    static func task(_ id: String, group: String, agent: String, position: Int = 0, needs: [String] = []) -> PlannedTask {
        PlannedTask(id: id, group: group, item: nil, agent: agent, model: nil, prompt: nil, command: Command(argv: ["true"]),
                    needs: needs, owns: [], env: [:], timeout: nil, stallTimeout: nil, retries: 0, estimate: nil,
                    kind: .exploration, expands: nil)
    }

    /// A store in a folder of its own; the folder goes with the returned `TemporaryFolder`.
    static func scratchStore() throws -> (SQLiteStore, TemporaryFolder) {
        let folder = try TemporaryFolder("terminal")
        return (try SQLiteStore(path: folder.appending("muster.db").path), folder)
    }

    /// The store after the recorded sequence, and the run's root.
    static func recorded(root: String = "/srv/repo") async throws -> SQLiteStore {
        let folder = try TemporaryFolder.keptUntilExit("terminal")
        let store = try SQLiteStore(path: folder.appendingPathComponent("muster.db").path)
        let scans = (1...12).map { task("scan.\($0)", group: "scan", agent: "claude") }
        let report = task("report", group: "report", agent: "shell", needs: ["scan"])
        try await store.createRun(NewRun(id: "audit-3f2a1c", workflow: Workflow(name: "audit", concurrency: 4, tasks: []),
                                         specPath: "audit.yml", root: root, concurrency: 4, simulate: false, createdAt: t0),
                                  tasks: scans + [report])
        let run = "audit-3f2a1c"
        func start(_ count: Int, at seconds: Double, pids: [Int32]) async throws {
            let claimed = try await store.claim(run: run, holder: holder, limit: count, leaseSeconds: 600, now: at(seconds))
            try await store.recordProcesses(run: run, holder: holder, zip(claimed, pids).map {
                StartedProcess(task: $0.0.task.id, pid: $0.1, pgid: $0.1, host: "build-01")
            }, now: at(seconds))
        }
        func finish(_ id: String, _ result: TaskOutcome.Result, at seconds: Double, usage: TokenUsage? = nil, cost: Double? = nil,
                    error: String? = nil, summary: String? = nil) async throws {
            _ = try await store.finish(run: run, holder: holder, [TaskOutcome(task: id, attempt: 1, result: result, error: error,
                                                                              summary: summary, usage: usage, costUSD: cost)],
                                       now: at(seconds))
        }
        try await start(4, at: 5, pids: [4101, 4102, 4103, 4104])
        try await finish("scan.2", .failed(retryAt: nil), at: 50, usage: TokenUsage(input: 3000, output: 800), cost: 0.12,
                         error: "exit 1: swift build failed\nerror: no such module 'Yams'")
        try await finish("scan.1", .succeeded, at: 65, usage: TokenUsage(input: 12000, output: 3400), cost: 0.41,
                         summary: "Wrote Sources/A/AUDIT.md")
        try await start(2, at: 70, pids: [4105, 4106])
        try await store.appendEvent(NewEvent(run: run, task: "scan.5", kind: "conflict.predicted",
                                             message: "scan.5 and scan.6 both change Package.swift", at: at(80)))
        try await finish("scan.3", .succeeded, at: 100, usage: TokenUsage(input: 9000, output: 2100), cost: 0.30,
                         summary: "Wrote Sources/C/AUDIT.md")
        try await store.appendEvent(NewEvent(run: run, task: "scan.3", kind: "ownership.violation",
                                             message: "Sources/B/main.swift", at: at(102)))
        try await store.appendEvent(NewEvent(run: run, task: "scan.4", kind: "task.stalled",
                                             message: "stalled: no output for 1m00s", at: at(150)))
        try await store.registerWorker(WorkerRecord(id: holder, run: run, role: "orchestrator", host: "build-01", pid: 4100,
                                                    startedAt: t0, heartbeatAt: at(175)))
        try await store.registerWorker(WorkerRecord(id: "orchestrator@build-02:977:def", run: run, role: "orchestrator",
                                                    host: "build-02", pid: 977, startedAt: at(1), heartbeatAt: at(20)))
        return store
    }

    static let lastLines = [
        "scan.1": "Wrote Sources/A/AUDIT.md",
        "scan.4": "Running swift test --filter AuditTests",
        "scan.5": "Allow edit to Package.swift? (y/n)",
        "scan.6": "Reading Sources/F/Parser.swift",
    ]

    static func model(_ store: SQLiteStore) async throws -> DashboardModel {
        let run = try require(try await store.run("audit-3f2a1c"))
        return DashboardModel(run: run, tasks: try await store.tasks(run: run.id), counts: try await store.counts(run: run.id),
                              events: try await store.events(run: run.id, after: 0, limit: 1000),
                              workers: try await store.workers(run: run.id), now: now, lastLines: lastLines)
    }
}

struct FixtureError: Error {}

func require<T>(_ value: T?) throws -> T {
    guard let value else { throw FixtureError() }
    return value
}
