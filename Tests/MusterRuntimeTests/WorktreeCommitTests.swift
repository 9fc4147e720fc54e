import Foundation
import MusterStore
import Testing
@testable import MusterRuntime
import MusterTestKit

/// The end-of-task commit by plumbing: what it takes from the worktree, what it never reads.
@Suite struct WorktreeCommitTests {
    struct Setup {
        let f: GitFixture
        let manager: WorktreeManager
        let path: String
        let state: TaskGitState
    }

    func setup(_ task: String = "t") async throws -> Setup {
        let f = try await GitFixture.make()
        let path = try await f.worktree(task)
        let manager = try await WorktreeManager.make(workspace: Workspace(root: f.root, isGitRepository: true))
        let gitDir = try WorktreeLink.created(path, commonDirectory: try await Git(f.root.path).commonDirectory())
        let state = TaskGitState(worktree: path, branch: f.branch(task), baseCommit: f.base, gitDir: gitDir)
        return Setup(f: f, manager: manager, path: path, state: state)
    }

    func finish(_ s: Setup, owns: [String], scratch: [String] = []) async throws -> TaskGitState {
        try await s.manager.finish(run: s.f.run, task: "t", attempt: 1, owns: owns, state: s.state, agent: "shell", scratch: scratch)
    }

    func files(_ s: Setup, _ commit: String) async throws -> [String] {
        try await s.f.git(["ls-tree", "-r", "--name-only", commit]).split(separator: "\n").map(String.init).sorted()
    }

    @Test func commitsOnTheRecordedStartAndMovesOnlyTheTaskBranch() async throws {
        let s = try await setup()
        let mainBefore = try await s.f.git(["rev-parse", "main"])
        try s.f.write("mine.txt", "mine\n", in: s.path)
        try s.f.write("shared.txt", GitFixture.lines(replacing: [3: "edited"]), in: s.path)
        let result = try await finish(s, owns: ["mine.txt", "shared.txt"])
        let head = try #require(result.headCommit)
        #expect(result.violations.isEmpty)
        #expect(Set(result.changedPaths) == ["mine.txt", "shared.txt"])
        #expect(try await s.f.git(["rev-parse", "\(head)^"]) == s.f.base)
        #expect(try await s.f.git(["rev-parse", s.f.branch("t")]) == head)
        #expect(try await s.f.git(["rev-parse", "main"]) == mainBefore)
        #expect(try await files(s, head) == ["mine.txt", "other.txt", "shared.txt"])
    }

    @Test func scratchFilesAreNeverCommittedNorChecked() async throws {
        let s = try await setup()
        try s.f.write("mine.txt", "mine\n", in: s.path)
        try s.f.write(".aider.chat.history.md", "chat\n", in: s.path)
        try s.f.write(".aider.tags.cache.v3/cache.db", "x\n", in: s.path)
        try s.f.write("sub/.aider.input.history", "x\n", in: s.path)
        let result = try await finish(s, owns: ["mine.txt"], scratch: [".aider*"])
        #expect(result.violations.isEmpty, "\(result.violations)")
        #expect(result.changedPaths == ["mine.txt"])
        #expect(try await files(s, try #require(result.headCommit)) == ["mine.txt", "other.txt", "shared.txt"])
        // Without the scratch list they are the task's files like any other.
        let unlisted = try await finish(s, owns: ["mine.txt"])
        #expect(Set(unlisted.violations) == [".aider.chat.history.md", ".aider.tags.cache.v3/cache.db", "sub/.aider.input.history"])
    }

    @Test func theSharedExcludeAndExcludesFileAreNotRead() async throws {
        let s = try await setup()
        try s.f.write(".git/info/exclude", ".muster/\n*\n")
        let global = s.f.root.appendingPathComponent("global-excludes").path
        try "*.txt\n".write(toFile: global, atomically: true, encoding: .utf8)
        try await s.f.git(["config", "core.excludesFile", global])
        try s.f.write("mine.txt", "mine\n", in: s.path)
        try s.f.write("stray.log", "stray\n", in: s.path)
        // The worktree's own .gitignore still counts.
        try s.f.write(".gitignore", "build/\n", in: s.path)
        try s.f.write("build/out.o", "binary\n", in: s.path)
        let result = try await finish(s, owns: ["mine.txt", ".gitignore"])
        #expect(Set(result.changedPaths) == ["mine.txt", "stray.log", ".gitignore"])
        #expect(result.violations == ["stray.log"])
    }

    @Test func flagsInTheWorktreesOwnIndexHideNothing() async throws {
        let s = try await setup()
        try await s.f.git(["update-index", "--assume-unchanged", "other.txt"], in: s.path)
        try await s.f.git(["update-index", "--skip-worktree", "shared.txt"], in: s.path)
        try s.f.write("other.txt", "changed behind a flag\n", in: s.path)
        try s.f.write("shared.txt", "changed behind another\n", in: s.path)
        let result = try await finish(s, owns: ["mine.txt"])
        #expect(Set(result.violations) == ["other.txt", "shared.txt"])
    }

    @Test func aTaskThatCommittedItselfIsStillCommittedOnItsStart() async throws {
        let s = try await setup()
        try s.f.write("mine.txt", "one\n", in: s.path)
        try await s.f.commit("t")
        try s.f.write("more.txt", "two\n", in: s.path)
        let result = try await finish(s, owns: ["mine.txt", "more.txt"])
        let head = try #require(result.headCommit)
        #expect(try await s.f.git(["rev-parse", "\(head)^"]) == s.f.base)
        #expect(try await s.f.git(["rev-parse", s.f.branch("t")]) == head)
        #expect(Set(result.changedPaths) == ["mine.txt", "more.txt"])
    }

    @Test func aDamagedWorktreeCommitsNothingAnywhere() async throws {
        let s = try await setup()
        try s.f.write("user.txt", "the user's uncommitted file\n")
        let before = [try await s.f.git(["rev-parse", "HEAD"]), try await s.f.git(["status", "--porcelain"]),
                      try await s.f.git(["rev-parse", s.f.branch("t")])]
        try s.f.write("mine.txt", "mine\n", in: s.path)
        try FileManager.default.removeItem(atPath: s.path + "/.git")
        await #expect(throws: WorktreeError.self) { try await finish(s, owns: ["mine.txt"]) }
        let after = [try await s.f.git(["rev-parse", "HEAD"]), try await s.f.git(["status", "--porcelain"]),
                     try await s.f.git(["rev-parse", s.f.branch("t")])]
        #expect(after == before)
    }

    @Test func filterDriversAnAgentConfiguredNeverRun() async throws {
        let s = try await setup()
        let marker = s.f.root.appendingPathComponent("filter-ran").path
        try await s.f.git(["config", "filter.evil.clean", "touch \(marker); tr a-z A-Z"])
        try await s.f.git(["config", "filter.evil.process", "touch \(marker)"])
        try s.f.write(".gitattributes", "* filter=evil\n", in: s.path)
        try s.f.write("mine.txt", "lower case\n", in: s.path)
        let result = try await finish(s, owns: ["mine.txt", ".gitattributes"])
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(try await s.f.git(["show", "\(try #require(result.headCommit)):mine.txt"]) == "lower case")
    }
}
