/// `muster conflicts --json`: a `ConflictPredictor.Report` for one run.
public struct ConflictsJSON: Encodable, Sendable {
    public struct Pair: Encodable, Sendable { public var tasks, files: [String] }

    public var run: String
    public var worktrees, changedWorktrees, changedPaths, pairsChecked: Int
    public var seconds: Double
    public var conflicts, overlaps: [Pair]
    public var skipped: [ConflictPredictor.Skipped]

    enum CodingKeys: String, CodingKey {
        case run, worktrees, changedWorktrees = "changed_worktrees", changedPaths = "changed_paths", pairsChecked = "pairs_checked"
        case seconds, conflicts, overlaps, skipped
    }

    public init(_ report: ConflictPredictor.Report, run: String) {
        self.run = run
        worktrees = report.worktrees
        changedWorktrees = report.changedWorktrees
        changedPaths = report.changedPaths
        pairsChecked = report.candidates
        seconds = report.seconds
        conflicts = report.conflicts.map { Pair(tasks: $0.tasks, files: $0.files) }
        overlaps = report.overlaps.map { Pair(tasks: $0.tasks, files: $0.files) }
        skipped = report.skipped
    }
}
