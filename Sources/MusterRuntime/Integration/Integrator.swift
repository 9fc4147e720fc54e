import Foundation
import MusterCore
import MusterStore

/// What the integrator needs to know about one task (built from a `TaskRecord`).
public struct IntegrationTask: Sendable, Equatable {
    public var id: String
    public var group: String
    public var position: Int
    /// Groups this task's group waits for.
    public var needs: [String]
    public var state: TaskState
    public var git: TaskGitState?
    public var isExpander: Bool
    public var error: String?

    public init(id: String, group: String, position: Int, needs: [String] = [], state: TaskState,
                git: TaskGitState?, isExpander: Bool = false, error: String? = nil) {
        self.id = id
        self.group = group
        self.position = position
        self.needs = needs
        self.state = state
        self.git = git
        self.isExpander = isExpander
        self.error = error
    }

    public init(_ record: TaskRecord) {
        self.init(id: record.id, group: record.group, position: record.position, needs: record.spec.needs, state: record.state,
                  git: record.git, isExpander: record.spec.isExpander, error: record.error)
    }
}

public struct IntegrationOptions: Sendable, Equatable {
    /// The branch to merge into; nil: `muster/<run>/integrated`.
    public var into: String?
    /// Predict the whole sequence with `git merge-tree`; create or move no ref.
    public var dryRun: Bool
    /// Allow merging into a branch checked out in the main worktree (merges happen there, in place).
    public var allowCheckedOut: Bool
    /// A shell command (`sh -c`) run on the files of each integration commit, in a private folder
    /// outside the repository; a merge it fails is dropped with its dependents (nil: no check).
    public var check: String?
    /// Merges per check (with `check`): a failing batch is bisected down to the merge that breaks it.
    public var checkBatch: Int

    public init(into: String? = nil, dryRun: Bool = false, allowCheckedOut: Bool = false, check: String? = nil, checkBatch: Int = 1) {
        self.into = into
        self.dryRun = dryRun
        self.allowCheckedOut = allowCheckedOut
        self.check = check
        self.checkBatch = max(1, checkBatch)
    }
}

public struct IntegrationReport: Sendable, Codable, Equatable {
    public struct Merged: Sendable, Codable, Equatable {
        public var task: String
        public var branch: String?
        public var commit: String
        /// The merge commit (with `dryRun`: a predicted commit no ref points to).
        public var mergeCommit: String
    }

    public struct Excluded: Sendable, Codable, Equatable {
        public var task: String
        public var reason: String
    }

    /// A task the check refused: its merge broke the check (`output`: the check's last lines), or it
    /// needs one that did (`because`).
    public struct Dropped: Sendable, Codable, Equatable {
        public var task: String
        public var reason: String
        public var because: String?
        public var output: String?
    }

    public struct Conflict: Sendable, Codable, Equatable {
        public var task: String
        public var branch: String?
        public var commit: String
        public var files: [String]
    }

    public var run: String
    public var branch: String
    public var dryRun: Bool
    /// The branch did not exist: it was (or, with `dryRun`, would be) created at the run's base.
    public var createdBranch: Bool
    /// Where the branch was before, and where it is now (with `dryRun`: where it would be).
    public var startCommit: String
    public var endCommit: String
    /// In merge order.
    public var merged: [Merged] = []
    /// Tasks whose commit the branch already contained (an earlier `integrate`).
    public var alreadyIntegrated: [String] = []
    /// The merge that stopped integration; it was aborted, the branch stays at `endCommit`.
    public var conflict: Conflict?
    /// Tasks left unmerged because integration stopped first.
    public var notAttempted: [String] = []
    /// Tasks that are never merged, with why (failed, ownership violations, not finished, no changes).
    public var excluded: [Excluded] = []
    /// Tasks whose branch no longer points at the commit muster recorded when the task ended
    /// (something other than muster moved it): never merged, the rest go on.
    public var refused: [Excluded] = []
    /// Tasks whose commit shares no history with the branch: reported, not merged, the rest go on.
    public var skipped: [Excluded] = []
    /// The check run after each merge (or batch), if any.
    public var check: String?
    /// How many times the check ran.
    public var checksRun = 0
    /// Tasks the check refused, in the order they were dropped; the branch never contained them.
    public var dropped: [Dropped] = []
    /// The checkout the merges ran in, with `--allow-checked-out`; nil otherwise (plumbing needs no work folder).
    public var worktree: String?

