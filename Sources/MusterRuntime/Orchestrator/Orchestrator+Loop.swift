import Foundation
import MusterCore
import MusterStore

extension Orchestrator {
    /// The loop's state: only `execute` touches it, one wake-up at a time.
    struct Loop {
        let o: Orchestrator
        let run: RunRecord
        let supervisor: ProcessSupervisor
        var running: [String: Running] = [:]
        /// Claimed tasks waiting for the limits they use; they count against the concurrency.
        var waiting: [String: TaskRecord] = [:]
        let gate: LimitGate
        /// `on_failure: stop` tripped: nothing new starts; running tasks finish.
        var stopping = false
        var cancelling = false
        /// The budget was reached: nothing new starts.
        var overBudget = false
        var interrupts = 0
        /// The run's holder epoch when this orchestrator took it: every renewal is fenced by it.
        let epoch: Int64
        /// The last renewal of the run's lease (and the tasks'); see `holdRun`.
        var lastHeartbeat = ContinuousClock.now
        /// When the loop last came back from being suspended past its lease: silence before it is
        /// not a task's stall (the orchestrator was not reading their output either).
        var resumedAt: Date?
        var lastSlowTick = ContinuousClock.now
        var started = ContinuousClock.now
        var events: EventMirror
        var groupResults: [String: [TaskRecord]] = [:]
        /// What a `join: true` task sees of a group it needs: its members, then everything they spawned.
        var joinResults: [String: [TaskRecord]] = [:]
        /// Running tasks blocked in `muster wait`: their slots lend out (to their children), or a
        /// fleet of waiting parents would hold every slot and deadlock the run.
        var blockedInWait = 0
        /// Started processes not yet in the Store: recorded with the next completions (one
        /// transaction instead of two) or at the next tick. Until then a crash is covered by the
        /// /proc scan for the run's environment markers.
        var unrecordedStarts: [StartedProcess] = []
        /// The orchestrator's own environment, read once: every task starts from it.
        let baseEnvironment = ProcessInfo.processInfo.environment
        let conflicts: ConflictWatch?
        var lastConflictCheck = ContinuousClock.now
        /// nil when tasks run in place: outside git, or simulated.
        let worktrees: WorktreeManager?
        /// How tasks are sandboxed; set when the loop starts (`Sandbox/`).
        var sandbox: SandboxLaunch?


        struct Running {
            var task: TaskRecord
            var process: LaunchedProcess
            var adapter: any AgentAdapter
            var deadline: Date?
            var stallAfter: Double?
            var stop: StopReason?
            var stopSentAt: Date?
            var killed = false
            var git: TaskGitState?
            /// `isolation: none`: the working tree before the task, to find what it changed.
            var snapshot: String?
            /// `isolation: none`: the `owns` of other in-place tasks that ran at the same time. Their
            /// changes show up in this task's before/after comparison too, and are not its violations.
            var peerOwns: [String] = []
            /// A live rate-limit signal already started the shared cool-down for this attempt.
            var cooledDownLive = false
            /// The sandbox it runs in, for the `task.sandbox` event; `none…` when it has none.
            var sandbox = "none"
        }

        /// Where a claimed task will run, decided before it starts.
        enum Placement: Sendable {
            case worktree(TaskGitState)
            case inPlace(snapshot: String?)
            case blocked(TaskOutcome)
            case failed(String)
        }

        enum StopReason: Equatable {
            case timeout(Duration), stalled(Duration), cancelled, lostOrchestrator
            var text: String {
                switch self {
                case .timeout(let d): "timed out after \(d.humanized)"
                case .stalled(let d): "stalled: no output for \(d.humanized)"
                case .cancelled: "cancelled"
                case .lostOrchestrator: "stopped: orchestrator error"
                }
            }
        }

