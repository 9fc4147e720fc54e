import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

struct IntegrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integrate",
        abstract: "Merge a run's succeeded task branches, in dependency order, into one branch.",
        discussion: """
            Merges happen in a worktree of their own (.muster/worktrees/RUN/_integration): your checkout is \
            never touched. Integration stops at the first conflict, aborts that merge and leaves the branch at \
            the last good merge; fix the task's branch and run it again (merged tasks are skipped). Failed tasks \
            and tasks with ownership violations are never merged. Exit 1 when a conflict stops (or, with \
            --dry-run, would stop) integration; 2 for bad input.
            """)

    @Argument(help: "The run id (see `muster runs`).") var run: String
    @Option(help: ArgumentHelp("The branch to merge into (default: muster/RUN/integrated; created at the run's base).", valueName: "branch"))
    var into: String?
    @Flag(help: "Predict the whole sequence with `git merge-tree`; create or move no branch.") var dryRun = false
    @Flag(help: "Allow --into to name the branch checked out in your main worktree (merges there, in place).") var allowCheckedOut = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        var stopped = false
        try await guarded {
            if !global.workspace.isGitRepository && global.store == nil {
                throw CLIError.usage("\(global.workspace.root.path) is not a git repository: integration merges task branches, which need git")
            }
            let store = try await global.openStore(create: false)
            guard let record = try await store.run(run) else { throw CLIError.usage("no run named \(run) (see `muster runs`)") }
            let tasks = try await store.tasks(run: run)
            let options = IntegrationOptions(into: into, dryRun: dryRun, allowCheckedOut: allowCheckedOut)
            let report: IntegrationReport
            do {
                report = try await Integrator(repository: record.root).integrate(run: record, tasks: tasks, options: options)
            } catch let error as IntegrationError {
                throw CLIError.usage(error.description)
            }
            if global.json { Terminal.json(Self.object(report)) } else { Self.print(report) }
            stopped = !report.succeeded
        }
        if stopped { throw ExitCode(ExitCodes.runFailed) }
    }

    static func short(_ commit: String) -> String { String(commit.prefix(10)) }

    static func object(_ report: IntegrationReport) -> [String: Any] {
        [
            "run": report.run, "branch": report.branch, "dry_run": report.dryRun, "created_branch": report.createdBranch,
            "start_commit": report.startCommit, "end_commit": report.endCommit, "succeeded": report.succeeded,
            "merged": report.merged.map { ["task": $0.task, "branch": $0.branch as Any? ?? NSNull(), "commit": $0.commit, "merge_commit": $0.mergeCommit] },
            "already_integrated": report.alreadyIntegrated,
            "conflict": report.conflict.map { ["task": $0.task, "branch": $0.branch as Any? ?? NSNull(), "commit": $0.commit, "files": $0.files] } as Any? ?? NSNull(),
            "not_attempted": report.notAttempted,
            "excluded": report.excluded.map { ["task": $0.task, "reason": $0.reason] },
        ]
    }

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
        for excluded in report.excluded {
            Swift.print("  " + Terminal.paint("excluded", "33") + "  " + Terminal.padded(excluded.task, width + 2) + excluded.reason)
        }
        let count = "\(report.merged.count) merged"
        if let conflict = report.conflict {
            let branch = conflict.branch ?? "its branch"
            Swift.print(report.dryRun
                ? "\(report.branch) would stop at \(short(report.endCommit)) (\(count)): merging \(conflict.task) conflicts. Nothing was moved."
                : "Stopped: \(report.branch) stays at \(short(report.endCommit)) (\(count)); the merge of \(conflict.task) was aborted. "
                  + "Resolve it on \(branch) (e.g. merge \(report.branch) into it and commit), then run "
                  + "`muster integrate \(report.run)\(report.branch == Integrator.defaultBranch(run: report.run) ? "" : " --into \(report.branch)")` again.")
        } else if report.dryRun {
            Swift.print("\(report.branch) would end at a clean merge (\(count)). Nothing was moved.")
        } else {
            Swift.print("\(report.branch) is at \(short(report.endCommit)) (\(count)).")
        }
    }
}
