import Foundation
import Testing
@testable import MusterRuntime
import MusterTestKit

/// A worktree's `.git` file is trusted only when it is the link `git worktree add` made for it.
@Suite struct WorktreeLinkTests {
    struct Setup {
        let f: GitFixture
        let common: String
        let a: String
        let b: String
        let aDir: String
        let bDir: String
    }

    func setup() async throws -> Setup {
        let f = try await GitFixture.make()
        let a = try await f.worktree("a"), b = try await f.worktree("b")
        let common = try await Git(f.root.path).commonDirectory()
        let aDir = try WorktreeLink.created(a, commonDirectory: common)
        let bDir = try WorktreeLink.created(b, commonDirectory: common)
        return Setup(f: f, common: common, a: a, b: b, aDir: aDir, bDir: bDir)
    }

    func reason(_ body: () throws -> String) -> String? {
        do {
            _ = try body()
            return nil
        } catch let error as WorktreeError {
            guard case .damaged(_, let reason) = error else { return nil }
            return reason
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func acceptsTheLinkGitMade() async throws {
        let s = try await setup()
        #expect(s.aDir == WorktreeLink.canonical(s.common + "/worktrees/a"))
        #expect(try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common, expected: s.aDir) == s.aDir)
        #expect(try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common) == s.aDir)
        #expect(s.aDir != s.bDir)
    }

    @Test func refusesAMissingLink() async throws {
        let s = try await setup()
        try FileManager.default.removeItem(atPath: s.a + "/.git")
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common, expected: s.aDir) } == "its .git file is missing")
        try FileManager.default.removeItem(atPath: s.a)
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common) }?.contains("worktree folder is missing") == true)
    }

    @Test func refusesALinkRepointedAtASibling() async throws {
        let s = try await setup()
        try "gitdir: \(s.bDir)\n".write(toFile: s.a + "/.git", atomically: true, encoding: .utf8)
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common, expected: s.aDir) }?.contains("not at") == true)
        // Without a record, the sibling's admin folder still names its own worktree, not this one.
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common) }?.contains("belongs to another worktree") == true)
    }

    @Test func refusesALinkToTheMainRepositoryOrElsewhere() async throws {
        let s = try await setup()
        try "gitdir: \(s.common)\n".write(toFile: s.a + "/.git", atomically: true, encoding: .utf8)
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common) }?.contains("outside") == true)
        try "gitdir: ../../../../.git/worktrees/a/../../\n".write(toFile: s.a + "/.git", atomically: true, encoding: .utf8)
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common) }?.contains("outside") == true)
        try "not a link\n".write(toFile: s.a + "/.git", atomically: true, encoding: .utf8)
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common) }?.contains("not a `gitdir:` link") == true)
        try "gitdir: \(s.aDir)\ngitdir: \(s.bDir)\n".write(toFile: s.a + "/.git", atomically: true, encoding: .utf8)
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common) }?.contains("not a `gitdir:` link") == true)
    }

    @Test func refusesAReplacedLink() async throws {
        let s = try await setup()
        try FileManager.default.removeItem(atPath: s.a + "/.git")
        // A symbolic link to the real admin folder's file, or a whole repository in its place.
        try FileManager.default.createSymbolicLink(atPath: s.a + "/.git", withDestinationPath: s.b + "/.git")
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common) }?.contains("symbolic link") == true)
        try FileManager.default.removeItem(atPath: s.a + "/.git")
        try await Git(s.a).run(["init", "-q"])
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common, expected: s.aDir) }?.contains("is a folder") == true)
    }

    @Test func refusesAnAdminFolderRepointedElsewhere() async throws {
        let s = try await setup()
        // The admin folder's `commondir` sends git to another repository's objects and refs.
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("muster-other-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: other) }
        try await Git(s.f.root.path).run(["init", "-q", other])
        try "\(other)/.git\n".write(toFile: s.aDir + "/commondir", atomically: true, encoding: .utf8)
        #expect(reason { try WorktreeLink.gitDirectory(of: s.a, commonDirectory: s.common, expected: s.aDir) }?.contains("does not belong") == true)
    }
}
