import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Worktrees whose admin folder muster writes itself (no `git worktree add`): git must not see any
/// difference, and many made at once must come out distinct and whole.
@Suite struct WorktreeAdminFolderTests {
    func manager(_ f: GitFixture, parallelism: Int = 2) async throws -> WorktreeManager {
        try await WorktreeManager.make(workspace: Workspace(root: f.root, isGitRepository: true),
                                       settings: WorktreeSettings(parallelism: parallelism))
    }

    func prepare(_ m: WorktreeManager, _ f: GitFixture, _ id: String) async throws -> TaskGitState {
        try WorktreeCreationTests.state(try await m.prepare(run: f.run, base: f.base, task: try WorktreeCreationTests.task(id), needed: []))
    }

    /// `git worktree list --porcelain` as path → (HEAD, branch).
    func listed(_ f: GitFixture) async throws -> [String: (head: String, branch: String)] {
        var result: [String: (head: String, branch: String)] = [:]
        for block in try await f.git(["worktree", "list", "--porcelain"]).components(separatedBy: "\n\n") {
            var path = "", head = "", branch = ""
            for line in block.split(separator: "\n") {
                if line.hasPrefix("worktree ") { path = String(line.dropFirst(9)) }
                if line.hasPrefix("HEAD ") { head = String(line.dropFirst(5)) }
                if line.hasPrefix("branch ") { branch = String(line.dropFirst(7)) }
            }
            result[path] = (head, branch)
        }
        return result
    }

    /// A reflog's messages, line by line ("" for a line with none).
    static func messages(_ reflog: String) -> [String] {
        reflog.split(separator: "\n").map { line -> String in
            guard let tab = line.firstIndex(of: "\t") else { return "" }
            return String(line[line.index(after: tab)...])
        }
    }

