import Foundation
import MusterCore
import MusterPostgres
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing

/// A store call stuck for real, in PostgreSQL: a session of the test's own holds tables in ACCESS
/// EXCLUSIVE mode inside an open transaction, so every statement touching them waits. A call that
/// does not answer within its bound is abandoned (its connection closed, so nothing of it applies
/// later) and retried as after a lost connection; a worker whose loop waits on such a call still
/// stops within its bound after SIGTERM.
@Suite(.enabled(if: ManyHostsFixture.enabled, ManyHostsFixture.skipReason))
struct StuckStoreTests {
    /// The call waits on the lock past its bound (3 s) on every attempt, until its reconnect window
    /// (8 s) is spent: it fails as a store that does not answer, naming the call, long before the
    /// server's own `lock_timeout` (30 s); none of its connections is left waiting and nothing applied.
    @Test(.timeLimit(.minutes(3)))
    func aCallStuckOnALockIsAbandonedAndFailsSayingWhich() async throws {
        let (store, schema) = try await Self.store(abandonAfter: "3", reconnectWindow: .seconds(8))
        let lock = try await HeldTableLock.take(["events"], schema: schema)
        var failure: StoreError?
        do {
            try await store.appendEvent(NewEvent(run: "r1", kind: "test.stuck", message: "through the lock", at: Date()))
        } catch let error as StoreError {
            failure = error
        }
        let described = failure.map { "\($0)" } ?? "no error"
        #expect(described.contains("store call appendEvent") && described.contains("abandoned"), "\(described)")
        #expect(failure.map { if case .unusable = $0 { true } else { false } } == true, "\(described)")
        let cut = try await eventually(timeout: 30) { try await HeldTableLock.waiting(application: "muster/\(schema)").isEmpty }
        #expect(cut, "an abandoned attempt still waits on the lock")
        await lock.release()
        let applied = try await store.events(run: "r1", after: 0, limit: 100).filter { $0.kind == "test.stuck" }
        #expect(applied.isEmpty, "an abandoned attempt applied: \(applied.map(\.message))")
        try await store.dropSchema()
        store.close()
    }

    /// The first attempt, stuck on the lock, is abandoned after 3 s: its connection is closed (its
    /// backend leaves) and the retry waits on another. Once the lock is released the call returns,
    /// and what it wrote is there once: the abandoned attempt did not apply beside its retry. With
    /// a pool of 1 the stuck attempt holds the pool's only connection, so its backend is ended over
    /// a connection outside the pool.
    @Test(.timeLimit(.minutes(3)), arguments: [4, 1])
    func anAbandonedAttemptIsCutAndItsRetryAppliesOnce(pool: Int) async throws {
        let (store, schema) = try await Self.store(abandonAfter: "3", reconnectWindow: .seconds(120), pool: pool)
        let lock = try await HeldTableLock.take(["events"], schema: schema)
        let append = Task { try await store.appendEvent(NewEvent(run: "r1", kind: "test.stuck", message: "once", at: Date())) }
        let application = "muster/\(schema)"
        var first: Int?
        let waited = try await eventually(timeout: 30) {
            first = try await HeldTableLock.waiting(application: application).first
            return first != nil
        }
        try #require(waited, "the call never waited on the lock")
        let retried = try await eventually(timeout: 20) {
            let now = try await HeldTableLock.waiting(application: application)
            return !now.isEmpty && !now.contains(first!)
        }
        #expect(retried, "the first attempt (backend \(first!)) was not cut and retried on another connection")
        await lock.release()
        try await append.value
        let applied = try await store.events(run: "r1", after: 0, limit: 100).filter { $0.kind == "test.stuck" }
        #expect(applied.count == 1, "\(applied.count) events written by one call")
        try await store.dropSchema()
        store.close()
    }

