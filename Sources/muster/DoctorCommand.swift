import ArgumentParser
import Foundation
import MusterRehearsal

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check git, tmux, bubblewrap and the store, and rehearse every installed agent CLI against muster's model stub.",
        discussion: "Each agent CLI on PATH runs headless in a scratch repository: a write inside its owns, one outside, usage parsed against what the stub sent, a 429, a call to muster's own commands; with its start-up time and peak memory. Exit status 1 when a check fails.")

    @Option(name: .customLong("agent"), help: "Only this agent (repeatable).") var agents: [String] = []
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let muster = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            let report = await Doctor.run(storePath: global.storePath, muster: muster, agents: agents.isEmpty ? nil : agents)
            if global.json {
                Terminal.json(report)
            } else {
                print(DoctorTable.text(report))
            }
            if !report.ok { throw ExitCode(ExitCodes.runFailed) }
        }
    }
}

enum DoctorTable {
    static func mark(_ status: DoctorCheck.Status) -> String {
        switch status {
        case .passed: Terminal.paint("ok", "32")
        case .failed: Terminal.paint("FAIL", "31")
        case .warning: Terminal.paint("warn", "33")
        case .skipped: Terminal.dim("n/a")
        }
    }

    static func text(_ report: DoctorReport) -> String {
        var lines = [Terminal.bold("muster doctor")]
        for check in report.checks {
            lines.append("  \(Terminal.padded(mark(check.status), 5)) \(Terminal.padded(check.name, 11)) \(check.detail)")
        }
        if report.agents.isEmpty {
            lines.append("  no agent CLI on PATH (claude, codex, gemini, aider, opencode): see `muster agents`")
            return lines.joined(separator: "\n")
        }
        let columns = ["headless", "writes_inside", "outside_write", "usage", "rate_limit", "muster_commands"]
        lines.append("")
        lines.append("  " + ["agent", "version", "headless", "inside", "outside", "usage", "429", "muster", "start-up", "peak mem"]
            .map { Terminal.padded($0, 9) }.joined(separator: " "))
        for agent in report.agents {
            var row = [agent.name, agent.version ?? "?"]
            for column in columns {
                row.append(agent.checks.first { $0.name == column }.map { mark($0.status) } ?? Terminal.dim("n/a"))
            }
            row.append(agent.startupSeconds.map { String(format: "%.2f s", $0) } ?? "?")
            row.append(agent.peakMemoryMiB.map { String(format: "%.0f MiB", $0) } ?? "?")
            lines.append("  " + row.map { Terminal.padded($0, 9) }.joined(separator: " "))
        }
        for agent in report.agents {
            for check in agent.checks where check.status != .passed {
                lines.append("  \(agent.name) \(check.name): \(check.detail)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