    func contents(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    @Test func aWorktreeMusterWroteIsOneGitKnowsInFull() async throws {
        let f = try await GitFixture.make()
        let m = try await manager(f)
        #expect(m.direct != nil)
        let state = try await prepare(m, f, "t1")
        let path = try #require(state.worktree)
        let admin = try #require(state.gitDir)
        #expect(await m.worktreesAdded == 1)
        // Its own name: the task's and a random suffix (git's own would be plain `t1`).
        #expect((admin as NSString).lastPathComponent.range(of: #"^t1-[0-9a-f]{8}$"#, options: .regularExpression) != nil, "\(admin)")

        // The same files, the same way, as git's own worktree made beside it.
        let reference = f.root.appendingPathComponent(".muster/reference").path
        try await f.git(["worktree", "add", "-q", "-b", "reference", reference, f.base])
        let gitsAdmin = f.root.appendingPathComponent(".git/worktrees/reference").path
        let names: (String) throws -> [String] = { try FileManager.default.subpathsOfDirectory(atPath: $0).sorted() }
        #expect(try names(admin) == names(gitsAdmin))
        let real = WorktreeLink.canonical(f.root.path)
        #expect(contents(admin + "/commondir") == "../..\n")
        #expect(contents(admin + "/HEAD") == "ref: refs/heads/\(f.branch("t1"))\n")
        #expect(contents(admin + "/gitdir") == WorktreeLink.canonical(path) + "/.git\n")
        #expect(contents(path + "/.git") == "gitdir: \(real)/.git/worktrees/\((admin as NSString).lastPathComponent)\n")
        #expect(!FileManager.default.fileExists(atPath: admin + "/locked"))
        let reflog = try #require(contents(admin + "/logs/HEAD"))
        #expect(reflog.hasPrefix(String(repeating: "0", count: 40) + " \(f.base) t <t@t> "), "\(reflog)")
        // Its checkout's line follows, as in git's own.
        let gitsReflog = try #require(contents(gitsAdmin + "/logs/HEAD"))
        #expect(Self.messages(reflog) == Self.messages(gitsReflog))
        #expect(Self.messages(reflog).first == "")
        let branchLog = try await f.git(["reflog", "show", "--format=%gs", f.branch("t1")])
        #expect(branchLog == "branch: Created from \(f.base)")

        let worktrees = try await listed(f)
        #expect(worktrees.count == 3)
        #expect(worktrees[WorktreeLink.canonical(path)]?.head == f.base)
        #expect(worktrees[WorktreeLink.canonical(path)]?.branch == "refs/heads/\(f.branch("t1"))")
        #expect(try await f.git(["status", "--porcelain", "--untracked-files=all"], in: path) == "")
        #expect(try await f.git(["rev-parse", "--git-dir"], in: path) == "\(real)/.git/worktrees/\((admin as NSString).lastPathComponent)")
        // Prune leaves a live worktree alone.
        try await f.git(["worktree", "prune"])
        #expect(FileManager.default.fileExists(atPath: admin))

        // Git works inside it: a commit moves the task's branch, and only it.
        try f.write("new.txt", "new\n", in: path)
        try await f.git(["add", "new.txt"], in: path)
        try await f.git(["commit", "-q", "-m", "inside"], in: path)
        let head = try await f.git(["rev-parse", "HEAD"], in: path)
        #expect(try await f.git(["rev-parse", f.branch("t1")]) == head)
        #expect(try await f.git(["rev-parse", "main"]) == f.base)
        #expect(try await f.git(["symbolic-ref", "HEAD"]) == "refs/heads/main")

        // And git removes it like its own.
        try await f.git(["worktree", "remove", path])
        #expect(!FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: admin))
        #expect(try await listed(f).count == 2)
    }

    @Test func fortyMadeAtOnceAreAllDistinctAndWhole() async throws {
        let f = try await GitFixture.make()
        for index in 0..<30 { try f.write("src/file\(index).txt", "content \(index)\n") }
        try await f.git(["add", "-A"])
        try await f.git(["commit", "-q", "-m", "more files"])
        f.base = try await f.git(["rev-parse", "HEAD"])
        let m = try await manager(f, parallelism: 40)
        let ids = (1...40).map { "t\($0)" }
        let states = try await withThrowingTaskGroup(of: (String, TaskGitState).self) { group in
            let (run, base) = (f.run, f.base)
            for id in ids {
                group.addTask { (id, try WorktreeCreationTests.state(try await m.prepare(run: run, base: base, task: try WorktreeCreationTests.task(id), needed: []))) }
            }
            var all: [String: TaskGitState] = [:]
            for try await (id, state) in group { all[id] = state }
            return all
        }
        #expect(states.count == 40)
        #expect(await m.worktreesAdded == 40)
        #expect(WorktreeCreationTests.adminFolders(f).count == 40)
        #expect(Set(states.values.compactMap(\.gitDir)).count == 40)
        let worktrees = try await listed(f)
        #expect(worktrees.count == 41)
        let branches = try await f.git(["for-each-ref", "--format=%(refname) %(objectname)", "refs/heads/muster/"]).split(separator: "\n")
        #expect(branches.count == 40)
        for id in ids {
            let state = try #require(states[id])
            let path = f.worktreePath(id)
            #expect(state.worktree == path && state.branch == f.branch(id) && state.baseCommit == f.base)
            #expect(worktrees[WorktreeLink.canonical(path)]?.branch == "refs/heads/\(f.branch(id))")
            #expect(worktrees[WorktreeLink.canonical(path)]?.head == f.base)
            #expect(try WorktreeLink.gitDirectory(of: path, commonDirectory: f.root.path + "/.git", expected: state.gitDir) == state.gitDir)
            #expect(try await f.git(["status", "--porcelain", "--untracked-files=all"], in: path) == "")
            #expect(contents(path + "/src/file29.txt") == "content 29\n")
        }
    }

    @Test func anExistingBranchKeepsItsWorkThroughGitWorktreeAdd() async throws {
        let f = try await GitFixture.make()
        // The branch outlived its worktree, with a commit on it.
        let old = try await f.worktree("t1")
        try f.write("kept.txt", "kept\n", in: old)
        let tip = try await f.commit("t1")
        try await f.git(["worktree", "remove", "--force", old])
        let m = try await manager(f)
        let state = try await prepare(m, f, "t1")
        let path = try #require(state.worktree)
        // Made by git (its plain name), the branch reset to the base, its work kept under the attempts ref.
        #expect((try #require(state.gitDir) as NSString).lastPathComponent == "t1")
        #expect(try await f.git(["rev-parse", f.branch("t1")]) == f.base)
        #expect(try await f.git(["rev-parse", "refs/muster/attempts/\(f.run)/t1/1"]) == tip)
        #expect(!FileManager.default.fileExists(atPath: path + "/kept.txt"))
        #expect(try await f.git(["status", "--porcelain", "--untracked-files=all"], in: path) == "")
    }

    @Test func aRepositoryWithPerWorktreeConfigSparseCheckoutOrSharingKeepsGitWorktreeAdd() async throws {
        for (key, value) in [("extensions.worktreeConfig", "true"), ("core.sparseCheckout", "yes"), ("core.sharedRepository", "group")] {
            let f = try await GitFixture.make()
            if key.hasPrefix("extensions.") { try await f.git(["config", "core.repositoryFormatVersion", "1"]) }
            try await f.git(["config", key, value])
            let m = try await manager(f)
            #expect(m.direct == nil, "\(key)")
            let state = try await prepare(m, f, "t1")
            #expect((try #require(state.gitDir) as NSString).lastPathComponent == "t1", "\(key)")
            #expect(await m.worktreesAdded == 1)
        }
        let f = try await GitFixture.make()
        try await f.git(["config", "core.sparseCheckout", "false"])
        try await f.git(["config", "core.logAllRefUpdates", "false"])
        let m = try await manager(f)
        let direct = try #require(m.direct)
        #expect(direct.ident == nil, "no reflog when the repository keeps none")
        let state = try await prepare(m, f, "t1")
        #expect(!FileManager.default.fileExists(atPath: try #require(state.gitDir) + "/logs"))
    }

    @Test func theRunFolderSpreadsItsWorktreesOverTheDisk() async throws {
        let f = try await GitFixture.make()
        // Whether this filesystem has the mark at all (ext4 does; tmpfs does not).
        let probe = f.root.appendingPathComponent("probe")
        try FileManager.default.createDirectory(at: probe, withIntermediateDirectories: true)
        let supported = WorktreeFolders.markTop(probe.path)
        #expect(WorktreeFolders.isMarkedTop(probe.path) == supported)
        let m = try await manager(f)
        _ = try await prepare(m, f, "t1")
        let runFolder = (f.worktreePath("t1") as NSString).deletingLastPathComponent
        #expect(WorktreeFolders.isMarkedTop(runFolder) == supported)
        // Only the run's folder: inside a worktree, files stay near their folder.
        #expect(!WorktreeFolders.isMarkedTop(f.worktreePath("t1")))
        #expect(!WorktreeFolders.isMarkedTop(f.root.path))
    }

    @Test func aFailedWriteLeavesNothingBehind() async throws {
        let f = try await GitFixture.make()
        let common = f.root.path + "/.git"
        // The worktree's folder would go where a file is.
        try f.write("blocker", "a file\n")
        let worktree = f.root.appendingPathComponent("blocker/t1")
        #expect(throws: (any Error).self) {
            try WorktreeAdminFolder.write(worktree: worktree, commonDirectory: common, name: "t1", branch: "b", commit: f.base, ident: nil)
        }
        #expect(WorktreeCreationTests.adminFolders(f).isEmpty)
        #expect(WorktreeAdminFolder.folderName("a/b c..d.lock") == "a-b-c-d.lock-")
        #expect(WorktreeAdminFolder.folderName("...") == "worktree")
    }

