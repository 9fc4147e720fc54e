import Foundation
import MusterCore

/// Git writes of an agent that stages files itself (aider `git add`s each file it creates, and gives
/// up the edit when that fails). In the sandbox the task's index (in the shared `.git/worktrees/`)
/// and the repository's objects are read-only, so such an agent gets an index and an object folder
/// of its own under the run's `agent-state/git/<task>/`: `GIT_INDEX_FILE` (a copy of the worktree's
/// index), `GIT_OBJECT_DIRECTORY`, and the repository's objects as an alternate to read from.
/// muster commits each task from an index of its own, so nothing the agent staged is needed or lost;
/// the shared repository stays read-only.
extension SandboxLaunch {
    /// The per-task folder to make writable, after pointing `request`'s git at it; nil when the
    /// agent does not stage with git or the worktree's link to its git folder is not muster's.
    func gitScratch(_ request: inout LaunchRequest, task: PlannedTask, agent: String, tree: String) throws -> String? {
        guard BuiltinAgents.stagesWithGit(agent) else { return nil }
        let common = repository + "/.git"
        guard let gitDirectory = try? WorktreeLink.gitDirectory(of: tree, commonDirectory: common) else { return nil }
        let fm = FileManager.default
        let folder = runDirectory + "/agent-state/git/" + task.id
        try fm.createDirectory(atPath: folder + "/objects", withIntermediateDirectories: true)
        let index = folder + "/index"
        try? fm.removeItem(atPath: index)
        if fm.fileExists(atPath: gitDirectory + "/index") { try fm.copyItem(atPath: gitDirectory + "/index", toPath: index) }
        request.environment["GIT_INDEX_FILE"] = index
        request.environment["GIT_OBJECT_DIRECTORY"] = folder + "/objects"
        request.environment["GIT_ALTERNATE_OBJECT_DIRECTORIES"] = common + "/objects"
        return folder
    }
}
