import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show a run's tasks (default: the newest run).")

    @Argument(help: "The run id (see `muster runs`).") var run: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            let record = try await global.resolveRun(run, in: store)
            let tasks = try await store.tasks(run: record.id)
            let counts = try await store.counts(run: record.id)
            if global.json {
                Terminal.json(RunListing(record, counts: counts, tasks: tasks, now: store.clock()))
                return
            }
            print(RunsCommand.line(record, counts: counts, now: store.clock()))
            if record.isInterrupted(now: store.clock()) {
                print(Terminal.dim("its orchestrator is gone (\(RunsCommand.holderText(record))); finish it with `muster resume \(record.id)`"))
            }
            let width = min(40, max(4, tasks.map(\.id.count).max() ?? 4))
            print(Terminal.dim(Terminal.padded("TASK", width + 2) + Terminal.padded("STATE", 11) + Terminal.padded("TRY", 5)
                               + Terminal.padded("TIME", 9) + Terminal.padded("COST", 10) + "DETAIL"))
            for task in tasks {
                let elapsed = task.startedAt.map { start in Duration.seconds((task.finishedAt ?? Date()).timeIntervalSince(start)).humanized } ?? "-"
                var detail = ([.failed, .skipped, .cancelled, .blocked].contains(task.state) || task.warning != nil
                              ? task.error : task.summary)
                    .map { $0.split(separator: "\n").first.map(String.init) ?? "" } ?? ""
                // A ready task with `runs_on` waits for a claimer that has those labels.
                if task.state == .ready && !task.spec.runsOn.isEmpty && detail.isEmpty {
                    detail = "waits for a worker with --labels \(task.spec.runsOn.joined(separator: ","))"
                }
                let cost = task.costUSD.map { Terminal.money($0) } ?? (task.attempt > 0 && task.state.isFinal ? "unknown" : "-")
                print(Terminal.padded(String(task.id.prefix(width)), width + 2) + Terminal.padded(Terminal.state(task), 11)
                      + Terminal.padded(String(task.attempt), 5) + Terminal.padded(elapsed, 9) + Terminal.padded(cost, 10)
                      + String(detail.prefix(80)))
                // The calls its agent was refused, one a line: what to allow, or what went wrong.
                for denial in (task.agentFacts?.denials ?? []).prefix(10) {
                    print(Terminal.padded("", width + 2) + Terminal.dim("refused: " + String(denial.shown.prefix(100))))
                }
            }
        }
    }
}

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List runs, newest first.")

    @Option(help: "How many runs to show.") var limit = 20
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            let runs = try await store.runs(limit: limit)
            var objects: [RunListing] = []
            for run in runs {
                let counts = try await store.counts(run: run.id)
                if global.json { objects.append(RunListing(run, counts: counts, now: store.clock())) } else { print(Self.line(run, counts: counts, now: store.clock())) }
            }
            if global.json { Terminal.json(objects) } else if runs.isEmpty { print("no runs yet: start one with `muster run FILE`") }
        }
    }

    static func line(_ run: RunRecord, counts: TaskCounts, now: Date) -> String {
        let when = DateFormatter.localizedString(from: run.createdAt, dateStyle: .short, timeStyle: .medium)
        let status = run.isInterrupted(now: now) ? Terminal.paint("interrupted", "35") : Terminal.status(run.status)
        var text = "\(Terminal.bold(run.id))  \(status)  \(counts[.succeeded])/\(counts.total) succeeded"
        if counts[.failed] > 0 { text += ", \(counts[.failed]) failed" }
        if counts[.running] > 0 { text += ", \(counts[.running]) running" }
        text += "  \(Terminal.money(counts.costUSD))  \(Terminal.dim("\(run.name) · \(run.specPath) · \(when)"))"
        if run.simulate { text += Terminal.dim(" · simulated") }
        return text
    }

    /// Who held an interrupted run, and why it counts as gone.
    static func holderText(_ run: RunRecord) -> String {
        guard let holder = run.holder else { return "nobody holds it" }
        let gone = holder.isAliveHere == false ? "no longer running" : "its lease lapsed"
        return "pid \(holder.pid) on \(holder.host): \(gone)"
    }
}
