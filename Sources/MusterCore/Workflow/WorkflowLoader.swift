import Foundation
import Yams

/// A workflow together with where each part of it was written, so later checks can point at the line.
public struct LoadedWorkflow: Sendable {
    public var workflow: Workflow
    public var file: String
    public var locations: [String: SourceLocation]

    public func location(_ path: String) -> SourceLocation {
        // Fall back to the nearest enclosing node that was recorded.
        var key = path
        while true {
            if let found = locations[key] { return found }
            guard let dot = key.lastIndex(of: ".") else { return SourceLocation(line: 1, column: 1) }
            key = String(key[..<dot])
        }
    }

    public func error(at path: String, _ message: String, fix: String? = nil) -> SpecError {
        SpecError(file: file, location: location(path), message: message, fix: fix)
    }
}

/// Reads a workflow spec (YAML) into `Workflow`, reporting every mistake as file:line:column with a fix.
public enum WorkflowLoader {
    static let workflowKeys = ["name", "agent", "model", "concurrency", "on_failure", "backoff", "isolation", "budget", "tasks", "agents",
                                "max_depth", "summary_chars", "limits", "resources", "sandbox", "writable", "integrate", "worktree"]
    static let budgetKeys = ["usd", "hard"]
    static let taskKeys = ["prompt", "command", "shell", "agent", "model", "needs", "foreach", "owns", "env",
                           "timeout", "stall_timeout", "retries", "estimate", "kind", "isolation", "join", "uses", "allow_denials", "sandbox", "writable", "mcp", "runs_on"]
    static let foreachKeys = ["items", "glob", "from"]
    static let estimateKeys = ["minutes", "input_tokens", "output_tokens"]
    static let backoffKeys = ["initial", "max"]

    /// `profiles` and `limits`: agent profiles and shared limits defined outside the spec (`muster.toml`);
    /// the spec's own `agents:`, `limits:` and `resources:` override them key by key.
    public static func load(path: String, knownAgents: Set<String> = BuiltinAgents.names,
                            profiles: [String: AgentProfile] = [:], limits: [String: LimitSpec] = [:]) throws(SpecError) -> LoadedWorkflow {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw SpecError(file: path, location: SourceLocation(line: 0, column: 0),
                            message: "cannot read the workflow file", fix: "check the path; `muster init` writes an example")
        }
        return try parse(text, file: path, knownAgents: knownAgents, profiles: profiles, limits: limits)
    }

    public static func parse(_ text: String, file: String, knownAgents: Set<String> = BuiltinAgents.names,
                             profiles: [String: AgentProfile] = [:], limits: [String: LimitSpec] = [:]) throws(SpecError) -> LoadedWorkflow {
        var reader = NodeReader(file: file, text: text)
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let yaml as YamlError {
            throw reader.syntaxError(yaml)
        } catch {
            throw SpecError(file: file, location: SourceLocation(line: 1, column: 1), message: "cannot parse YAML: \(error)")
        }
        guard let root else {
            throw SpecError(file: file, location: SourceLocation(line: 1, column: 1), message: "the workflow file is empty",
                            fix: "start from `muster init`")
        }
        let workflow = try reader.workflow(root, knownAgents: knownAgents, profiles: profiles, limits: limits)
        let loaded = LoadedWorkflow(workflow: workflow, file: file, locations: reader.locations)
        try WorkflowValidator.validate(loaded)
        return loaded
    }
}

/// Walks the YAML node tree by hand: Codable decoding loses marks, and every error must name a line.
struct NodeReader {
    let file: String
    let text: String
    var locations: [String: SourceLocation] = [:]

    init(file: String, text: String) {
        self.file = file
        self.text = text
    }

