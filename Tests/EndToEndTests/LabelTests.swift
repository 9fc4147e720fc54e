import Foundation
import MusterStore
import MusterTestKit
import Testing

/// Task labels (`runs_on`) from the command line: a local run refuses, before recording anything,
/// a task whose labels it lacks (it would wait forever); with `--labels` it runs it.
@Suite struct LabelTests {
    static let spec = """
        name: labelled
        agent: shell
        tasks:
          plain:
            command: [echo, plain]
          train:
            runs_on: [gpu, big]
            command: [echo, trained]

        """

    @Test func aLocalRunRefusesATaskNeedingALabelItLacks() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", Self.spec)
        try await h.commitAll()
        // The store exists before (a throttle makes it without a run), so `runs` answers with what it holds.
        #expect(try await h.muster("throttle", "--limit", "k", "--rpm", "600", "--", "true").status == 0)
        for labels in [[], ["--labels", "gpu"]] {
            let run = try await h.musterArgs(["run", "w.yml"] + labels)
            #expect(run.status == 2, "\(labels): \(run.status) \(run.stdout) \(run.stderr)")
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 1, "not one line: \(run.stderr)")
            let lacking = labels.isEmpty ? "big,gpu" : "big"
            #expect(run.stderr.contains("w.yml: task train") && run.stderr.contains("`--labels \(lacking)`")
                    && run.stderr.contains("muster worker --labels \(lacking)"), "\(run.stderr)")
        }
        let runs = try await h.muster("runs", "--json")
        #expect((try runs.json() as? [Any])?.isEmpty == true, "a refused run was recorded: \(runs.stdout)")
        let bad = try await h.muster("run", "w.yml", "--labels", "gpu,not ok")
        #expect(bad.status == 2 && bad.stderr.contains("'not ok' is not a label"), "\(bad.status) \(bad.stderr)")

        let run = try await h.muster("run", "w.yml", "--labels", "big,gpu,extra", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let runID = try #require((try run.json() as? [String: Any])?["run"] as? String, "\(run.stdout)")
        let status = try await h.muster("status", runID, "--json")
        let tasks = try #require((try status.json() as? [String: Any])?["tasks"] as? [[String: Any]], "\(status.stdout)")
        var runsOn: [String: [String]] = [:]
        for task in tasks { runsOn[task["id"] as? String ?? "?"] = task["runs_on"] as? [String] ?? ["missing"] }
        #expect(runsOn == ["plain": [], "train": ["big", "gpu"]], "\(runsOn)")
        #expect(tasks.allSatisfy { $0["state"] as? String == "succeeded" }, "\(tasks)")
    }

    /// `muster resume` holds the run alone too: an unfinished task needing a label it lacks is refused.
    @Test(.timeLimit(.minutes(2))) func resumeRefusesAnUnfinishedTaskNeedingALabelItLacks() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: r\nagent: shell\ntasks:\n  train:\n    runs_on: [gpu]\n    command: [\"false\"]\n")
        try await h.commitAll()
        let run = try await h.muster("run", "w.yml", "--labels", "gpu", "--json")
        #expect(run.status == 1, "\(run.status) \(run.stderr)")
        let runID = try #require((try run.json() as? [String: Any])?["run"] as? String, "\(run.stdout)")
        let refused = try await h.muster("resume", runID)
        #expect(refused.status == 2 && refused.stderr.contains("run \(runID): task train") && refused.stderr.contains("`--labels gpu`"),
                "\(refused.status) \(refused.stderr)")
        let status = try await h.muster("status", runID, "--json")
        #expect((try status.json() as? [String: Any])?["status"] as? String == "failed", "a refused resume changed the run: \(status.stdout)")
        let resumed = try await h.muster("resume", runID, "--labels", "gpu")
        #expect(resumed.status == 1 && !resumed.stderr.contains("lacks"), "\(resumed.status) \(resumed.stderr)")
    }

    @Test func aWorkerNoLongerRefusesLabelsButRefusesBadOnes() async throws {
        let h = try await TestRepository()
        let bad = try await h.muster("worker", "--repo", h.root.path, "--labels", "gpu,", "--exit-when-idle")
        #expect(bad.status == 2 && bad.stderr.contains("is empty"), "\(bad.status) \(bad.stderr)")
        #expect(!bad.stderr.contains("not built"), "\(bad.stderr)")
    }
}

/// Two `muster worker`s with different labels serve one run (PostgreSQL, a remote over `git
/// daemon`): each labelled task runs on the worker that has its label, tasks without labels on either.
@Suite(.enabled(if: ManyHostsFixture.enabled, ManyHostsFixture.skipReason))
struct LabelledWorkersTests {
    static let spec = """
        name: fleet
        agent: shell
        tasks:
          gpu:
            foreach: {items: [g1, g2, g3]}
            runs_on: [gpu]
            command: ["sh", "-c", "echo {{item}} > {{item}}.txt"]
            owns: ["{{item}}.txt"]
          arm:
            foreach: {items: [a1, a2, a3]}
            runs_on: [arm]
            command: ["sh", "-c", "echo {{item}} > {{item}}.txt"]
            owns: ["{{item}}.txt"]
          any:
            foreach: {items: [p1, p2]}
            command: ["sh", "-c", "echo {{item}} > {{item}}.txt"]
            owns: ["{{item}}.txt"]

        """

