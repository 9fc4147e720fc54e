import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

struct IntegrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integrate",
        abstract: "Merge a run's succeeded task branches, in dependency order, into one branch.",
        discussion: """
            Merges are made with git plumbing (merge-tree, commit-tree): no work folder, no index, no hook runs, \
            your checkout is never touched. Each task is merged at the commit muster recorded when it ended, \
            and only while its branch still points there: a branch moved since is refused, with the reason, \
            and the others go on; a task whose commit shares no history with the branch is skipped. The branch \
            moves after each clean merge by compare-and-swap, forward only. One integrate per run at a time: a \
            second one refuses (exit 2, naming the holder's pid and host) unless --wait gives it time. \
            Integration stops at the first conflict and leaves the branch at the last good merge; resolve that \
            merge on the branch yourself and run it again (merged tasks are skipped). Failed tasks and tasks \
            with ownership violations are never merged. With --check (or the spec's `integrate: {check: …}`) \
            each merge is checked before the branch moves there, in a private folder outside your checkout; a \
            merge that fails the check is dropped with the tasks that need it, and the rest are merged. Exit 1 \
            when a conflict stops (or, with --dry-run, would stop) integration or a task was dropped; 2 for bad \
            input or a busy run.
            """)

    @Argument(help: "The run id (see `muster runs`).") var run: String
    @Option(help: ArgumentHelp("The branch to merge into (default: muster/RUN/integrated; created at the run's base).", valueName: "branch"))
    var into: String?
    @Flag(help: "Predict the whole sequence with `git merge-tree`; create or move no branch.") var dryRun = false
    @Flag(help: "Allow --into to name the branch checked out in your main worktree (merges there, in place).") var allowCheckedOut = false
    @Option(help: ArgumentHelp("A shell command that must pass on each merge (run with `sh -c` in a private folder holding the merged files, outside your checkout); a merge that fails it is dropped with the tasks that need it. Default: the spec's `integrate: {check: …}`.", valueName: "command"))
    var check: String?
    @Option(help: ArgumentHelp("Merges per check: merge N, check once, bisect on failure (default: the spec's `integrate.batch`, else 1).", valueName: "N"))
    var checkBatch: Int?
    @Option(help: ArgumentHelp("While another integrate of this run holds it, keep trying this long (e.g. 30s, 5m); default: refuse at once.", valueName: "duration"))
    var wait: String?
    @Option(help: ArgumentHelp("Fetch the run's task branches (muster/RUN/*) from this remote first: runs executed by `muster worker`s on other hosts.", valueName: "url"))
    var fetch: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        var stopped = false
        try await guarded {
            if !global.workspace.isGitRepository && global.store == nil {
                throw CLIError.usage("\(global.workspace.root.path) is not a git repository: integration merges task branches, which need git")
            }
            let store = try await global.openStore(create: false)
            let record = try await store.requireRun(run)
            if let fetch { try await RemoteRepository.fetchBranches(run: run, remote: fetch, into: global.workspace.root) }
            let command = check ?? record.workflow.integrate?.check
            if let command, let problem = IntegrateSpec.problem(command) {
                throw CLIError.usage("--check \(problem): give the command that must pass after each merge, e.g. --check 'swift build'")
            }
            let batch = checkBatch ?? record.workflow.integrate?.batch ?? 1
            guard (1...IntegrateSpec.maxBatch).contains(batch) else {
                throw CLIError.usage("--check-batch must be between 1 and \(IntegrateSpec.maxBatch), got \(batch)")
            }
            if checkBatch != nil && command == nil {
                throw CLIError.usage("--check-batch needs a check: give --check 'CMD' or `integrate: {check: …}` in the spec")
            }
            let options = IntegrationOptions(into: into, dryRun: dryRun, allowCheckedOut: allowCheckedOut, check: command, checkBatch: batch)
            let waitSeconds = try wait.map { try LockContext.seconds($0, option: "--wait", allowZero: true) } ?? 0
            let report: IntegrationReport
            // A dry run moves nothing, so it needs no turn.
            let lease: IntegrationLease?
            do {
                lease = dryRun ? nil : try await IntegrationLease.acquire(store: store, run: run, wait: waitSeconds)
            } catch let busy as IntegrationBusy {
                if global.json {
                    Terminal.json(CommandJSON.IntegrateBusy(run: run, heldBy: LockReport(busy.holder, liveness: busy.liveness)))
                }
                throw CLIError.usage(busy.description)
            }
            do {
                // Tasks are read after the lock is taken: what an earlier holder merged is then already in.
                let tasks = try await store.tasks(run: run)
                report = try await Integrator(repository: record.root).integrate(run: record, tasks: tasks, options: options, lease: lease)
                await lease?.release()
            } catch let error as IntegrationError {
                await lease?.release()
                switch error {
                case .leaseLost, .branchMoved, .checkFailsAtStart: throw CLIError.failed(error.description)
                default: throw CLIError.usage(error.description)
                }
            } catch {
                await lease?.release()
                throw error
            }
            if global.json { Terminal.json(IntegrationJSON(report)) } else { Self.print(report) }
            stopped = !report.succeeded || !report.dropped.isEmpty
        }
        if stopped { throw ExitCode(ExitCodes.runFailed) }
    }

    static func short(_ commit: String) -> String { String(commit.prefix(10)) }

    static func print(_ report: IntegrationReport) {
        let verb = report.dryRun ? "Dry run: would integrate" : "Integrating"
        let origin = report.createdBranch ? "new, from the run's base \(short(report.startCommit))" : "at \(short(report.startCommit))"
        Swift.print("\(verb) run \(Terminal.bold(report.run)) into \(Terminal.bold(report.branch)) (\(origin))")
        let width = min(40, max(8, (report.merged.map(\.task) + [report.conflict?.task ?? ""]).map(\.count).max() ?? 8))
        for merged in report.merged {
            Swift.print("  " + Terminal.paint(report.dryRun ? "clean " : "merged", "32") + "    " + Terminal.padded(merged.task, width + 2)
                        + Terminal.dim("\(short(merged.commit)) → \(short(merged.mergeCommit))"))
        }
        if !report.alreadyIntegrated.isEmpty {
            Swift.print("  " + Terminal.dim("already in \(report.branch): \(report.alreadyIntegrated.joined(separator: ", "))"))
        }
        if let conflict = report.conflict {
            Swift.print("  " + Terminal.paint("CONFLICT", "31") + "  " + Terminal.padded(conflict.task, width + 2)
                        + (report.dryRun ? "would conflict in " : "conflicts in ") + conflict.files.joined(separator: ", "))
            if !report.notAttempted.isEmpty {
                Swift.print("  " + Terminal.dim("not attempted: \(report.notAttempted.joined(separator: ", "))"))
            }
        }
        for refused in report.refused {
            Swift.print("  " + Terminal.paint("refused ", "31") + "  " + Terminal.padded(refused.task, width + 2) + refused.reason)
        }
        for skipped in report.skipped {
            Swift.print("  " + Terminal.paint("skipped ", "33") + "  " + Terminal.padded(skipped.task, width + 2) + skipped.reason)
        }
        for dropped in report.dropped {
            Swift.print("  " + Terminal.paint("dropped ", "31") + "  " + Terminal.padded(dropped.task, width + 2) + dropped.reason)
            if let output = dropped.output, !output.isEmpty {
                for line in output.split(separator: "\n", omittingEmptySubsequences: false) { Swift.print("      " + Terminal.dim("│ " + line)) }
            }
        }
        for excluded in report.excluded {
            Swift.print("  " + Terminal.paint("excluded", "33") + "  " + Terminal.padded(excluded.task, width + 2) + excluded.reason)
        }
        let count = "\(report.merged.count) merged" + (report.check == nil ? "" : ", \(report.dropped.count) dropped, \(report.checksRun) checks")
        if let conflict = report.conflict {
            Swift.print(report.dryRun
                ? "\(report.branch) would stop at \(short(report.endCommit)) (\(count)): merging \(conflict.task) conflicts. Nothing was moved."
                : "Stopped: \(report.branch) stays at \(short(report.endCommit)) (\(count)); the merge of \(conflict.task) was aborted. "
                  + "Resolve it on \(report.branch) yourself (e.g. in a worktree of it: `git merge \(short(conflict.commit))`, fix, commit), then run "
                  + "`muster integrate \(report.run)\(report.branch == Integrator.defaultBranch(run: report.run) ? "" : " --into \(report.branch)")` again.")
        } else if report.dryRun {
            Swift.print("\(report.branch) would end at a clean merge (\(count)). Nothing was moved.")
        } else {
            Swift.print("\(report.branch) is at \(short(report.endCommit)) (\(count)).")
        }
    }
}
