import Foundation
import MusterStore
import Testing
@testable import MusterRuntime
import MusterTestKit

/// What integrate refuses, skips and fences (issue 11, finding 2 and the moved-branch bypass).
@Suite struct IntegrationSafetyTests {
    /// A finished task whose recorded commit is its branch's tip.
    func task(_ f: GitFixture, _ id: String, position: Int, files: [String: String]) async throws -> IntegrationTask {
        let path = try await f.worktree(id)
        for (file, text) in files { try f.write(file, text, in: path) }
        let head = try await f.commit(id)
        return IntegrationTask(id: id, group: id, position: position, state: .succeeded,
                               git: TaskGitState(worktree: path, branch: f.branch(id), baseCommit: f.base, headCommit: head,
                                                 changedPaths: Array(files.keys)))
    }

    func store() throws -> (SQLiteStore, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("muster-lease-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return (try SQLiteStore(path: folder.appendingPathComponent("muster.db").path), folder)
    }

    @Test func aBranchMovedAfterItsTaskEndedIsRefusedAndTheRestGoOn() async throws {
        let f = try await GitFixture.make()
        let a = try await task(f, "a", position: 0, files: ["a.txt": "a\n"])
        let b = try await task(f, "b", position: 1, files: ["b.txt": "b\n"])
        // Someone else adds a file on a's branch after muster recorded its commit.
        try f.write("evil.txt", "evil\n", in: f.worktreePath("a"))
        let moved = try await f.commit("a")
        let result = try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: [a, b])
        #expect(result.succeeded)
        #expect(result.merged.map(\.task) == ["b"])
        #expect(result.refused.map(\.task) == ["a"])
        let reason = try #require(result.refused.first?.reason)
        #expect(reason.contains(String(a.git!.headCommit!.prefix(12))) && reason.contains(String(moved.prefix(12))))
        #expect(try await f.git(["ls-tree", "--name-only", result.branch]).split(separator: "\n").sorted() == ["b.txt", "other.txt", "shared.txt"])
    }

    @Test func aCommitWithUnrelatedHistoryIsSkippedNotFatal() async throws {
        let f = try await GitFixture.make()
        let a = try await task(f, "a", position: 0, files: ["a.txt": "a\n"])
        let tree = try await f.git(["rev-parse", "\(f.base)^{tree}"])
        let orphan = try await f.git(["commit-tree", tree, "-m", "no shared history"])
        try await f.git(["update-ref", "refs/heads/\(f.branch("lonely"))", orphan])
        let lonely = IntegrationTask(id: "lonely", group: "lonely", position: 1, state: .succeeded,
                                     git: TaskGitState(worktree: nil, branch: f.branch("lonely"), baseCommit: f.base, headCommit: orphan))
        let c = try await task(f, "c", position: 2, files: ["c.txt": "c\n"])
        for dryRun in [true, false] {
            let result = try await Integrator(repository: f.root.path)
                .integrate(run: f.run, baseCommit: f.base, tasks: [a, lonely, c], options: IntegrationOptions(dryRun: dryRun))
            #expect(result.succeeded)
            #expect(result.merged.map(\.task) == ["a", "c"])
            #expect(result.skipped.map(\.task) == ["lonely"])
            #expect(result.skipped.first?.reason.contains("shares no history") == true)
        }
    }

