import Foundation
import MusterCore
import MusterStore

/// A finished task: its agent's report, its git changes, its outcome, and the Store's transaction.
extension Orchestrator.Loop {
    /// Exits read from the inbox: the scheduler answers with one `.settle` for all of them.
    mutating func complete(_ exits: [ProcessExit]) async throws {
        var ids: [String] = []
        for exit in exits {
            guard let entry = running.removeValue(forKey: exit.key) else { continue }
            exiting[exit.key] = (entry, exit)
            ids.append(exit.key)
        }
        try await tell(.exited(tasks: ids))
    }

    /// The scheduler's `.settle`: each exited task's outcome (its agent's report, its git changes
    /// committed and checked against `owns`), side by side, then the limits it used; reports `.settled`.
    mutating func settle(_ exits: [RunScheduler.Exit]) async throws {
        var finished: [(Running, ProcessExit)] = []
        for item in exits {
            guard let (ended, exit) = exiting.removeValue(forKey: item.task) else { continue }
            var entry = ended
            entry.stop = item.stop
            finished.append((entry, exit))
        }
        let loop = self
        let tasks = Dictionary(finished.map { ($0.0.task.id, $0.0.task) }, uniquingKeysWith: { a, _ in a })
        let ended: [Ended]
        if worktrees == nil {
            // Nothing to commit or compare: no git work to run side by side.
            var list: [Ended] = []
            for (entry, exit) in finished { list.append(await loop.outcome(entry, exit, after: nil)) }
            ended = list
        } else {
            // One snapshot serves every in-place task that finished in this batch.
            var snapshot: String?
            if let worktrees, finished.contains(where: { $0.0.snapshot != nil }) {
                snapshot = try? await worktrees.snapshot(scratch: o.workspace.runDirectory(run.id))
            }
            let after = snapshot
            ended = await withTaskGroup(of: Ended.self) { group in
                for (entry, exit) in finished { group.addTask { await loop.outcome(entry, exit, after: after) } }
                var all: [Ended] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
        }
        let outcomes = try await settleLimits(ended, tasks: tasks)
        try await tell(.settled(zip(outcomes, ended).map { RunScheduler.Settled(outcome: $0, issue: $1.issue) }))
    }

    /// Commits the task's changes on its branch (or diffs the repository for in-place tasks) and
    /// checks them against `owns`; a violation fails the task, whatever its exit status.
    func settleGit(_ entry: Running, agent: String, after: String?) async -> (TaskGitState?, GitProblem?) {
        guard let worktrees else { return (nil, nil) }
        do {
            if let git = entry.git {
                let state = try await worktrees.finish(run: run.id, task: entry.task, state: git, agent: agent,
                                                       scratch: entry.adapter.scratchFiles)
                return (state, nil)
            }
            if let before = entry.snapshot {
                guard let after else { return (nil, .failed("could not snapshot the repository after it")) }
                var (changed, violations) = try await worktrees.inPlaceChanges(before: before, after: after, owns: entry.task.spec.owns)
                let scratch = entry.adapter.scratchFiles
                changed.removeAll { ScratchFiles.matches($0, scratch) }
                violations.removeAll { ScratchFiles.matches($0, scratch) }
                let peers = WorktreeManager.violations(violations, owns: entry.peerOwns)
                changed = changed.filter { !violations.contains($0) || peers.contains($0) }
                violations = peers
                return (TaskGitState(worktree: nil, branch: nil, baseCommit: before, headCommit: after == before ? nil : after,
                                     changedPaths: changed, violations: violations), nil)
            }
        } catch let error as WorktreeError {
            return (entry.git, .damaged(error))
        } catch {
            return (entry.git, .failed("could not record its changes: \(error)"))
        }
        return (nil, nil)
    }

    /// A finished task's outcome, and whether it failed on a rate-limit or overload error (see `settleLimits`).
    struct Ended: Sendable {
        var outcome: TaskOutcome
        var rateLimited: Bool
        /// What its `error` says, as a case (`warning(.unchanged)`: it owned files and changed none).
        var issue: TaskIssue?
    }

    /// Why a task's changes could not be settled: a damaged worktree (never retried) or another error.
    enum GitProblem: Sendable {
        case damaged(WorktreeError)
        case failed(String)
        var text: String {
            switch self {
            case .damaged(let error): TaskIssue.worktreeDamaged(error).text
            case .failed(let text): text
            }
        }
    }

    func outcome(_ entry: Running, _ exit: ProcessExit, after: String?) async -> Ended {
        let task = entry.task
        // A daemon that left the task's process group (no sandbox), or a sandbox whose init was
        // stopped before it armed --die-with-parent, carries the task's markers: stop it (finding 6).
        let sweep = !entry.process.sandboxed || entry.stop != nil
        let runID = run.id, storePath = o.storePath, stdoutPath = entry.process.output.stdoutPath
        // The /proc scan and the output file are blocking reads: a thread of the blocking pool does them.
        let stdout = await BlockingPool.shared.run { () -> String in
            if sweep { _ = EscapedProcesses.stop(run: runID, task: task.id, store: storePath) }
            return (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? ""
        }
        let dir = o.workspace.taskDirectory(run: run.id, task: task.id)
        let report = entry.adapter.report(stdout: stdout, status: exit.status, task: task.spec)
        let resultPath = dir.appendingPathComponent("result.md")
        if !report.result.isEmpty {
            try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try? PlainFile.write(report.result, to: resultPath.path)
        }
        let relative = resultPath.path.replacingOccurrences(of: o.workspace.root.path + "/", with: "")
        let cost = self.cost(of: report, task: task.spec, spendsTokens: entry.adapter.spendsTokens)
        var outcome: TaskOutcome
        var issue: TaskIssue?
        if entry.stop == .cancelled {
            outcome = TaskOutcome(task: task.id, attempt: task.attempt, result: .cancelled, exitCode: exit.status.code, error: "cancelled")
        } else if exit.status.succeeded && !report.isError && entry.stop == nil {
            outcome = TaskOutcome(task: task.id, attempt: task.attempt, result: .succeeded, exitCode: 0)
        } else {
            var error = entry.stop?.text ?? (exit.status.succeeded ? "the agent reported an error" : exit.status.description)
            // The agent's own words when its parser found them, else the last line it printed.
            let said = report.error.map { String($0.trimmingCharacters(in: .whitespacesAndNewlines).prefix(300)) } ?? ""
            let last = said.isEmpty ? String(entry.process.output.lastLine.prefix(200)) : said
            if !last.isEmpty { error += ": \(last)" }
            outcome = failure(task, error: error, retryable: true, exitCode: exit.status.code)
        }
        issue = judgeDenials(report, task: task, into: &outcome)
        outcome.summary = String(report.result.trimmingCharacters(in: .whitespacesAndNewlines).prefix(4000))
        outcome.resultPath = report.result.isEmpty ? nil : relative
        outcome.usage = report.usage
        outcome.costUSD = cost
        if outcome.result == .succeeded, let refused = await spawnFromOutbox(task, folder: dir) {
            issue = .warning(.spawnRefused(refused))
            outcome.error = issue?.text
        }
        let (git, problem) = await settleGit(entry, agent: entry.adapter.name, after: after)
        var damaged = false
        if case .damaged? = problem { damaged = true }
        if outcome.result == .succeeded, problem == nil, (git?.violations ?? []).isEmpty, let unpushed = await publishAttempt(task, git: git) {
            outcome = failure(task, error: unpushed, retryable: true, exitCode: exit.status.code)
        }
        outcome.git = git
        if let violations = git?.violations, !violations.isEmpty, outcome.result != .cancelled {
            // Its branch keeps the work for review; integration never takes it.
            issue = .ownershipViolation(owns: task.spec.owns, paths: violations)
            outcome.result = .failed(retryAt: nil)
            outcome.error = issue?.text
        } else if let problem, outcome.result == .succeeded || (damaged && outcome.result != .cancelled) {
            // A damaged worktree is not retried: its next attempt would find the same damage.
            if case .damaged(let error) = problem { issue = .worktreeDamaged(error) } else { issue = nil }
            outcome = failure(task, error: problem.text, retryable: issue?.retryable ?? true, exitCode: exit.status.code)
            outcome.git = git
        } else if outcome.result == .succeeded, let git, git.changedPaths.isEmpty, !task.spec.owns.isEmpty {
            // Seed 000: background agents can fail silently on writes. A task that owns files
            // and changed none is not a clean success, so say so where people look.
            issue = .warning(.unchanged(owns: task.spec.owns))
            outcome.error = issue?.text
        }
        // A stopped task or an ownership violation is not the rate limit's doing.
        let rateLimited = report.rateLimited && entry.stop == nil && (git?.violations ?? []).isEmpty
            && outcome.result != .succeeded && outcome.result != .cancelled
        return Ended(outcome: outcome, rateLimited: rateLimited, issue: issue)
    }

    /// Adds the children a task listed in `$MUSTER_OUTBOX/spawn.json`, while it still counts as
    /// running (the Store only lets running tasks spawn). Returns why they were refused, if they were:
    /// the task itself still succeeds, with that warning.
    func spawnFromOutbox(_ task: TaskRecord, folder: URL) async -> String? {
        let file = folder.appendingPathComponent(SpawnFile.fileName)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let done = folder.appendingPathComponent("spawn.done.json")
        try? FileManager.default.removeItem(at: done)
        defer { try? FileManager.default.moveItem(at: file, to: done) }
        let message: String
        do {
            let limits = Set((workflow.limits ?? [:]).keys)
            let children = try SpawnFile.read(path: file.path).map { try $0.plannedTask(parent: task.spec, limits: limits, agents: run.agents) }
            let spawned = try await o.store.spawn(run: run.id, parent: task.id, children: children, now: clock())
            let folded = spawned.filter(\.folded).count
            try? await o.store.appendEvent(NewEvent(run: run.id, task: task.id, kind: "spawn.outbox",
                                                    message: "\(spawned.count - folded) children spawned, \(folded) folded into existing ones",
                                                    at: clock()))
            return nil
        } catch let error as SpawnRequestError {
            message = error.description
        } catch let error as SpawnError {
            message = "spawn.json: \(error.description)"
        } catch {
            message = "spawn.json: \(error)"
        }
        try? await o.store.appendEvent(NewEvent(run: run.id, task: task.id, kind: "spawn.refused", message: message, at: clock()))
        return message
    }

    /// The scheduler's `.finish`: the outcomes go to the Store in one transaction (with the starts
    /// not yet recorded); reports `.outcomesApplied`.
    mutating func apply(_ outcomes: [TaskOutcome]) async throws {
        guard !outcomes.isEmpty else { return }
        for outcome in outcomes {
            // A task that ended (or never started) gives back its concurrency slots.
            await gate.release(outcome.task)
            claimed[outcome.task] = nil
        }
        let report = try await o.store.finish(run: run.id, holder: o.identity.id, started: unrecordedStarts, outcomes, now: clock())
        unrecordedStarts.removeAll()
        // A worker pushes the accepted attempts' branches to the shared remote (`Orchestrator+Worker`).
        await publishBranches(outcomes, applied: report.applied)
        // Finished well and recorded: its worktree goes to the pool (when on) for the next tasks (`WorktreeManager+Pool`).
        let applied = Set(report.applied)
        for outcome in outcomes where outcome.result == .succeeded && applied.contains(outcome.task) {
            if let git = outcome.git { _ = await worktrees?.release(git) }
        }
        for rejected in report.rejected {
            try await o.store.appendEvent(NewEvent(run: run.id, task: rejected, kind: "task.lease_lost",
                                                   message: "outcome discarded: another orchestrator holds this task", at: clock()))
        }
        try await tell(.outcomesApplied(outcomes, applied: Set(report.applied)))
    }
}