    public var succeeded: Bool { conflict == nil }
}

public enum IntegrationError: Error, CustomStringConvertible, Sendable, Equatable {
    case notGitRepository(String)
    case noBaseCommit(run: String)
    case invalidBranch(String)
    case checkedOut(branch: String, worktree: String, main: Bool)
    case dirtyWorktree(branch: String, worktree: String)
    case branchIsTaskBranch(branch: String, task: String)
    /// This integrate stalled past its lease and another took over; it stopped before moving the branch again.
    case leaseLost
    /// The branch moved while this integrate ran (not through it): nothing of this integrate's was lost.
    case branchMoved(branch: String, expected: String, found: String)
    /// `--check` with `--allow-checked-out`: checks run on plumbing merges only, never in the user's checkout.
    case checkInCheckout
    /// The check fails before any merge: no task could be told apart from the start.
    case checkFailsAtStart(commit: String, output: String)

    public var description: String {
        switch self {
        case .notGitRepository(let path):
            "\(path) is not a git repository: integration merges task branches (runs with `isolation: none` have nothing to merge)"
        case .noBaseCommit(let run):
            "run \(run) did not run in git worktrees (no base commit): there are no task branches to merge"
        case .invalidBranch(let name):
            "\(name) is not a valid branch name"
        case .checkedOut(let branch, let worktree, let main):
            main ? "\(branch) is checked out in \(worktree): muster does not merge into your checked-out branch unless asked (--allow-checked-out), or pick another with --into"
                 : "\(branch) is checked out in the worktree \(worktree): pick another branch with --into"
        case .dirtyWorktree(let branch, let worktree):
            "\(branch) is checked out in \(worktree) with uncommitted changes: commit or stash them first"
        case .branchIsTaskBranch(let branch, let task):
            "\(branch) is task \(task)'s own branch: pick another with --into"
        case .leaseLost:
            "this integrate lost its lock on the run (it stalled past its lease and another integrate took over): it stopped; run it again"
        case .branchMoved(let branch, let expected, let found):
            "\(branch) moved while integrating (expected \(expected.prefix(12)), found \(found.prefix(12))): something else updated it; run `muster integrate` again"
        case .checkInCheckout:
            "--check does not run with --allow-checked-out: checks run on merges made outside your checkout; drop one of them"
        case .checkFailsAtStart(let commit, let output):
            "the check already fails at \(commit.prefix(12)), before any merge: fix it there first (or change the check)\n" + output
        }
    }
}

/// Merges a run's succeeded task branches, in dependency order, into one branch, with plumbing only
/// (`merge-tree --write-tree`, `commit-tree`): no work folder, no index, no hook, so the user's
/// checkout is never touched and nothing an agent left in `.git/hooks` runs. Each task is merged at
/// the commit muster recorded when it ended, and only while its branch still points there. The
/// branch moves after each clean merge by compare-and-swap (`update-ref NEW OLD`, NEW checked to
/// descend from OLD), so a conflict, a crash or a racing writer leaves it at the last good merge.
/// `muster integrate` holds the run's `IntegrationLease` around it: one integrate per run at a time.
public struct Integrator: Sendable {
    public let repository: String

    /// `repository`: the repository's top folder (the run's root).
    public init(repository: String) {
        self.repository = repository
    }

    public static func defaultBranch(run: String) -> String { "muster/\(run)/integrated" }

    public func integrate(run: RunRecord, tasks: [TaskRecord], options: IntegrationOptions = IntegrationOptions(),
                          lease: IntegrationLease? = nil) async throws -> IntegrationReport {
        guard let base = run.baseCommit else { throw IntegrationError.noBaseCommit(run: run.id) }
        return try await integrate(run: run.id, baseCommit: base, tasks: tasks.map(IntegrationTask.init), options: options, lease: lease)
    }

