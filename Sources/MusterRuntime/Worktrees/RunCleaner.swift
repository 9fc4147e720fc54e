import Foundation
import MusterStore

/// Removes a finished run's worktrees. A task branch is deleted only when its work is already in
/// an integration branch or the checked-out branch (or it holds none); others stay unless forced.
public struct RunCleaner: Sendable {
    public struct Report: Sendable {
        public var removedWorktrees: [String] = []
        public var deletedBranches: [String] = []
        /// Branches kept because their work is not integrated anywhere yet.
        public var keptBranches: [String] = []
    }

    let workspace: Workspace
    let repo: Git

    public init(workspace: Workspace) {
        self.workspace = workspace
        self.repo = Git(workspace.root)
    }

    public func clean(run: RunRecord, tasks: [TaskRecord], force: Bool) async throws -> Report {
        var report = Report()
        let runFolder = workspace.stateDirectory.appendingPathComponent("worktrees/\(run.id)")
        let listed = try await repo.output(["worktree", "list", "--porcelain"]).split(separator: "\n")
            .filter { $0.hasPrefix("worktree ") }.map { String($0.dropFirst("worktree ".count)) }
        for path in listed where path.hasPrefix(runFolder.path + "/") {
            // A worktree whose `.git` a task removed or repointed is no longer one to git: its folder
            // goes with the run's folder below (removing never follows a link out of it), its admin
            // folder with the prune.
            _ = try await repo.run(["worktree", "remove", "--force", path], allowFailure: true)
            report.removedWorktrees.append(path)
        }
        try? FileManager.default.removeItem(at: runFolder)
        try await repo.run(["worktree", "prune"])

        var targets = ["HEAD"]
        let integrated = "muster/\(run.id)/integrated"
        if try await repo.branchExists(integrated) { targets.append(integrated) }
        for task in tasks {
            let branch = WorktreeManager.branch(run: run.id, task: task.id)
            guard try await repo.branchExists(branch) else { continue }
            var merged = force
            if !merged, let base = run.baseCommit, try await repo.revParse(branch) == base { merged = true }
            for target in targets where !merged {
                merged = try await repo.run(["merge-base", "--is-ancestor", branch, target], allowFailure: true).succeeded
            }
            if merged {
                try await repo.run(["branch", "-D", "--quiet", branch])
                // Earlier attempts' leftovers go with the branch they belonged to.
                let attempts = try await repo.output(["for-each-ref", "--format=%(refname)", "refs/muster/attempts/\(run.id)/\(task.id)/"])
                for ref in attempts.split(separator: "\n") { try await repo.run(["update-ref", "-d", String(ref)]) }
                report.deletedBranches.append(branch)
            } else {
                report.keptBranches.append(branch)
            }
        }
        return report
    }
}
