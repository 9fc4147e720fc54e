import Foundation
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing

/// `muster run --slots 0` and `muster worker` processes against a real PostgreSQL and a bare remote
/// served by `git daemon` on loopback: the repository travels only through the daemon. Each worker
/// is a process with a clone of its own (a "host"); see ManyHostsNamespaceTests for the same in
/// network namespaces.
@Suite(.enabled(if: ManyHostsFixture.enabled, ManyHostsFixture.skipReason))
struct ManyHostsTests {
    static let spec = """
        name: fleet
        agent: shell
        on_failure: continue
        tasks:
          sim:
            foreach: {items: [\((1...24).map(String.init).joined(separator: ", "))]}
            agent: sim
            estimate: {minutes: 0.005}
          write:
            foreach: {items: [a, b, c]}
            command: ["sh", "-c", "echo {{item}} > {{item}}.txt"]
            owns: ["{{item}}.txt"]
          gather:
            needs: [write]
            command: ["sh", "-c", "cat a.txt b.txt c.txt > all.txt"]
            owns: [all.txt]

        """

    /// 28 tasks over three workers: each succeeds exactly once (one attempt, one success event), the
    /// fan-in task saw its three needed branches (fetched from the remote by whichever worker ran
    /// it), every branch is on the remote, and `integrate --fetch` on the coordinator's host merges them.
    @Test(.timeLimit(.minutes(6)))
    func threeWorkersRunEveryTaskExactlyOnce() async throws {
        let fleet = try await ManyHostsFixture(spec: Self.spec)
        let coordinator = try fleet.startCoordinator()
        let workers = try ["a", "b", "c"].map { try fleet.startWorker($0) }
        let run = try await fleet.runID()
        let status = await coordinator.exited()
        // `ps` from the coordinator's host lists the three workers, each with its host and heartbeat.
        let ps = try await fleet.h.musterArgs(["ps", "--json", "--store", fleet.storeURL])
        let sessions = try #require(try ps.json() as? [[String: Any]], "\(ps.stdout)\(ps.stderr)")
        let listed = sessions.filter { $0["kind"] as? String == "worker" && $0["run"] as? String == "*" }
        #expect(listed.count == 3 && listed.allSatisfy { $0["host"] as? String != nil && $0["heartbeat_at"] is String }, "\(sessions)")
        for worker in workers { worker.signal(SIGTERM) }
        var workerStatuses: [TerminationStatus] = []
        for worker in workers { workerStatuses.append(await worker.exited()) }
        let report = "coordinator: \(fleet.log("coordinator.err"))\nworker a: \(fleet.log("a.err"))\nworker b: \(fleet.log("b.err"))"
        #expect(status == .exited(0), "\(status): \(report)")
        #expect(workerStatuses.allSatisfy { $0 == .exited(0) }, "a worker ended \(workerStatuses) after SIGTERM: \(report)")

        let tasks = try await fleet.store.tasks(run: run)
        #expect(tasks.count == 28, "\(tasks.count) tasks")
        #expect(tasks.filter { $0.state == .succeeded }.count == 28, "\(tasks.map { "\($0.id) \($0.state) \($0.error ?? "")" })")
        #expect(tasks.allSatisfy { $0.attempt == 1 }, "a task ran twice: \(tasks.filter { $0.attempt != 1 }.map(\.id))")
        let successes = try await fleet.events(run).filter { $0.kind == "task.succeeded" }
        #expect(successes.count == 28, "\(successes.count) success events")
        #expect(Set(successes.compactMap(\.task)).count == 28)
        #expect(try await fleet.store.run(run)?.status == .succeeded)

        // Every task that changed files has its branch on the remote, at the commit the Store recorded.
        let heads = try await fleet.h.git("ls-remote", fleet.remoteURL, "refs/heads/muster/\(run)/*").stdout
        for task in tasks where task.git?.headCommit != nil {
            #expect(heads.contains("\(task.git!.headCommit!)\trefs/heads/muster/\(run)/\(task.id)"), "\(task.id) not pushed: \(heads)")
        }
        let gather = try #require(tasks.first { $0.id == "gather" })
        let gathered = try await fleet.h.git("fetch", "-q", fleet.remoteURL, gather.git?.headCommit ?? "missing")
        #expect(gathered.status == 0, "\(gathered.stderr)")
        let all = try await fleet.h.git("show", "\(gather.git?.headCommit ?? "missing"):all.txt").stdout
        #expect(all == "a\nb\nc\n", "the fan-in task did not see its needed branches: \(all)")

        let integrate = try await fleet.h.musterArgs(["integrate", run, "--fetch", fleet.remoteURL, "--store", fleet.storeURL])
        #expect(integrate.status == 0, "\(integrate.stdout)\(integrate.stderr)")
        #expect(try await fleet.h.git("show", "muster/\(run)/integrated:all.txt").stdout == "a\nb\nc\n")
        await fleet.close()
    }

