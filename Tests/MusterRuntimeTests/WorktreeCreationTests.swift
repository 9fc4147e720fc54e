import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Synchronization
import Testing
@testable import MusterRuntime

final class Arrivals: Sendable {
    let count = Mutex(0)
    /// A checkout that waited in vain for three others.
    let alone = Mutex(0)
}

/// Many tasks ready at once get their worktrees at once: nothing in making them takes turns.
@Suite struct WorktreeCreationTests {
    static func task(_ id: String, run: String = "r1") throws -> TaskRecord {
        let spec = PlannedTask(id: id, group: id, agent: "shell", command: Command(argv: ["true"]))
        let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        return try TaskRecord(run: run, id: id, group: id, position: 0, idempotencyKey: id, specJSON: json, state: .running,
                              attempt: 1, failures: 0, notBefore: nil, holder: nil, leaseExpiresAt: nil, pid: nil, pgid: nil,
                              host: nil, exitCode: nil, error: nil, summary: nil, resultPath: nil, usage: nil, costUSD: nil,
                              startedAt: nil, finishedAt: nil, git: nil, parent: nil, waiting: false)
    }

    static func state(_ preparation: WorktreeManager.Preparation) throws -> TaskGitState {
        guard case .ready(let state) = preparation else { throw GitError(command: "prepare", message: "not ready: \(preparation)") }
        return state
    }

    static func adminFolders(_ f: GitFixture) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: f.root.appendingPathComponent(".git/worktrees").path)) ?? []).sorted()
    }

    @Test func fiftyTasksReadyAtOnceAllGetTheirOwnWorktrees() async throws {
        let f = try await GitFixture.make()
        for index in 0..<20 { try f.write("src/file\(index).txt", "content \(index)\n") }
        try await f.git(["add", "-A"])
        try await f.git(["commit", "-q", "-m", "more files"])
        f.base = try await f.git(["rev-parse", "HEAD"])
        var manager = try await WorktreeManager.make(workspace: Workspace(root: f.root, isGitRepository: true),
                                                     settings: WorktreeSettings(parallelism: 50))
        // Every checkout waits until four are under way: were checkouts made one at a time, the
        // first would wait forever and the preparations would time out.
        let arrived = Arrivals()
        manager.beforeCheckout = {
            arrived.count.withLock { $0 += 1 }
            let together = (try? await eventually(timeout: 30) { arrived.count.withLock { $0 } >= 4 }) ?? false
            if !together { arrived.alone.withLock { $0 += 1 } }
        }
        let ids = (1...50).map { "t\($0)" }
        let prepared = manager
        let base = f.base
        let states = try await withThrowingTaskGroup(of: (String, TaskGitState).self) { group in
            for id in ids {
                group.addTask { (id, try Self.state(try await prepared.prepare(run: "r1", base: base, task: try Self.task(id), needed: []))) }
            }
            var all: [String: TaskGitState] = [:]
            for try await (id, state) in group { all[id] = state }
            return all
        }
        #expect(arrived.count.withLock { $0 } == 50)
        #expect(arrived.alone.withLock { $0 } == 0, "checkouts ran one at a time")
        #expect(await manager.worktreesAdded == 50)
        #expect(states.count == 50)
        #expect(Self.adminFolders(f).count == 50)
        let listed = try await f.git(["worktree", "list", "--porcelain"]).split(separator: "\n").filter { $0.hasPrefix("worktree ") }
        #expect(listed.count == 51)
        for id in ids {
            let state = try #require(states[id])
            #expect(state.worktree == f.worktreePath(id) && state.branch == f.branch(id) && state.baseCommit == base)
            let path = f.worktreePath(id)
            #expect(try await f.git(["symbolic-ref", "HEAD"], in: path) == "refs/heads/\(f.branch(id))")
            #expect(try await f.git(["status", "--porcelain", "--untracked-files=all"], in: path) == "")
            #expect((try? String(contentsOfFile: path + "/src/file7.txt", encoding: .utf8)) == "content 7\n")
        }
    }

    @Test func aWorktreeAddThatLostARaceIsRetried() async throws {
        #expect(GitRetry.isLockContention("fatal: Unable to create '/r/.git/index.lock': File exists."))
        #expect(GitRetry.isLockContention("error: cannot lock ref 'refs/heads/muster/r1/a': Unable to create '/r/.git/refs/heads/muster/r1/a.lock': File exists."))
        #expect(!GitRetry.isLockContention("fatal: invalid reference: nope"))
    }
}
