import Foundation
import MusterCore

/// The running task a spawn comes from, as the store found it inside the spawn's transaction.
public struct SpawnParent: Sendable, Equatable {
    public var id: String
    /// Its state as stored (only `running` may spawn).
    public var state: String
    public var spec: PlannedTask
    public var depth: Int
    /// The spec group its lineage started from (what `join` waits on).
    public var origin: String
    /// The task and every task it descends from: a child may not need one of them.
    public var ancestors: Set<String>
    /// How many children it has already (generated ids continue from there).
    public var children: Int

    public init(id: String, state: String, spec: PlannedTask, depth: Int, origin: String, ancestors: Set<String>, children: Int) {
        (self.id, self.state, self.spec, self.depth, self.origin, self.ancestors, self.children) =
            (id, state, spec, depth, origin, ancestors, children)
    }
}

/// One step of an accepted spawn, for the store to apply in order.
public enum SpawnStep: Sendable, Equatable {
    /// An identical child of the same parent exists (its idempotency key): nothing is added.
    case folded(id: String)
    /// Insert `child` (id, group, parent, depth, owns filled in) with `key`; `failedNeed`: a task it
    /// needs already ended without success, so it is skipped as soon as it is added.
    case add(child: PlannedTask, key: String, failedNeed: String?)

    public var result: SpawnedTask {
        switch self {
        case .folded(let id): SpawnedTask(id: id, folded: true)
        case .add(let child, _, _): SpawnedTask(id: child.id, folded: false)
        }
    }
}

/// The rules of run-time spawning, once for every store: a child owns a subset of its parent's
/// files, stays within `max_depth`, needs only tasks that exist and are not its ancestors (so no
/// cycle can form), and an identical child of the same parent folds into the existing one. Pure:
/// the store reads what is named here inside its transaction and applies the steps, all or none.
public enum SpawnRules {
    /// Only a running task may spawn.
    public static func checkParent(_ parent: SpawnParent) throws {
        guard parent.state == TaskState.running.rawValue else { throw SpawnError.parentNotRunning(task: parent.id, state: parent.state) }
    }

    /// The child's idempotency key (its owns normalized as `plan` stores them), for the store to look up.
    public static func key(run: String, parent: String, child: PlannedTask) -> String {
        var child = child
        child.owns = child.owns.map { (try? Glob($0))?.pattern ?? $0 }
        return IdempotencyKey.child(run: run, parent: parent, task: child)
    }

    /// The prefix of every id the store generates for `parent`'s children (`PARENT.N`).
    public static func generatedPrefix(_ parent: String) -> String { parent + "." }

    /// Decides the whole request or throws `SpawnError` for the first child refused.
    /// - states: the stored state of every existing task the request names (its `after`, its explicit
    ///   ids) and of every task whose id starts with `generatedPrefix(parent.id)`.
    /// - keys: the id of every existing task holding one of the children's `key`s.
    public static func plan(run: String, parent: SpawnParent, children: [PlannedTask], maxDepth: Int,
                            states: [String: String], keys: [String: String]) throws -> [SpawnStep] {
        var states = states, keys = keys
        let parentOwns = try parent.spec.owns.map { pattern throws in try Glob(pattern) }
        let depth = parent.depth + 1
        var siblings = parent.children
        var steps: [SpawnStep] = []
        for var child in children {
            let shown = child.id.isEmpty ? "of \(parent.id)" : child.id
            guard depth <= maxDepth else { throw SpawnError.tooDeep(child: shown, depth: depth, maxDepth: maxDepth) }
            var owns: [String] = []
            for pattern in child.owns {
                let glob: Glob
                do { glob = try Glob(pattern) } catch let error as GlobError { throw SpawnError.invalid("child \(shown): \(error.description)") }
                guard Glob.covers(parentOwns, glob) else {
                    throw SpawnError.ownsNotSubset(child: shown, glob: pattern, parentOwns: parent.spec.owns)
                }
                owns.append(glob.pattern)
            }
            child.owns = owns
            let key = IdempotencyKey.child(run: run, parent: parent.id, task: child)
            if let existing = keys[key] {
                steps.append(.folded(id: existing))
                continue
            }
            var failedNeed: String?
            for need in child.after {
                guard let stored = states[need] else { throw SpawnError.unknownNeed(child: shown, need: need) }
                if parent.ancestors.contains(need) { throw SpawnError.needsAncestor(child: shown, need: need) }
                if let state = TaskState(rawValue: stored), state.isFinal, state != .succeeded { failedNeed = need }
            }
            if child.id.isEmpty {
                repeat {
                    siblings += 1
                    child.id = "\(parent.id).\(siblings)"
                } while states[child.id] != nil
            } else if states[child.id] != nil {
                throw SpawnError.idTaken(child.id)
            }
            child.group = child.id
            child.needs = []
            child.parent = parent.id
            child.depth = depth
            child.join = false
            // Later children of the same request see this one, as they would see a stored task.
            states[child.id] = child.after.isEmpty ? TaskState.ready.rawValue : TaskState.pending.rawValue
            keys[key] = child.id
            steps.append(.add(child: child, key: key, failedNeed: failedNeed))
        }
        return steps
    }
}
