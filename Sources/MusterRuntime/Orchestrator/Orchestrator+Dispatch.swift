import Foundation
import MusterCore
import MusterStore

/// Claiming ready tasks, placing them (worktree or in place) and launching their agents.
extension Orchestrator.Loop {
    /// Claims as many ready tasks as the scheduler lets it, and launches them (see `RunScheduler+Lifecycle`).
    mutating func dispatch() async throws {
        try await checkBudget()
        guard accepting else { return }
        try await tell(.dispatch)
    }

    /// The scheduler's `.claim`: takes up to `limit` ready tasks from the Store, stops the processes
    /// a previous holder left for them on this host, and reports them.
    mutating func claim(_ limit: Int) async throws {
        // A long dispatch (many worktrees to prepare) must not let the run's lease lapse.
        try await holdRun()
        let claims = try await o.store.claim(run: run.id, holder: o.identity.id, labels: o.options.claimLabels, limit: limit,
                                             leaseSeconds: o.options.leaseSeconds, now: clock())
        for claim in claims {
            if let orphan = claim.orphan, orphan.host == o.identity.host {
                await OrphanReaper.stop(groups: [orphan.pgid], grace: o.options.grace)
            }
        }
        for claim in claims { claimed[claim.task.id] = claim.task }
        try await tell(.claimed(claims.map { claim in
            let task = claim.task
            return RunScheduler.Claimed(task: task.id, attempt: task.attempt, failures: task.failures, retries: task.spec.retries,
                                        isExpander: task.spec.isExpander, uses: task.spec.uses,
                                        estimatedCostUSD: estimatedCost(task))
        }))
    }

    /// The scheduler's `.prepare`: each task's worktree (merging what it needs) or in-place snapshot.
    mutating func prepare(_ ids: [String]) async throws {
        let tasks = ids.compactMap { claimed[$0] }
        for task in tasks where task.spec.mentionsNeeds || worktrees != nil { try await loadNeeds(of: task) }
        let prepared = await place(tasks)
        var report: [RunScheduler.Placement] = []
        for task in tasks {
            let placement = prepared[task.id] ?? .inPlace(snapshot: nil)
            switch placement {
            case .blocked(let reason): report.append(.blocked(task: task.id, reason: reason))
            case .failed(let reason): report.append(.failed(task: task.id, reason: reason))
            case .worktree, .inPlace:
                placements[task.id] = placement
                report.append(.ready(task: task.id))
            }
        }
        try await tell(.placed(report))
    }

    /// The scheduler's `.launch`: starts each task where it was placed, then reports each start.
    mutating func launch(_ ids: [String]) async throws {
        var started: [StartedProcess] = []
        var reports: [SchedulerEvent] = []
        for id in ids {
            guard let task = claimed[id] else { continue }
            var git: TaskGitState?
            var snapshot: String?
            switch placements.removeValue(forKey: id) {
            case .worktree(let state)?: git = state
            case .inPlace(let before)?: snapshot = before
            default: break
            }
            do {
                var entry = try launchProcess(task, in: git?.worktree ?? o.workspace.root.path)
                entry.git = git
                entry.snapshot = snapshot
                if snapshot != nil {
                    for (other, peer) in running where peer.snapshot != nil {
                        entry.peerOwns += peer.task.spec.owns
                        running[other]?.peerOwns += task.spec.owns
                    }
                }
                running[id] = entry
                claimed[id] = nil
                reports.append(.launched(RunScheduler.Launch(task: task.id, attempt: task.attempt, failures: task.failures,
                                                             timeout: task.spec.timeout, stallTimeout: task.spec.stallTimeout,
                                                             estimatedCostUSD: estimatedCost(task))))
                started.append(StartedProcess(task: task.id, pid: entry.process.pid, pgid: entry.process.pgid,
                                              host: o.identity.host, git: git, startedAt: clock()))
            } catch {
                reports.append(.launchFailed(task: id, error: "could not start: \(error)", retryable: !(error is SystemError)))
            }
        }
        unrecordedStarts += started
        for process in started {
            try await o.store.appendEvent(NewEvent(run: run.id, task: process.task, kind: "task.sandbox",
                                                   message: running[process.task]?.sandbox ?? "none", at: clock()))
        }
        for report in reports { try await tell(report) }
    }

    /// The scheduler's `.expand`.
    mutating func expand(_ id: String) async throws {
        guard let task = claimed.removeValue(forKey: id) else { return }
        let error = try await expansionError(task)
        try await tell(.expanded(task: id, error: error))
    }

