import Foundation
import MusterStore

/// What makes an orchestrator a worker (`RunOptions.worker`): it runs tasks of a run it does not
/// hold. It claims under its own identity (the Store fences each outcome by holder and attempt),
/// renews only its own task leases, never closes or finishes the run (the coordinator does), and
/// moves commits through the shared remote: it fetches the base and what a task needs before the
/// worktree is made, pushes each attempt's commit before the Store hears of it, and moves the
/// task's branch on the remote once the Store accepted the outcome.
public struct WorkerRole: Sendable {
    public var remote: RemoteRepository
    /// This worker's labels; a task with `runs_on` is only for workers that have them all.
    public var labels: Set<String>
    /// SIGTERM/SIGINT: drain, then hand back (see `WorkerStop`).
    public var stop: WorkerStop
    /// `muster worker`: leave a run once every unfinished task needs a label it lacks (`runs_on`), to
    /// serve other runs; it joins again when the run has a task it may take. (A run's own `--slots`
    /// stay: they serve only that run.)
    public var leavesWhenNothingToTake = false

    public init(remote: RemoteRepository, labels: Set<String> = [], stop: WorkerStop = WorkerStop()) {
        self.remote = remote
        self.labels = labels
        self.stop = stop
    }

    /// Before worktrees are made: the base and the commits of every needed task, fetched if missing.
    func fetch(run: String, base: String, needed: [TaskRecord]) async throws {
        try await remote.ensure([base] + needed.compactMap { $0.git?.headCommit }, run: run)
    }

    /// Before the outcome is recorded: the attempt's commit goes to the remote, under a ref of its own.
    func publishAttempt(run: String, task: TaskRecord, head: String) async throws {
        try await remote.push(head, to: RemoteRepository.attemptRef(run: run, task: task.id, attempt: task.attempt))
    }

    /// After the Store accepted it: the task's branch on the remote points at the accepted commit.
    func publishBranch(run: String, task: String, head: String) async throws {
        try await remote.push(head, to: "refs/heads/muster/\(run)/\(task)")
    }
}
