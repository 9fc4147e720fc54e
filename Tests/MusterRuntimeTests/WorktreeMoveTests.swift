import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Pool moves done by muster itself (a rename and the admin folder's `gitdir`), not `git worktree
/// move`: git must see the worktree at its new path, whole, and keep it through a prune.
@Suite struct WorktreeMoveTests {
    let fixture: GitFixture
    let manager: WorktreeManager

    init() async throws {
        fixture = try await GitFixture.make()
        manager = try await WorktreeManager.make(workspace: Workspace(root: fixture.root, isGitRepository: true),
                                                 settings: WorktreeSettings(parallelism: 2))
    }

    func prepare(_ id: String) async throws -> (path: String, admin: String) {
        let state = try WorktreeCreationTests.state(try await manager.prepare(run: fixture.run, base: fixture.base,
                                                                               task: try WorktreeCreationTests.task(id), needed: []))
        return (try #require(state.worktree), try #require(state.gitDir))
    }

    func destination(_ name: String) -> String { fixture.root.appendingPathComponent(".muster/moved/\(name)").path }

    func listedPaths() async throws -> Set<String> {
        Set(try await fixture.git(["worktree", "list", "--porcelain"]).split(separator: "\n")
            .filter { $0.hasPrefix("worktree ") }.map { String($0.dropFirst(9)) })
    }

    @Test func aMovedWorktreeIsOneGitKnowsAtItsNewPath() async throws {
        let (path, admin) = try await prepare("t1")
        let target = destination("t1")
        try WorktreeAdminFolder.move(worktree: path, admin: admin, to: target)

        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: admin + "/locked"), "the moving mark stays behind")
        #expect(!FileManager.default.fileExists(atPath: admin + "/gitdir.muster-new"))
        #expect(try String(contentsOfFile: admin + "/gitdir", encoding: .utf8) == WorktreeLink.canonical(target) + "/.git\n")
        #expect(try WorktreeLink.gitDirectory(of: target, commonDirectory: fixture.root.path + "/.git", expected: admin) == admin)
        // git's own view: listed at the new path, on its branch, clean; a prune keeps it.
        try await fixture.git(["worktree", "prune"])
        let listed = try await listedPaths()
        #expect(listed.contains(WorktreeLink.canonical(target)) && !listed.contains(WorktreeLink.canonical(path)), "\(listed)")
        #expect(try await fixture.git(["symbolic-ref", "HEAD"], in: target) == "refs/heads/\(fixture.branch("t1"))")
        #expect(try await fixture.git(["status", "--porcelain"], in: target) == "")
        // And git can still remove it from there.
        try await fixture.git(["worktree", "remove", target])
        #expect(!FileManager.default.fileExists(atPath: admin))
    }

    @Test func aLockedWorktreeOrATakenDestinationIsRefusedAndStaysWhereItWas() async throws {
        let (path, admin) = try await prepare("t1")
        let gitdir = try String(contentsOfFile: admin + "/gitdir", encoding: .utf8)
        // Somebody else's lock (git's own `worktree lock`): refused, as `git worktree move` refuses.
        try await fixture.git(["worktree", "lock", "--reason", "kept", path])
        #expect(throws: SystemError.self) { try WorktreeAdminFolder.move(worktree: path, admin: admin, to: destination("a")) }
        #expect(try String(contentsOfFile: admin + "/locked", encoding: .utf8) == "kept\n", "another's lock was touched")
        try await fixture.git(["worktree", "unlock", path])
        // A destination that exists already, even an empty folder (rename would replace that silently).
        try FileManager.default.createDirectory(atPath: destination("b"), withIntermediateDirectories: true)
        #expect(throws: SystemError.self) { try WorktreeAdminFolder.move(worktree: path, admin: admin, to: destination("b")) }
        #expect(FileManager.default.fileExists(atPath: path + "/.git"))
        #expect(try String(contentsOfFile: admin + "/gitdir", encoding: .utf8) == gitdir)
        #expect(!FileManager.default.fileExists(atPath: admin + "/locked"))
        #expect(try WorktreeLink.gitDirectory(of: path, commonDirectory: fixture.root.path + "/.git", expected: admin) == admin)
    }

    @Test func twentyMovedAtOnceAreAllWholeWhereTheyWent() async throws {
        var made: [(id: String, path: String, admin: String)] = []
        for index in 1...20 {
            let (path, admin) = try await prepare("t\(index)")
            made.append(("t\(index)", path, admin))
        }
        let targets = made.map { destination($0.id) }
        let repository = Git(fixture.root.path)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (entry, target) in zip(made, targets) {
                group.addTask { try await BlockingPool.shared.run { try WorktreeAdminFolder.move(worktree: entry.path, admin: entry.admin, to: target) } }
            }
            try await group.waitForAll()
        }
        try await repository.output(["worktree", "prune"])
        let listed = try await listedPaths()
        #expect(listed.count == 21)
        for (entry, target) in zip(made, targets) {
            #expect(listed.contains(WorktreeLink.canonical(target)), "\(entry.id) is not listed where it went")
            #expect(try WorktreeLink.gitDirectory(of: target, commonDirectory: fixture.root.path + "/.git", expected: entry.admin) == entry.admin)
            #expect(!FileManager.default.fileExists(atPath: entry.admin + "/locked"))
        }
    }
}
