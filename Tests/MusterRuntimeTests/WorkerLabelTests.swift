import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Labels in the runtime, over a real SQLite store: a worker joins only a run with a ready task it
/// may take, and a run held by one orchestrator refuses a spawned child needing a label it lacks.
@Suite struct WorkerLabelTests {
    static func task(_ id: String, _ labels: [String] = []) -> PlannedTask {
        var planned = PlannedTask(id: id, group: id, agent: "shell", command: Command(argv: ["true"]))
        planned.runsOn = labels
        return planned
    }

    static func record(_ store: any Store, _ id: String, _ tasks: [PlannedTask], at: Date) async throws {
        try await store.createRun(NewRun(id: id, workflow: Workflow(name: id, tasks: []), specPath: "w.yml", root: "/tmp",
                                         concurrency: 2, simulate: true, createdAt: at), tasks: tasks)
    }

    /// Shared with workers: a live coordinator lock, as `muster run --slots 0` holds it.
    static func coordinate(_ store: any Store, _ run: String) async throws {
        _ = try await store.acquireLock(LockRequest(path: Coordinator.lockPath(run: run), holder: "coordinator-\(run)", host: "h",
                                                    pid: 1, run: run, ttl: 600), now: Date())
    }

    func worker(_ store: any Store, labels: Set<String>) -> Worker {
        var options = Worker.Options(repository: "/nowhere", slots: 1)
        options.labels = labels
        return Worker(store: store, storePath: "unused", options: options)
    }

    @Test func aWorkerJoinsOnlyARunWithAReadyTaskItMayTake() async throws {
        let folder = try TemporaryFolder("worker-labels")
        let store = try SQLiteStore(path: folder.appending("muster.db").path)
        let now = Date()
        try await Self.record(store, "gpu-run", [Self.task("train", ["gpu"]), Self.task("after", ["gpu"])], at: now.addingTimeInterval(-60))
        try await Self.coordinate(store, "gpu-run")
        #expect(try await worker(store, labels: []).nextRun()?.id == nil, "an unlabelled worker joined a run whose only ready task needs gpu")
        #expect(try await worker(store, labels: ["arm"]).nextRun()?.id == nil, "an arm worker joined it")
        #expect(try await worker(store, labels: ["gpu", "arm"]).nextRun()?.id == "gpu-run")

        // A newer run with a plain task: the unlabelled worker takes that one, the gpu worker still the older.
        try await Self.record(store, "plain-run", [Self.task("lint")], at: now)
        try await Self.coordinate(store, "plain-run")
        #expect(try await worker(store, labels: []).nextRun()?.id == "plain-run")
        #expect(try await worker(store, labels: ["gpu"]).nextRun()?.id == "gpu-run")

        // A gpu task whose holder's lease lapsed is work for a gpu worker only.
        _ = try await store.claim(run: "gpu-run", holder: "gone", labels: ["gpu"], limit: 1, leaseSeconds: 1, now: now.addingTimeInterval(-30))
        _ = try await store.claim(run: "plain-run", holder: "busy", labels: [], limit: 1, leaseSeconds: 600, now: now)
        #expect(try await worker(store, labels: []).nextRun()?.id == nil, "nothing left for an unlabelled worker")
        #expect(try await worker(store, labels: ["gpu"]).nextRun()?.id == "gpu-run", "the lapsed gpu task is a gpu worker's")
    }

    @Test func aRunHeldByOneOrchestratorRefusesAChildNeedingALabelItLacks() async throws {
        let folder = try TemporaryFolder("spawn-labels")
        let store = try SQLiteStore(path: folder.appending("muster.db").path)
        let now = Date()
        for (run, labels) in [("bare", [String]()), ("gpu", ["gpu"])] {
            try await Self.record(store, run, [Self.task("parent")], at: now)
            let holder = ProcessIdentity(id: "orchestrator-\(run)", host: "h", pid: 1)
            _ = try await store.acquireRun(run, holder: holder, leaseSeconds: 600, now: now)
            try await store.registerWorker(WorkerRecord(id: holder.id, run: run, role: "orchestrator", host: "h", pid: 1,
                                                        startedAt: now, heartbeatAt: now, labels: labels.isEmpty ? nil : labels))
            _ = try await store.claim(run: run, holder: holder.id, labels: Set(labels), limit: 1, leaseSeconds: 600, now: now)
        }
        var child = SpawnRequest(id: "train", command: Command(argv: ["true"]))
        child.runsOn = ["gpu"]
        await #expect(throws: RefusedRequest.self) { _ = try await Spawner.spawn(store: store, run: "bare", parent: "parent", requests: [child]) }
        do {
            _ = try await Spawner.spawn(store: store, run: "bare", parent: "parent", requests: [child])
        } catch let refusal as RefusedRequest {
            #expect(refusal.description.contains("child train has `runs_on` gpu") && refusal.description.contains("--labels gpu"), "\(refusal)")
        }
        #expect(try await store.task(run: "bare", id: "train") == nil, "a refused child was added")
        // The orchestrator that has the label takes it; a child without runs_on inherits its parent's (none here).
        let spawned = try await Spawner.spawn(store: store, run: "gpu", parent: "parent", requests: [child, SpawnRequest(id: "note", command: Command(argv: ["echo", "note"]))])
        #expect(spawned.map(\.id) == ["train", "note"])
        #expect(try await store.task(run: "gpu", id: "train")?.spec.runsOn == ["gpu"])
        #expect(try await store.task(run: "gpu", id: "note")?.spec.runsOn == [])
    }

    @Test func spawnFileReadsRunsOnAndRefusesABadLabel() throws {
        let good = try SpawnFile.parse(Data(#"[{"command": "true", "runs_on": ["gpu", "big"]}, {"command": "true", "runs_on": "arm"}]"#.utf8))
        #expect(good.map(\.runsOn) == [["gpu", "big"], ["arm"]])
        #expect(throws: SpawnRequestError.invalid("spawn.json entry 1: `runs_on` label `a b` contains ` `: use letters, digits, `-`, `_` and `.`")) {
            _ = try SpawnFile.parse(Data(#"[{"command": "true", "runs_on": ["a b"]}]"#.utf8))
        }
        let parent = Self.task("p", ["gpu"])
        #expect(try SpawnRequest(command: Command(argv: ["true"])).plannedTask(parent: parent).runsOn == ["gpu"], "a child inherits its parent's labels")
        var none = SpawnRequest(command: Command(argv: ["true"]))
        none.runsOn = []
        #expect(try none.plannedTask(parent: parent).runsOn == [], "runs_on: [] asks for any claimer")
    }
}
