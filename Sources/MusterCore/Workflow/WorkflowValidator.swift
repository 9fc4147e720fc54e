/// Checks that need the whole workflow: references, cycles, templates, ownership globs.
enum WorkflowValidator {
    static func validate(_ loaded: LoadedWorkflow) throws(SpecError) {
        let workflow = loaded.workflow
        let ids = Set(workflow.tasks.map(\.id))
        for task in workflow.tasks {
            let base = "tasks.\(task.id)"
            let agent = task.agent ?? workflow.agent
            if task.prompt != nil && task.command != nil {
                throw loaded.error(at: "\(base).command", "task `\(task.id)` has both `prompt` and `command`",
                                   fix: "keep `command` for the shell agent or `prompt` for a coding agent")
            }
            if agent == "shell" && task.command == nil {
                throw loaded.error(at: base, "task `\(task.id)` runs the `shell` agent but has no `command`",
                                   fix: "add `command: [...]`, or set `agent:` to a coding agent and give a `prompt`")
            }
            let simulated = agent == "sim" || workflow.agents?[agent]?.base == "sim"
            if agent != "shell" && !simulated && task.prompt == nil {
                throw loaded.error(at: base, "task `\(task.id)` has no `prompt` for agent `\(agent)`", fix: "add `prompt: ...`")
            }
            for (index, need) in task.needs.enumerated() where !ids.contains(need) || need == task.id {
                let path = "\(base).needs.\(index)"
                if need == task.id { throw loaded.error(at: path, "task `\(task.id)` needs itself", fix: "remove it from `needs`") }
                let hint = Suggest.nearest(need, among: ids.sorted()).map { "did you mean `\($0)`?" } ?? "declare task `\(need)` or remove it"
                throw loaded.error(at: path, "task `\(task.id)` needs `\(need)`, which is not a task in this workflow", fix: hint)
            }
            if case .from(let source) = task.foreach {
                guard ids.contains(source), source != task.id else {
                    let hint = Suggest.nearest(source, among: ids.sorted()).map { "did you mean `\($0)`?" } ?? "name a task that prints a JSON list"
                    throw loaded.error(at: "\(base).foreach.from", "`foreach.from` names `\(source)`, which is not another task", fix: hint)
                }
            }
            if task.join == true && task.needs.isEmpty {
                throw loaded.error(at: "\(base).join", "task `\(task.id)` sets `join: true` but needs nothing",
                                   fix: "add `needs: [TASK]`: join waits for those tasks and for everything they spawn")
            }
            try checkTemplates(task, loaded)
            try checkOwns(task, loaded)
            try checkUses(task, loaded)
        }
        if let cycle = findCycle(workflow) {
            throw loaded.error(at: "tasks.\(cycle[0]).needs", "`needs` form a cycle: \(cycle.joined(separator: " → "))",
                               fix: "remove one of these `needs` so the tasks form a graph without loops")
        }
    }

    /// Every task's dependencies, counting the implicit one on a `foreach.from` source.
    static func dependencies(of task: TaskSpec) -> [String] {
        var needs = task.needs
        if case .from(let source) = task.foreach, !needs.contains(source) { needs.append(source) }
        return needs
    }

