import Foundation
import MusterCore

/// The task an agent is started for, as `muster mcp` needs it: the server speaks for this task.
public struct AgentTaskContext: Sendable, Equatable {
    public var run: String
    public var task: String
    public var attempt: Int
    /// The task's folder (`.muster/runs/RUN/tasks/TASK`), where the agent's MCP configuration is written.
    public var folder: String
    public var storePath: String
    public var root: String
    /// The `muster` binary the agent starts as its MCP server.
    public var musterExecutable: String

    public init(run: String, task: String, attempt: Int, folder: String, storePath: String, root: String,
                musterExecutable: String = MCPWiring.currentMuster) {
        self.run = run
        self.task = task
        self.attempt = attempt
        self.folder = folder
        self.storePath = storePath
        self.root = root
        self.musterExecutable = musterExecutable
    }
}

/// Gives agent tasks `muster mcp`, bound to their task, in each CLI's own MCP configuration:
/// claude `--mcp-config FILE` + `--allowedTools`, codex `-c mcp_servers.muster.*`, gemini a settings
/// file named by `GEMINI_CLI_SYSTEM_SETTINGS_PATH`, opencode a config named by `OPENCODE_CONFIG`.
/// Files go into the task's folder, never into the worktree or the user's home.
public enum MCPWiring {
    public static let serverName = "muster"
    /// Every tool `muster mcp` serves (MusterMCP's tests check the two lists agree).
    public static let toolNames = ["spawn", "wait", "status", "cost", "logs", "cancel", "lock", "unlock", "locks",
                                   "send", "claim", "ack", "plan", "run"]
    /// Claude Code's names for them: `mcp__SERVER__TOOL`, allowed one by one so no prompt is needed.
    public static var claudeToolNames: [String] { toolNames.map { "mcp__\(serverName)__\($0)" } }
    public static let claudeConfigFile = "mcp.json"
    public static let geminiSettingsFile = "gemini-settings.json"
    public static let openCodeConfigFile = "opencode.json"

    /// This process's binary when it is `muster` (the orchestrator), else `muster` on PATH.
    public static let currentMuster: String = {
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"),
           (path as NSString).lastPathComponent == "muster" { return path }
        return "muster"
    }()

    /// The folder holding `currentMuster` when it is an absolute path, for a task's PATH.
    public static let currentMusterFolder: String? =
        currentMuster.hasPrefix("/") ? (currentMuster as NSString).deletingLastPathComponent : nil

    /// Whether `task` gets the server: not when the task or its agent's profile says `mcp: false`.
    public static func enabled(for task: PlannedTask, profile: AgentProfile) -> Bool {
        task.mcp && profile.mcp != false
    }

    /// The server's environment: the task it speaks for and the store it opens.
    public static func environment(_ context: AgentTaskContext) -> [String: String] {
        [TaskEnvironment.runVariable: context.run, TaskEnvironment.taskVariable: context.task,
         "MUSTER_ATTEMPT": String(context.attempt), "MUSTER_STORE": context.storePath, "MUSTER_ROOT": context.root]
    }

    /// Claude Code's `--mcp-config` file: `{"mcpServers": {"muster": {"type": "stdio", "command", "args", "env"}}}`.
    public static func claudeConfig(_ context: AgentTaskContext) -> [String: Any] {
        ["mcpServers": [serverName: ["type": "stdio", "command": context.musterExecutable, "args": ["mcp"],
                                     "env": environment(context)] as [String: Any]]]
    }

    /// Gemini CLI settings: `mcpServers` with `trust: true` (its tools run without a confirmation prompt).
    public static func geminiSettings(_ context: AgentTaskContext) -> [String: Any] {
        ["mcpServers": [serverName: ["command": context.musterExecutable, "args": ["mcp"], "env": environment(context),
                                     "trust": true] as [String: Any]]]
    }

    /// OpenCode config: a `local` server whose command is the whole argv, its variables under `environment`.
    public static func openCodeConfig(_ context: AgentTaskContext) -> [String: Any] {
        ["$schema": "https://opencode.ai/config.json",
         "mcp": [serverName: ["type": "local", "command": [context.musterExecutable, "mcp"], "environment": environment(context),
                              "enabled": true] as [String: Any]]]
    }

    /// Codex takes no config file per run: `-c key=value` overrides, each value TOML.
    public static func codexArguments(_ context: AgentTaskContext) -> [String] {
        let env = environment(context).sorted { $0.key < $1.key }.map { "\($0.key)=\(toml($0.value))" }.joined(separator: ",")
        return ["-c", "mcp_servers.\(serverName).command=\(toml(context.musterExecutable))",
                "-c", "mcp_servers.\(serverName).args=[\"mcp\"]",
                "-c", "mcp_servers.\(serverName).env={\(env)}"]
    }

    /// A TOML basic string.
    static func toml(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f { out += String(format: "\\u%04X", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    /// Writes `object` as JSON into the task's folder; returns its path.
    public static func write(_ object: [String: Any], named name: String, in context: AgentTaskContext) throws -> String {
        try FileManager.default.createDirectory(atPath: context.folder, withIntermediateDirectories: true)
        let path = (context.folder as NSString).appendingPathComponent(name)
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }
}
