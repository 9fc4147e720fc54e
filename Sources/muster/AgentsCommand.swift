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
            let entries = AgentCatalog(profiles: profiles).entries(root: workspace.root)
            let sandbox = await SandboxProbe.current()
            if global.json {
                Terminal.json(AgentsReport(agents: entries, sandbox: sandbox))
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

/// `muster agents --json`.
struct AgentsReport: Encodable {
    var agents: [AgentCatalog.Entry]
    var sandbox: SandboxReport
}
