/// Agent profile names a spec may use. The runtime owns the adapters; the spec loader and the CLI
/// only need the names and what each one is (its CLI, output format, permission settings).
public enum BuiltinAgents {
    public static let names: Set<String> = ["shell", "sim", "claude", "codex", "gemini", "aider", "opencode"]

    /// The coding-agent CLIs (not `shell`, which runs any command, nor `sim`).
    public static let clis = ["claude", "codex", "gemini", "aider", "opencode"]

    /// The model an agent bills against when the spec names none (nil: unknown, or the agent spends no tokens).
    public static func defaultModel(for agent: String) -> String? {
        switch agent {
        case "sim", "claude": "claude-opus-4-8"
        case "codex": "gpt-5-codex"
        case "gemini": "gemini-2.5-pro"
        default: nil
        }
    }

    /// The executable each built-in agent starts (nil: `shell` runs the task's own command).
    public static func executable(for agent: String) -> String? {
        switch agent {
        case "sim": "/bin/sh"
        case "claude", "codex", "gemini", "aider", "opencode": agent
        default: nil
        }
    }

    /// How to install a built-in agent's CLI.
    public static func installHint(for agent: String) -> String? {
        switch agent {
        case "claude": "npm install -g @anthropic-ai/claude-code"
        case "codex": "npm install -g @openai/codex"
        case "gemini": "npm install -g @google/gemini-cli"
        case "aider": "python -m pip install aider-chat"
        case "opencode": "npm install -g opencode-ai"
        default: nil
        }
    }

    /// The output format each built-in agent prints (what its parser reads).
    public static func output(for agent: String) -> AgentOutputFormat? {
        switch agent {
        case "sim", "claude": .claudeStreamJSON
        case "codex": .codexJSON
        case "gemini": .geminiJSON
        case "opencode": .openCodeJSON
        case "aider", "shell": .text
        default: nil
        }
    }

    /// Values of the agent's own headless permission flag (`permissions:` in a profile); empty: not settable.
    /// claude: `--permission-mode`; codex: `--sandbox`; gemini: `--approval-mode`.
    public static func permissionChoices(for agent: String) -> [String] {
        switch agent {
        case "claude": ["default", "acceptEdits", "plan", "bypassPermissions", "dontAsk"]
        case "codex": ["read-only", "workspace-write", "danger-full-access"]
        case "gemini": ["default", "auto_edit", "yolo"]
        default: []
        }
    }

    /// The safe default: edits inside the task's worktree, nothing that needs a human to approve.
    public static func defaultPermissions(for agent: String) -> String? {
        switch agent {
        case "claude": "acceptEdits"
        case "codex": "workspace-write"
        case "gemini": "auto_edit"
        default: nil
        }
    }

    /// The flag `permissions:` sets, for messages.
    public static func permissionFlag(for agent: String) -> String? {
        switch agent {
        case "claude": "--permission-mode"
        case "codex": "--sandbox"
        case "gemini": "--approval-mode"
        default: nil
        }
    }

    /// Files each agent writes into its worktree for itself (caches, histories), as globs relative
    /// to the worktree: never committed, never counted against `owns`. A profile's `scratch_files`
    /// add to these.
    public static func scratchFiles(for agent: String) -> [String] {
        switch agent {
        case "aider": [".aider*"]  // .aider.tags.cache.v4/, .aider.chat.history.md, …
        default: []
        }
    }

    /// Agents that stage files with git themselves (aider `git add`s each file it creates): in the
    /// sandbox their git writes go to an index and object folder of the task's own (see
    /// `SandboxLaunch.gitScratch`), since the repository's are read-only there.
    public static func stagesWithGit(_ agent: String) -> Bool { agent == "aider" }

    /// Where each built-in agent keeps its own state: writable inside the sandbox. A folder with a
    /// variable is made per run under `.muster/runs/<run>/agent-state/<folder>` and the variable points
    /// the agent there (unless muster's own environment already sets it); one without is under $HOME.
    public static func stateFolders(for agent: String) -> [AgentStateFolder] {
        switch agent {
        case "claude": [AgentStateFolder(variable: "CLAUDE_CONFIG_DIR", path: "claude")]
        case "codex": [AgentStateFolder(variable: "CODEX_HOME", path: "codex")]
        case "gemini": [AgentStateFolder(variable: nil, path: ".gemini")]
        case "aider": [AgentStateFolder(variable: nil, path: ".aider")]
        case "opencode": [AgentStateFolder(variable: nil, path: ".local/share/opencode"),
                          AgentStateFolder(variable: nil, path: ".local/state/opencode"),
                          AgentStateFolder(variable: nil, path: ".cache/opencode")]
        default: []
        }
    }

