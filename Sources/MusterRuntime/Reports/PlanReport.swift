import MusterCore

/// A plan as `muster plan --json` shows it.
public struct PlanReport: Encodable, Sendable {
    public struct CriticalPath: Encodable, Sendable {
        public var minutes: Double
        public var tasks: [String]
    }

    public struct FastMode: Encodable, Sendable {
        public var wallClockMinutes: Double
        @Nullable public var costUSD: Double?
        enum CodingKeys: String, CodingKey { case wallClockMinutes = "wall_clock_minutes", costUSD = "cost_usd" }
    }

    public struct Estimate: Encodable, Sendable {
        public var wallClockMinutes, sequentialMinutes: Double
        public var inputTokens, outputTokens: Int
        @Nullable public var costUSD: Double?
        public var unpricedModels: [String]
        public var unestimatedTasks: Int
        public var fastMode: FastMode
        enum CodingKeys: String, CodingKey {
            case wallClockMinutes = "wall_clock_minutes", sequentialMinutes = "sequential_minutes", inputTokens = "input_tokens"
            case outputTokens = "output_tokens", costUSD = "cost_usd", unpricedModels = "unpriced_models"
            case unestimatedTasks = "unestimated_tasks", fastMode = "fast_mode"
        }
    }

    public struct Collision: Encodable, Sendable {
        public var first, second, firstGlob, secondGlob: String
        enum CodingKeys: String, CodingKey { case first, second, firstGlob = "first_glob", secondGlob = "second_glob" }
    }

    public struct Advice: Encodable, Sendable {
        public var group: String
        public var subTasks: Int
        public var kind: String
        public var breakEvenMinutes: Double
        @Nullable public var minutesPerTask: Double?
        public var verdict: String
        @Nullable public var fanOutCostUSD: Double?
        /// [low, high].
        @Nullable public var sequentialCostUSD: [Double]?
        public var message: String
        enum CodingKeys: String, CodingKey {
            case group, subTasks = "sub_tasks", kind, breakEvenMinutes = "break_even_minutes", minutesPerTask = "minutes_per_task"
            case verdict, fanOutCostUSD = "fan_out_cost_usd", sequentialCostUSD = "sequential_cost_usd", message
        }
    }

    public struct Task: Encodable, Sendable {
        public var id, group, agent: String
        public var needs, after, owns: [String]
        public var isolation: String
        @Nullable public var item: String?
        public var dynamic: Bool
    }

    public var name, file: String
    public var concurrency, taskCount: Int
    public var waves: [[String]]
    public var criticalPath: CriticalPath
    public var estimate: Estimate
    public var dynamicGroups: [String]
    public var ownershipCollisions: [Collision]
    public var advice: [Advice]
    public var tasks: [Task]

    enum CodingKeys: String, CodingKey {
        case name, file, concurrency, taskCount = "task_count", waves, criticalPath = "critical_path", estimate
        case dynamicGroups = "dynamic_groups", ownershipCollisions = "ownership_collisions", advice, tasks
    }

    public init(_ plan: Plan, file: String) {
        let e = plan.estimate
        name = plan.workflow.name
        self.file = file
        concurrency = plan.concurrency
        taskCount = e.taskCount
        waves = plan.waves
        criticalPath = CriticalPath(minutes: e.criticalPathMinutes, tasks: e.criticalPath)
        estimate = Estimate(
            wallClockMinutes: e.wallClockMinutes, sequentialMinutes: e.sequentialMinutes, inputTokens: e.tokens.input,
            outputTokens: e.tokens.output, costUSD: e.costUSD, unpricedModels: e.unpricedModels, unestimatedTasks: e.unestimatedTasks,
            fastMode: FastMode(wallClockMinutes: e.wallClockMinutes / ParallelismAdvice.fastModeSpeedup,
                               costUSD: e.costUSD.map { $0 * ParallelismAdvice.fastModePriceFactor }))
        dynamicGroups = e.dynamicGroups
        ownershipCollisions = plan.collisions.map {
            Collision(first: $0.first, second: $0.second, firstGlob: $0.firstGlob, secondGlob: $0.secondGlob)
        }
        advice = plan.advice.map { a in
            Advice(group: a.group, subTasks: a.subTasks, kind: a.kind.rawValue, breakEvenMinutes: a.breakEvenMinutes,
                   minutesPerTask: a.minutesPerTask, verdict: a.verdict.rawValue, fanOutCostUSD: a.fanOutCostUSD,
                   sequentialCostUSD: a.sequentialCostUSD.map { [$0.lowerBound, $0.upperBound] }, message: a.message)
        }
        tasks = plan.tasks.map { t in
            Task(id: t.id, group: t.group, agent: t.agent, needs: t.needs, after: t.after, owns: t.owns,
                 isolation: t.isolation.rawValue, item: t.item?.text, dynamic: t.isExpander)
        }
    }
}
