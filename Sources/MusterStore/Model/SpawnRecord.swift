import Foundation

/// What `Store.spawn` did with one requested child.
public struct SpawnedTask: Sendable, Equatable, Codable {
    public var id: String
    /// True when an identical child (same parent, agent, prompt or command, and owns) already
    /// existed: the request was folded into it instead of adding a duplicate.
    public var folded: Bool

    public init(id: String, folded: Bool) {
        self.id = id
        self.folded = folded
    }
}

/// Why the Store refused a spawn. Nothing of the request is kept when one child is refused.
public enum SpawnError: Error, CustomStringConvertible, Sendable, Equatable {
    case unknownParent(run: String, task: String)
    /// Only a running task may spawn: a finished one can no longer wait for, or answer for, children.
    case parentNotRunning(task: String, state: String)
    case ownsNotSubset(child: String, glob: String, parentOwns: [String])
    case tooDeep(child: String, depth: Int, maxDepth: Int)
    case unknownNeed(child: String, need: String)
    /// Needing an ancestor could deadlock a parent waiting for its children.
    case needsAncestor(child: String, need: String)
    case idTaken(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unknownParent(let run, let task):
            "run \(run) has no task \(task) to spawn from (MUSTER_RUN / MUSTER_TASK_ID name the running task)"
        case .parentNotRunning(let task, let state):
            "task \(task) is \(state), not running: only a running task can spawn children"
        case .ownsNotSubset(let child, let glob, let parentOwns):
            "child \(child) would own `\(glob)`, which is not inside its parent's owns ("
                + (parentOwns.isEmpty ? "the parent owns nothing, so its children may own nothing" : parentOwns.joined(separator: ", "))
                + "): give it a narrower pattern inside one of them"
        case .tooDeep(let child, let depth, let maxDepth):
            "child \(child) would be at spawn depth \(depth), beyond max_depth \(maxDepth): do the work in this task, "
                + "or raise `max_depth` in the workflow"
        case .unknownNeed(let child, let need):
            "child \(child) needs `\(need)`, which is not a task of this run: a spawned task can only need tasks that already exist"
        case .needsAncestor(let child, let need):
            "child \(child) needs `\(need)`, its own ancestor: that could deadlock a parent waiting for it; hand results over in the prompt instead"
        case .idTaken(let id):
            "task id \(id) is already taken in this run by a different task: pick another --id, or leave it out"
        case .invalid(let text): text
        }
    }
}
