import Foundation
import MusterCore
import MusterStore

/// Builds the snapshots the pages and their `/api` twins show, reading the Store only.
public final class BoardReader: Sendable {
    public let store: BoardStore
    let facts = SpecFacts()
    let log = EventLog()
    /// How much of a task's files a page shows.
    static let logTail = 64 * 1024
    static let fileLimit = 256 * 1024

    public init(store: BoardStore) { self.store = store }

    /// `now`: nil, the store's clock (a run's lease is judged by it).
    public func runs(limit: Int = 100, now: Date? = nil) async throws -> [RunSummary] {
        let now = now ?? store.clock()
        let runs = try await store.runs(limit: limit)
        let counts = try await store.counts(runs: runs.map(\.id))
        return runs.map { RunSummary($0, counts: counts[$0.id] ?? TaskCounts(), now: now) }
    }

    /// nil for an unknown run.
    public func board(run id: String, now: Date? = nil) async throws -> RunBoard? {
        let now = now ?? store.clock()
        guard let run = try await store.run(id) else { return nil }
        let tasks = try await store.tasks(run: id)
        let counts = try await store.counts(run: id)
        let (events, cursor) = try await log.read(store, run: id)
        let workers = try await store.workers(run: id)
        var model = DashboardModel(run: run, tasks: tasks, counts: counts, events: events, workers: workers, now: now,
                                   lastLines: lastLines(run: run, tasks: tasks))
        model.cooldowns = try await store.activeCooldowns(now: now)
        let waves = facts.waves(tasks)
        let rows = model.order().map { i in row(tasks[i], model: model, wave: waves[tasks[i].id] ?? 1) }
        return RunBoard(
            run: RunSummary(run, counts: counts, now: now),
            elapsedSeconds: model.elapsed,
            etaSeconds: model.eta,
            tasks: rows,
            cooldowns: model.cooldowns.map { CooldownRow(key: $0.key, attempt: $0.attempt, until: $0.until,
                                                         remainingSeconds: max(0, $0.until.timeIntervalSince(now))) },
            limitWaits: events.filter { $0.kind == "limit.waiting" }.suffix(20).reversed().map(EventRow.init),
            workers: workers.map { WorkerRow(id: $0.id, role: $0.role, host: $0.host, task: $0.task,
                                             heartbeatAgeSeconds: max(0, now.timeIntervalSince($0.heartbeatAt)), lost: model.isLost($0)) },
            warnings: model.warnings.prefix(50).map(EventRow.init),
            denied: tasks.filter { $0.error?.range(of: "denied", options: .caseInsensitive) != nil }.map(\.id),
            cursor: cursor)
    }

    /// nil for an unknown run or task.
    public func task(run id: String, task taskID: String, now: Date? = nil) async throws -> TaskDetail? {
        let now = now ?? store.clock()
        guard let run = try await store.run(id), let task = try await store.task(run: id, id: taskID) else { return nil }
        let files = TaskFiles(root: run.root, run: run.id, task: task.id)
        let tail = files.tail("output.log", limit: Self.logTail)
        let lastLine = tail.flatMap { $0.text.split(separator: "\n").last.map { TerminalLine.clean($0) } }
        let model = DashboardModel(run: run, tasks: [task], counts: TaskCounts(), events: [], workers: [], now: now,
                                   lastLines: lastLine.map { [task.id: $0] } ?? [:])
        let spec = task.spec
        let allTasks = try await store.tasks(run: id)
        let wave = facts.waves(allTasks)[task.id] ?? 1
        var events: [EventRecord] = []
        var cursor: Int64 = 0
        while true {  // the task's own events, from the whole log
            let batch = try await store.events(run: id, after: cursor, limit: 1000)
            events += batch.filter { $0.task == task.id }
            guard let last = batch.last, batch.count == 1000 else { break }
            cursor = last.sequence
        }
        let earlier = (1..<max(1, task.attempt)).filter { files.size("output.attempt-\($0).log") != nil }
        return TaskDetail(
            run: run.id, task: row(task, model: model, wave: wave), agent: spec.agent, model: spec.model,
            prompt: files.text("prompt.md", limit: Self.fileLimit) ?? spec.prompt,
            needs: spec.needs + spec.after, owns: spec.owns, retries: spec.retries, failures: task.failures,
            exitCode: task.exitCode, error: task.error, summary: task.summary,
            result: files.text("result.md", limit: Self.fileLimit), diff: files.text("diff.patch", limit: Self.fileLimit),
            tokens: task.usage, startedAt: task.startedAt, finishedAt: task.finishedAt,
            git: task.git.map { TaskDetail.Git(branch: $0.branch, baseCommit: $0.baseCommit, headCommit: $0.headCommit,
                                               changedPaths: $0.changedPaths, violations: $0.violations,
                                               verdict: $0.violations.isEmpty ? "ok" : "violation") },
            log: tail?.text ?? "", logSize: tail?.size ?? 0, earlierAttempts: earlier,
            events: events.suffix(200).map(EventRow.init))
    }

    func row(_ task: TaskRecord, model: DashboardModel, wave: Int) -> TaskRow {
        TaskRow(id: task.id, group: task.group, state: model.shownState(task), attempt: task.attempt, wave: wave,
                parent: task.parent, elapsedSeconds: model.elapsed(of: task), costUSD: task.costUSD, detail: model.detail(task))
    }

    /// The last output line of each running task (for `waiting` and the detail column).
    func lastLines(run: RunRecord, tasks: [TaskRecord]) -> [String: String] {
        var lines: [String: String] = [:]
        for task in tasks where task.state == .running {
            let files = TaskFiles(root: run.root, run: run.id, task: task.id)
            if let tail = files.tail("output.log", limit: 4096),
               let last = tail.text.split(separator: "\n", omittingEmptySubsequences: true).last {
                lines[task.id] = TerminalLine.clean(last)
            }
        }
        return lines
    }
}