    /// Prepares each task's worktree (merging what it needs) or its in-place snapshot, a few at a time.
    func place(_ tasks: [TaskRecord]) async -> [String: Placement] {
        guard let worktrees, let base = run.baseCommit else { return [:] }
        var needed: [String: [TaskRecord]] = [:]
        for task in tasks {
            var records = task.spec.needs.flatMap { groupResults[$0] ?? [] }
            for id in task.spec.after {
                if let record = try? await o.store.task(run: run.id, id: id) { records.append(record) }
            }
            needed[task.id] = records.sorted { $0.position < $1.position }
        }
        if let problem = await fetchForWorker(base: base, needed: needed) {
            return Dictionary(uniqueKeysWithValues: tasks.map { ($0.id, Placement.failed(problem)) })
        }
        let runID = run.id
        var shared: [String: Placement] = [:]
        if tasks.contains(where: { $0.spec.isolation == .none }) {
            // One snapshot serves every in-place task that starts in this round.
            let placement: Placement
            do {
                placement = .inPlace(snapshot: try await worktrees.snapshot(scratch: o.workspace.runDirectory(run.id)))
            } catch {
                placement = .failed("could not snapshot the repository: \(error)")
            }
            for task in tasks where task.spec.isolation == .none { shared[task.id] = placement }
        }
        let isolated = tasks.filter { $0.spec.isolation != .none }
        return await withTaskGroup(of: (String, Placement).self) { group in
            var placements = shared
            var pending = isolated[...]
            func next(_ group: inout TaskGroup<(String, Placement)>) {
                guard let task = pending.popFirst() else { return }
                let records = needed[task.id] ?? []
                group.addTask {
                    do {
                        switch try await worktrees.prepare(run: runID, base: base, task: task, needed: records) {
                        case .ready(let state): return (task.id, .worktree(state))
                        case .blocked(let files, let merging):
                            return (task.id, .blocked("blocked: merging \(merging) conflicts in \(files.joined(separator: ", "))"))
                        case .setupFailed(let message): return (task.id, .failed(message))
                        }
                    } catch {
                        return (task.id, .failed("could not prepare its worktree: \(error)"))
                    }
                }
            }
            // `[worktree] parallelism` at once, nothing taking turns (`WorktreeAdminFolder`).
            for _ in 0..<worktrees.parallelism { next(&group) }
            for await (id, placement) in group {
                placements[id] = placement
                next(&group)
            }
            return placements
        }
    }

    func launchProcess(_ task: TaskRecord, in directory: String) throws -> Running {
        var spec = task.spec
        let dir = o.workspace.taskDirectory(run: run.id, task: task.id)
        let log = dir.appendingPathComponent("output.log")
        if task.attempt > 1, FileManager.default.fileExists(atPath: log.path) {
            // Keep earlier attempts' output for the post-mortem.
            let kept = dir.appendingPathComponent("output.attempt-\(task.attempt - 1).log")
            try? FileManager.default.removeItem(at: kept)
            try? FileManager.default.moveItem(at: log, to: kept)
        }
        let adapter = try run.agents.adapter(named: run.simulate ? "sim" : spec.agent)
        let prompt = spec.prompt.map { render($0, task: task) }
        spec.command = spec.command.map { Command(argv: $0.argv.map { render($0, task: task) }, viaShell: $0.viaShell) }
        let promptPath = dir.appendingPathComponent("prompt.md")
        // The task's folder is its outbox ($MUSTER_OUTBOX), so it must exist before the task starts.
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        if let prompt { try PlainFile.write(prompt, to: promptPath.path) }
        let invocation = try adapter.invocation(for: spec, prompt: prompt,
                                                context: AgentContext(simulationSpeed: o.options.simulationSpeed, task: AgentTaskContext(run: run.id, task: task.id, attempt: task.attempt, folder: dir.path, storePath: o.storePath, root: o.workspace.root.path)))
        let executable = try o.resolver.resolve(invocation.executable, relativeTo: directory)
        var environment = baseEnvironment
        environment["MUSTER_RUN"] = run.id
        environment["MUSTER_TASK_ID"] = task.id
        environment["MUSTER_ATTEMPT"] = String(task.attempt)
        environment["MUSTER_STORE"] = o.storePath
        environment["MUSTER_ROOT"] = o.workspace.root.path
        environment["MUSTER_OUTBOX"] = dir.path
        // `muster spawn`, `wait`, `msg` inside the task are this very binary, not whichever is on PATH.
        if let folder = MCPWiring.currentMusterFolder {
            environment["PATH"] = folder + (environment["PATH"].map { ":" + $0 } ?? "")
        }
        for (name, value) in spec.env { environment[name] = render(value, task: task) }
        for (name, value) in invocation.environment { environment[name] = value }
        if let overlay = o.options.agentEnvironment, adapter.spendsTokens, !run.simulate {
            let base = run.agents.base(of: spec.agent)
            let launch = AgentLaunch(run: run.id, task: task, agent: spec.agent, base: base, directory: directory)
            for (name, value) in overlay(launch) { environment[name] = value }
        }
        var request = LaunchRequest(
            key: task.id, executable: executable, arguments: invocation.arguments, environment: environment,
            directory: directory, stdinPath: invocation.promptOnStdin && prompt != nil ? promptPath.path : nil,
            logPath: log.path, stdoutPath: dir.appendingPathComponent("stdout.log").path,
            onLine: liveLineHandler(adapter, task: task))
        let sandboxed = try sandbox?.apply(&request, task: spec, simulated: run.simulate, outbox: dir.path,
                                           inPlace: directory == o.workspace.root.path) ?? "none"
        let process = try supervisor.launch(request)
        return Running(task: task, process: process, adapter: adapter, sandbox: sandboxed)
    }