        init(orchestrator: Orchestrator, run: RunRecord, epoch: Int64, worktrees: WorktreeManager?) throws {
            o = orchestrator
            self.epoch = epoch
            self.worktrees = worktrees
            conflicts = worktrees.map { ConflictWatch(repository: $0.workspace.root.path, store: orchestrator.store, run: run.id) }
            self.run = run
            let inbox = orchestrator.inbox
            supervisor = ProcessSupervisor { exit in inbox.push(exit) }
            // A simulated run spends nothing real: it waits on buckets of its own, at the simulation's speed.
            gate = LimitGate(limiter: RateLimiter(store: orchestrator.store), limits: run.workflow.limits ?? [:],
                             leaseSeconds: orchestrator.options.leaseSeconds,
                             keyPrefix: run.simulate ? "simulated/\(run.id)/" : "",
                             rateScale: run.simulate ? max(orchestrator.options.simulationSpeed, 1) : 1)
            let runDir = orchestrator.workspace.runDirectory(run.id)
            try FileManager.default.createDirectory(at: runDir.appendingPathComponent("tasks"), withIntermediateDirectories: true)
            events = try EventMirror(path: runDir.appendingPathComponent("events.jsonl").path)
            // `muster cancel` of a run nobody orchestrates: take it over only to close it.
            cancelling = run.cancelRequested
        }

        var workflow: Workflow { run.workflow }
        var concurrency: Int { o.options.concurrency }
        /// `--budget-hard` now, or stored with the run (a resumed run keeps it).
        var budgetHard: Bool { o.options.budgetHard || workflow.budgetHard == true }
        /// Running tasks that hold a slot: those not blocked in `muster wait`.
        var busy: Int { running.count - min(blockedInWait, running.count) }
        var accepting: Bool { !stopping && !cancelling && !overBudget }
        /// Tasks holding a worker slot: running (unless blocked in `muster wait`), or waiting for their limits.
        var occupied: Int { busy + waiting.count }

        mutating func run(started: ContinuousClock.Instant) async throws {
            self.started = started
            sandbox = try await SandboxLaunch.prepare(for: run, orchestrator: o)
            var wakes = o.inbox.stream.makeAsyncIterator()
            var needDispatch = true
            while true {
                if needDispatch && accepting {
                    needDispatch = false
                    try await dispatch()
                }
                // Stopping, cancelled or over budget: nothing waiting starts; each wait reports back as called off.
                if !accepting && !waiting.isEmpty { gate.cancelPending() }
                if running.isEmpty && waiting.isEmpty {
                    if !accepting { break }
                    if try await o.store.counts(run: run.id).unfinished == 0 { break }
                }
                guard let wake = await wakes.next() else { break }
                // Before acting on anything (an exit, a tick, a signal): still the run's holder?
                try await holdRun()
                switch wake {
                case .exits:
                    try await complete(o.inbox.take())
                    try await checkBudget()
                    needDispatch = true
                case .tick:
                    try await tick()
                    if occupied < concurrency { needDispatch = true }
                case .interrupt(let signal):
                    try await interrupt(signal)
                case .admitted:
                    try await admit(o.inbox.takeAdmissions())
                    try await checkBudget()
                    needDispatch = true
                case .signals:
                    try await act(on: o.inbox.takeSignals())
                }
            }
        }

        // MARK: Dispatch

        mutating func dispatch() async throws {
            try await checkBudget()
            while accepting {
                // A long dispatch (many worktrees to prepare) must not let the run's lease lapse.
                try await holdRun()
                let free = concurrency - occupied
                guard free > 0 else { return }
                let claimed = try await o.store.claim(run: run.id, holder: o.identity.id, limit: free,
                                                      leaseSeconds: o.options.leaseSeconds, now: Date())
                if claimed.isEmpty { return }
                var failedToStart: [TaskOutcome] = []
                var expanded = false
                var ready: [TaskRecord] = []
                for claim in claimed {
                    if let orphan = claim.orphan, orphan.host == o.identity.host {
                        await OrphanReaper.stop(groups: [orphan.pgid], grace: o.options.grace)
                    }
                }
                for claim in claimed {
                    let task = claim.task
                    if task.spec.isExpander {
                        if let failure = try await expand(task) { failedToStart.append(failure) }
                        expanded = true
                    } else if task.spec.uses.isEmpty {
                        ready.append(task)
                    } else {
                        // Waits for its limits off the loop; `admit` starts it when they let it through.
                        waiting[task.id] = task
                        let inbox = o.inbox
                        gate.admit(task, run: run.id) { admission in inbox.push(admission) }
                    }
                }
                failedToStart += try await start(ready)
                if !failedToStart.isEmpty { try await apply(failedToStart) }
                if claimed.count < free && !expanded && failedToStart.isEmpty { return }
            }
        }