    /// muster killed while it wrote a worktree's admin folder (its `locked` mark still there, no
    /// HEAD yet): the next prepare of that task (a `resume`) clears both halves and makes it again,
    /// instead of failing on "not a git repository" and stopping the run.
    @Test func aWorktreeCutShortWhileBeingMadeIsMadeAgain() async throws {
        let f = try await GitFixture.make()
        let first = try await prepare(try await manager(f), f, "t1")
        let worktree = try #require(first.worktree), admin = try #require(first.gitDir)
        try "initializing\n".write(toFile: admin + "/locked", atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: admin + "/HEAD")
        #expect(WorktreeAdminFolder.halfMade(worktree: worktree, commonDirectory: f.root.path + "/.git") != nil)

        let again = try await prepare(try await manager(f), f, "t1")
        #expect(again.worktree == worktree)
        #expect(again.gitDir != admin && !FileManager.default.fileExists(atPath: admin), "the half-made admin folder is gone")
        #expect(WorktreeCreationTests.adminFolders(f).count == 1)
        let entry = try #require(try await listed(f)[WorktreeLink.canonical(worktree)])
        #expect(entry.head == f.base && entry.branch == "refs/heads/\(WorktreeManager.branch(run: f.run, task: "t1"))")
        #expect(try await f.git(["-C", worktree, "status", "--porcelain"]).isEmpty)

        // Cut short one step earlier: no commondir yet (which the `.git` link check itself refuses).
        // (The branch exists by now, so this one is remade by `git worktree add`, under git's own name.)
        let admin2 = try #require(again.gitDir)
        try FileManager.default.removeItem(atPath: admin2 + "/commondir")
        #expect(WorktreeAdminFolder.halfMade(worktree: worktree, commonDirectory: f.root.path + "/.git") == admin2)
        let third = try await prepare(try await manager(f), f, "t1")
        let admin3 = try #require(third.gitDir)
        #expect(third.worktree == worktree && FileManager.default.fileExists(atPath: admin3 + "/commondir"))
        #expect(try await f.git(["-C", worktree, "status", "--porcelain"]).isEmpty)
        #expect(WorktreeCreationTests.adminFolders(f).count == 1)

        // Cut short before the worktree's `.git` link: `git worktree add` would refuse a "missing but locked worktree".
        try "initializing\n".write(toFile: admin3 + "/locked", atomically: false, encoding: .utf8)
        try FileManager.default.removeItem(atPath: worktree + "/.git")
        let fourth = try await prepare(try await manager(f), f, "t1")
        #expect(fourth.worktree == worktree && WorktreeCreationTests.adminFolders(f).count == 1)
        #expect(try await f.git(["-C", worktree, "status", "--porcelain"]).isEmpty)
    }
}
