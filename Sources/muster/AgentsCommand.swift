import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime

struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents",
        abstract: "List agent profiles (built in, from muster.toml, from a spec's `agents:`), their output format and whether each CLI is installed.")

    @Argument(help: "A workflow spec whose `agents:` to list too.") var file: String?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let workspace = global.workspace
            let config = try ProjectConfig.load(root: workspace.root)
            var profiles = config.profiles
            if let file { profiles = try WorkflowLoader.load(path: file, profiles: config.profiles, limits: config.limits).workflow.agents ?? profiles }
            let entries = AgentCatalog.entries(profiles: profiles, root: workspace.root)
            let sandbox = await SandboxProbe.current()
            if global.json {
                let report = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(sandbox))) ?? [:]
                Terminal.json(["agents": entries.map(\.json), "sandbox": report])
                return
            }
            let width = max(8, entries.map(\.name.count).max() ?? 0)
            print(Terminal.dim(Terminal.padded("AGENT", width + 2) + Terminal.padded("FROM", 13) + Terminal.padded("OUTPUT", 20)
                               + Terminal.padded("MODEL", 18) + "CLI"))
            for entry in entries {
                let cli: String
                if let path = entry.path {
                    cli = path
                } else if entry.executable == nil {
                    cli = Terminal.dim("each task's own command")
                } else {
                    cli = Terminal.paint("not installed", "31") + ": `\(entry.executable!)`"
                        + (entry.install.map { "; install with `\($0)`" } ?? "")
                }
                print(Terminal.padded(entry.name, width + 2) + Terminal.padded(entry.source, 13)
                      + Terminal.padded(entry.output.rawValue, 20) + Terminal.padded(entry.model ?? "-", 18) + cli)
            }
            print("\n" + Terminal.dim("SANDBOX") + " " + sandbox.summary)
        }
    }
}

/// Every agent a run may use, and where its CLI is: resolved on PATH once per executable.
enum AgentCatalog {
    struct Entry {
        var name: String
        var builtin: Bool
        var base: String?
        var source: String
        var output: AgentOutputFormat
        var model: String?
        var permissions: String?
        var executable: String?
        var path: String?
        var install: String?

        var installed: Bool { executable == nil || path != nil }

        var json: [String: Any] {
            [
                "name": name, "builtin": builtin, "base": base as Any? ?? NSNull(), "source": source,
                "output": output.rawValue, "default_model": model as Any? ?? NSNull(),
                "permissions": permissions as Any? ?? NSNull(), "executable": executable as Any? ?? NSNull(),
                "installed": installed, "path": path as Any? ?? NSNull(), "install": install as Any? ?? NSNull(),
            ]
        }
    }

    static func entries(profiles: [String: AgentProfile], root: URL) -> [Entry] {
        let resolver = ExecutableResolver()
        func locate(_ executable: String?) -> String? {
            guard let executable else { return nil }
            return try? resolver.resolve(executable, relativeTo: root.path)
        }
        var out: [Entry] = []
        for name in BuiltinAgents.names.sorted() where profiles[name] == nil {
            let executable = BuiltinAgents.executable(for: name)
            out.append(Entry(name: name, builtin: true, base: nil, source: "built in", output: BuiltinAgents.output(for: name) ?? .text,
                             model: BuiltinAgents.defaultModel(for: name), permissions: BuiltinAgents.defaultPermissions(for: name),
                             executable: executable, path: locate(executable), install: BuiltinAgents.installHint(for: name)))
        }
        for (name, profile) in profiles.sorted(by: { $0.key < $1.key }) {
            out.append(Entry(name: name, builtin: false, base: profile.base, source: profile.source.map { ($0 as NSString).lastPathComponent } ?? "custom",
                             output: profile.base == "sim" ? (profile.output ?? .claudeStreamJSON) : profile.format,
                             model: profile.defaultModel,
                             permissions: profile.permissions ?? profile.base.flatMap(BuiltinAgents.defaultPermissions(for:)),
                             executable: profile.executable, path: locate(profile.executable), install: profile.installHint))
        }
        return out.sorted { $0.name < $1.name }
    }

    /// Refuses a run whose agents' CLIs are not installed, naming each and how to install it.
    static func requireInstalled(_ plan: Plan, root: URL) throws {
        let used = Dictionary(grouping: plan.tasks, by: \.agent)
        let entries = Dictionary(uniqueKeysWithValues: entries(profiles: plan.workflow.agents ?? [:], root: root).map { ($0.name, $0) })
        var problems: [String] = []
        for (agent, tasks) in used.sorted(by: { $0.key < $1.key }) {
            guard let entry = entries[agent], !entry.installed, let executable = entry.executable else { continue }
            let ids = tasks.prefix(3).map(\.id).joined(separator: ", ") + (tasks.count > 3 ? ", …" : "")
            problems.append("agent `\(agent)` (task\(tasks.count == 1 ? "" : "s") \(ids)) needs `\(executable)`, which is not installed (not on PATH)"
                            + (entry.install.map { "; install it with `\($0)`" } ?? "; install it or fix the profile's `command`"))
        }
        if !problems.isEmpty {
            throw CLIError.usage(problems.joined(separator: "; ") + " (or preview the run with --simulate)")
        }
    }
}
