import Foundation
import MCP
import MusterCore
import MusterRuntime
import MusterStore

/// `plan` and `run`: a spec as text or a path, planned and started by `WorkflowRunner`, the library
/// `muster plan` and `muster run` call, so a person's own session can drive workflows with no second
/// copy of spec loading or run start-up and no `muster` binary to find.
enum WorkflowTools {
    static let specFields: [String: Value] = [
        "path": Schema.text("The workflow spec's path (relative to the repository)."),
        "spec": Schema.text("The workflow spec itself, as YAML text (instead of path)."),
        "concurrency": Schema.integer("Worker slots (default: the spec's)."),
    ]

    /// The spec file to plan: the path given, or the text written under `.muster/mcp/specs/`.
    static func specFile(_ arguments: ToolArguments, context: MCPContext) throws -> String {
        let path = try arguments.text("path"), text = try arguments.text("spec")
        switch (path, text) {
        case (let path?, nil):
            let absolute = path.hasPrefix("/") ? path : context.workspace.root.appendingPathComponent(path).path
            guard FileManager.default.fileExists(atPath: absolute) else { throw RefusedRequest("\(arguments.tool): no spec at \(path)") }
            return absolute
        case (nil, let text?):
            let folder = context.workspace.stateDirectory.appendingPathComponent("mcp/specs")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let file = folder.appendingPathComponent("spec-\(UUID().uuidString.prefix(8).lowercased()).yml")
            try Data(text.utf8).write(to: file)
            return file.path
        default:
            throw RefusedRequest("\(arguments.tool): give the spec's `path` or its text as `spec` (one of them)")
        }
    }

    /// `muster plan --json`'s report as a tool result.
    static func report(_ plan: Plan, file: String) throws -> Value {
        try JSONDecoder().decode(Value.self, from: JSONEncoder().encode(PlanReport(plan, file: file)))
    }

    static let plan = MusterTool(
        "plan", "Validate a workflow spec and estimate it: waves, critical path, wall-clock, tokens, cost (as `muster plan --json`).",
        fields: specFields
    ) { arguments, context in
        let file = try specFile(arguments, context: context)
        let plan = try WorkflowRunner.plan(file: file, concurrency: try arguments.integer("concurrency"), root: context.workspace.root)
        return try report(plan, file: file)
    }

    static let run = MusterTool(
        "run",
        """
        Validate and estimate a workflow spec, then start it in the background (as `muster run`); returns the run id \
        at once. Follow it with status, logs and the run's event log resource.
        """,
        fields: specFields.merging(["rehearse": Schema.boolean("Run the agents' real CLIs against muster's model stub (no model is called)."),
                                    "simulate": Schema.boolean("Simulate every task: previews wall-clock and cost, spends nothing.")]) { a, _ in a }
    ) { arguments, context in
        let rehearse = try arguments.flag("rehearse"), simulate = try arguments.flag("simulate")
        if rehearse && simulate { throw RefusedRequest("run: `rehearse` runs the real agent CLIs and `simulate` none: pick one") }
        if rehearse && context.runViews == nil { throw RefusedRequest("run: this server cannot rehearse (no model stub was handed to it)") }
        var request = WorkflowRequest(file: try specFile(arguments, context: context))
        request.concurrency = try arguments.integer("concurrency")
        request.simulate = simulate
        let prepared = try await WorkflowRunner.prepare(request, workspace: context.workspace)
        let store = try context.openStore(creating: true)
        let id = try await WorkflowRunner.record(prepared, workspace: context.workspace, store: store)
        let report = context.workspace.stateDirectory.appendingPathComponent("mcp/runs/\(id).json")
        try await BackgroundRun(id: id, prepared: prepared, rehearse: rehearse, report: report, context: context).start(store: store)
        return ["run": .string(id), "spec": .string(request.file), "report": .string(report.path),
                "notes": .array(prepared.notes.map { .string($0.description) }),
                "plan": try Self.report(prepared.plan, file: request.file)]
    }
}