    mutating func workflow(_ root: Node, knownAgents: Set<String>, profiles: [String: AgentProfile] = [:],
                           limits defaults: [String: LimitSpec] = [:]) throws(SpecError) -> Workflow {
        var workflow = Workflow(name: "workflow", tasks: [])
        var sawTasks = false
        var limits: [String: LimitSpec] = [:]
        var resources: [String: LimitSpec] = [:]
        // `agents:` first: any task, wherever it is in the file, may name one of its profiles.
        var profiles = profiles
        if case .mapping(let mapping) = root, let entry = mapping.first(where: { $0.key.string == "agents" }) {
            for (name, profile) in try agentProfiles(entry.value) { profiles[name] = profile }
        }
        let knownAgents = knownAgents.union(profiles.keys)
        for (key, keyNode, value) in try pairs(root, what: "the workflow", allowed: WorkflowLoader.workflowKeys) {
            record(key, keyNode)
            switch key {
            case "name": workflow.name = try string(value, "`name`")
            case "agent": workflow.agent = try agentName(value, knownAgents: knownAgents)
            case "model": workflow.model = try string(value, "`model`")
            case "concurrency": workflow.concurrency = try int(value, "`concurrency`", min: 1)
            case "on_failure":
                let text = try string(value, "`on_failure`")
                guard let policy = FailurePolicy(rawValue: text) else {
                    throw fail(value, "`on_failure` must be `stop` or `continue`, got `\(text)`")
                }
                workflow.onFailure = policy
            case "isolation": workflow.isolation = try isolation(value)
            case "sandbox": workflow.sandbox = try sandbox(value)
            case "writable": workflow.writable = try writable(value, path: "writable")
            case "integrate": workflow.integrate = try integrate(value)
            case "worktree": workflow.worktree = try worktree(value)
            case "budget":
                for (bkey, _, bvalue) in try pairs(value, what: "`budget`", allowed: WorkflowLoader.budgetKeys) where bkey == "hard" {
                    guard case .scalar = bvalue, let flag = bvalue.bool else {
                        throw fail(bvalue, "`budget.hard` must be true or false", fix: "write `budget: {usd: 20, hard: true}` to stop running tasks too")
                    }
                    workflow.budgetHard = flag
                }
                for (bkey, _, bvalue) in try pairs(value, what: "`budget`", allowed: WorkflowLoader.budgetKeys) where bkey == "usd" {
                    let usd = try number(bvalue, "`budget.usd`", max: Ceiling.dollars)
                    guard usd > 0 else { throw fail(bvalue, "`budget.usd` must be more than 0", fix: "write e.g. `budget: {usd: 20}`") }
                    workflow.budgetUSD = usd
                }
            case "agents": break  // read above
            case "max_depth": workflow.maxDepth = try int(value, "`max_depth`", min: 0)
            case "summary_chars": workflow.summaryChars = try int(value, "`summary_chars`", min: 20)
            case "limits": limits = try self.limits(value)
            case "resources": resources = try self.resources(value)
            case "backoff":
                for (bkey, _, bvalue) in try pairs(value, what: "`backoff`", allowed: WorkflowLoader.backoffKeys) {
                    if bkey == "initial" { workflow.backoff.initial = try duration(bvalue, "`backoff.initial`") }
                    if bkey == "max" { workflow.backoff.max = try duration(bvalue, "`backoff.max`") }
                }
            case "tasks":
                sawTasks = true
                for (id, idNode, taskNode) in try pairs(value, what: "`tasks`", allowed: nil) {
                    try checkTaskID(id, idNode)
                    record("tasks.\(id)", idNode)
                    workflow.tasks.append(try task(id: id, taskNode, knownAgents: knownAgents))
                }
                if workflow.tasks.isEmpty { throw fail(value, "`tasks` is empty", fix: "add at least one task") }
            default: break
            }
        }
        guard sawTasks else {
            throw fail(root, "the workflow has no `tasks`", fix: "add a `tasks:` mapping; `muster init` writes an example")
        }
        let merged = try mergeLimits(defaults: defaults, limits: limits, resources: resources)
        workflow.limits = merged.isEmpty ? nil : merged
        if !profiles.isEmpty {
            workflow.agents = profiles
            // A task on a profile uses the profile's model unless it names its own. (A profile
            // without one bills its base agent's default, filled in by the planner for estimates only.)
            for index in workflow.tasks.indices where workflow.tasks[index].model == nil {
                guard let profile = profiles[workflow.tasks[index].agent ?? workflow.agent], let model = profile.model else { continue }
                workflow.tasks[index].model = model
            }
        }
        return workflow
    }

