import Foundation
import MCP
import MusterCore
import MusterRuntime
import MusterStore

/// `spawn` and `wait`: the calling task's children, through `Spawner` and `TaskWaiter` (as `muster spawn`/`muster wait`).
enum FanoutTools {
    static let childFields: [String: Value] = [
        "id": Schema.text("The child's id (default: PARENT.N); it becomes a branch name."),
        "prompt": Schema.text("The child's prompt (for a coding agent)."),
        "command": ["description": "The child's command: an argv list, or one string (split into words; with shell: true run by /bin/sh).",
                    "anyOf": [["type": "string"], ["type": "array", "items": ["type": "string"]]]],
        "shell": Schema.boolean("Run `command` (one string) through /bin/sh -c."),
        "agent": Schema.text("The child's agent (default: the parent's)."),
        "model": Schema.text("The child's model (default: the parent's, or the agent's)."),
        "owns": Schema.texts("Globs the child owns; each inside the parent's owns."),
        "needs": Schema.texts("Tasks of the run the child waits for."),
        "env": ["type": "object", "additionalProperties": ["type": "string"], "description": "Environment variables for the child."],
        "retries": Schema.integer("Retries after a failure."),
        "timeout": Schema.text("Stop the child after this long, e.g. \"20m\"."),
        "estimate": ["type": "object", "description": "Estimated minutes and tokens (priced and simulated like a spec task's).",
                     "properties": ["minutes": ["type": "number"], "input_tokens": ["type": "number"], "output_tokens": ["type": "number"]],
                     "additionalProperties": false],
        "uses": Schema.texts("Keys of the run's limits or resources the child waits on (default: the parent's)."),
        "runs_on": Schema.texts("Labels a worker must all have to run the child, e.g. [\"gpu\"] (default: the parent's; [] for any)."),
    ]

    static let spawn = MusterTool(
        "spawn",
        """
        Add child tasks to the run, as children of this task: one child from the fields, or several in `children` \
        (a list of objects with the same fields). Returns the child ids at once; they run in their own worktrees. \
        Refused, with the reason, when a child owns anything outside this task's owns, is deeper than the \
        workflow's max_depth, or needs an unknown task. Wait for them with the `wait` tool.
        """,
        fields: childFields.merging(["children": ["type": "array", "items": ["type": "object"],
                                                  "description": "Several children at once (each an object with the fields above)."]]) { a, _ in a }
    ) { arguments, context in
        let caller = try context.requireTask("spawn")
        let object = try arguments.foundationObject()
        let requests: [SpawnRequest]
        do {
            if let children = object["children"] {
                guard object.count == 1 else { throw SpawnRequestError.invalid("spawn: give either `children` or one child's fields, not both") }
                guard let list = children as? [Any], !list.isEmpty else { throw SpawnRequestError.invalid("spawn: `children` must be a non-empty list of objects") }
                guard list.count <= SpawnFile.maxEntries else { throw SpawnRequestError.invalid("spawn: \(list.count) children, over the limit of \(SpawnFile.maxEntries)") }
                requests = try list.enumerated().map { index, element throws(SpawnRequestError) in
                    guard let child = element as? [String: Any] else { throw .invalid("spawn: children[\(index)] is not an object") }
                    return try SpawnFile.request(child, at: "spawn: children[\(index)]")
                }
            } else {
                requests = [try SpawnFile.request(object, at: "spawn")]
            }
            for request in requests where request.prompt == nil && request.command == nil {
                throw SpawnRequestError.invalid("spawn: give the child a `prompt`, or a `command`")
            }
        } catch let error as SpawnRequestError {
            throw RefusedRequest(error.description)
        }
        let store = try context.openStore()
        let spawned = try await Spawner.spawn(store: store, run: caller.run, parent: caller.task, requests: requests)
        return ["run": .string(caller.run), "parent": .string(caller.task),
                "children": .array(spawned.map { ["id": .string($0.id), "folded": .bool($0.folded)] })]
    }

    /// A summary longer than this is cut (the full result stays at `result_path`).
    static let defaultSummaryBudget = 2000

    static let wait = MusterTool(
        "wait",
        """
        Wait until tasks finish: by default everything this task spawned (and what those spawned, including \
        children added meanwhile). Returns each task's state, its summary (cut to summary_chars) and the path \
        of its full result. This task's concurrency slot is lent to others while it waits.
        """,
        fields: ["tasks": Schema.texts("Task ids to wait for (default: everything this task spawned)."),
                 "timeout_seconds": Schema.number("Give up after this many seconds (timed_out: true); default: as long as it takes."),
                 "summary_chars": Schema.integer("Cut each summary to this many characters (default \(defaultSummaryBudget)).")]
    ) { arguments, context in
        let caller = try context.requireTask("wait")
        let tasks = try arguments.texts("tasks")
        let deadline = try arguments.number("timeout_seconds").map { Date().addingTimeInterval($0) }
        let budget = try arguments.integer("summary_chars") ?? defaultSummaryBudget
        let store = try context.openStore()
        let outcome = try await TaskWaiter.wait(store: store, run: caller.run, caller: caller.task, tasks: tasks, deadline: deadline)
        return ["timed_out": .bool(outcome.timedOut), "all_succeeded": .bool(outcome.allSucceeded),
                "tasks": .array(outcome.tasks.map { report($0, budget: budget, root: context.workspace.root) })]
    }

    /// `result_path` absolute (the store keeps it relative to the repository), so the agent can open it from its worktree.
    static func report(_ task: TaskRecord, budget: Int, root: URL) -> Value {
        var summary = task.summary
        var cut = false
        if let text = summary, text.count > budget { summary = String(text.prefix(budget)) + "…"; cut = true }
        return ["id": .string(task.id), "state": .string(task.state.rawValue), "summary": .optional(summary),
                "summary_cut": .bool(cut), "result_path": .optional(task.resultPath.map { $0.hasPrefix("/") ? $0 : root.appendingPathComponent($0).path }), "error": .optional(task.error)]
    }
}
