import Foundation
import MusterCore
import MusterStore

/// What starting a workflow asks for: the spec and the choices `muster run` offers as options.
public struct WorkflowRequest: Sendable {
    public var file: String
    /// Worker slots; nil takes the spec's `concurrency`.
    public var concurrency: Int?
    public var overlaps: Planner.OverlapPolicy = .serialize
    public var simulate = false
    /// The branch or commit every worktree starts from; nil: HEAD.
    public var base: String?
    /// Dollars; replaces the spec's `budget`.
    public var budgetUSD: Double?
    public var budgetHard = false
    /// The labels this host's orchestrator claims with (`--labels`).
    public var labels: Set<String> = []
    /// Open to `muster worker`s (`--slots`): a task needing labels this host lacks waits for one that has them.
    public var sharedWithWorkers = false

    public init(file: String) { self.file = file }

    /// The checks that need neither the spec nor the repository (the CLI runs them in `validate()`).
    public func check() throws(RunRefusal) {
        if let concurrency, concurrency < 1 { throw RunRefusal("--concurrency must be at least 1, got \(concurrency)") }
        if let budgetUSD, !(budgetUSD > 0) { throw RunRefusal("--budget must be more than 0 dollars") }
    }
}

/// A planned workflow that passed every check and is ready to be recorded.
public struct PreparedRun: Sendable {
    public var request: WorkflowRequest
    public var plan: Plan
    /// nil when no task needs git.
    public var baseCommit: String?
    /// Worth telling before the run starts; none stops it.
    public var notes: [RunNote]
}

/// Something the caller should hear before a run starts, as a case rather than text.
public enum RunNote: Sendable, Equatable, CustomStringConvertible {
    /// The tree has uncommitted changes the tasks do not get.
    case dirtyTree(String)
    /// Two parallel tasks own overlapping files; `serialized`: they run one after the other.
    case overlap(String, serialized: Bool)

    public var description: String {
        switch self {
        case .dirtyTree(let text): text
        case .overlap(let collision, let serialized):
            "note: \(collision); " + (serialized ? "running them one after the other" : "running them in parallel anyway (--allow-overlap)")
        }
    }
}

/// Running a workflow, as `muster run` does it: load and plan the spec (with muster.toml's agent
/// profiles, limits and prices), check the agents are installed and the base exists, record the run,
/// and drive it to the end. The CLI, the MCP server and the web board call this, not each other.
/// Each run carries its own agent profiles (stored with it) and prices (`RunOptions.prices`):
/// nothing here is process-wide, so several runs may share a process.
public enum WorkflowRunner {
    /// Loads and plans a spec with the project's muster.toml.
    public static func plan(file: String, concurrency: Int?, root: URL, overlaps: Planner.OverlapPolicy = .serialize) throws -> Plan {
        if let concurrency, concurrency < 1 { throw RunRefusal("--concurrency must be at least 1, got \(concurrency)") }
        let config = try ProjectConfig.load(root: root)
        var loaded = try WorkflowLoader.load(path: file, profiles: config.profiles, limits: config.limits)
        loaded.workflow.worktree = config.worktreeSpec(under: loaded.workflow.worktree)  // muster.toml's [worktree] under the spec's
        return try Planner.plan(loaded, root: root, concurrency: concurrency, prices: config.prices, overlaps: overlaps)
    }

    /// Plans and checks a request; records nothing.
    public static func prepare(_ request: WorkflowRequest, workspace: Workspace) async throws -> PreparedRun {
        try request.check()
        let plan = try plan(file: request.file, concurrency: request.concurrency, root: workspace.root, overlaps: request.overlaps)
        if !request.sharedWithWorkers, let refusal = LabelCheck.refusal(plan: plan, labels: request.labels, file: request.file) {
            throw refusal
        }
        if !request.simulate { try AgentCatalog.requireInstalled(plan, root: workspace.root) }
        let resolved: (commit: String?, warning: String?)
        do {
            resolved = try await RunBase.resolve(plan: plan, workspace: workspace, base: request.base, simulate: request.simulate)
        } catch let problem as RunBase.Problem {
            throw RunRefusal(problem.description)
        }
        let commit = resolved.commit, warning = resolved.warning
        var notes = warning.map { [RunNote.dirtyTree($0)] } ?? []
        notes += plan.collisions.map { .overlap("\($0)", serialized: request.overlaps != .allow) }
        return PreparedRun(request: request, plan: plan, baseCommit: commit, notes: notes)
    }

    /// Records a prepared run in `store` (creating `.muster/` first); returns its id.
    public static func record(_ prepared: PreparedRun, workspace: Workspace, store: any Store) async throws -> String {
        try workspace.prepare()
        let request = prepared.request
        return try await RunFactory.create(plan: prepared.plan, specPath: request.file, workspace: workspace, store: store,
                                           concurrency: prepared.plan.concurrency, simulate: request.simulate,
                                           baseCommit: prepared.baseCommit, budgetUSD: request.budgetUSD, budgetHard: request.budgetHard)
    }

    /// The options a prepared run starts with; the caller adds its own (progress, grace, lease…).
    public static func options(for prepared: PreparedRun) -> RunOptions {
        var options = RunOptions(concurrency: prepared.plan.concurrency)
        options.simulate = prepared.request.simulate
        options.simulationSpeed = prepared.request.simulate ? 60 : 1
        options.budgetUSD = prepared.request.budgetUSD
        options.budgetHard = prepared.request.budgetHard
        options.labels = prepared.request.labels
        return options
    }

    /// Drives a recorded run to its end. The run's agents are the profiles stored with it; its prices
    /// are `options.prices`, or muster.toml's when the caller left the defaults.
    public static func execute(run: String, store: any Store, storePath: String, workspace: Workspace,
                               options: RunOptions) async throws -> RunOutcome {
        var options = options
        if options.prices == .defaults { options.prices = try ProjectConfig.load(root: workspace.root).prices }
        return try await Orchestrator(store: store, workspace: workspace, storePath: storePath, run: run, options: options).execute()
    }

    /// All of it: prepare, record, execute. `configure` adjusts the options before the run starts.
    public static func run(_ request: WorkflowRequest, store: any Store, storePath: String, workspace: Workspace,
                           configure: (inout RunOptions) -> Void = { _ in }) async throws -> RunOutcome {
        let prepared = try await prepare(request, workspace: workspace)
        let runID = try await record(prepared, workspace: workspace, store: store)
        var options = options(for: prepared)
        configure(&options)
        return try await execute(run: runID, store: store, storePath: storePath, workspace: workspace, options: options)
    }
}
