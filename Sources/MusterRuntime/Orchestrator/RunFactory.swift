import Foundation
import MusterCore
import MusterStore

/// Records a planned run in the Store: after this, every task is durable and the run can be
/// executed, resumed after a crash, or cancelled.
public enum RunFactory {
    public static func newRunID(for workflow: String) -> String {
        var slug = String(workflow.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(24))
        while slug.contains("--") { slug = slug.replacingOccurrences(of: "--", with: "-") }
        slug = slug.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        let suffix = String(format: "%06x", UInt32.random(in: 0..<0x100_0000))
        return (slug.isEmpty ? "run" : slug) + "-" + suffix
    }

    /// `budgetUSD` (`--budget`) replaces the spec's `budget` in the stored workflow, and `budgetHard`
    /// (`--budget-hard`) is stored beside it, so `resume` and the live views see the budget the run was started with.
    @discardableResult
    public static func create(plan: Plan, specPath: String, workspace: Workspace, store: any Store,
                              concurrency: Int, simulate: Bool, baseCommit: String? = nil, id: String? = nil,
                              budgetUSD: Double? = nil, budgetHard: Bool = false, now: Date? = nil) async throws -> String {
        let now = now ?? store.clock()
        let runID = id ?? newRunID(for: plan.workflow.name)
        var workflow = plan.workflow
        if let budgetUSD { workflow.budgetUSD = budgetUSD }
        if budgetHard { workflow.budgetHard = true }
        try await store.createRun(NewRun(id: runID, workflow: workflow, specPath: specPath, root: workspace.root.path,
                                         concurrency: concurrency, simulate: simulate, createdAt: now, baseCommit: baseCommit),
                                  tasks: plan.tasks)
        return runID
    }
}

/// What a run in git starts from, and what muster tells the user before it starts.
public enum RunBase {
    public enum Problem: Error, CustomStringConvertible, Sendable {
        case notARepository(root: String, tasks: [String])
        case noCommits
        case unknownRef(String)

        public var description: String {
            switch self {
            case .notARepository(let root, let tasks):
                "\(root) is not a git repository, and tasks \(tasks.prefix(3).joined(separator: ", "))\(tasks.count > 3 ? ", …" : "") run in their own worktree; run inside a git repository, or set `isolation: none` on the workflow to run every task in place"
            case .noCommits: "the repository has no commits yet: commit something for the tasks' worktrees to start from, or set `isolation: none`"
            case .unknownRef(let ref): "--base \(ref) is not a branch, tag or commit of this repository"
            }
        }
    }

    /// The commit to start from (nil when nothing needs git), and a warning for a dirty tree.
    public static func resolve(plan: Plan, workspace: Workspace, base: String?, simulate: Bool) async throws -> (String?, String?) {
        let isolated = plan.tasks.filter { $0.isolation == .worktree && !$0.isExpander }.map(\.id)
        guard workspace.isGitRepository else {
            if !isolated.isEmpty && !simulate { throw Problem.notARepository(root: workspace.root.path, tasks: isolated) }
            return (nil, nil)
        }
        let git = Git(workspace.root)
        let ref = base ?? "HEAD"
        guard let commit = try? await git.revParse(ref), !commit.isEmpty else {
            throw base == nil ? Problem.noCommits : Problem.unknownRef(ref)
        }
        let dirty = try await git.dirtyPaths()
        let warning = dirty.isEmpty || isolated.isEmpty || simulate ? nil
            : "warning: \(dirty.count) uncommitted changes in \(workspace.root.path) are not given to the tasks; they start from \(ref) (\(commit.prefix(10)))"
        return (commit, warning)
    }
}
