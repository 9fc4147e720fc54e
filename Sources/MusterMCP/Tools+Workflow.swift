import Foundation
import MCP
import MusterCore
import MusterRuntime
import MusterStore

/// `plan` and `run`: a spec as text or a path, validated and estimated by `muster plan`, started in the
/// background by `muster run`, so a person's own session can drive workflows.
enum WorkflowTools {
    static let specFields: [String: Value] = [
        "path": Schema.text("The workflow spec's path (relative to the repository)."),
        "spec": Schema.text("The workflow spec itself, as YAML text (instead of path)."),
        "concurrency": Schema.integer("Worker slots (default: the spec's)."),
    ]

    /// The spec file to hand to the CLI: the path given, or the text written under `.muster/mcp/specs/`.
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

    static func planned(_ arguments: ToolArguments, context: MCPContext) async throws -> (file: String, plan: Value) {
        let file = try specFile(arguments, context: context)
        var argv = ["plan", file, "--json"]
        if let concurrency = try arguments.integer("concurrency") { argv += ["--concurrency", String(concurrency)] }
        let finished = try await MusterInvocation.run(argv, directory: context.workspace.root,
                                                      scratch: context.workspace.stateDirectory.appendingPathComponent("mcp"))
        guard finished.status == 0 else {
            throw RefusedRequest(finished.stderr.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "muster: ", with: ""))
        }
        let plan = (try? JSONDecoder().decode(Value.self, from: Data(finished.stdout.utf8))) ?? .string(finished.stdout)
        return (file, plan)
    }

    static let plan = MusterTool(
        "plan", "Validate a workflow spec and estimate it: waves, critical path, wall-clock, tokens, cost (as `muster plan --json`).",
        fields: specFields
    ) { arguments, context in
        try await planned(arguments, context: context).plan
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
        let (file, plan) = try await planned(arguments, context: context)
        var argv = ["run", file]
        if let concurrency = try arguments.integer("concurrency") { argv += ["--concurrency", String(concurrency)] }
        if case .bool(true)? = arguments.values["rehearse"] { argv.append("--rehearse") }
        else if let value = arguments.values["rehearse"], value.boolValue == nil { throw RefusedRequest("run: `rehearse` must be true or false") }
        if case .bool(true)? = arguments.values["simulate"] { argv.append("--simulate") }
        else if let value = arguments.values["simulate"], value.boolValue == nil { throw RefusedRequest("run: `simulate` must be true or false") }
        let store = try context.openStore(creating: true)
        let before = Set(try await store.runs(limit: 50).map(\.id))
        let logs = context.workspace.stateDirectory.appendingPathComponent("mcp/runs")
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        let tag = "\(Int(Date().timeIntervalSince1970))-\(UUID().uuidString.prefix(6).lowercased())"
        let out = logs.appendingPathComponent("\(tag).out"), err = logs.appendingPathComponent("\(tag).err")
        let exit = ExitBox()
        _ = try MusterInvocation.start(argv, directory: context.workspace.root, stdout: out, stderr: err) { exit.set($0) }
        // The run id appears in the store once `muster run` created the run; an early exit is a refusal.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let created = try await store.runs(limit: 50).first(where: { !before.contains($0.id) && $0.specPath == file }) {
                return ["run": .string(created.id), "spec": .string(file), "log": .string(out.path), "plan": plan]
            }
            if let status = exit.value {
                let text = (try? String(contentsOf: err, encoding: .utf8)) ?? ""
                throw RefusedRequest("run: muster run exited with status \(status) before starting: "
                                     + text.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RefusedRequest("run: the run did not appear within 60 s; see \(err.path)")
    }
}

/// A child's exit status, set from its termination handler's thread.
final class ExitBox: @unchecked Sendable {
    private let lock = NSLock()
    private var status: Int32?
    func set(_ value: Int32) { lock.lock(); status = value; lock.unlock() }
    var value: Int32? { lock.lock(); defer { lock.unlock() }; return status }
}