    static let slowSpec = """
        name: fleet
        agent: shell
        on_failure: continue
        tasks:
          slow:
            foreach: {items: [p, q]}
            command: ["sh", "-c", "sleep 4; echo {{item}} > {{item}}.txt"]
            owns: ["{{item}}.txt"]

        """

    /// Worker A is killed (-9) and worker B stopped (SIGSTOP) while each runs a task. After the 2 s
    /// lease, worker C takes both over and each succeeds once, on attempt 2. B, continued, finds its
    /// task taken: its agent is stopped and its outcome is rejected, never applied.
    @Test(.timeLimit(.minutes(6)))
    func aKilledWorkersTaskIsReclaimedAndALateOutcomeRejected() async throws {
        let fleet = try await ManyHostsFixture(spec: Self.slowSpec)
        let coordinator = try fleet.startCoordinator(lease: "2s")
        let run = try await fleet.runID()
        let a = try fleet.startWorker("a", slots: 1, lease: "2s")
        let b = try fleet.startWorker("b", slots: 1, lease: "2s")
        let store = fleet.store
        let bothRunning = try await eventually(timeout: 60) {
            let tasks = try await store.tasks(run: run)
            return tasks.filter { $0.state == .running && $0.pid != nil }.count == 2
        }
        try #require(bothRunning, "tasks did not start: \(fleet.log("a.err")) \(fleet.log("b.err"))")
        let held = Dictionary(try await store.tasks(run: run).map { ($0.holder ?? "", $0.id) }, uniquingKeysWith: { x, _ in x })
        #expect(held.count == 2, "one worker took both: \(held)")
        a.signal(SIGKILL)
        b.signal(SIGSTOP)
        _ = await a.exited()
        let c = try fleet.startWorker("c", slots: 2, lease: "2s")
        let done = try await eventually(timeout: 90) { try await store.run(run)?.status.isFinal == true }
        try #require(done, "run did not finish: \(fleet.log("c.err")) \(fleet.log("coordinator.err"))")
        b.signal(SIGCONT)
        let rejected = try await eventually(timeout: 30) {
            try await fleet.events(run).contains { $0.kind == "task.lease_lost" }
        }
        #expect(rejected, "worker b's late outcome was not rejected: \(fleet.log("b.err"))")
        #expect(await coordinator.exited() == .exited(0), "\(fleet.log("coordinator.err"))")
        for worker in [b, c] { worker.signal(SIGTERM) }
        _ = await b.exited()
        _ = await c.exited()

        let tasks = try await store.tasks(run: run)
        #expect(tasks.map(\.state) == [.succeeded, .succeeded], "\(tasks.map { "\($0.id) \($0.state) \($0.error ?? "")" })")
        #expect(tasks.allSatisfy { $0.attempt == 2 }, "attempts \(tasks.map(\.attempt))")
        let events = try await fleet.events(run)
        #expect(events.filter { $0.kind == "task.succeeded" }.count == 2, "\(events.map(\.kind))")
        for task in tasks {
            #expect(task.git?.headCommit != nil, "\(task.id) changed nothing")
        }
        await fleet.close()
    }