    /// Agents a profile may build on with `base:` (shell takes a `command:` profile instead).
    public static let bases = ["claude", "codex", "gemini", "aider", "opencode", "sim"]
}

/// A folder an agent writes its own state to (see `BuiltinAgents.stateFolders`).
public struct AgentStateFolder: Sendable, Equatable {
    /// The environment variable that points the agent at a per-run folder (nil: a fixed folder under $HOME).
    public var variable: String?
    /// The per-run folder's name, or the folder relative to $HOME.
    public var path: String
    public init(variable: String?, path: String) {
        self.variable = variable
        self.path = path
    }
}

/// One field of an agent profile as written (YAML or TOML), before validation.
public enum ProfileValue: Sendable {
    case text(String)
    case list([String])
    /// A typed boolean (TOML's `true`/`false`); YAML's plain `true`/`false` arrive as text.
    case flag(Bool)
    /// Anything else (a number, a mapping, …): refused with a message naming the key.
    case other(String)
}

/// Builds and checks an agent profile from its fields; shared by the workflow loader (YAML) and
/// `muster.toml`, which report errors at their own positions through `error`.
public enum AgentProfileBuilder {
    public static let keys = ["base", "command", "output", "prompt", "model", "permissions", "allowed_tools", "args", "install",
                              "scratch_files", "writable", "mcp"]
    /// The keys that take true or false (muster.toml wants a TOML boolean there, not text).
    public static let flagKeys = ["mcp"]

    /// `key`: the field at fault (nil: the profile itself); `atKey`: point at the key rather than its value.
    public typealias Fail = (_ key: String?, _ atKey: Bool, _ message: String, _ fix: String?) -> SpecError

    public static func checkName(_ name: String, fail: Fail) throws(SpecError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
        guard let first = name.first, first.isLetter, name.allSatisfy({ allowed.contains($0) }), name.count <= 64 else {
            throw fail(nil, false, "agent profile name `\(name)` is not a simple name", "use letters, digits, `-`, `_` and `.`, starting with a letter")
        }
        if name == "shell" {
            throw fail(nil, false, "`shell` cannot be redefined as a profile", "pick another name; `shell` runs each task's own `command`")
        }
    }

    public static func build(name: String, fields: [(String, ProfileValue)], source: String, fail: Fail) throws(SpecError) -> AgentProfile {
        try checkName(name, fail: fail)
        var profile = AgentProfile(name: name)
        profile.source = source
        func text(_ key: String, _ value: ProfileValue) throws(SpecError) -> String {
            guard case .text(let s) = value else { throw fail(key, false, "`\(key)` of agent `\(name)` must be text", nil) }
            return s
        }
        func list(_ key: String, _ value: ProfileValue) throws(SpecError) -> [String] {
            switch value {
            case .list(let items): return items
            case .text(let s): return [s]
            case .flag, .other: throw fail(key, false, "`\(key)` of agent `\(name)` must be a list of text", nil)
            }
        }
        func flag(_ key: String, _ value: ProfileValue, fix: String) throws(SpecError) -> Bool {
            switch value {
            case .flag(let flag): return flag
            case .text(let raw) where ["true", "True", "TRUE"].contains(raw): return true
            case .text(let raw) where ["false", "False", "FALSE"].contains(raw): return false
            default: throw fail(key, false, "`\(key)` of agent `\(name)` must be true or false", fix)
            }
        }
        var seen = Set<String>()
        for (key, value) in fields {
            guard keys.contains(key) else {
                let hint = Suggest.nearest(key, among: keys).map { "did you mean `\($0)`?" } ?? "known keys: \(keys.joined(separator: ", "))"
                throw fail(key, true, "unknown key `\(key)` in agent `\(name)`", hint)
            }
            guard seen.insert(key).inserted else { throw fail(key, true, "duplicate key `\(key)` in agent `\(name)`", "keep one") }
            switch key {
            case "base":
                let base = try text(key, value)
                guard BuiltinAgents.bases.contains(base) else {
                    let hint = Suggest.nearest(base, among: BuiltinAgents.bases).map { "did you mean `\($0)`?" }
                        ?? "a profile builds on one of: \(BuiltinAgents.bases.joined(separator: ", ")); or give `command:` for another CLI"
                    throw fail(key, false, "unknown base agent `\(base)` for agent `\(name)`", hint)
                }
                profile.base = base
            case "command":
                let argv = try list(key, value)
                guard let first = argv.first, !first.isEmpty else { throw fail(key, false, "`command` of agent `\(name)` is empty", "write e.g. [\"my-agent\", \"--json\"]") }
                profile.command = argv
            case "output":
                let raw = try text(key, value)
                guard let format = AgentOutputFormat(rawValue: raw) else {
                    let names = AgentOutputFormat.allCases.map(\.rawValue)
                    let hint = Suggest.nearest(raw, among: names).map { "did you mean `\($0)`?" } ?? "known formats: \(names.joined(separator: ", "))"
                    throw fail(key, false, "unknown output format `\(raw)` for agent `\(name)`", hint)
                }
                profile.output = format
            case "prompt":
                let raw = try text(key, value)
                guard let delivery = PromptDelivery(rawValue: raw) else {
                    throw fail(key, false, "`prompt` of agent `\(name)` must be `argument` or `stdin`, got `\(raw)`", nil)
                }
                profile.prompt = delivery
            case "model": profile.model = try text(key, value)
            case "permissions": profile.permissions = try text(key, value)
            case "allowed_tools": profile.allowedTools = try list(key, value)
            case "args": profile.args = try list(key, value)
            case "install": profile.install = try text(key, value)
            case "scratch_files":
                let globs = try list(key, value)
                for glob in globs where glob.isEmpty || glob.hasPrefix("/") || glob.split(separator: "/").contains("..") || glob.hasPrefix(":") {
                    throw fail(key, false, "`scratch_files` of agent `\(name)`: \"\(glob)\" is not a path inside the worktree",
                               "write globs relative to the worktree, e.g. \".aider*\"")
                }
                profile.scratchFiles = globs
            case "mcp":
                profile.mcp = try flag(key, value, fix: "write `mcp: false` in a spec, `mcp = false` in muster.toml (no quotes), to run it without muster's MCP tools")
            case "writable":
                let paths = try list(key, value)
                for path in paths {
                    if let problem = WritablePath.problem(path) {
                        throw fail(key, false, "`writable` path \"\(path)\" of agent `\(name)` \(problem)",
                                   "write a folder inside the repository, an absolute path or `~/…`")
                    }
                }
                profile.writable = paths
            default: break
            }
        }
        // A profile named after a built-in agent refines it (`claude: {permissions: plan}`).
        if profile.base == nil, profile.command == nil, BuiltinAgents.bases.contains(name) { profile.base = name }
        try check(profile, fields: Set(seen), fail: fail)
        return profile
    }