    static func findCycle(_ workflow: Workflow) -> [String]? {
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var stack: [String] = []
        let byID = Dictionary(workflow.tasks.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func visit(_ id: String) -> [String]? {
            if state[id] == 2 { return nil }
            if state[id] == 1, let start = stack.firstIndex(of: id) { return Array(stack[start...]) + [id] }
            state[id] = 1
            stack.append(id)
            for need in byID[id].map(dependencies(of:)) ?? [] {
                if let cycle = visit(need) { return cycle }
            }
            stack.removeLast()
            state[id] = 2
            return nil
        }
        for task in workflow.tasks {
            if let cycle = visit(task.id) { return cycle }
        }
        return nil
    }

    /// Names a placeholder may use in this task, for checking and for the hint in an error.
    static func knownNames(_ task: TaskSpec) -> [String] {
        var names = ["task.id", "run.id", "workflow.name"]
        if task.foreach != nil { names.append("item") }
        if case .items(let items) = task.foreach {
            // Only fields every item has: a field missing from one item would be left unfilled.
            var common: Set<String>?
            for item in items {
                guard case .map(let fields) = item else { common = []; break }
                common = common.map { $0.intersection(fields.keys) } ?? Set(fields.keys)
            }
            names += (common ?? []).sorted().map { "item.\($0)" }
        }
        for need in dependencies(of: task) {
            names += ["needs.\(need).summaries", "needs.\(need).results"]
        }
        return names
    }

    static func resolves(_ name: String, in task: TaskSpec) -> Bool {
        if knownNames(task).contains(name) { return true }
        // Items of a dynamic fan-out are JSON values whose fields are only known at run time.
        if case .from = task.foreach, name.hasPrefix("item.") { return true }
        if case .items(let items) = task.foreach, name.hasPrefix("item.") {
            let field = String(name.dropFirst(5))
            return items.allSatisfy { if case .map(let m) = $0 { m[field] != nil } else { false } }
        }
        return false
    }

    static func checkTemplates(_ task: TaskSpec, _ loaded: LoadedWorkflow) throws(SpecError) {
        let base = "tasks.\(task.id)"
        var texts: [(String, String)] = []
        if let prompt = task.prompt { texts.append(("\(base).prompt.value", prompt)) }
        for (i, arg) in (task.command?.argv ?? []).enumerated() { texts.append(("\(base).command.\(i)", arg)) }
        for (i, glob) in task.owns.enumerated() { texts.append(("\(base).owns.\(i)", glob)) }
        for (name, value) in task.env.sorted(by: { $0.key < $1.key }) { texts.append(("\(base).env.\(name)", value)) }
        for (path, text) in texts {
            for placeholder in Template.placeholders(in: text) where !resolves(placeholder.name, in: task) {
                var fix = "known here: " + knownNames(task).joined(separator: ", ")
                if placeholder.name.hasPrefix("needs."), let need = placeholder.name.split(separator: ".").dropFirst().first,
                   !dependencies(of: task).contains(String(need)) {
                    fix = "add `\(need)` to this task's `needs`, or use one of: " + knownNames(task).joined(separator: ", ")
                } else if placeholder.name == "item" {
                    fix = "`{{item}}` needs a `foreach` on this task"
                } else if let near = Suggest.nearest(placeholder.name, among: knownNames(task) + ["item"]) {
                    fix = "did you mean `{{\(near)}}`? " + fix
                }
                throw loaded.error(at: path, "template variable `\(placeholder.raw)` in task `\(task.id)` does not resolve", fix: fix)
            }
        }
    }

    /// Every key in `uses` must be declared under `limits:` or `resources:` (or in muster.toml).
    static func checkUses(_ task: TaskSpec, _ loaded: LoadedWorkflow) throws(SpecError) {
        let declared = (loaded.workflow.limits ?? [:]).keys.sorted()
        for (index, key) in (task.uses ?? []).enumerated() where !declared.contains(key) {
            let fix = Suggest.nearest(key, among: declared).map { "did you mean `\($0)`?" }
                ?? "declare it: `limits: {\(key): {requests_per_minute: 50}}` or `resources: {\(key): 4}`"
                    + (declared.isEmpty ? "" : " (declared: \(declared.joined(separator: ", ")))")
            throw loaded.error(at: "tasks.\(task.id).uses.\(index)",
                               "task `\(task.id)` uses `\(key)`, which is not declared under `limits` or `resources`", fix: fix)
        }
    }

    static func checkOwns(_ task: TaskSpec, _ loaded: LoadedWorkflow) throws(SpecError) {
        for (index, pattern) in task.owns.enumerated() {
            // Check the shape now with placeholders stood in; the planner re-checks after expansion.
            let probe = Template.render(pattern) { _ in "x" }
            do {
                _ = try Glob(probe)
            } catch {
                throw loaded.error(at: "tasks.\(task.id).owns.\(index)", "task `\(task.id)`: \(error.description)")
            }
        }
    }
}
