import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

struct CleanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove a finished run's worktrees; delete task branches whose work is integrated (all of them with --force).",
        discussion: "`muster clean --pool` removes the worktrees kept for reuse (`[worktree] pool` in muster.toml).")

    @Argument(help: "The run id.") var run: String?
    @Flag(help: "Also delete task branches whose work is not integrated anywhere.") var force = false
    @Flag(help: "Remove the pooled worktrees (kept from finished tasks for reuse).") var pool = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            if pool {
                let report = try await WorktreePoolCleaner.empty(workspace: global.workspace)
                if global.json {
                    Terminal.json(CommandJSON.CleanPool(removedWorktrees: report.removed.count, bytes: report.bytes))
                } else {
                    print("removed \(report.removed.count) pooled worktrees")
                }
                guard run != nil else { return }
            }
            guard let run else { throw CLIError.usage("name the run to clean (`muster clean RUN`), or empty the worktree pool with `muster clean --pool`") }
            let store = try await global.openStore(create: false)
            let record = try await store.requireRun(run)
            if record.status == .running, let holder = record.holder, holder.isAliveHere ?? true {
                throw CLIError.usage("run \(run) is still running (pid \(holder.pid) on \(holder.host)): stop it with `muster cancel \(run)` first")
            }
            let workspace = Workspace(root: URL(fileURLWithPath: record.root), isGitRepository: true)
            let report = try await RunCleaner(workspace: workspace).clean(run: record, tasks: try await store.tasks(run: run), force: force)
            if global.json {
                Terminal.json(CommandJSON.Clean(run: run, removedWorktrees: report.removedWorktrees, deletedBranches: report.deletedBranches,
                                                keptBranches: report.keptBranches))
                return
            }
            print("removed \(report.removedWorktrees.count) worktrees, deleted \(report.deletedBranches.count) branches")
            if !report.keptBranches.isEmpty {
                print("kept \(report.keptBranches.count) branches with work not integrated anywhere (muster integrate \(run), or --force to delete):")
                for branch in report.keptBranches { print("  \(branch)") }
            }
        }
    }
}