    /// `agents: {name: {base: claude, permissions: plan}}` or `{name: {command: [...], output: codex-json}}`.
    mutating func agentProfiles(_ node: Node) throws(SpecError) -> [String: AgentProfile] {
        var out: [String: AgentProfile] = [:]
        for (name, nameNode, body) in try pairs(node, what: "`agents`", allowed: nil) {
            record("agents.\(name)", nameNode)
            guard case .mapping(let mapping) = body else {
                throw fail(body, "agent `\(name)` must be a mapping", fix: "write e.g. `\(name): {command: [my-agent], output: text}`")
            }
            var fields: [(String, ProfileValue)] = []
            var keyNodes: [String: Node] = [:]
            var valueNodes: [String: Node] = [:]
            for (keyNode, value) in mapping {
                guard let key = keyNode.string else { throw fail(keyNode, "agent `\(name)` has a key that is not text") }
                if keyNodes[key] == nil {
                    keyNodes[key] = keyNode
                    valueNodes[key] = value
                } else {
                    keyNodes[key] = keyNode  // a repeated key is reported where it repeats
                }
                fields.append((key, Self.profileValue(value)))
            }
            let reader = self
            let profile = try AgentProfileBuilder.build(name: name, fields: fields, source: file) { key, atKey, message, fix in
                let at = key.flatMap { atKey ? keyNodes[$0] : valueNodes[$0] } ?? nameNode
                return reader.fail(at, message, fix: fix)
            }
            out[name] = profile
        }
        return out
    }

    static func profileValue(_ node: Node) -> ProfileValue {
        switch node {
        case .scalar(let scalar): return .text(scalar.string)
        case .sequence(let sequence):
            var items: [String] = []
            for element in sequence {
                guard case .scalar(let scalar) = element else { return .other("a nested value") }
                items.append(scalar.string)
            }
            return .list(items)
        default: return .other("a mapping")
        }
    }

