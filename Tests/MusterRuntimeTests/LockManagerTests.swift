import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Synchronization
import Testing
@testable import MusterRuntime

/// `muster lock`'s library: path normalisation, holder identity and liveness, stale-lock takeover,
/// waiting and markers, over a real SQLite store in a temp folder.
@Suite struct LockManagerTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// A settable clock for lease arithmetic.
    final class Clock: @unchecked Sendable {
        private let lock = NSLock()
        private var value: Date
        init(_ value: Date) { self.value = value }
        var now: Date { lock.lock(); defer { lock.unlock() }; return value }
        func advance(_ seconds: Double) { lock.lock(); value = value.addingTimeInterval(seconds); lock.unlock() }
    }

    struct Fixture {
        let folder: TemporaryFolder
        var root: URL { folder.url }
        let store: SQLiteStore
        let clock: Clock
        var markers: URL { root.appendingPathComponent(".muster/locks") }

        init(clock: Date = LockManagerTests.t0) throws {
            folder = try TemporaryFolder("locks")
            try FileManager.default.createDirectory(at: folder.appending("Sources/App"), withIntermediateDirectories: true)
            store = try SQLiteStore(path: folder.appending(".muster/muster.db").path)
            self.clock = Clock(clock)
        }

        /// Pids listed in `dead` do not exist; every other pid does and started long ago.
        func manager(host: String = "h", dead: Set<Int32> = [], startedAt: Date = .distantPast) -> LockManager {
            let clock = self.clock
            return LockManager(store: store, markerDirectory: markers, host: host,
                               probe: ProcessProbe(exists: { !dead.contains($0) }, startTime: { _ in startedAt }),
                               clock: { clock.now })
        }

        func normalize(_ input: String, in subfolder: String = "") throws -> String {
            let cwd = subfolder.isEmpty ? root : root.appendingPathComponent(subfolder)
            return try LockPath.normalize(input, currentDirectory: cwd, root: root)
        }

        func marker(_ path: String) -> [String: Any]? {
            guard let data = FileManager.default.contents(atPath: markers.appendingPathComponent(LockPath.markerName(for: path)).path)
            else { return nil }
            return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        }
    }

    static func pid(_ pid: Int32, host: String = "h") -> LockIdentity {
        LockIdentity(holder: LockIdentity.pidHolder(host: host, pid: pid), host: host, pid: pid)
    }

    static func task(_ id: String) -> PlannedTask {
        PlannedTask(id: id, group: id, item: nil, agent: "shell", model: nil, prompt: nil, command: Command(argv: ["true"]),
                    needs: [], owns: [], env: [:], timeout: nil, stallTimeout: nil, retries: 0, estimate: nil,
                    kind: .exploration, expands: nil)
    }

    // MARK: Paths

    @Test func pathsAreNormalisedToTheRepository() throws {
        let f = try Fixture()
        #expect(try f.normalize("shared.txt") == "shared.txt")
        #expect(try f.normalize("./Sources//App/../App/x.swift") == "Sources/App/x.swift")
        #expect(try f.normalize("x.swift", in: "Sources/App") == "Sources/App/x.swift")
        #expect(try f.normalize("../Package.swift", in: "Sources") == "Package.swift")
        #expect(try f.normalize(f.root.appendingPathComponent("Sources/App/y.swift").path) == "Sources/App/y.swift")
        #expect(try f.normalize("Sources/App/") == "Sources/App")
        // Through a symlink to the repository: same file, same lock.
        let link = FileManager.default.temporaryDirectory.appendingPathComponent("muster-locks-link-\(UUID().uuidString)")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: f.root)
        defer { try? FileManager.default.removeItem(at: link) }
        #expect(try f.normalize(link.appendingPathComponent("Sources/new.swift").path) == "Sources/new.swift")
    }

    @Test func pathsOutsideTheRepositoryAreRefused() throws {
        let f = try Fixture()
        for (input, folder) in [("../outside.txt", ""), ("Sources/../../x", ""), ("../../x", "Sources"), ("/etc/passwd", ""),
                                (f.root.deletingLastPathComponent().appendingPathComponent("sibling/x").path, ""),
                                (f.root.path + "-other/x", "")] {
            #expect(throws: LockError.self, "\(input) from \(folder.isEmpty ? "the root" : folder)") { try f.normalize(input, in: folder) }
        }
        do {
            _ = try f.normalize("../outside.txt")
            Issue.record("not refused")
        } catch let error as LockError {
            #expect(error.description.contains("outside the repository"))
            #expect(!error.description.contains("\n"))
        }
        #expect(throws: LockError.self) { try f.normalize(".") }
        #expect(throws: LockError.self) { try f.normalize("Sources/..") }
        #expect(throws: LockError.self) { try f.normalize("") }
        #expect(throws: LockError.self) { try f.normalize("a\nb") }
    }

    @Test func markerNamesAreReversibleAndFlat() {
        #expect(LockPath.markerName(for: "Sources/App/x.swift") == "Sources%2FApp%2Fx.swift.lock")
        #expect(LockPath.markerName(for: "a%2Fb") != LockPath.markerName(for: "a/b"))
        for path in ["a/b", "a%2Fb", "100%.txt", "x.lock"] {
            #expect(LockPath.path(fromMarker: LockPath.markerName(for: path)) == path)
        }
        #expect(LockPath.path(fromMarker: "notes.txt") == nil)
    }

    // MARK: Holders

    @Test func holderIsTheTaskInsideOneAndTheCallingProcessOutside() throws {
        let inTask = try LockIdentity.current(environment: ["MUSTER_RUN": "r1", "MUSTER_TASK_ID": "edit"], host: "h", parentPID: 42)
        #expect(inTask == LockIdentity(holder: "task:r1/edit", host: "h", pid: 42, run: "r1", task: "edit"))
        let outside = try LockIdentity.current(environment: [:], host: "h", parentPID: 42)
        #expect(outside == LockIdentity(holder: "pid:h:42", host: "h", pid: 42))
        // Only one of the two variables: not a task.
        #expect(try LockIdentity.current(environment: ["MUSTER_TASK_ID": "edit"], host: "h", parentPID: 42).holder == "pid:h:42")
        #expect(try LockIdentity.current(environment: [:], override: "deploy-script", host: "h", parentPID: 42).holder == "deploy-script")
        #expect(throws: LockError.self) { try LockIdentity.current(environment: [:], override: "two words", host: "h", parentPID: 1) }
        #expect(throws: LockError.self) { try LockIdentity.current(environment: [:], override: "", host: "h", parentPID: 1) }
    }

    @Test func holderLiveness() async throws {
        let f = try Fixture()
        try await f.store.createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: f.root.path,
                                           concurrency: 2, simulate: false, createdAt: Self.t0),
                                    tasks: [Self.task("a"), Self.task("b")])
        _ = try await f.store.claim(run: "r1", holder: "orch", limit: 1, leaseSeconds: 60, now: Self.t0)
        let m = f.manager(dead: [13])
        func record(_ holder: String, run: String? = nil, task: String? = nil, host: String = "h") -> LockRecord {
            LockRecord(path: "x", holder: holder, host: host, pid: 1, run: run, task: task, acquiredAt: Self.t0, expiresAt: Self.t0 + 60)
        }
        #expect(try await m.liveness(of: record("task:r1/a", run: "r1", task: "a")) == .alive)
        #expect(try await m.liveness(of: record("task:r1/a")) == .alive, "run and task parsed from the holder")
        guard case .dead(let why) = try await m.liveness(of: record("task:r1/b", run: "r1", task: "b")) else {
            Issue.record("a task that is not running held on"); return
        }
        #expect(why == "task r1/b is ready")
        #expect(try await m.liveness(of: record("task:r9/zz")) == .dead("task r9/zz is not in the store"))
        #expect(try await m.liveness(of: record("pid:h:12")) == .alive)
        #expect(try await m.liveness(of: record("pid:h:13")) == .dead("pid 13 no longer exists on h"))
        #expect(try await m.liveness(of: record("pid:elsewhere:13", host: "elsewhere")) == .unknown, "another host's pid says nothing here")
        #expect(try await m.liveness(of: record("deploy-script")) == .unknown)
        // A pid that exists but started after the lock was taken is a reused pid.
        let reused = f.manager(startedAt: Self.t0 + 30)
        guard case .dead = try await reused.liveness(of: record("pid:h:12")) else { Issue.record("reused pid taken for the holder"); return }

        // The real probe: this process lives; a reaped child does not.
        let real = LockManager(store: f.store, markerDirectory: nil, host: "h")
        let me = getpid()
        #expect(try await real.liveness(of: LockRecord(path: "x", holder: "pid:h:\(me)", host: "h", pid: me,
                                                       acquiredAt: Date(), expiresAt: Date() + 60)) == .alive)
        let child = try Command.start("/bin/sh", ["-c", "exit 0"], in: f.root)
        _ = await child.exited()
        guard case .dead = try await real.liveness(of: record("pid:h:\(child.pid)")) else {
            Issue.record("an exited process still holds its lock"); return
        }
    }

    // MARK: Acquire and take over

    @Test func aLiveHolderKeepsTheLockAndRenewalExtendsIt() async throws {
        let f = try Fixture()
        let m = f.manager()
        guard case .acquired(let first, nil, false) = try await m.acquire("shared.txt", as: Self.pid(10), ttl: 60) else {
            Issue.record("first acquire failed"); return
        }
        #expect(first.expiresAt == Self.t0 + 60)
        guard case .held(let holder, .alive) = try await m.acquire("shared.txt", as: Self.pid(11), ttl: 60) else {
            Issue.record("a live lock was given away"); return
        }
        #expect(holder.holder == "pid:h:10")
        f.clock.advance(30)
        guard case .acquired(let again, nil, true) = try await m.acquire("shared.txt", as: Self.pid(10), ttl: 60) else {
            Issue.record("re-acquire did not renew"); return
        }
        #expect(again.acquiredAt == Self.t0)
        #expect(again.expiresAt == Self.t0 + 90)
        guard case .acquired(let renewed, _, true)? = try await m.renew("shared.txt", as: Self.pid(10), ttl: 600) else {
            Issue.record("renew failed"); return
        }
        #expect(renewed.expiresAt == Self.t0 + 630)
        #expect(try await m.renew("shared.txt", as: Self.pid(11), ttl: 600) == nil, "a non-holder renewed")
    }

    @Test func anExpiredLeaseIsTakenOver() async throws {
        let f = try Fixture()
        let m = f.manager()
        _ = try await m.acquire("shared.txt", as: Self.pid(10), ttl: 5)
        f.clock.advance(6)
        guard case .acquired(let record, let takeover?, false) = try await m.acquire("shared.txt", as: Self.pid(11), ttl: 60) else {
            Issue.record("an expired lock was not taken over"); return
        }
        #expect(record.holder == "pid:h:11")
        #expect(takeover.previous.holder == "pid:h:10")
        #expect(takeover.reason.hasPrefix("its lease expired at"))
        #expect(try await f.store.locks().map(\.holder) == ["pid:h:11"])
    }

    @Test func aDeadHoldersLockIsTakenOverBeforeItsLeaseEnds() async throws {
        let f = try Fixture()
        _ = try await f.manager().acquire("shared.txt", as: Self.pid(10), ttl: 600)
        let m = f.manager(dead: [10])
        guard case .acquired(let record, let takeover?, false) = try await m.acquire("shared.txt", as: Self.pid(11), ttl: 60) else {
            Issue.record("a dead holder's lock was not taken over"); return
        }
        #expect(record.holder == "pid:h:11")
        #expect(takeover.reason == "pid 10 no longer exists on h")
        #expect(f.marker("shared.txt")?["holder"] as? String == "pid:h:11")
    }

    @Test func aFinishedTasksLockIsTakenOver() async throws {
        let f = try Fixture()
        try await f.store.createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: f.root.path,
                                           concurrency: 1, simulate: false, createdAt: Self.t0), tasks: [Self.task("a")])
        let claimed = try await f.store.claim(run: "r1", holder: "orch", limit: 1, leaseSeconds: 600, now: Self.t0)
        let m = f.manager()
        let a = try LockIdentity.current(environment: ["MUSTER_RUN": "r1", "MUSTER_TASK_ID": "a"], host: "h", parentPID: 50)
        guard case .acquired = try await m.acquire("Package.swift", as: a, ttl: 600) else { Issue.record("task could not lock"); return }
        guard case .held(_, .alive) = try await m.acquire("Package.swift", as: Self.pid(11), ttl: 60) else {
            Issue.record("a running task's lock was given away"); return
        }
        _ = try await f.store.finish(run: "r1", holder: "orch", [TaskOutcome(task: "a", attempt: claimed[0].task.attempt,
                                                                             result: .failed(retryAt: nil), error: "boom")], now: Self.t0 + 1)
        guard case .acquired(_, let takeover?, _) = try await m.acquire("Package.swift", as: Self.pid(11), ttl: 60) else {
            Issue.record("a finished task's lock was not taken over"); return
        }
        #expect(takeover.previous.holder == "task:r1/a")
        #expect(takeover.reason == "task r1/a is failed")
    }

    @Test func takeoverIsAtomicAgainstANewHolder() async throws {
        // The store replaces only the holder the caller saw dead: if someone else took the lock in between, it stays theirs.
        let f = try Fixture()
        _ = try await f.store.acquireLock(LockRequest(path: "x", holder: "pid:h:10", host: "h", pid: 10, ttl: 600), now: Self.t0)
        _ = try await f.store.releaseLock(path: "x", holder: "pid:h:10")
        _ = try await f.store.acquireLock(LockRequest(path: "x", holder: "pid:h:12", host: "h", pid: 12, ttl: 600), now: Self.t0)
        let stale = LockRequest(path: "x", holder: "pid:h:11", host: "h", pid: 11, ttl: 60, replacing: "pid:h:10")
        guard case .heldBy(let current) = try await f.store.acquireLock(stale, now: Self.t0 + 1) else {
            Issue.record("replacing a holder that no longer held the lock took it from the new one"); return
        }
        #expect(current.holder == "pid:h:12")
    }

    @Test func waitingAcquiresOnceReleased() async throws {
        let f = try Fixture()
        // Each attempt on the held lock asks whether its holder lives: counted, so the test knows the waiter is waiting.
        let probes = Mutex(0)
        let m = LockManager(store: f.store, markerDirectory: f.markers, host: "h",
                            probe: ProcessProbe(exists: { _ in probes.withLock { $0 += 1 }; return true }, startTime: { _ in nil }))
        _ = try await m.acquire("shared.txt", as: Self.pid(10), ttl: 600)
        let started = Date()
        guard case .held(let holder, _) = try await m.acquire("shared.txt", as: Self.pid(11), ttl: 60, wait: 0.3) else {
            Issue.record("acquired a held lock"); return
        }
        #expect(holder.holder == "pid:h:10")
        #expect(Date().timeIntervalSince(started) >= 0.3)
        let before = probes.withLock { $0 }
        async let waiter = m.acquire("shared.txt", as: Self.pid(11), ttl: 60, wait: 10)
        #expect(try await eventually { probes.withLock { $0 } > before }, "the waiter never tried")
        #expect(try await m.release("shared.txt", holder: "pid:h:10") != .notHeld(current: nil))
        guard case .acquired(let record, nil, false) = try await waiter else { Issue.record("waiter never got the lock"); return }
        #expect(record.holder == "pid:h:11")
    }

    // MARK: Release and markers

    @Test func releaseByANonHolderIsRefused() async throws {
        let f = try Fixture()
        let m = f.manager()
        _ = try await m.acquire("shared.txt", as: Self.pid(10), ttl: 600)
        guard case .notHeld(let current?) = try await m.release("shared.txt", holder: "pid:h:11") else {
            Issue.record("a non-holder released the lock"); return
        }
        #expect(current.holder == "pid:h:10")
        #expect(f.marker("shared.txt")?["holder"] as? String == "pid:h:10", "a non-holder removed the marker")
        #expect(try await f.store.locks().map(\.holder) == ["pid:h:10"])
        guard case .released = try await m.release("shared.txt", holder: "pid:h:10") else { Issue.record("holder could not release"); return }
        #expect(try await m.release("shared.txt", holder: "pid:h:10") == .notHeld(current: nil))
    }

    @Test func markersFollowTheStore() async throws {
        let f = try Fixture()
        let m = f.manager()
        _ = try await m.acquire("Sources/App/x.swift", as: Self.pid(10), ttl: 60)
        let marker = try #require(f.marker("Sources/App/x.swift"))
        #expect(marker["path"] as? String == "Sources/App/x.swift")
        #expect(marker["holder"] as? String == "pid:h:10")
        #expect(marker["pid"] as? Int == 10)
        #expect(marker["host"] as? String == "h")
        #expect(marker["acquired"] as? String == LockManager.iso(Self.t0))
        #expect(marker["expires"] as? String == LockManager.iso(Self.t0 + 60))
        #expect(FileManager.default.fileExists(atPath: f.markers.appendingPathComponent("Sources%2FApp%2Fx.swift.lock").path))
        _ = try await m.release("Sources/App/x.swift", holder: "pid:h:10")
        #expect(f.marker("Sources/App/x.swift") == nil, "marker kept after release")

        // A marker the store knows nothing of (its holder crashed between the two) goes at the next list;
        // a fresh one may belong to a lock taken just now, so it stays.
        _ = try await m.acquire("held.txt", as: Self.pid(10), ttl: 60)
        let orphan = f.markers.appendingPathComponent(LockPath.markerName(for: "gone.txt"))
        let fresh = f.markers.appendingPathComponent(LockPath.markerName(for: "fresh.txt"))
        try Data("{}\n".utf8).write(to: orphan)
        try Data("{}\n".utf8).write(to: fresh)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-60)], ofItemAtPath: orphan.path)
        let listed = try await m.list()
        #expect(listed.map(\.record.path) == ["held.txt"])
        #expect(listed.first?.expired == false)
        #expect(listed.first?.liveness == .alive)
        #expect(!FileManager.default.fileExists(atPath: orphan.path))
        #expect(FileManager.default.fileExists(atPath: fresh.path))
        #expect(f.marker("held.txt") != nil)
    }
}