        /// Places and launches tasks free to start now; returns the outcomes of those that could not start.
        mutating func start(_ tasks: [TaskRecord]) async throws -> [TaskOutcome] {
            guard !tasks.isEmpty else { return [] }
            for task in tasks where task.spec.mentionsNeeds || worktrees != nil { try await loadNeeds(of: task) }
            let placements = await place(tasks)
            var started: [StartedProcess] = []
            var failedToStart: [TaskOutcome] = []
            for task in tasks {
                var git: TaskGitState?
                var snapshot: String?
                switch placements[task.id] ?? .inPlace(snapshot: nil) {
                case .blocked(let outcome):
                    failedToStart.append(outcome)
                    continue
                case .failed(let reason):
                    failedToStart.append(failure(task, error: reason, retryable: true))
                    continue
                case .worktree(let state): git = state
                case .inPlace(let before): snapshot = before
                }
                do {
                    var entry = try launch(task, in: git?.worktree ?? o.workspace.root.path)
                    entry.git = git
                    entry.snapshot = snapshot
                    if snapshot != nil {
                        for (id, peer) in running where peer.snapshot != nil {
                            entry.peerOwns += peer.task.spec.owns
                            running[id]?.peerOwns += task.spec.owns
                        }
                    }
                    running[task.id] = entry
                    started.append(StartedProcess(task: task.id, pid: entry.process.pid, pgid: entry.process.pgid,
                                                  host: o.identity.host, git: git, startedAt: Date()))
                } catch {
                    failedToStart.append(failure(task, error: "could not start: \(error)", retryable: !(error is SystemError)))
                }
            }
            unrecordedStarts += started
            for process in started {
                try await o.store.appendEvent(NewEvent(run: run.id, task: process.task, kind: "task.sandbox",
                                                       message: running[process.task]?.sandbox ?? "none", at: Date()))
            }
            return failedToStart
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
                                let reason = "blocked: merging \(merging) conflicts in \(files.joined(separator: ", "))"
                                return (task.id, .blocked(TaskOutcome(task: task.id, attempt: task.attempt, result: .blocked, error: reason, costUSD: 0)))
                            case .setupFailed(let message): return (task.id, .failed(message))
                            }
                        } catch {
                            return (task.id, .failed("could not prepare its worktree: \(error)"))
                        }
                    }
                }
                // Git serialises on its own locks; a few at once keeps both cores busy without thrashing.
                for _ in 0..<4 { next(&group) }
                for await (id, placement) in group {
                    placements[id] = placement
                    next(&group)
                }
                return placements
            }
        }

        func launch(_ task: TaskRecord, in directory: String) throws -> Running {
            var spec = task.spec
            let dir = o.workspace.taskDirectory(run: run.id, task: task.id)
            let log = dir.appendingPathComponent("output.log")
            if task.attempt > 1, FileManager.default.fileExists(atPath: log.path) {
                // Keep earlier attempts' output for the post-mortem.
                let kept = dir.appendingPathComponent("output.attempt-\(task.attempt - 1).log")
                try? FileManager.default.removeItem(at: kept)
                try? FileManager.default.moveItem(at: log, to: kept)
            }
            let adapter = try Agents.adapter(named: run.simulate ? "sim" : spec.agent)
            let prompt = spec.prompt.map { render($0, task: task) }
            spec.command = spec.command.map { Command(argv: $0.argv.map { render($0, task: task) }, viaShell: $0.viaShell) }
            let promptPath = dir.appendingPathComponent("prompt.md")
            // The task's folder is its outbox ($MUSTER_OUTBOX), so it must exist before the task starts.
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            if let prompt { try PlainFile.write(prompt, to: promptPath.path) }
            let invocation = try adapter.invocation(for: spec, prompt: prompt,
                                                    context: AgentContext(simulationSpeed: o.options.simulationSpeed))
            let executable = try o.resolver.resolve(invocation.executable, relativeTo: directory)
            var environment = baseEnvironment
            environment["MUSTER_RUN"] = run.id
            environment["MUSTER_TASK_ID"] = task.id
            environment["MUSTER_ATTEMPT"] = String(task.attempt)
            environment["MUSTER_STORE"] = o.storePath
            environment["MUSTER_ROOT"] = o.workspace.root.path
            environment["MUSTER_OUTBOX"] = dir.path
            for (name, value) in spec.env { environment[name] = render(value, task: task) }
            for (name, value) in invocation.environment { environment[name] = value }
            if let overlay = o.options.agentEnvironment, adapter.spendsTokens, !run.simulate {
                let base = Agents.profile(named: spec.agent)?.base ?? spec.agent
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
            let now = Date()
            return Running(task: task, process: process, adapter: adapter,
                           deadline: spec.timeout.map { now.addingTimeInterval($0.seconds) },
                           stallAfter: spec.stallTimeout?.seconds, sandbox: sandboxed)
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

        /// Replaces a `foreach: from` stand-in with one task per item its source printed.
        mutating func expand(_ task: TaskRecord) async throws -> TaskOutcome? {
            guard let spec = task.spec.expands, case .from(let source) = spec.foreach else { return nil }
            try await loadNeeds(of: task)
            var items: [ItemValue]
            do {
                items = try FanIn.items(from: groupResults[source] ?? [], root: o.workspace.root)
            } catch {
                guard run.simulate else { return failure(task, error: "\(error)", retryable: false) }
                items = (1...3).map { .string("simulated-\($0)") }
            }
            do {
                let children = try Planner.expand(spec, items: items, workflow: workflow)
                _ = try await o.store.expand(run: run.id, holder: o.identity.id, expander: task.id, into: children, now: Date())
            } catch {
                return failure(task, error: "fan-out failed: \(error)", retryable: false)
            }
            return nil
        }

        func failure(_ task: TaskRecord, error: String, retryable: Bool, exitCode: Int32? = nil) -> TaskOutcome {
            let retry = retryable && task.failures + 1 <= task.spec.retries
            let retryAt = retry ? Date().addingTimeInterval(
                workflow.backoff.delay(attempt: task.failures + 1, unit: Double.random(in: 0..<1)).seconds) : nil
            return TaskOutcome(task: task.id, attempt: task.attempt, result: .failed(retryAt: retryAt),
                               exitCode: exitCode, error: error, costUSD: nil)
        }

        // MARK: Completion

        mutating func complete(_ exits: [ProcessExit]) async throws {
            var finished: [(Running, ProcessExit)] = []
            for exit in exits {
                guard let entry = running.removeValue(forKey: exit.key) else { continue }
                finished.append((entry, exit))
            }
            let loop = self
            let tasks = Dictionary(finished.map { ($0.0.task.id, $0.0.task) }, uniquingKeysWith: { a, _ in a })
            guard worktrees != nil else {
                // Nothing to commit or compare: no git work to run side by side.
                var ended: [Ended] = []
                for (entry, exit) in finished { ended.append(await loop.outcome(entry, exit, after: nil)) }
                let outcomes = try await settleLimits(ended, tasks: tasks)
                try await apply(outcomes)
                try await recordDenials(outcomes)
                return
            }
            // One snapshot serves every in-place task that finished in this batch.
            var snapshot: String?
            if let worktrees, finished.contains(where: { $0.0.snapshot != nil }) {
                snapshot = try? await worktrees.snapshot(scratch: o.workspace.runDirectory(run.id))
            }
            let after = snapshot
            let ended = await withTaskGroup(of: Ended.self) { group in
                for (entry, exit) in finished { group.addTask { await loop.outcome(entry, exit, after: after) } }
                var all: [Ended] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            let outcomes = try await settleLimits(ended, tasks: tasks)
            try await apply(outcomes)
            for outcome in outcomes where outcome.git.map({ !$0.violations.isEmpty }) == true {
                try await o.store.appendEvent(NewEvent(run: run.id, task: outcome.task, kind: "ownership.violation",
                                                       message: outcome.git!.violations.joined(separator: ", "), at: Date()))
            }
            try await recordDenials(outcomes)
            for item in ended where item.unchanged {
                try await o.store.appendEvent(NewEvent(run: run.id, task: item.outcome.task, kind: "task.unchanged",
                                                       message: item.outcome.error ?? "", at: Date()))
            }
        }

        /// Commits the task's changes on its branch (or diffs the repository for in-place tasks) and
        /// checks them against `owns`; a violation fails the task, whatever its exit status.
        func settleGit(_ entry: Running, agent: String, after: String?) async -> (TaskGitState?, String?) {
            guard let worktrees else { return (nil, nil) }
            do {
                if let git = entry.git {
                    let state = try await worktrees.finish(run: run.id, task: entry.task, state: git, agent: agent,
                                                           scratch: entry.adapter.scratchFiles)
                    return (state, nil)
                }
                if let before = entry.snapshot {
                    guard let after else { return (nil, "could not snapshot the repository after it") }
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
                return (entry.git, error.description)
            } catch {
                return (entry.git, "could not record its changes: \(error)")
            }
            return (nil, nil)
        }

        /// A finished task's outcome, and whether it failed on a rate-limit or overload error (see `settleLimits`).
        struct Ended: Sendable {
            var outcome: TaskOutcome
            var rateLimited: Bool
            /// It succeeded owning files and changed none (`task.unchanged`).
            var unchanged = false
        }

        func outcome(_ entry: Running, _ exit: ProcessExit, after: String?) async -> Ended {
            let task = entry.task
            // A daemon that left the task's process group (no sandbox), or a sandbox whose init was
            // stopped before it armed --die-with-parent, carries the task's markers: stop it (finding 6).
            if !entry.process.sandboxed || entry.stop != nil { EscapedProcesses.stop(run: run.id, task: task.id, store: o.storePath) }
            let dir = o.workspace.taskDirectory(run: run.id, task: task.id)
            let stdout = (try? String(contentsOfFile: entry.process.output.stdoutPath, encoding: .utf8)) ?? ""
            let report = entry.adapter.report(stdout: stdout, status: exit.status, task: task.spec)
            let resultPath = dir.appendingPathComponent("result.md")
            if !report.result.isEmpty {
                try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try? PlainFile.write(report.result, to: resultPath.path)
            }
            let relative = resultPath.path.replacingOccurrences(of: o.workspace.root.path + "/", with: "")
            let cost = self.cost(of: report, task: task.spec, spendsTokens: entry.adapter.spendsTokens)
            var outcome: TaskOutcome
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
            judgeDenials(report, task: task, into: &outcome)
            outcome.summary = String(report.result.trimmingCharacters(in: .whitespacesAndNewlines).prefix(4000))
            outcome.resultPath = report.result.isEmpty ? nil : relative
            outcome.usage = report.usage
            outcome.costUSD = cost
            if outcome.result == .succeeded, let refused = await spawnFromOutbox(task, folder: dir) {
                outcome.error = "warning: \(refused)"
            }
            let (git, gitError) = await settleGit(entry, agent: entry.adapter.name, after: after)
            let damaged = gitError?.hasPrefix(WorktreeError.prefix) == true
            var unchanged = false
            outcome.git = git
            if let violations = git?.violations, !violations.isEmpty, outcome.result != .cancelled {
                // Its branch keeps the work for review; integration never takes it.
                let shown = violations.prefix(10).joined(separator: ", ") + (violations.count > 10 ? ", …" : "")
                outcome.result = .failed(retryAt: nil)
                outcome.error = "changed files outside its owns (\(task.spec.owns.isEmpty ? "it owns nothing" : task.spec.owns.joined(separator: ", "))): \(shown)"
            } else if let gitError, outcome.result == .succeeded || (damaged && outcome.result != .cancelled) {
                // A damaged worktree is not retried: its next attempt would find the same damage.
                outcome = failure(task, error: gitError, retryable: !damaged, exitCode: exit.status.code)
                outcome.git = git
            } else if outcome.result == .succeeded, let git, git.changedPaths.isEmpty, !task.spec.owns.isEmpty {
                // Seed 000: background agents can fail silently on writes. A task that owns files
                // and changed none is not a clean success, so say so where people look.
                outcome.error = "warning: it owns \(task.spec.owns.joined(separator: ", ")) but changed nothing"
                unchanged = true
            }
            // A stopped task or an ownership violation is not the rate limit's doing.
            let rateLimited = report.rateLimited && entry.stop == nil && (git?.violations ?? []).isEmpty
                && outcome.result != .succeeded && outcome.result != .cancelled
            return Ended(outcome: outcome, rateLimited: rateLimited, unchanged: unchanged)
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
                let children = try SpawnFile.read(path: file.path).map { try $0.plannedTask(parent: task.spec, limits: limits) }
                let spawned = try await o.store.spawn(run: run.id, parent: task.id, children: children, now: Date())
                let folded = spawned.filter(\.folded).count
                try? await o.store.appendEvent(NewEvent(run: run.id, task: task.id, kind: "spawn.outbox",
                                                        message: "\(spawned.count - folded) children spawned, \(folded) folded into existing ones",
                                                        at: Date()))
                return nil
            } catch let error as SpawnRequestError {
                message = error.description
            } catch let error as SpawnError {
                message = "spawn.json: \(error.description)"
            } catch {
                message = "spawn.json: \(error)"
            }
            try? await o.store.appendEvent(NewEvent(run: run.id, task: task.id, kind: "spawn.refused", message: message, at: Date()))
            return message
        }

        mutating func apply(_ outcomes: [TaskOutcome]) async throws {
            guard !outcomes.isEmpty else { return }
            // A task that ended (or never started) gives back its concurrency slots.
            for outcome in outcomes { await gate.release(outcome.task) }
            let report = try await o.store.finish(run: run.id, holder: o.identity.id, started: unrecordedStarts, outcomes, now: Date())
            unrecordedStarts.removeAll()
            let applied = Set(report.applied)
            if workflow.onFailure == .stop,
               outcomes.contains(where: { applied.contains($0.task) && $0.result == .failed(retryAt: nil) }) {
                stopping = true
            }
            for rejected in report.rejected {
                try await o.store.appendEvent(NewEvent(run: run.id, task: rejected, kind: "task.lease_lost",
                                                       message: "outcome discarded: another orchestrator holds this task", at: Date()))
            }
        }

        // MARK: Supervision

        /// Stops dispatching once what was spent plus the estimated cost of the running tasks reaches
        /// the budget. A running task counts at its `estimate`, priced by the run's price table.
        mutating func checkBudget(counts known: TaskCounts? = nil) async throws {
            guard !overBudget, let budget = o.options.budgetUSD ?? workflow.budgetUSD else { return }
            let counts: TaskCounts
            if let known { counts = known } else { counts = try await o.store.counts(run: run.id) }
            // A task waiting for its limits is about to start: it counts like a running one.
            let running = running.values.reduce(0.0) { $0 + estimatedCost($1.task) }
                + waiting.values.reduce(0.0) { $0 + estimatedCost($1) }
            guard counts.costUSD + running >= budget else { return }
            overBudget = true
            let message = String(format: "spent $%.4f + $%.4f estimated for %d running tasks reaches the budget of $%.2f: ",
                                 counts.costUSD, running, occupied, budget)
                + (budgetHard ? "stopping running tasks" : "no new tasks start; running ones finish")
            try await o.store.appendEvent(NewEvent(run: run.id, kind: "budget.exceeded", message: message, at: Date()))
            if budgetHard {
                let now = Date()
                for id in self.running.keys { stop(id, reason: .cancelled, now: now) }
            }
        }

        func estimatedCost(_ task: TaskRecord) -> Double {
            let usage = TokenUsage(input: task.spec.estimate?.inputTokens ?? 0, output: task.spec.estimate?.outputTokens ?? 0)
            return o.options.prices.cost(model: task.spec.model, usage: usage) ?? 0
        }

        mutating func recordStarts() async throws {
            guard !unrecordedStarts.isEmpty else { return }
            try await o.store.recordProcesses(run: run.id, holder: o.identity.id, unrecordedStarts, now: Date())
            unrecordedStarts.removeAll()
        }

        mutating func tick() async throws {
            // Exits that arrived while the loop was busy come first: a task that already ended is
            // never judged stalled or timed out.
            let pending = o.inbox.take()
            if !pending.isEmpty { try await complete(pending) }
            try await recordStarts()
            let now = Date()
            for (id, entry) in running {
                if entry.stopSentAt == nil {
                    if let deadline = entry.deadline, now >= deadline, let timeout = entry.task.spec.timeout {
                        stop(id, reason: .timeout(timeout), now: now)
                    } else if let stall = entry.stallAfter,
                              now.timeIntervalSince(max(entry.process.output.lastOutput, resumedAt ?? .distantPast)) >= stall,
                              let d = entry.task.spec.stallTimeout {
                        stop(id, reason: .stalled(d), now: now)
                        try await o.store.appendEvent(NewEvent(run: run.id, task: id, kind: "task.stalled", message: StopReason.stalled(d).text, at: now))
                    }
                } else if !entry.killed, let sent = entry.stopSentAt, now.timeIntervalSince(sent) >= o.options.grace.seconds {
                    ProcessSupervisor.signalGroup(entry.process.pgid, SIGKILL)
                    running[id]?.killed = true
                }
            }
            let clock = ContinuousClock.now
            if let conflicts, clock - lastConflictCheck >= o.options.conflictCheckInterval {
                lastConflictCheck = clock
                conflicts.check(running.values.compactMap { entry in
                    guard let git = entry.git, let path = git.worktree else { return nil }
                    return ConflictPredictor.Worktree(task: entry.task.id, path: path, baseCommit: git.baseCommit,
                                                      scratch: entry.adapter.scratchFiles)
                })
            }
            if clock - lastSlowTick >= .milliseconds(250) {
                lastSlowTick = clock
                // One read of the counts serves the slots lent by `muster wait`, the budget and the progress line.
                let counts = try await o.store.counts(run: run.id)
                blockedInWait = counts.waiting
                if accepting, try await o.store.run(run.id)?.cancelRequested == true {
                    try await beginCancel(reason: "cancel requested")
                }
                try await checkBudget(counts: counts)
                try await events.mirror(o.store, run: run.id)
                try await reportProgress(counts)
            }
        }

        /// Renews the run's lease every third of it, fenced by the holder epoch. An orchestrator that
        /// wakes after its lease lapsed (SIGSTOP, Ctrl-Z, a closed laptop lid) learns here, before it
        /// judges or kills anything, whether it is still the holder: if nobody took over it renews
        /// and carries on with its tasks untouched; if someone did, it stops (`holderLost`), leaving
        /// the new holder's tasks alone.
        mutating func holdRun() async throws {
            let clock = ContinuousClock.now
            let silent = clock - lastHeartbeat
            guard silent >= .seconds(o.options.leaseSeconds / 3) else { return }
            let now = Date()
            switch try await o.store.renewRun(run.id, holder: o.identity.id, epoch: epoch, leaseSeconds: o.options.leaseSeconds, now: now) {
            case .renewed:
                lastHeartbeat = clock
                if silent >= .seconds(o.options.leaseSeconds) {
                    resumedAt = now
                    try await o.store.appendEvent(NewEvent(run: run.id, kind: "run.lease_renewed", message:
                        "the orchestrator was silent for \(silent.humanized), past its \(Duration.seconds(o.options.leaseSeconds).humanized) lease; nobody took over, so it carries on with its tasks",
                        at: now))
                }
                try await o.store.heartbeatWorker(id: o.identity.id, task: nil, now: now)
                await gate.renewAll()
            case .lost(let holder, _):
                throw OrchestratorError.holderLost(run: run.id, holder: holder)
            }
        }

        mutating func stop(_ id: String, reason: StopReason, now: Date) {
            guard let entry = running[id], entry.stopSentAt == nil else { return }
            ProcessSupervisor.signalGroup(entry.process.pgid, SIGTERM)
            running[id]?.stop = reason
            running[id]?.stopSentAt = now
        }

        mutating func interrupt(_ signal: Int32) async throws {
            interrupts += 1
            if interrupts == 1 {
                try await beginCancel(reason: "interrupted by signal \(signal)")
            } else {
                // A second Ctrl-C: no more grace.
                for entry in running.values { ProcessSupervisor.signalGroup(entry.process.pgid, SIGKILL) }
            }
        }

        mutating func beginCancel(reason: String) async throws {
            cancelling = true
            try await o.store.appendEvent(NewEvent(run: run.id, kind: "run.cancelling", message: reason, at: Date()))
            let now = Date()
            for id in running.keys { stop(id, reason: .cancelled, now: now) }
        }

        /// Error path: stop every process group, leaving the tasks leased so `resume` picks them up.
        mutating func stopAll(reason: String) async {
            gate.cancelPending()
            // Not the groups of tasks already known to have ended: their ids may have been reused
            // (a new holder's task, say, when this one lost the run).
            let ended = Set(o.inbox.take().map(\.key))
            await OrphanReaper.stop(groups: Set(running.filter { !ended.contains($0.key) }.values.map(\.process.pgid)), grace: o.options.grace)
            await gate.releaseAll()
        }

        func reportProgress(_ known: TaskCounts? = nil) async throws {
            guard let progress = o.options.progress else { return }
            let counts: TaskCounts
            if let known { counts = known } else { counts = try await o.store.counts(run: run.id) }
            progress(RunProgress(run: run.id, counts: counts, elapsed: ContinuousClock.now - started))
        }

        mutating func finish() async throws -> RunStatus {
            try await recordStarts()
            if cancelling {
                _ = try await o.store.closeUnstarted(run: run.id, state: .cancelled, reason: "cancelled before it started", now: Date())
            } else if stopping {
                _ = try await o.store.closeUnstarted(run: run.id, state: .skipped,
                                                     reason: "not started: the run stopped after a failure (on_failure: stop)", now: Date())
            } else if overBudget {
                _ = try await o.store.closeUnstarted(run: run.id, state: .skipped, reason: "not started: the budget was reached", now: Date())
            }
            let counts = try await o.store.counts(run: run.id)
            let status: RunStatus = cancelling ? .cancelled : (counts[.succeeded] == counts.total ? .succeeded : .failed)
            try await o.store.finishRun(run.id, status: status, now: Date())
            try await events.mirror(o.store, run: run.id)
            try await reportProgress()
            events.close()
            return status
        }
    }
}