    /// An idle worker's look for work waits on a locked `runs` table when SIGTERM arrives: it has no
    /// agent running, so it must be gone within --stop-timeout (2 s), long before the server's own
    /// `lock_timeout` (30 s) would let its loop go on. It exits with status 3 and says why.
    @Test(.timeLimit(.minutes(4)))
    func aWorkerWaitingOnAStuckCallStopsWithinItsBound() async throws {
        let gate = try TaskGate()  // never opened: no task runs here (no coordinator)
        let fleet = try await ManyHostsFixture(spec: Self.spec(gate: gate))
        let worker = try fleet.startWorker("a", options: ["--stop-timeout", "2s", "--grace", "1s"])
        let registered = try await eventually(timeout: 60) { fleet.log("a.err").contains("slots") }
        try #require(registered, "the worker did not start: \(fleet.log("a.err"))")
        let lock = try await HeldTableLock.take(["runs"], schema: fleet.schema)
        let stuck = try await eventually(timeout: 30) { try await !HeldTableLock.waiting(application: "muster/\(fleet.schema)").isEmpty }
        try #require(stuck, "the worker never waited on the lock: \(fleet.log("a.err"))")
        worker.signal(SIGTERM)
        let status = await ManyHostsFaultTests.ended(worker, within: 60)
        let err = fleet.log("a.err")
        #expect(status == .exited(Worker.forcedStopStatus), "\(String(describing: status)): \(err)")
        #expect(err.contains("did not stop within 2 s of a stop signal with no agent left running"), "\(err)")
        await lock.release()
        await fleet.close()
    }

    /// A draining worker waits for its running agent, however long; once the agent ended, recording
    /// its outcome waits on the locked tables, and the worker is gone within --stop-timeout of that,
    /// with status 3, saying the hand-back could not be recorded (the store did not answer).
    @Test(.timeLimit(.minutes(4)))
    func aDrainStuckOnRecordingStopsWithinItsBoundOnceTheAgentEnded() async throws {
        let folder = try TemporaryFolder("gate"), gate = try TaskGate()
        let fleet = try await ManyHostsFixture(spec: Self.spec(gate: gate, started: folder.appending("started").path))
        let coordinator = try fleet.startCoordinator()
        let worker = try fleet.startWorker("a", slots: 1, options: ["--stop-timeout", "2s", "--grace", "1s"])
        let running = try await eventually(timeout: 90) { FileManager.default.fileExists(atPath: folder.appending("started").path) }
        try #require(running, "the task never started: \(fleet.log("a.err"))")
        let lock = try await HeldTableLock.take(["runs", "tasks", "events", "workers"], schema: fleet.schema)
        worker.signal(SIGTERM)
        gate.open()
        let status = await ManyHostsFaultTests.ended(worker, within: 90)
        let err = fleet.log("a.err")
        #expect(status == .exited(Worker.forcedStopStatus), "\(String(describing: status)): \(err)")
        #expect(err.contains("did not stop within 2 s of a stop signal with no agent left running"), "\(err)")
        #expect(err.contains("the store did not answer"), "\(err)")
        await lock.release()
        coordinator.killAndReap()
        await fleet.close()
    }

    /// One task that says it started, then waits at the gate.
    static func spec(gate: TaskGate, started: String = "/dev/null") -> String {
        """
        name: fleet
        agent: shell
        sandbox: none  # the task touches files of the test's folder
        tasks:
          wait:
            command: ["sh", "-c", "echo $$ > \(started); \(gate.wait); echo done > wait.txt"]
            owns: [wait.txt]

        """
    }

    /// A store on a schema of its own, with the given bounds (the abandon bound through the environment, as a process reads it).
    /// The schema is made and its run recorded first under the default bounds: on a loaded machine
    /// the migrations alone may take longer than a short bound.
    static func store(abandonAfter: String, reconnectWindow: Duration, pool: Int = 4) async throws -> (PostgresStore, String) {
        let base = try #require(ManyHostsFixture.postgresURL)
        let (url, schema) = ManyHostsFixture.freshSchema(on: base, pool: pool)
        let setup = try await PostgresStore(url: url)
        try await setup.createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: "/tmp",
                                         concurrency: 1, simulate: false, createdAt: Date()), tasks: [])
        setup.close()
        var location = try PostgresLocation(url: url, environment: ["MUSTER_PG_ABANDON": abandonAfter])
        location.reconnectWindow = reconnectWindow
        return (try await PostgresStore(location: location), schema)
    }
}

extension ManyHostsFixture {
    /// The schema of the test's own, from its store URL.
    var schema: String {
        storeURL.range(of: #"schema=[a-z0-9_]+"#, options: .regularExpression).map { String(storeURL[$0].dropFirst(7)) } ?? "public"
    }
}