    static func check(_ profile: AgentProfile, fields: Set<String>, fail: Fail) throws(SpecError) {
        let name = profile.name
        guard let base = profile.base else {
            guard profile.command != nil else {
                throw fail(nil, false, "agent `\(name)` has neither `command` nor `base`",
                           "give `command: [...]` and `output:` for another CLI, or `base:` one of \(BuiltinAgents.bases.joined(separator: ", "))")
            }
            for key in ["permissions", "allowed_tools", "args"] where fields.contains(key) {
                throw fail(key, false, "`\(key)` applies to a profile with `base:`; agent `\(name)` runs its own `command`",
                           "put the flags in `command` instead")
            }
            return
        }
        if base == "sim" {
            for key in ["command", "prompt", "permissions", "allowed_tools", "args", "install", "scratch_files"] where fields.contains(key) {
                throw fail(key, false, "`\(key)` does not apply to agent `\(name)`, which builds on `sim`", "sim takes only `output` and `model`")
            }
            return
        }
        if fields.contains("output") {
            throw fail("output", false, "agent `\(name)` builds on `\(base)`, whose output is always \(BuiltinAgents.output(for: base)?.rawValue ?? "fixed")",
                       "drop `output`, or drop `base` and give `command` to read another format")
        }
        if fields.contains("prompt") {
            throw fail("prompt", false, "agent `\(name)` builds on `\(base)`, which decides how its prompt is passed", "drop `prompt`")
        }
        if let permissions = profile.permissions {
            let choices = BuiltinAgents.permissionChoices(for: base)
            if choices.isEmpty {
                throw fail("permissions", false, "`\(base)` has no permission setting muster passes",
                           "pass its own flags with `args: [...]`")
            }
            guard choices.contains(permissions) else {
                let hint = Suggest.nearest(permissions, among: choices).map { "did you mean `\($0)`?" } ?? "one of: \(choices.joined(separator: ", "))"
                throw fail("permissions", false, "`permissions: \(permissions)` is not a value of \(base)'s \(BuiltinAgents.permissionFlag(for: base) ?? "permission flag")", hint)
            }
        }
        if profile.allowedTools != nil && base != "claude" {
            throw fail("allowed_tools", false, "`allowed_tools` applies to claude profiles only", "pass \(base)'s own flags with `args: [...]`")
        }
    }
}