    /// `lease`: checked before every move of the branch; integration stops (throws) once it is lost.
    public func integrate(run: String, baseCommit: String, tasks: [IntegrationTask],
                          options: IntegrationOptions = IntegrationOptions(), lease: IntegrationLease? = nil) async throws -> IntegrationReport {
        var git = Git(repository)
        guard FileManager.default.fileExists(atPath: repository),
              try await git.run(["rev-parse", "--is-inside-work-tree"], allowFailure: true).succeeded else {
            throw IntegrationError.notGitRepository(repository)
        }
        git = try await git.withoutDrivers()
        let branch = options.into ?? Self.defaultBranch(run: run)
        guard try await git.run(["check-ref-format", "--branch", branch], allowFailure: true).succeeded, !branch.hasPrefix("-") else {
            throw IntegrationError.invalidBranch(branch)
        }
        if let owner = tasks.first(where: { $0.git?.branch == branch }) {
            throw IntegrationError.branchIsTaskBranch(branch: branch, task: owner.id)
        }

        // What to merge, in order; what not to, and why.
        let ordered = Self.order(tasks)
        let existing = try await existingCommits(ordered.compactMap { $0.git?.headCommit }, git: git)
        var plan: [(task: IntegrationTask, commit: String)] = []
        var excluded: [IntegrationReport.Excluded] = []
        var refused: [IntegrationReport.Excluded] = []
        let tips = try await branchTips(run: run, git: git)
        for task in ordered {
            if let reason = Self.exclusion(task, existing: existing) {
                excluded.append(.init(task: task.id, reason: reason))
            } else if let commit = task.git?.headCommit {
                // Only the commit muster recorded is merged, and only while the branch still says so:
                // a branch moved since (by an agent, or anyone) may carry files no ownership check saw.
                if let branch = task.git?.branch, let tip = tips[branch], tip != commit {
                    refused.append(.init(task: task.id, reason: Self.movedReason(branch: branch, recorded: commit, tip: tip)))
                } else {
                    plan.append((task, commit))
                }
            }
        }

        let existingTip = try await git.resolve("refs/heads/\(branch)")
        let start: String
        if let existingTip { start = existingTip } else { start = try await git.revParse(baseCommit) }
        var report = IntegrationReport(run: run, branch: branch, dryRun: options.dryRun, createdBranch: existingTip == nil,
                                       startCommit: start, endCommit: start, excluded: excluded)
        report.refused = refused

        let checkedOutIn = try await checkedOut(branch, git: git)
        if let place = checkedOutIn, !(place.main && options.allowCheckedOut) {
            throw IntegrationError.checkedOut(branch: branch, worktree: place.path, main: place.main)
        }
        if let command = options.check {
            if checkedOutIn != nil { throw IntegrationError.checkInCheckout }
            report.check = command
            var needs: [String: Set<String>] = [:]
            for task in tasks { needs[task.group, default: []].formUnion(task.needs) }
            try await mergeChecked(plan, into: &report, git: git, command: command, batch: options.checkBatch,
                                   moveRef: options.dryRun ? nil : "refs/heads/\(branch)", createRef: existingTip == nil && !options.dryRun,
                                   needs: needs, lease: options.dryRun ? nil : lease)
            return report
        }
        if options.dryRun {
            try await mergeByPlumbing(plan, into: &report, git: git, moveRef: nil, lease: nil)
            return report
        }
        if let place = checkedOutIn {
            let dirty = try await Git(place.path).output(["status", "--porcelain", "--untracked-files=no"])
            guard dirty.isEmpty else { throw IntegrationError.dirtyWorktree(branch: branch, worktree: place.path) }
            report.worktree = place.path
            try await merge(plan, into: &report, in: try await Git(place.path).withoutDrivers(), lease: lease)
            return report
        }
        if existingTip == nil {
            try Self.check(lease)
            // "" as the old value: create, and fail if someone else just did.
            try await git.run(["update-ref", "-m", "muster integrate \(run): start at base", "refs/heads/\(branch)", start, ""])
        }
        try await mergeByPlumbing(plan, into: &report, git: git, moveRef: "refs/heads/\(branch)", lease: lease)
        return report
    }

    static func movedReason(branch: String, recorded: String, tip: String) -> String {
        "its branch \(branch) was moved after the task ended (muster recorded \(recorded.prefix(12)), it now points at \(tip.prefix(12))): "
            + "not merged; reset it with `git update-ref refs/heads/\(branch) \(recorded)` to integrate the recorded work"
    }

    static func check(_ lease: IntegrationLease?) throws {
        if let lease, !lease.isHeld {
            throw IntegrationError.leaseLost
        }
    }

    // MARK: Order and exclusions

