import Foundation
import MusterCore
import MusterStore

/// One git worktree and branch per task, under `.muster/worktrees/<run>/<task>` on
/// `muster/<run>/<task>`. A worktree is only ever touched by its own task: a new attempt of the
/// task keeps what the last one left (committed under `refs/muster/attempts/…`) and starts clean.
public struct WorktreeManager: Sendable {
    public let workspace: Workspace
    let repo: Git
    let identity: [String]
    let admin = WorktreeAdmin()

    /// `git worktree add` and `prune` read every worktree's admin folder: two at once can see the
    /// other's half-made folder and fail. They take turns; merges in separate worktrees do not.
    actor WorktreeAdmin {
        /// Creates the worktree on `branch` (made from `base` if it does not exist yet). Returns
        /// whether the branch already existed: its earlier work must then be kept, not overwritten.
        func create(_ repo: Git, at dir: URL, branch: String, base: String) async throws -> Bool {
            var lastError = ""
            for _ in 0..<3 {
                let existed = try await repo.branchExists(branch)
                let arguments = existed ? ["worktree", "add", "--quiet", dir.path, branch]
                                        : ["worktree", "add", "--quiet", "-b", branch, dir.path, base]
                let result = try await repo.run(arguments, allowFailure: true)
                if result.succeeded { return existed }
                lastError = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                // A half-made worktree (a crash, or another git command pruning mid-way): clear it, retry.
                if !FileManager.default.fileExists(atPath: dir.appendingPathComponent(".git").path) {
                    try? FileManager.default.removeItem(at: dir)
                }
                try await repo.run(["worktree", "prune"], allowFailure: true)
            }
            throw GitError(command: "worktree add", message: lastError)
        }
    }

    public enum Preparation: Sendable {
        case ready(TaskGitState)
        /// Merging what the task needs conflicted: it must not start.
        case blocked(files: [String], merging: String)
    }

    public static func make(workspace: Workspace) async throws -> WorktreeManager {
        let repo = Git(workspace.root)
        return WorktreeManager(workspace: workspace, repo: repo, identity: try await repo.identityArguments())
    }

    public static func branch(run: String, task: String) -> String { "muster/\(run)/\(task)" }

    public func path(run: String, task: String) -> URL {
        workspace.stateDirectory.appendingPathComponent("worktrees/\(run)/\(task)")
    }

    /// The worktree for `task`: the run's base plus a merge of every branch it needs, in order.
    public func prepare(run: String, base: String, task: TaskRecord, needed: [TaskRecord]) async throws -> Preparation {
        let dir = path(run: run, task: task.id)
        let branch = Self.branch(run: run, task: task.id)
        let git = Git(dir)
        if FileManager.default.fileExists(atPath: dir.appendingPathComponent(".git").path) {
            try await keepEarlierAttempt(git, run: run, task: task, base: base)
        } else {
            try FileManager.default.createDirectory(at: dir.deletingLastPathComponent(), withIntermediateDirectories: true)
            if try await admin.create(repo, at: dir, branch: branch, base: base) {
                // The branch outlived its worktree (cleaned, or a crash mid-creation): resume it, never overwrite it.
                try await keepEarlierAttempt(git, run: run, task: task, base: base)
            }
        }
        for need in needed {
            guard let head = need.git?.headCommit else { continue }  // it changed nothing
            let merge = try await git.run(identity + ["merge", "--no-ff", "--no-edit", "--quiet", "-m",
                                                      "muster: merge \(need.id) into \(task.id)", head], allowFailure: true)
            if !merge.succeeded {
                let files = try await git.output(["diff", "--name-only", "--diff-filter=U"]).split(separator: "\n").map(String.init)
                try await git.run(["merge", "--abort"], allowFailure: true)
                try await git.run(["reset", "--hard", "--quiet", base])
                return .blocked(files: files.isEmpty ? ["(merge failed: \(merge.stderr.prefix(200)))"] : files, merging: need.id)
            }
        }
        let start = try await git.revParse("HEAD")
        return .ready(TaskGitState(worktree: dir.path, branch: branch, baseCommit: start))
    }