    func checkTaskID(_ id: String, _ node: Node) throws(SpecError) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        guard let first = id.first, first.isLetter || first == "_", id.allSatisfy({ allowed.contains($0) }), id.count <= 64 else {
            throw fail(node, "task id `\(id)` is not a simple name",
                       fix: "use letters, digits, `_` and `-`, starting with a letter (it names a branch and a folder)")
        }
    }

    func isolation(_ node: Node) throws(SpecError) -> Isolation {
        let text = try string(node, "`isolation`")
        guard let value = Isolation(rawValue: text) else {
            throw fail(node, "`isolation` must be `worktree` or `none`, got `\(text)`")
        }
        return value
    }

    func agentName(_ node: Node, knownAgents: Set<String>) throws(SpecError) -> String {
        let name = try string(node, "`agent`")
        guard knownAgents.contains(name) else {
            let hint = Suggest.nearest(name, among: knownAgents.sorted()).map { "did you mean `\($0)`?" }
                ?? "known agents: \(knownAgents.sorted().joined(separator: ", "))"
            throw fail(node, "unknown agent `\(name)`", fix: hint)
        }
        return name
    }

    mutating func task(id: String, _ node: Node, knownAgents: Set<String>) throws(SpecError) -> TaskSpec {
        var spec = TaskSpec(id: id)
        let base = "tasks.\(id)"
        var shell = false
        var commandNode: Node?
        for (key, keyNode, value) in try pairs(node, what: "task `\(id)`", allowed: WorkflowLoader.taskKeys) {
            record("\(base).\(key)", keyNode)
            record("\(base).\(key).value", value)
            switch key {
            case "prompt": spec.prompt = try string(value, "`prompt`")
            case "command":
                commandNode = value
                switch value {
                case .scalar:
                    break  // split into words after the loop, unless `shell: true` keeps it whole
                default:
                    let argv = try strings(value, "`command`", path: "\(base).command")
                    guard !argv.isEmpty else { throw fail(value, "`command` is an empty list") }
                    spec.command = Command(argv: argv)
                }
            case "shell":
                guard case .scalar = value, let flag = value.bool else { throw fail(value, "`shell` must be true or false") }
                shell = flag
            case "agent": spec.agent = try agentName(value, knownAgents: knownAgents)
            case "model": spec.model = try string(value, "`model`")
            case "needs": spec.needs = try strings(value, "`needs`", path: "\(base).needs")
            case "foreach": spec.foreach = try foreach(value, path: "\(base).foreach")
            case "owns": spec.owns = try strings(value, "`owns`", path: "\(base).owns")
            case "env":
                for (name, nameNode, envValue) in try pairs(value, what: "`env` of task `\(id)`", allowed: nil) {
                    record("\(base).env.\(name)", nameNode)
                    spec.env[name] = try string(envValue, "env `\(name)`")
                }
            case "timeout": spec.timeout = try duration(value, "`timeout`")
            case "stall_timeout": spec.stallTimeout = try duration(value, "`stall_timeout`")
            case "retries": spec.retries = try int(value, "`retries`", min: 0)
            case "isolation": spec.isolation = try isolation(value)
            case "allow_denials":
                guard case .scalar = value, let flag = value.bool else {
                    throw fail(value, "`allow_denials` must be true or false",
                               fix: "write `allow_denials: true` to let a task whose tool calls were refused succeed")
                }
                spec.allowDenials = flag
            case "mcp":
                guard case .scalar = value, let flag = value.bool else {
                    throw fail(value, "`mcp` must be true or false", fix: "write `mcp: false` to run the agent without muster's MCP tools")
                }
                spec.mcp = flag
            case "sandbox": spec.sandbox = try sandbox(value)
            case "writable": spec.writable = try writable(value, path: "\(base).writable")
            case "runs_on": spec.runsOn = try runsOn(value, path: "\(base).runs_on")
            case "join":
                guard case .scalar = value, let flag = value.bool else {
                    throw fail(value, "`join` must be true or false", fix: "write `join: true` to also wait for what `needs` spawned")
                }
                spec.join = flag
            case "uses":
                let keys = try strings(value, "`uses`", path: "\(base).uses")
                spec.uses = keys.isEmpty ? nil : keys
            case "kind":
                let text = try string(value, "`kind`")
                guard let kind = WorkKind(rawValue: text) else {
                    throw fail(value, "`kind` must be one of \(WorkKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                spec.kind = kind
            case "estimate":
                var estimate = Estimate()
                for (ekey, _, evalue) in try pairs(value, what: "`estimate`", allowed: WorkflowLoader.estimateKeys) {
                    switch ekey {
                    case "minutes": estimate.minutes = try number(evalue, "`estimate.minutes`", max: Ceiling.minutes)
                    case "input_tokens": estimate.inputTokens = try int(evalue, "`estimate.input_tokens`", min: 0, max: Ceiling.tokens)
                    default: estimate.outputTokens = try int(evalue, "`estimate.output_tokens`", min: 0, max: Ceiling.tokens)
                    }
                }
                spec.estimate = estimate
            default: break
            }
        }
        if shell {
            // With `shell: true` the command is one string handed to /bin/sh -c as written.
            guard let commandNode, case .scalar(let scalar) = commandNode else {
                throw fail(node, "task `\(id)` sets `shell: true` but its `command` is not one string",
                           fix: "write `command: \"…\"` as a single string for the shell")
            }
            spec.command = Command(argv: [scalar.string], viaShell: true)
        } else if let commandNode, case .scalar(let scalar) = commandNode {
            guard let words = ShellWords.split(scalar.string), !words.isEmpty else {
                throw fail(commandNode, "`command` is empty or has an unclosed quote",
                           fix: "write an argv list: [\"make\", \"test\"], or add `shell: true` to run it through /bin/sh")
            }
            spec.command = Command(argv: words)
        }
        return spec
    }

    mutating func foreach(_ node: Node, path: String) throws(SpecError) -> Foreach {
        let entries = try pairs(node, what: "`foreach`", allowed: WorkflowLoader.foreachKeys)
        guard entries.count == 1, let (key, _, value) = entries.first else {
            throw fail(node, "`foreach` needs exactly one of `items`, `glob` or `from`")
        }
        switch key {
        case "items":
            guard case .sequence(let sequence) = value else { throw fail(value, "`foreach.items` must be a list") }
            guard !sequence.isEmpty else {
                throw fail(value, "`foreach.items` is empty: the task would never run", fix: "list at least one item or remove `foreach`")
            }
            var items: [ItemValue] = []
            for element in sequence {
                switch element {
                case .scalar(let scalar): items.append(.string(scalar.string))
                case .mapping:
                    var fields: [String: String] = [:]
                    for (k, _, v) in try pairs(element, what: "a `foreach` item", allowed: nil) {
                        fields[k] = try string(v, "field `\(k)` of a `foreach` item")
                    }
                    items.append(.map(fields))
                default: throw fail(element, "each `foreach` item must be text or a mapping of text")
                }
            }
            return .items(items)
        case "glob":
            record("\(path).glob", value)
            return .glob(try string(value, "`foreach.glob`"))
        default:
            record("\(path).from", value)
            return .from(try string(value, "`foreach.from`"))
        }
    }
}
