import Foundation
import MCP
import MusterCore
import MusterRuntime
import MusterStore

/// `status`, `cost`, `logs`, `cancel`: what `muster status/cost/logs/cancel` show and do, read from the Store.
enum ViewTools {
    static let runField: [String: Value] = ["run": Schema.text("The run (default: this task's run, or the newest).")]

    static let status = MusterTool(
        "status", "A run's state: its status, task counts, cost, and each task's state and first summary line.",
        fields: runField
    ) { arguments, context in
        let store = try context.openStore()
        let run = try await context.resolveRun(arguments.text("run"), in: store)
        let tasks = try await store.tasks(run: run.id)
        let counts = try await store.counts(run: run.id)
        var byState: [String: Value] = [:]
        for (state, count) in counts.byState { byState[state.rawValue] = .int(count) }
        return ["run": .string(run.id), "status": .string(run.status.rawValue), "counts": .object(byState),
                "cost_usd": .double(counts.costUSD),
                "tasks": .array(tasks.map { task in
                    let line = (task.state == .succeeded ? task.summary : task.error ?? task.summary)?
                        .split(separator: "\n").first.map(String.init)
                    return ["id": .string(task.id), "state": .string(task.state.rawValue), "parent": .optional(task.parent),
                            "attempt": .int(task.attempt), "summary": .optional(line)]
                })]
    }

    static let cost = MusterTool(
        "cost", "A run's cost so far: the total in USD, tokens, and each task's cost (null: unknown).",
        fields: runField
    ) { arguments, context in
        let store = try context.openStore()
        let run = try await context.resolveRun(arguments.text("run"), in: store)
        let tasks = try await store.tasks(run: run.id)
        let counts = try await store.counts(run: run.id)
        return ["run": .string(run.id), "total_usd": .double(counts.costUSD), "unknown_cost_tasks": .int(counts.unknownCost),
                "input_tokens": .int(counts.tokens.input), "output_tokens": .int(counts.tokens.output),
                "tasks": .array(tasks.map { ["id": .string($0.id), "cost_usd": .optional($0.costUSD)] })]
    }

    static let logs = MusterTool(
        "logs", "The tail of a task's output (its output.log).",
        fields: runField.merging(["task": Schema.text("The task."),
                                  "lines": Schema.integer("How many last lines (default 50).")]) { a, _ in a },
        required: ["task"]
    ) { arguments, context in
        let store = try context.openStore()
        let run = try await context.resolveRun(arguments.text("run"), in: store)
        let id = try arguments.requiredText("task")
        guard let task = try await store.task(run: run.id, id: id) else { throw await unknownTask(id, run: run.id, in: store) }
        let lines = try arguments.integer("lines") ?? 50
        let path = context.taskFile(run: run.id, task: task.id, "output.log")
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n")
        return ["run": .string(run.id), "task": .string(task.id), "state": .string(task.state.rawValue), "path": .string(path),
                "output": .string(tail)]
    }

    static let cancel = MusterTool(
        "cancel", "Ask a run to stop: its orchestrator cancels the running tasks and starts no more.",
        fields: ["run": Schema.text("The run to cancel (default: this task's run).")]
    ) { arguments, context in
        guard let id = try arguments.text("run") ?? context.environment.run else {
            throw RefusedRequest("cancel: name the `run` to cancel (outside a run there is no default)")
        }
        let store = try context.openStore()
        let run = try await store.requireRun(id)
        try await store.requestCancel(run.id, now: store.clock())
        return ["run": .string(run.id), "cancel_requested": true]
    }

    static func unknownTask(_ id: String, run: String, in store: any Store) async -> RefusedRequest {
        let known = ((try? await store.tasks(run: run)) ?? []).map(\.id)
        let hint = Suggest.nearest(id, among: known).map { " (did you mean \($0)?)" } ?? ""
        return RefusedRequest("run \(run) has no task \(id)\(hint)")
    }
}