    /// Keeps an earlier attempt's work under a ref, then resets the worktree to the run's base.
    func keepEarlierAttempt(_ git: Git, run: String, task: TaskRecord, base: String) async throws {
        try await git.run(["merge", "--abort"], allowFailure: true)
        try await git.run(["add", "-A"])
        if !(try await git.run(["diff", "--cached", "--quiet"], allowFailure: true).succeeded) {
            try await git.run(identity + ["commit", "--quiet", "--no-verify", "-m",
                                          "muster: what attempt \(task.attempt - 1) of \(run)/\(task.id) left"])
        }
        let head = try await git.revParse("HEAD")
        if head != base {
            try await git.run(["update-ref", "refs/muster/attempts/\(run)/\(task.id)/\(max(1, task.attempt - 1))", head])
        }
        try await git.run(["reset", "--hard", "--quiet", base])
        try await git.run(["clean", "-fdq"])
    }

    /// Commits everything the task changed on its branch and checks each changed path (both
    /// sides of a rename, deletions too) against its `owns`.
    /// `scratch`: the agent's scratch files (globs), left uncommitted and out of the ownership check.
    public func finish(run: String, task: TaskRecord, state: TaskGitState, agent: String, scratch: [String] = []) async throws -> TaskGitState {
        guard let worktree = state.worktree else { return state }
        let git = Git(worktree)
        try await git.run(["add", "-A", "--"] + ScratchFiles.excludingPathspecs(scratch))
        let changed = try await Self.changedPaths(git, ["diff", "--cached", "--name-status", "-M", "-z", state.baseCommit])
        var result = state
        result.changedPaths = changed
        result.violations = Self.violations(changed, owns: task.spec.owns)
        if !changed.isEmpty {
            let message = "muster: \(run)/\(task.id) (\(agent))\n\nRun: \(run)\nTask: \(task.id)\nAgent: \(agent)\nAttempt: \(task.attempt)\n"
            try await git.run(identity + ["commit", "--quiet", "--no-verify", "-m", message])
            result.headCommit = try await git.revParse("HEAD")
        }
        return result
    }

    /// The repository's working tree as a tree object, without touching the real index: the
    /// before/after snapshots that check `isolation: none` tasks.
    public func snapshot(scratch: URL) async throws -> String {
        let index = scratch.appendingPathComponent("snapshot.index")
        try? FileManager.default.removeItem(at: index)
        let gitIndex = workspace.root.appendingPathComponent(".git/index")
        if FileManager.default.fileExists(atPath: gitIndex.path) { try FileManager.default.copyItem(at: gitIndex, to: index) }
        let env = ["GIT_INDEX_FILE": index.path]
        try await repo.run(["add", "-A"], environment: env)
        let tree = try await repo.run(["write-tree"], environment: env).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try? FileManager.default.removeItem(at: index)
        return tree
    }

    /// What changed in the repository between two snapshots, checked against `owns`.
    public func inPlaceChanges(before: String, after: String, owns: [String]) async throws -> (changed: [String], violations: [String]) {
        let changed = try await Self.changedPaths(repo, ["diff-tree", "-r", "--name-status", "-M", "-z", before, after])
        return (changed, Self.violations(changed, owns: owns))
    }

    static func violations(_ paths: [String], owns: [String]) -> [String] {
        let globs = owns.compactMap { try? Glob($0) }
        return paths.filter { path in !globs.contains { $0.matches(path) } }
    }

    /// Parses `--name-status -z`: a status, then one path (two for renames and copies).
    static func changedPaths(_ git: Git, _ arguments: [String]) async throws -> [String] {
        let fields = try await git.run(arguments).stdout.split(separator: "\0", omittingEmptySubsequences: false).map(String.init)
        var paths: [String] = []
        var i = 0
        while i < fields.count {
            let status = fields[i]
            guard let kind = status.first else { i += 1; continue }
            let count = kind == "R" || kind == "C" ? 2 : 1
            for j in 1...count where i + j < fields.count { paths.append(fields[i + j]) }
            i += 1 + count
        }
        var seen = Set<String>()
        return paths.filter { seen.insert($0).inserted }
    }
}
