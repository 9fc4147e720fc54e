import Foundation
import MusterCore
import MusterStore

/// One run as `muster runs --json` lists it; `muster status --json` adds its tasks.
public struct RunListing: Encodable, Sendable {
    /// The process holding the run, and until when.
    public struct Orchestrator: Encodable, Sendable {
        public var host: String
        public var pid: Int
        public var epoch: Int
        @Nullable public var leaseUntil: String?
        /// Absent when the holder runs on another host.
        public var alive: Bool?

        enum CodingKeys: String, CodingKey { case host, pid, epoch, leaseUntil = "lease_until", alive }
    }

    /// A declared limit or resource; only the figures it sets.
    public struct Limit: Encodable, Sendable {
        public var kind: String
        public var requestsPerMinute: Int?
        public var tokensPerMinute: Int?
        public var concurrent: Int?
        public var burstSeconds: Double?

        enum CodingKeys: String, CodingKey {
            case kind, requestsPerMinute = "requests_per_minute", tokensPerMinute = "tokens_per_minute", concurrent
            case burstSeconds = "burst_seconds"
        }

        public init(_ limit: LimitSpec) {
            kind = limit.isResource ? "resource" : "limit"
            requestsPerMinute = limit.requestsPerMinute
            tokensPerMinute = limit.tokensPerMinute
            concurrent = limit.concurrent
            burstSeconds = limit.burstSeconds
        }
    }

    public var run, name, spec, status: String
    /// The command that finishes an interrupted run.
    @Nullable public var resume: String?
    public var simulate: Bool
    public var concurrency: Int
    public var createdAt: String
    @Nullable public var finishedAt: String?
    @Nullable public var orchestrator: Orchestrator?
    public var counts: [String: Int]
    public var costUSD: Double
    public var unknownCostTasks: Int
    @Nullable public var budgetUSD: Double?
    public var budgetHard: Bool
    public var limits: [String: Limit]
    /// `muster status` only.
    public var tasks: [TaskReport]?

    enum CodingKeys: String, CodingKey {
        case run, name, spec, status, resume, simulate, concurrency, createdAt = "created_at", finishedAt = "finished_at"
        case orchestrator, counts, costUSD = "cost_usd", unknownCostTasks = "unknown_cost_tasks", budgetUSD = "budget_usd"
        case budgetHard = "budget_hard", limits, tasks
    }

    public init(_ run: RunRecord, counts: TaskCounts, tasks: [TaskRecord]? = nil, now: Date = Date()) {
        let interrupted = run.isInterrupted(now: now)
        self.run = run.id
        name = run.name
        spec = run.specPath
        status = interrupted ? "interrupted" : run.status.rawValue
        resume = interrupted ? "muster resume \(run.id)" : nil
        simulate = run.simulate
        concurrency = run.concurrency
        createdAt = ReportDate.string(run.createdAt)!
        finishedAt = ReportDate.string(run.finishedAt)
        orchestrator = run.holder.map {
            Orchestrator(host: $0.host, pid: Int($0.pid), epoch: Int(run.holderEpoch), leaseUntil: ReportDate.string(run.leaseUntil),
                         alive: $0.isAliveHere)
        }
        self.counts = RunReport.counts(counts)
        costUSD = counts.costUSD
        unknownCostTasks = counts.unknownCost
        budgetUSD = run.workflow.budgetUSD
        budgetHard = run.workflow.budgetHard ?? false
        limits = (run.workflow.limits ?? [:]).mapValues(Limit.init)
        self.tasks = tasks.map { $0.map(TaskReport.init) }
    }
}
