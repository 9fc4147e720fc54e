import Foundation
import MusterRuntime

/// The `--json` shapes of the small commands (the large ones are `MusterRuntime/Reports/`).
enum CommandJSON {
    /// `muster resume` / `muster cancel` when there is nothing to do, and `cancel`'s outcome.
    struct RunStatus: Encodable {
        var run: String
        var status: String
        var resumed: Bool?
    }

    struct Clean: Encodable {
        var run: String
        var removedWorktrees, deletedBranches, keptBranches: [String]
        enum CodingKeys: String, CodingKey {
            case run, removedWorktrees = "removed_worktrees", deletedBranches = "deleted_branches", keptBranches = "kept_branches"
        }
    }

    struct CleanPool: Encodable {
        var removedWorktrees: Int
        var bytes: Int64
        enum CodingKeys: String, CodingKey { case removedWorktrees = "removed_pooled_worktrees", bytes }
    }

    struct Logs: Encodable {
        var run, task, state, path, output: String
    }

    struct Init: Encodable { var file: String }

    struct Tmux: Encodable {
        var run, session: String
        @Nullable var socket: String?
        var attach: String
    }

    struct Review: Encodable {
        var run, task, state: String
        @Nullable var branch: String?
        var baseCommit: String
        @Nullable var headCommit: String?
        var owns, changedPaths, violations: [String]
        var ownership, diff: String
        enum CodingKeys: String, CodingKey {
            case run, task, state, branch, baseCommit = "base_commit", headCommit = "head_commit", owns, changedPaths = "changed_paths"
            case violations, ownership, diff
        }
    }

    struct Session: Encodable {
        var kind, run: String
        @Nullable var task: String?
        var host: String
        var pid: Int
        @Nullable var since: String?
        @Nullable var agent: String?
        @Nullable var heartbeatAt: String?
        var status: String
        /// `--labels` of an orchestrator or worker (absent: none).
        var labels: [String]?
        enum CodingKeys: String, CodingKey { case kind, run, task, host, pid, since, agent, heartbeatAt = "heartbeat_at", status, labels }
    }

    struct DashTiming: Encodable {
        var frames, tasks: Int
        var msPerFrame, storeMS, renderMS: Double
        enum CodingKeys: String, CodingKey { case frames, tasks, msPerFrame = "ms_per_frame", storeMS = "store_ms", renderMS = "render_ms" }
    }

    struct Stub: Encodable {
        var url: String
        var port: Int
        var anthropicBaseURL, openaiAPIBase: String
        enum CodingKeys: String, CodingKey { case url, port, anthropicBaseURL = "anthropic_base_url", openaiAPIBase = "openai_api_base" }
    }

    /// `muster integrate` while another integration holds the run's merge lock.
    struct IntegrateBusy: Encodable {
        var run: String
        var busy = true
        var integrated: [String] = []
        var heldBy: LockReport
        init(run: String, heldBy: LockReport) {
            self.run = run
            self.heldBy = heldBy
        }
        enum CodingKeys: String, CodingKey { case run, busy, integrated, heldBy = "held_by" }
    }

    static func date(_ date: Date?) -> String? { date.map { $0.formatted(.iso8601) } }
}
