import Foundation
import MCP
import MusterRuntime
import MusterStore

/// Resources: a run's event log, and a task's result and log, under `muster://runs/RUN/…`.
enum RunResources {
    static func eventsURI(_ run: String) -> String { "muster://runs/\(run)/events" }
    static func taskURI(_ run: String, _ task: String, _ file: String) -> String { "muster://runs/\(run)/tasks/\(task)/\(file)" }

    /// This task's run (or the newest): its event log, and each task's result and log.
    static func list(context: MCPContext) async throws -> [Resource] {
        let store = try context.openStore()
        guard let run = try? await context.resolveRun(nil, in: store) else { return [] }
        var resources = [Resource(name: "events of \(run.id)", uri: eventsURI(run.id), description: "The run's event log, one JSON object per line.",
                                  mimeType: "application/x-ndjson")]
        for task in try await store.tasks(run: run.id) {
            resources.append(Resource(name: "result of \(task.id)", uri: taskURI(run.id, task.id, "result"),
                                      description: "The task's full result (summary and output).", mimeType: "text/plain"))
            resources.append(Resource(name: "log of \(task.id)", uri: taskURI(run.id, task.id, "log"), description: "The task's output.log.",
                                      mimeType: "text/plain"))
        }
        return resources
    }

    static func read(_ uri: String, context: MCPContext) async throws -> [Resource.Content] {
        let prefix = "muster://runs/"
        guard uri.hasPrefix(prefix) else { throw MCPError.invalidParams("unknown resource \(uri): muster's start with \(prefix)") }
        let parts = uri.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let store = try context.openStore()
        guard let runID = parts.first, let run = try await store.run(runID) else {
            throw MCPError.invalidParams("no run named \(parts.first ?? "")")
        }
        if parts.count == 2 && parts[1] == "events" {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            var lines: [String] = []
            var after: Int64 = 0
            while true {
                let page = try await store.events(run: run.id, after: after, limit: 1000)
                for event in page { lines.append(String(decoding: try encoder.encode(event), as: UTF8.self)) }
                guard let last = page.last, page.count == 1000 else { break }
                after = last.sequence
            }
            return [.text(lines.joined(separator: "\n"), uri: uri, mimeType: "application/x-ndjson")]
        }
        guard parts.count == 4, parts[1] == "tasks", ["result", "log"].contains(parts[3]) else {
            throw MCPError.invalidParams("unknown resource \(uri): muster://runs/RUN/events or muster://runs/RUN/tasks/TASK/result|log")
        }
        guard let task = try await store.task(run: run.id, id: parts[2]) else {
            throw MCPError.invalidParams("run \(run.id) has no task \(parts[2])")
        }
        let path = parts[3] == "log" ? context.taskFile(run: run.id, task: task.id, "output.log") : task.resultPath.map { $0.hasPrefix("/") ? $0 : context.workspace.root.appendingPathComponent($0).path }
        let text = path.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? task.summary ?? ""
        return [.text(text, uri: uri, mimeType: "text/plain")]
    }
}