    @Test(.timeLimit(.minutes(6)))
    func eachLabelledTaskRunsOnTheWorkerWithItsLabel() async throws {
        let fleet = try await ManyHostsFixture(spec: Self.spec)
        let coordinator = try fleet.startCoordinator()
        let gpu = try fleet.startWorker("gpu", slots: 2, labels: "gpu")
        let arm = try fleet.startWorker("arm", slots: 2, labels: "arm")
        let run = try await fleet.runID()
        let status = await coordinator.exited()
        let ps = try await fleet.h.musterArgs(["ps", "--json", "--store", fleet.storeURL])
        let sessions = try #require(try ps.json() as? [[String: Any]], "\(ps.stdout)\(ps.stderr)")
        let listed = sessions.filter { $0["kind"] as? String == "worker" && $0["run"] as? String == "*" }.compactMap { $0["labels"] as? [String] }
        #expect(listed.sorted { $0.joined() < $1.joined() } == [["arm"], ["gpu"]], "\(sessions)")
        for worker in [gpu, arm] { worker.signal(SIGTERM) }
        for worker in [gpu, arm] { _ = await worker.exited() }
        let report = "coordinator: \(fleet.log("coordinator.err"))\ngpu: \(fleet.log("gpu.err"))\narm: \(fleet.log("arm.err"))"
        #expect(status == .exited(0), "\(status): \(report)")

        let tasks = try await fleet.store.tasks(run: run)
        #expect(tasks.count == 8 && tasks.filter { $0.state == .succeeded }.count == 8,
                "\(tasks.map { "\($0.id) \($0.state) \($0.error ?? "")" }): \(report)")
        #expect(tasks.allSatisfy { $0.attempt == 1 }, "a task ran twice: \(tasks.filter { $0.attempt != 1 }.map(\.id))")
        // Where each ran: the worktree is in the clone of the worker's own cache (host-NAME).
        func host(_ task: TaskRecord) -> String? {
            guard let path = task.git?.worktree else { return nil }
            return ["gpu", "arm"].first { path.contains("/host-\($0)/") }
        }
        let placed = Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, host($0) ?? "unknown: \($0.git?.worktree ?? "no worktree")") })
        for task in tasks where task.group == "gpu" { #expect(placed[task.id] == "gpu", "\(task.id) ran on \(placed[task.id] ?? "?")") }
        for task in tasks where task.group == "arm" { #expect(placed[task.id] == "arm", "\(task.id) ran on \(placed[task.id] ?? "?")") }
        for task in tasks where task.group == "any" { #expect(["gpu", "arm"].contains(placed[task.id]), "\(task.id): \(placed[task.id] ?? "?")") }
        await fleet.close()
    }

    /// A worker whose run has only tasks needing a label it lacks leaves it (a `worker.left` event),
    /// free for other runs, instead of waiting there: the gpu tasks wait on a gate file the test
    /// opens only once the unlabelled worker left, so nothing depends on timing.
    @Test(.timeLimit(.minutes(6)))
    func aWorkerLeavesARunWhoseRemainingTasksNeedALabelItLacks() async throws {
        let gate = try TaskGate("label-gate")
        let spec = """
            name: fleet
            agent: shell
            sandbox: none
            tasks:
              plain:
                command: ["sh", "-c", "echo plain > plain.txt"]
                owns: [plain.txt]
              gpu:
                foreach: {items: [g1, g2]}
                runs_on: [gpu]
                command: ["sh", "-c", "\(gate.wait); echo {{item}} > {{item}}.txt"]
                owns: ["{{item}}.txt"]

            """
        let fleet = try await ManyHostsFixture(spec: spec)
        let coordinator = try fleet.startCoordinator()
        // The unlabelled worker alone first: it runs `plain`, then only gpu tasks are left.
        let plain = try fleet.startWorker("plain", slots: 2)
        let run = try await fleet.runID()
        let store = fleet.store
        let left = try await eventually(timeout: 120) {
            try await store.events(run: run, after: 0, limit: 1000).contains { $0.kind == "worker.left" }
        }
        let report = { "coordinator: \(fleet.log("coordinator.err"))\nplain: \(fleet.log("plain.err"))\ngpu: \(fleet.log("gpu.err"))" }
        #expect(left, "the unlabelled worker never left: \(report())")
        let message = try await store.events(run: run, after: 0, limit: 1000).first { $0.kind == "worker.left" }?.message ?? ""
        #expect(message.contains("needs a label it lacks (gpu)"), "\(message)")
        #expect(try await store.task(run: run, id: "plain")?.state == .succeeded)
        let gpu = try fleet.startWorker("gpu", slots: 2, labels: "gpu")
        // Once the gpu worker is in the run, it is the only worker there; the plain one is back to looking for work.
        let joined = try await eventually(timeout: 120) {
            try await store.tasks(run: run).filter { $0.group == "gpu" && $0.state == .running }.count == 2
        }
        #expect(joined, "the gpu worker did not take the gpu tasks: \(report())")
        let inRun = try await store.workers(run: run).filter { $0.role == "worker" }
        #expect(inRun.count == 1 && inRun.first?.labels == ["gpu"], "\(inRun)")
        gate.open()
        let status = await coordinator.exited()
        for worker in [plain, gpu] { worker.signal(SIGTERM) }
        for worker in [plain, gpu] { _ = await worker.exited() }
        #expect(status == .exited(0), "\(status): \(report())")
        let tasks = try await store.tasks(run: run)
        #expect(tasks.count == 3 && tasks.allSatisfy { $0.state == .succeeded && $0.attempt == 1 }, "\(tasks.map { "\($0.id) \($0.state)" })")
        await fleet.close()
    }
}