    /// `muster cancel` from another folder (any host): the coordinator closes what has not started,
    /// the worker stops its running agents, and the run ends cancelled.
    @Test(.timeLimit(.minutes(6)))
    func cancelFromAnyHostStopsTheWorkers() async throws {
        let fleet = try await ManyHostsFixture(spec: Self.slowSpec.replacingOccurrences(of: "sleep 4", with: "sleep 60"))
        let coordinator = try fleet.startCoordinator()
        let run = try await fleet.runID()
        let worker = try fleet.startWorker("a", slots: 1)
        let store = fleet.store
        let running = try await eventually(timeout: 60) { try await store.tasks(run: run).contains { $0.state == .running && $0.pid != nil } }
        try #require(running, "\(fleet.log("a.err"))")
        let elsewhere = fleet.h.folder.appending("elsewhere")
        try FileManager.default.createDirectory(at: elsewhere, withIntermediateDirectories: true)
        let cancel = try await fleet.h.exec(TestRepository.muster, ["cancel", run, "--store", fleet.storeURL], in: elsewhere)
        #expect(cancel.status == 0, "\(cancel.stdout)\(cancel.stderr)")
        #expect(try await store.run(run)?.status == .cancelled)
        #expect(try await store.tasks(run: run).map(\.state).sorted { $0.rawValue < $1.rawValue } == [.cancelled, .cancelled])
        #expect(await coordinator.exited() != .exited(0))
        worker.signal(SIGTERM)
        #expect(await worker.exited() == .exited(0), "\(fleet.log("a.err"))")
        await fleet.close()
    }

    /// The first SIGTERM drains: the worker claims nothing more, finishes the task it runs (pushed and
    /// recorded: one success, attempt 1) and exits 0; the other task is left for another worker.
    @Test(.timeLimit(.minutes(6)))
    func sigtermFinishesTheRunningTaskAndClaimsNoMore() async throws {
        let fleet = try await ManyHostsFixture(spec: Self.slowSpec.replacingOccurrences(of: "sleep 4", with: "sleep 2"))
        let coordinator = try fleet.startCoordinator()
        let run = try await fleet.runID()
        let a = try fleet.startWorker("a", slots: 1)
        let store = fleet.store
        let running = try await eventually(timeout: 60) { try await store.tasks(run: run).contains { $0.state == .running && $0.pid != nil } }
        try #require(running, "\(fleet.log("a.err"))")
        a.signal(SIGTERM)
        #expect(await a.exited() == .exited(0), "\(fleet.log("a.err"))")
        let after = try await store.tasks(run: run)
        #expect(after.map(\.state) == [.succeeded, .ready], "\(after.map { "\($0.id) \($0.state) \($0.error ?? "")" })")
        #expect(after.first?.attempt == 1)
        let b = try fleet.startWorker("b", slots: 1)
        #expect(await coordinator.exited() == .exited(0), "\(fleet.log("coordinator.err")) \(fleet.log("b.err"))")
        b.signal(SIGTERM)
        _ = await b.exited()
        #expect(try await store.tasks(run: run).allSatisfy { $0.state == .succeeded && $0.attempt == 1 })
        await fleet.close()
    }

    /// `muster run --slots 2` with no worker anywhere: the coordinator's own slots run every task in
    /// its checkout, push the branches to the remote, and the run succeeds.
    @Test(.timeLimit(.minutes(6)))
    func runWithLocalSlotsNeedsNoWorker() async throws {
        let fleet = try await ManyHostsFixture(spec: Self.spec)
        let result = try await fleet.h.musterArgs(["run", "fleet.yml", "--slots", "2", "--remote", fleet.remoteURL,
                                                   "--store", fleet.storeURL, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let run = try await fleet.runID()
        let tasks = try await fleet.store.tasks(run: run)
        #expect(tasks.count == 28 && tasks.allSatisfy { $0.state == .succeeded && $0.attempt == 1 })
        let heads = try await fleet.h.git("ls-remote", fleet.remoteURL, "refs/heads/muster/\(run)/*").stdout
        #expect(heads.contains("refs/heads/muster/\(run)/gather"), "\(heads)")
        await fleet.close()
    }
}
