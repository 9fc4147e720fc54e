/// `muster integrate --json`: the `IntegrationReport` with snake_case keys, `null` for what is absent,
/// and `integrated` (the merged tasks' ids) beside `merged`.
public struct IntegrationJSON: Encodable, Sendable {
    public struct Merged: Encodable, Sendable {
        public var task: String
        @Nullable public var branch: String?
        public var commit, mergeCommit: String
        enum CodingKeys: String, CodingKey { case task, branch, commit, mergeCommit = "merge_commit" }
    }

    public struct Conflict: Encodable, Sendable {
        public var task: String
        @Nullable public var branch: String?
        public var commit: String
        public var files: [String]
    }

    public struct Reason: Encodable, Sendable { public var task, reason: String }

    /// A task the merge queue dropped: its merge broke the check (`because` nil) or it needs one that did.
    public struct Dropped: Encodable, Sendable {
        public var task, reason: String
        @Nullable public var because: String?
        @Nullable public var output: String?
    }

    public var run, branch: String
    public var dryRun, createdBranch, succeeded: Bool
    public var startCommit, endCommit: String
    public var merged: [Merged]
    public var alreadyIntegrated: [String]
    @Nullable public var conflict: Conflict?
    public var notAttempted: [String]
    public var excluded, refused, skipped: [Reason]
    public var integrated: [String]
    @Nullable public var check: String?
    public var checksRun: Int
    public var dropped: [Dropped]

    enum CodingKeys: String, CodingKey {
        case run, branch, dryRun = "dry_run", createdBranch = "created_branch", succeeded, startCommit = "start_commit"
        case endCommit = "end_commit", merged, alreadyIntegrated = "already_integrated", conflict, notAttempted = "not_attempted"
        case excluded, refused, skipped, integrated, check, checksRun = "checks_run", dropped
    }

    public init(_ report: IntegrationReport) {
        run = report.run
        branch = report.branch
        dryRun = report.dryRun
        createdBranch = report.createdBranch
        succeeded = report.succeeded
        startCommit = report.startCommit
        endCommit = report.endCommit
        merged = report.merged.map { Merged(task: $0.task, branch: $0.branch, commit: $0.commit, mergeCommit: $0.mergeCommit) }
        alreadyIntegrated = report.alreadyIntegrated
        conflict = report.conflict.map { Conflict(task: $0.task, branch: $0.branch, commit: $0.commit, files: $0.files) }
        notAttempted = report.notAttempted
        let reasons = { (list: [IntegrationReport.Excluded]) in list.map { Reason(task: $0.task, reason: $0.reason) } }
        excluded = reasons(report.excluded)
        refused = reasons(report.refused)
        skipped = reasons(report.skipped)
        integrated = report.merged.map(\.task)
        check = report.check
        checksRun = report.checksRun
        dropped = report.dropped.map { Dropped(task: $0.task, reason: $0.reason, because: $0.because, output: $0.output) }
    }
}