    /// Fills the placeholders only known at dispatch: the run id and the results of needed groups.
    func render(_ text: String, task: TaskRecord) -> String {
        Template.render(text) { name in
            if name == "run.id" { return run.id }
            let parts = name.split(separator: ".")
            guard parts.count == 3, parts[0] == "needs", let members = members(String(parts[1]), for: task) else { return nil }
            switch parts[2] {
            case "summaries":
                return FanIn.summaries(members, budget: o.options.summaryChars ?? workflow.summaryChars, root: o.workspace.root)
            case "results": return FanIn.results(members, root: o.workspace.root)
            default: return nil
            }
        }
    }

    /// Loads the results of the groups a task needs (once per group: a finished group does not change).
    mutating func loadNeeds(of task: TaskRecord) async throws {
        let missing = task.spec.needs.filter { groupResults[$0] == nil }
        let joining = task.spec.join ? task.spec.needs.filter { joinResults[$0] == nil } : []
        guard !missing.isEmpty || !joining.isEmpty else { return }
        let all = try await o.store.tasks(run: run.id)
        for group in missing { groupResults[group] = all.filter { $0.group == group && $0.parent == nil && !$0.spec.isExpander } }
        // A join task starts only once every descendant has finished, and finished tasks spawn
        // nothing more: what it sees cannot change afterwards.
        for group in joining { joinResults[group] = Lineage.members(of: group, in: all) }
    }

    /// The tasks `{{needs.GROUP.…}}` stands for in `task`'s prompt.
    func members(_ group: String, for task: TaskRecord) -> [TaskRecord]? {
        task.spec.join ? joinResults[group] : groupResults[group]
    }

    /// Replaces a `foreach: from` stand-in with one task per item its source printed. Returns why it
    /// could not (a failure, not retried), nil when it did.
    mutating func expansionError(_ task: TaskRecord) async throws -> String? {
        guard let spec = task.spec.expands, case .from(let source) = spec.foreach else { return nil }
        try await loadNeeds(of: task)
        var items: [ItemValue]
        do {
            items = try FanIn.items(from: groupResults[source] ?? [], root: o.workspace.root)
        } catch {
            guard run.simulate else { return "\(error)" }
            items = (1...3).map { .string("simulated-\($0)") }
        }
        do {
            let children = try Planner.expand(spec, items: items, workflow: workflow)
            _ = try await o.store.expand(run: run.id, holder: o.identity.id, expander: task.id, into: children, now: clock())
        } catch {
            return "fan-out failed: \(error)"
        }
        return nil
    }

    /// A failed outcome, retried after the back-off while the task has retries left (the scheduler decides).
    func failure(_ task: TaskRecord, error: String, retryable: Bool, exitCode: Int32? = nil) -> TaskOutcome {
        let retryAt = scheduler.retryAt(failures: task.failures, retries: task.spec.retries, retryable: retryable, now: clock())
        return TaskOutcome(task: task.id, attempt: task.attempt, result: .failed(retryAt: retryAt),
                           exitCode: exitCode, error: error, costUSD: nil)
    }
}
