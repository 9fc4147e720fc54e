import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

struct CleanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Remove a finished run's worktrees; delete task branches whose work is integrated (all of them with --force).")

    @Argument(help: "The run id.") var run: String
    @Flag(help: "Also delete task branches whose work is not integrated anywhere.") var force = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
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