    @Test func theBranchOnlyMovesForwardFromTheValueItHad() async throws {
        let f = try await GitFixture.make()
        let a = try await task(f, "a", position: 0, files: ["a.txt": "a\n"])
        let head = a.git!.headCommit!
        let git = Git(f.root.path)
        let integrator = Integrator(repository: f.root.path)
        try await git.run(["update-ref", "refs/heads/target", f.base])
        // Not from the value it has now: refused, unmoved.
        await #expect(throws: IntegrationError.branchMoved(branch: "target", expected: head, found: f.base)) {
            try await integrator.advance("refs/heads/target", to: head, from: head, git: git, reason: "t", branch: "target")
        }
        // Backwards (or sideways): refused, unmoved.
        try await git.run(["update-ref", "refs/heads/target", head])
        await #expect(throws: GitError.self) {
            try await integrator.advance("refs/heads/target", to: f.base, from: head, git: git, reason: "t", branch: "target")
        }
        #expect(try await git.revParse("refs/heads/target") == head)
    }

    @Test func aLostLeaseStopsBeforeTheBranchMoves() async throws {
        let f = try await GitFixture.make()
        let a = try await task(f, "a", position: 0, files: ["a.txt": "a\n"])
        let (store, folder) = try store()
        defer { try? FileManager.default.removeItem(at: folder) }
        let lease = try await IntegrationLease.acquire(store: store, run: f.run)
        lease.held.withLock { $0 = false }
        await #expect(throws: IntegrationError.leaseLost) {
            try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: [a], lease: lease)
        }
        #expect(try await Git(f.root.path).resolve("refs/heads/muster/r1/integrated") == nil)
        await lease.release()
    }

    @Test func aLeaseThatRanOutUnrenewedIsNotHeld() throws {
        let (store, folder) = try store()
        defer { try? FileManager.default.removeItem(at: folder) }
        let identity = LockIdentity(holder: "integrate-stalled", host: "h", pid: 1)
        let manager = LockManager(store: store, markerDirectory: nil)
        let stalled = IntegrationLease(manager: manager, path: IntegrationLease.path(run: "r1"), identity: identity,
                                       until: Date().addingTimeInterval(-1))
        #expect(!stalled.isHeld, "a holder woken after its lease lapsed must not move the branch before it renews")
        let fresh = IntegrationLease(manager: manager, path: IntegrationLease.path(run: "r1"), identity: identity,
                                     until: Date().addingTimeInterval(IntegrationLease.ttl))
        #expect(fresh.isHeld)
    }

    @Test func oneHolderPerRunAndTheSecondIsToldWho() async throws {
        let (store, folder) = try store()
        defer { try? FileManager.default.removeItem(at: folder) }
        let host = LockIdentity.hostName()
        let first = LockIdentity(holder: "pid:\(host):\(getpid())", host: host, pid: getpid())
        let second = LockIdentity(holder: "integrate-second", host: host, pid: getpid())
        let lease = try await IntegrationLease.acquire(store: store, run: "r1", identity: first)
        do {
            _ = try await IntegrationLease.acquire(store: store, run: "r1", identity: second)
            Issue.record("a second holder got the same run's lock")
        } catch let busy as IntegrationBusy {
            #expect(busy.holder.holder == first.holder)
            #expect(busy.description.contains("pid \(getpid()) on \(host)"))
        }
        // Another run is another lock.
        let other = try await IntegrationLease.acquire(store: store, run: "r2", identity: second)
        await other.release()
        await lease.release()
        let after = try await IntegrationLease.acquire(store: store, run: "r1", identity: second)
        await after.release()
        #expect(try await store.locks().isEmpty)
    }

    @Test func aDeadHoldersLockIsTakenOverAtOnce() async throws {
        let (store, folder) = try store()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A process that has exited: its pid names no one.
        let pid = try CommandRunner.spawn("/bin/true", [], in: folder.path, environment: [:])
        _ = await withCheckedContinuation { done in Thread { done.resume(returning: CommandRunner.wait(pid)) }.start() }
        let host = LockIdentity.hostName()
        let dead = LockIdentity(holder: LockIdentity.pidHolder(host: host, pid: pid), host: host, pid: pid)
        _ = try await IntegrationLease.acquire(store: store, run: "r1", identity: dead)
        let live = LockIdentity(holder: "integrate-live", host: host, pid: getpid())
        let lease = try await IntegrationLease.acquire(store: store, run: "r1", identity: live)
        #expect(try await store.locks().map(\.holder) == ["integrate-live"])
        await lease.release()
    }

    @Test func mergeDriversAnAgentConfiguredNeverRun() async throws {
        let f = try await GitFixture.make()
        let marker = f.root.appendingPathComponent("driver-ran").path
        try await f.git(["config", "merge.evil.driver", "touch \(marker); false"])
        try f.write(".git/info/attributes", "* merge=evil\n")
        let a = try await task(f, "a", position: 0, files: ["shared.txt": GitFixture.lines(replacing: [5: "a"])])
        let b = try await task(f, "b", position: 1, files: ["shared.txt": GitFixture.lines(replacing: [25: "b"])])
        let result = try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: [a, b])
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(result.merged.map(\.task) == ["a", "b"])
        #expect(try await f.git(["show", "\(result.branch):shared.txt"]) == GitFixture.lines(replacing: [5: "a", 25: "b"]).trimmingCharacters(in: .newlines))
    }
}
