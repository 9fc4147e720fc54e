import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

struct ConflictsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "Predict merge conflicts between a run's live worktrees, uncommitted and untracked changes included.",
        discussion: """
            Pairs of tasks that change the same files are found by indexing changed paths, then each pair is \
            merged with `git merge-tree` (no branch, index or file is touched). A CONFLICT will stop \
            `muster integrate`; an overlap merges cleanly. Exit 0 either way; 2 for bad input.
            """)

    @Argument(help: "The run id (default: the newest run).") var run: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            if !global.workspace.isGitRepository && global.store == nil {
                throw CLIError.usage("\(global.workspace.root.path) is not a git repository: conflicts are predicted between task worktrees, which need git")
            }
            let store = try await global.openStore(create: false)
            let record = try await global.resolveRun(run, in: store)
            let root = URL(fileURLWithPath: record.root)
            guard Workspace.locate(from: root).isGitRepository else {
                throw CLIError.usage("\(record.root) (run \(record.id)) is not a git repository: its tasks have no worktrees to compare")
            }
            guard record.baseCommit != nil else {
                throw CLIError.usage("run \(record.id) did not run in git worktrees (isolation: none): there is nothing to compare")
            }
            let agents = record.agents  // their scratch files are left out
            let worktrees = try await store.tasks(run: record.id).compactMap { task -> ConflictPredictor.Worktree? in
                // Live: running, or finished well and waiting to be integrated. Failed work is never merged.
                guard task.state == .running || task.state == .succeeded, let git = task.git, git.violations.isEmpty,
                      let path = git.worktree else { return nil }
                let absolute = path.hasPrefix("/") ? path : root.appendingPathComponent(path).path
                guard FileManager.default.fileExists(atPath: absolute) else { return nil }
                let scratch = (try? agents.adapter(named: task.spec.agent))?.scratchFiles
                return .init(task: task.id, path: absolute, baseCommit: git.baseCommit, scratch: scratch)
            }
            let report = try await ConflictPredictor(repository: record.root).predict(worktrees)
            if global.json {
                Terminal.json(ConflictsJSON(report, run: record.id))
            } else {
                Self.print(report, run: record.id)
            }
        }
    }

    static func print(_ report: ConflictPredictor.Report, run: String) {
        Swift.print("run \(Terminal.bold(run)): \(report.worktrees) live worktrees, \(report.changedPaths) changed paths; "
                    + "\(report.candidates) pairs share files (each checked with git merge-tree); \(String(format: "%.2f", report.seconds)) s")
        for pair in report.conflicts {
            Swift.print("\(Terminal.paint("CONFLICT", "31"))  \(pair.first) ↔ \(pair.second): \(pair.files.joined(separator: ", "))")
        }
        for pair in report.overlaps {
            Swift.print("overlap   \(pair.first) ↔ \(pair.second): \(pair.files.joined(separator: ", ")) \(Terminal.dim("(merges cleanly)"))")
        }
        for skipped in report.skipped {
            Swift.print(Terminal.paint("skipped", "33") + "   \(skipped.task): \(skipped.reason)")
        }
        if report.conflicts.isEmpty {
            Swift.print(report.worktrees == 0 ? "no live worktrees in run \(run)" : "no conflicts predicted"
                        + (report.overlaps.isEmpty ? "" : " (\(report.overlaps.count) overlapping pairs merge cleanly)"))
        } else {
            Swift.print("\(report.conflicts.count) predicted conflict\(report.conflicts.count == 1 ? "" : "s"), \(report.overlaps.count) clean overlap\(report.overlaps.count == 1 ? "" : "s")")
        }
    }
}
