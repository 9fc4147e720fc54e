import Foundation
import MusterCore
import MusterStore

/// One task as the `--json` of `run`, `resume` and `status` shows it.
public struct TaskReport: Encodable, Sendable {
    public struct Denial: Encodable, Sendable { public var tool, input: String }

    public var id, group, state, agent: String
    public var attempt, failures: Int
    @Nullable public var exitCode: Int?
    @Nullable public var error: String?
    /// The first 500 characters.
    @Nullable public var summary: String?
    @Nullable public var resultPath: String?
    @Nullable public var costUSD: Double?
    @Nullable public var tokens: CostReport.Tokens?
    @Nullable public var startedAt: String?
    @Nullable public var finishedAt: String?
    public var idempotencyKey: String
    @Nullable public var parent: String?
    public var depth: Int
    /// What the agent reported: `denied` for a task failed by refused tool calls.
    public var outcome: String
    public var denied: Bool
    public var denials: [Denial]
    @Nullable public var model: String?
    public var usagePartial: Bool
    /// `runs_on`: labels a claimer must all have to take it (empty: anyone may).
    public var runsOn: [String]

    enum CodingKeys: String, CodingKey {
        case id, group, state, agent, attempt, failures, exitCode = "exit_code", error, summary, resultPath = "result_path"
        case costUSD = "cost_usd", tokens, startedAt = "started_at", finishedAt = "finished_at", idempotencyKey = "idempotency_key"
        case parent, depth, outcome, denied, denials, model, usagePartial = "usage_partial", runsOn = "runs_on"
    }

    public init(_ t: TaskRecord) {
        id = t.id
        group = t.group
        state = t.state.rawValue
        agent = t.spec.agent
        attempt = t.attempt
        failures = t.failures
        exitCode = t.exitCode.map { Int($0) }
        error = t.error
        summary = t.summary.map { String($0.prefix(500)) }
        resultPath = t.resultPath
        costUSD = t.costUSD
        tokens = t.usage.map(CostReport.Tokens.init)
        startedAt = ReportDate.string(t.startedAt)
        finishedAt = ReportDate.string(t.finishedAt)
        idempotencyKey = t.idempotencyKey
        parent = t.parent
        depth = t.spec.depth
        runsOn = t.spec.runsOn
        outcome = t.shownState
        denied = t.agentFacts?.denied ?? false
        denials = (t.agentFacts?.denials ?? []).map { Denial(tool: $0.tool, input: $0.input) }
        model = t.agentFacts?.model ?? t.spec.model
        usagePartial = t.agentFacts?.usagePartial ?? false
    }
}

/// The end of a run (`muster run --json`, `muster resume --json`).
public struct RunReport: Encodable, Sendable {
    public struct Tokens: Encodable, Sendable { public var input, output: Int }

    public var run, status: String
    public var elapsedSeconds: Double
    /// Tasks by state, every state present.
    public var counts: [String: Int]
    public var costUSD: Double
    public var unknownCostTasks: Int
    public var tokens: Tokens
    public var tasks: [TaskReport]

    enum CodingKeys: String, CodingKey {
        case run, status, elapsedSeconds = "elapsed_seconds", counts, costUSD = "cost_usd", unknownCostTasks = "unknown_cost_tasks"
        case tokens, tasks
    }

    public init(_ outcome: RunOutcome, tasks: [TaskRecord]) {
        run = outcome.run
        status = outcome.status.rawValue
        elapsedSeconds = outcome.elapsed.seconds
        counts = RunReport.counts(outcome.counts)
        costUSD = outcome.counts.costUSD
        unknownCostTasks = outcome.counts.unknownCost
        tokens = Tokens(input: outcome.counts.tokens.input, output: outcome.counts.tokens.output)
        self.tasks = tasks.map(TaskReport.init)
    }

    public static func counts(_ counts: TaskCounts) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: TaskState.allCases.map { ($0.rawValue, counts[$0]) })
    }
}
