import Foundation
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing

/// The many-hosts faults that need more than a killed worker: the store going away for a while.
@Suite(.enabled(if: ManyHostsFixture.enabled, ManyHostsFixture.skipReason))
struct ManyHostsFaultTests {
    static func spec(markers: String) -> String {
        """
        name: fleet
        agent: shell
        sandbox: none  # each task appends a marker line to a file of the test's folder
        tasks:
          job:
            foreach: {items: [\((1...12).map(String.init).joined(separator: ", "))]}
            command: ["sh", "-c", "sleep 2; echo {{item}} >> \(markers); echo {{item}} > {{item}}.txt"]
            owns: ["{{item}}.txt"]

        """
    }

    /// How `process` ended, nil (and killed) when it did not within `seconds`: a process that hangs
    /// after a fault fails the test instead of hanging it.
    static func ended(_ process: BackgroundProcess, within seconds: Double) async -> TerminationStatus? {
        let waiting = Task { await process.exited() }
        let ended = (try? await eventually(timeout: seconds) { process.hasExited }) ?? false
        if !ended { process.killAndReap() }
        return ended ? await waiting.value : nil
    }

    /// PostgreSQL (a cluster of the test's own) is stopped for 10 s while the coordinator and 3
    /// workers run 12 tasks, some of them mid-agent, then started again: every process reconnects,
    /// the run succeeds, each task succeeded once (one attempt, one success event, one marker line).
    @Test(.timeLimit(.minutes(6)))
    func postgresRestartLosesNothingAndRunsNothingTwice() async throws {
        let postgres = try await PrivatePostgres()
        let markers = postgres.folder.appending("markers").path
        let fleet = try await ManyHostsFixture(spec: Self.spec(markers: markers), postgres: postgres.url)
        let coordinator = try fleet.startCoordinator()
        let run = try await fleet.runID()
        let workers = try ["a", "b", "c"].map { try fleet.startWorker($0, slots: 2) }
        let store = fleet.store
        // Tasks are running on the workers, and some but not all have finished.
        let midway = try await eventually(timeout: 90) {
            let lines = postgres.folder.read("markers").split(separator: "\n").count
            let running = try await store.tasks(run: run).contains { $0.state == .running && $0.pid != nil }
            return lines >= 1 && running
        }
        try #require(midway, "no task ran: \(fleet.log("a.err"))")
        // Statements in flight when the server stops: a session holds the run's lock (the one every
        // outcome and event takes, `SQL.lockRun`) until the processes' transactions queue behind it.
        let schema = try #require(fleet.storeURL.range(of: #"schema=[a-z0-9_]+"#, options: .regularExpression).map { fleet.storeURL[$0].dropFirst(7) })
        let holder = try fleet.h.spawn("/usr/bin/env", postgres.psql + ["-c", "SET search_path = \(schema); SELECT pg_advisory_lock(hashtextextended('muster:run:\(run)', 0)); SELECT pg_sleep(600)"])
        let queued = try await eventually(timeout: 60) {
            try await Int(postgres.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")) ?? 0 >= 2
        }
        try #require(queued, "no transaction waited on the run's lock: \(fleet.log("a.err"))")
        try await postgres.stop()
        _ = await holder.exited()
        // The outage itself (a fault lasting 10 s), not a wait for anything.
        try await Task.sleep(for: .seconds(10))
        try await postgres.start()

        let status = await Self.ended(coordinator, within: 180)
        let report = "coordinator: \(fleet.log("coordinator.err"))\na: \(fleet.log("a.err"))\nb: \(fleet.log("b.err"))\nc: \(fleet.log("c.err"))"
        #expect(status == .exited(0), "\(String(describing: status)): \(report)")
        for worker in workers { worker.signal(SIGTERM) }
        var statuses: [TerminationStatus?] = []
        for worker in workers { statuses.append(await Self.ended(worker, within: 60)) }
        #expect(statuses.allSatisfy { $0 == .exited(0) }, "\(statuses): \(report)")

        let tasks = try await store.tasks(run: run)
        // Nothing lost and nothing succeeded twice: every task succeeded, with one success each.
        #expect(tasks.count == 12 && tasks.allSatisfy { $0.state == .succeeded },
                "\(tasks.map { "\($0.id) \($0.state) attempt \($0.attempt) \($0.error ?? "")" }): \(report)")
        let successes = try await fleet.events(run).filter { $0.kind == "task.succeeded" }
        #expect(successes.count == 12 && Set(successes.compactMap(\.task)).count == 12, "\(successes.count) success events")
        let lines = postgres.folder.read("markers").split(separator: "\n").map(String.init)
        #expect(Set(lines) == Set((1...12).map(String.init)), "marker lines: \(lines)")
        // No task's command ran a second time. (It did, about one run in four under load, while a
        // pooled connection the server had just closed failed as `clientClosedConnection` without a
        // retry: the worker's run ended there, its finished attempts unreported until their leases lapsed.)
        #expect(tasks.allSatisfy { $0.attempt == 1 }, "\(tasks.map { "\($0.id) attempt \($0.attempt)" }): \(report)")
        #expect(lines.sorted() == (1...12).map(String.init).sorted(), "marker lines: \(lines)")
        #expect(try await store.run(run)?.status == .succeeded)
        await fleet.close()
        await postgres.close()
    }
    /// Another push moves each task's branch on the remote just before the worker's push lands (an
    /// `update` hook of the bare remote moves the ref once, so receive-pack rejects the push: the
    /// remote moved). The worker pushes again: every branch ends at the commit the Store accepted,
    /// nothing is reported lost (no `task.push_failed`), and each task succeeded once.
    @Test(.timeLimit(.minutes(6)))
    func aPushRejectedBecauseTheRemoteMovedIsRetried() async throws {
        let fleet = try await ManyHostsFixture(spec: ManyHostsTests.slowSpec.replacingOccurrences(of: "sleep 4; ", with: ""))
        let remote = fleet.h.folder.appending("served/remote.git")
        let moved = fleet.h.folder.appending("moved").path
        let hook = remote.appendingPathComponent("hooks/update")
        try """
            #!/bin/sh
            # Moves each task branch once, before receive-pack updates it: the push is then rejected.
            case "$1" in refs/heads/muster/*) ;; *) exit 0 ;; esac
            grep -qxF "$1" \(moved) 2>/dev/null && exit 0
            echo "$1" >> \(moved)
            git update-ref "$1" "$(git rev-parse refs/heads/main)" || echo "update-ref failed" >> \(moved)
            exit 0

            """.write(to: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook.path)
        let coordinator = try fleet.startCoordinator()
        let run = try await fleet.runID()
        let worker = try fleet.startWorker("a", slots: 2)
        let status = await coordinator.exited()
        worker.signal(SIGTERM)
        _ = await worker.exited()
        #expect(status == .exited(0), "\(fleet.log("coordinator.err")) \(fleet.log("a.err"))")

        let tasks = try await fleet.store.tasks(run: run)
        #expect(tasks.count == 2 && tasks.allSatisfy { $0.state == .succeeded && $0.attempt == 1 })
        let interfered = fleet.h.folder.read("moved").split(separator: "\n").map(String.init)
        #expect(interfered.sorted() == tasks.map { "refs/heads/muster/\(run)/\($0.id)" }.sorted(), "the hook did not move every branch: \(interfered)")
        let heads = try await fleet.h.git("ls-remote", fleet.remoteURL, "refs/heads/muster/\(run)/*").stdout
        for task in tasks {
            let head = try #require(task.git?.headCommit, "\(task.id) committed nothing")
            #expect(heads.contains("\(head)\trefs/heads/muster/\(run)/\(task.id)"), "\(task.id)'s work lost on the remote: \(heads)")
        }
        let events = try await fleet.events(run)
        #expect(!events.contains { $0.kind == "task.push_failed" }, "\(events.filter { $0.kind == "task.push_failed" }.map(\.message))")
        #expect(events.filter { $0.kind == "task.succeeded" }.count == 2)
        await fleet.close()
    }
}