    /// Dependency order: groups topologically over `needs` (ties: the group that appears first),
    /// then tasks by position within a group.
    public static func order(_ tasks: [IntegrationTask]) -> [IntegrationTask] {
        var members: [String: [IntegrationTask]] = [:]
        for task in tasks { members[task.group, default: []].append(task) }
        let first = members.mapValues { $0.map(\.position).min() ?? 0 }
        // Groups numbered in the order that breaks ties, so the graph's smallest free node is the one wanted.
        let groups = members.keys.sorted { (first[$0]!, $0) < (first[$1]!, $1) }
        let number = Dictionary(uniqueKeysWithValues: groups.enumerated().map { ($1, $0) })
        let needs = groups.map { group in
            members[group]!.flatMap(\.needs).filter { $0 != group }.compactMap { number[$0] }
        }
        let graph = TaskGraph(predecessors: needs, priority: <)
        let byPosition: (IntegrationTask, IntegrationTask) -> Bool = { ($0.position, $0.id) < ($1.position, $1.id) }
        var result = graph.order.flatMap { members[groups[$0]]!.sorted(by: byPosition) }
        // A cycle cannot be expressed in a spec; should one appear anyway, keep its tasks (by position) rather than drop them.
        let blocked = Set(graph.blocked.map { groups[$0] })
        result += tasks.filter { blocked.contains($0.group) }.sorted(by: byPosition)
        return result
    }

    static func exclusion(_ task: IntegrationTask, existing: Set<String>) -> String? {
        if let violations = task.git?.violations, !violations.isEmpty {
            return "ownership violations: " + violations.prefix(5).joined(separator: ", ") + (violations.count > 5 ? ", …" : "")
        }
        switch task.state {
        case .succeeded: break
        case .pending, .ready, .running: return "not finished (\(task.state.rawValue))"
        default:
            let detail = task.error.flatMap { $0.split(separator: "\n").first.map(String.init) }
            return task.state.rawValue + (detail.map { ": \($0)" } ?? "")
        }
        if task.isExpander { return "fan-out stand-in: no work of its own" }
        guard let git = task.git else { return "did not run in a git worktree" }
        if git.worktree == nil && git.branch == nil { return "ran in place (isolation: none): its changes are already in the repository" }
        guard let commit = git.headCommit else { return "changed nothing" }
        if !existing.contains(commit) { return "its commit \(commit.prefix(12)) no longer exists (branch deleted?)" }
        return nil
    }

    /// Which of `commits` exist as commits in the repository (one `cat-file --batch-check`).
    func existingCommits(_ commits: [String], git: Git) async throws -> Set<String> {
        guard !commits.isEmpty else { return [] }
        let output = try await git.run(["cat-file", "--batch-check=%(objecttype) %(rest)"],
                                       stdin: Data(commits.map { "\($0)^{commit} \($0)\n" }.joined().utf8))
        var found: Set<String> = []
        for line in output.stdout.split(separator: "\n") where line.hasPrefix("commit ") {
            found.insert(String(line.dropFirst("commit ".count)))
        }
        return found
    }

    /// Branch name → tip for every branch under `muster/<run>/` (one `for-each-ref`).
    func branchTips(run: String, git: Git) async throws -> [String: String] {
        let output = try await git.output(["for-each-ref", "--format=%(objectname) %(refname)", "refs/heads/muster/\(run)/"])
        var tips: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let space = line.firstIndex(of: " ") else { continue }
            tips[String(line[line.index(after: space)...].dropFirst("refs/heads/".count))] = String(line[..<space])
        }
        return tips
    }

    // MARK: Worktrees

    /// The worktree that has `branch` checked out, if any (the first listed is the main one).
    func checkedOut(_ branch: String, git: Git) async throws -> (path: String, main: Bool)? {
        let list = try await git.output(["worktree", "list", "--porcelain"])
        var path: String?
        var index = 0
        for line in list.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("worktree ") {
                path = String(line.dropFirst("worktree ".count))
                index += 1
            } else if line == "branch refs/heads/\(branch)", let path {
                return (path, index == 1)
            }
        }
        return nil
    }

    // MARK: Merging

    static func message(run: String, task: IntegrationTask) -> String {
        "muster: integrate \(task.id) (run \(run))\n\nbranch: \(task.git?.branch ?? "-")\ncommit: \(task.git?.headCommit ?? "-")"
    }

}
