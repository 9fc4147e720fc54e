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
    /// The repository's shared git folder: every task worktree's admin folder lives in its `worktrees/`.
    let commonDirectory: String
    /// Takes turns for git's metadata steps (`git worktree add` when it is still used, `move`); new worktrees and checkouts run side by side.
    let admin = WorktreeAdmin()
    /// `worktree:` of the spec: what each fresh worktree gets before its task (nil: nothing).
    var ready: WorktreeReady?
    /// muster.toml's `[worktree]`.
    public internal(set) var settings = WorktreeSettings()
    /// Finished worktrees kept for the next tasks (nil: the pool is off).
    var pool: WorktreePool?
    /// Set when new worktrees' admin folders are written by muster (`WorktreeAdminFolder`): the
    /// committer ident for their HEAD reflog. nil: `git worktree add` makes them (the repository
    /// uses per-worktree config, a sparse checkout or shared permissions, which that writer does not honour).
    var direct: Direct?
    struct Direct: Sendable {
        var ident: String?
    }
    /// Called before each new worktree's checkout (tests use it to see several run at once).
    var beforeCheckout: (@Sendable () async -> Void)?

    /// How many worktrees a dispatch prepares at once.
    public var parallelism: Int { settings.parallelism }

    public enum Preparation: Sendable {
        case ready(TaskGitState)
        /// Merging what the task needs conflicted: it must not start.
        case blocked(files: [String], merging: String)
        /// A `worktree.setup` command failed: the task ends as failed with this message (it names the log).
        case setupFailed(String)
    }

    public static func make(workspace: Workspace, ready: WorktreeSpec? = nil, settings: WorktreeSettings? = nil) async throws -> WorktreeManager {
        let repo = Git(workspace.root)
        var manager = WorktreeManager(workspace: workspace, repo: repo, identity: try await repo.identityArguments(),
                                      commonDirectory: try await repo.commonDirectory())
        manager.ready = ready.map { WorktreeReady(spec: $0, checkout: workspace.root) }
        // muster.toml was checked when the run was planned; read again here for its `[worktree]`.
        manager.settings = settings ?? (try? ProjectConfig.load(root: workspace.root))?.worktree ?? WorktreeSettings()
        manager.direct = try await directCreation(repo, identity: manager.identity)
        if manager.settings.pool > 0 { manager.pool = WorktreePool(workspace: workspace, settings: manager.settings) }
        return manager
    }

    /// New worktrees this manager made (a worktree from the pool is none).
    public var worktreesAdded: Int { get async { await admin.added } }

    /// Whether new worktrees can be written directly (see `direct`), and the ident for their reflog.
    static func directCreation(_ repo: Git, identity: [String]) async throws -> Direct? {
        let listed = try await repo.run(["config", "--get-regexp", WorktreeAdminFolder.unsupportedKeys + "|^core\\.logallrefupdates$"],
                                        allowFailure: true).stdout
        var logs = true  // git's default in a repository with a work tree
        for line in listed.split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1)
            let key = parts.first.map { $0.lowercased() } ?? ""
            let value = parts.count > 1 ? parts[1].lowercased() : "true"
            let on = !["false", "no", "off", "0", ""].contains(value)
            if key == "core.logallrefupdates" { logs = on } else if on { return nil }
        }
        guard logs else { return Direct(ident: nil) }
        let ident = try await repo.run(identity + ["var", "GIT_COMMITTER_IDENT"], allowFailure: true)
        return Direct(ident: ident.succeeded ? ident.stdout.trimmingCharacters(in: .whitespacesAndNewlines) : nil)
    }

    /// Paths muster itself placed in every worktree (`worktree.copy`, `worktree.link`): scratch, never committed.
    var placed: [String] { ready?.spec.placed ?? [] }

    public static func branch(run: String, task: String) -> String { "muster/\(run)/\(task)" }

    public func path(run: String, task: String) -> URL {
        workspace.stateDirectory.appendingPathComponent("worktrees/\(run)/\(task)")
    }

    /// Git on a task's worktree, after checking its `.git` link (`WorktreeError.damaged` if it cannot be trusted).
    /// Its filter and merge drivers are off too (`Git.withoutDrivers`), read afresh each time.
    public func git(worktree: String, expected gitDir: String?) async throws -> Git {
        let folder = try WorktreeLink.gitDirectory(of: worktree, commonDirectory: commonDirectory, expected: gitDir)
        return try await Git(gitDirectory: folder, workTree: worktree).withoutDrivers()
    }

    /// The worktree for `task`: the run's base plus a merge of every branch it needs, in order.
    public func prepare(run: String, base: String, task: TaskRecord, needed: [TaskRecord]) async throws -> Preparation {
        let dir = path(run: run, task: task.id)
        let branch = Self.branch(run: run, task: task.id)
        // What an earlier attempt recorded for this worktree: its `.git` must still name that folder.
        let recorded = task.git?.worktree == dir.path ? task.git?.gitDir : nil
        var entry = stat()
        var linked = lstat(dir.appendingPathComponent(".git").path, &entry) == 0
        if linked, recorded == nil {
            // Killed while it was being made (no attempt ran in it): its halves go, and it is made again.
            let path = dir.path, common = commonDirectory
            linked = await BlockingPool.shared.run { () -> Bool in
                guard let admin = WorktreeAdminFolder.halfMade(worktree: path, commonDirectory: common) else { return true }
                try? FileManager.default.removeItem(atPath: admin)
                try? FileManager.default.removeItem(atPath: path)
                return false
            }
        }
        let git: Git
        var reused: WorktreePool.SetupRecord?
        if linked || (recorded != nil && FileManager.default.fileExists(atPath: dir.path)) {
            // An earlier attempt's worktree (a missing `.git` there is damage, not a half-made worktree).
            git = try await self.git(worktree: dir.path, expected: recorded)
            try await keepEarlierAttempt(git, run: run, task: task, base: base, branch: branch)
        } else {
            // The run's folder spreads its worktrees over the disk (`WorktreeFolders`).
            try WorktreeFolders.make(dir.deletingLastPathComponent())
            // An empty pool (every first run) costs no git call: its folder is listed before the branch is looked up.
            if let pool, !pool.isEmpty, try await !repo.branchExists(branch),
               let pooled = await fromPool(at: dir, branch: branch, base: base) {
                git = pooled.git
                reused = pooled.setup
            } else {
                git = try await create(at: dir, run: run, task: task, branch: branch, base: base)
            }
        }
        for need in needed {
            guard let head = need.git?.headCommit else { continue }  // it changed nothing
            let merge = try await git.run(identity + ["merge", "--no-ff", "--no-edit", "--no-verify", "--quiet", "-m",
                                                      "muster: merge \(need.id) into \(task.id)", head], allowFailure: true)
            if !merge.succeeded {
                let files = try await git.output(["diff", "--name-only", "--diff-filter=U"]).split(separator: "\n").map(String.init)
                try await git.run(["merge", "--abort"], allowFailure: true)
                try await git.run(["reset", "--hard", "--quiet", base])
                return .blocked(files: files.isEmpty ? ["(merge failed: \(merge.stderr.prefix(200)))"] : files, merging: need.id)
            }
        }
        if let ready {
            do {
                try await makeReady(ready, git: git, at: dir, reused: reused,
                                    log: workspace.taskDirectory(run: run, task: task.id).appendingPathComponent("setup.log"))
            } catch let failure as WorktreeReady.SetupFailure {
                return .setupFailed(failure.message)
            }
        }
        // Nothing merged: the branch is at the base (made there, or reset there for a new attempt).
        let start = needed.contains { $0.git?.headCommit != nil } ? try await git.revParse("refs/heads/\(branch)") : base
        return .ready(TaskGitState(worktree: dir.path, branch: branch, baseCommit: start, gitDir: git.gitDirectory))
    }

    /// Keeps an earlier attempt's work under a ref, then resets the worktree (and its branch) to the run's base.
    func keepEarlierAttempt(_ git: Git, run: String, task: TaskRecord, base: String, branch: String) async throws {
        let ref = "refs/heads/\(branch)"
        // HEAD is the agent's to move; muster's reset must land on the task's own branch, nowhere else.
        // (An unfinished merge needs no abort: the reset below clears its state, after the files are kept.)
        try await git.run(["symbolic-ref", "HEAD", ref])
        if let tip = try await git.resolve(ref) {
            // Files muster copied in (an `.env`) are kept out of the attempt's commit too.
            let commit = WorktreeCommit(git: git, scratch: placed)
            var kept = tip
            // nil: its files are the tip's, nothing to keep beyond the tip itself.
            if let tree = try await commit.changedTree(from: tip), tree != (try await git.output(["rev-parse", "\(tip)^{tree}"])) {
                kept = try await commit.commit(tree: tree, parent: tip, message: "muster: what attempt \(task.attempt - 1) of \(run)/\(task.id) left\n",
                                               identity: identity)
            }
            if kept != base {
                try await git.run(["update-ref", "refs/muster/attempts/\(run)/\(task.id)/\(max(1, task.attempt - 1))", kept])
            }
        }
        try await git.run(["reset", "--hard", "--quiet", base])
        // -x: ignored files go too (the shared info/exclude may say "*"); a new attempt starts clean.
        try await git.run(["clean", "-fdqx"])
    }

    /// Commits everything the task changed on its branch (never its `scratch` files) and checks each
    /// changed path (both sides of a rename, deletions too) against its `owns`, comparing with the
    /// start commit muster recorded.
    public func finish(run: String, task: TaskRecord, state: TaskGitState, agent: String, scratch: [String] = []) async throws -> TaskGitState {
        try await finish(run: run, task: task.id, attempt: task.attempt, owns: task.spec.owns, state: state, agent: agent, scratch: scratch + placed)
    }

    func finish(run: String, task id: String, attempt: Int, owns: [String], state: TaskGitState, agent: String,
                scratch: [String]) async throws -> TaskGitState {
        guard let worktree = state.worktree else { return state }
        let git = try await self.git(worktree: worktree, expected: state.gitDir)
        let commit = WorktreeCommit(git: git, scratch: scratch)
        // nil: nothing differs from the start commit (a task that changed nothing needs no more git calls).
        let tree = try await commit.changedTree(from: state.baseCommit)
        let changed = if let tree { try await Self.changedPaths(git, ["diff-tree", "-r", "--name-status", "-M", "-z", state.baseCommit, tree]) } else { [String]() }
        var result = state
        result.changedPaths = changed
        result.violations = Self.violations(changed, owns: owns)
        if let tree, !changed.isEmpty {
            let message = "muster: \(run)/\(id) (\(agent))\n\nRun: \(run)\nTask: \(id)\nAgent: \(agent)\nAttempt: \(attempt)\n"
            let head = try await commit.commit(tree: tree, parent: state.baseCommit, message: message, identity: identity)
            let ref = "refs/heads/\(state.branch ?? Self.branch(run: run, task: id))"
            // The agent may have committed on (or moved) its branch itself; the commit above holds all its files either way.
            let old = try await git.resolve(ref)
            try await commit.move(ref, to: head, from: old, reason: "muster: \(run)/\(id) finished")
            result.headCommit = head
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
