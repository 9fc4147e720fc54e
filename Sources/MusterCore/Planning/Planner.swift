import Foundation

/// Turns a loaded workflow into runnable tasks, and estimates what running them costs.
public enum Planner {
    /// What to do with parallel tasks whose `owns` overlap.
    public enum OverlapPolicy: Sendable {
        /// Run each pair one after the other (the default).
        case serialize
        /// Refuse the plan (`--strict`).
        case refuse
        /// Run them in parallel anyway (`--allow-overlap`): conflicts are left to prediction and integration.
        case allow
    }

    public static func plan(_ loaded: LoadedWorkflow, root: URL, concurrency: Int? = nil,
                            prices: PriceTable = .defaults, overlaps: OverlapPolicy = .serialize) throws(SpecError) -> Plan {
        let workflow = loaded.workflow
        var tasks: [PlannedTask] = []
        tasks.reserveCapacity(workflow.tasks.count)
        for spec in workflow.tasks {
            switch spec.foreach {
            case nil:
                tasks.append(try render(spec, item: nil, id: spec.id, workflow: workflow, loaded: loaded))
            case .items(let items):
                var ids = TaskIDs(group: spec.id)
                for item in items {
                    tasks.append(try render(spec, item: item, id: ids.next(for: item), workflow: workflow, loaded: loaded))
                }
            case .glob(let pattern):
                let matches: [String]
                do {
                    matches = try GlobExpander.expand(try Glob(pattern), under: root)
                } catch let error as GlobError {
                    throw loaded.error(at: "tasks.\(spec.id).foreach.glob", "`foreach.glob`: \(error.description)")
                } catch {
                    throw loaded.error(at: "tasks.\(spec.id).foreach.glob", "`foreach.glob` could not list \(root.path): \(error)")
                }
                guard !matches.isEmpty else {
                    throw loaded.error(at: "tasks.\(spec.id).foreach.glob",
                                       "`foreach.glob: \(pattern)` matches nothing under \(root.path): the task would never run",
                                       fix: "check the pattern (a trailing `/` matches folders only) or the folder you run from")
                }
                var ids = TaskIDs(group: spec.id)
                for match in matches {
                    let item = ItemValue.string(match)
                    tasks.append(try render(spec, item: item, id: ids.next(for: item), workflow: workflow, loaded: loaded))
                }
            case .from:
                var expander = try render(spec, item: nil, id: spec.id, workflow: workflow, loaded: loaded, deferItem: true)
                expander.expands = spec
                // Expanding needs no label: its tasks carry `runs_on` (rendered from `expands`).
                expander.runsOn = []
                tasks.append(expander)
            }
        }
        let collisions = OwnershipChecker.collisions(tasks)
        if overlaps == .refuse, let first = collisions.first {
            let group = tasks.first { $0.id == first.first }?.group ?? first.first
            throw loaded.error(at: "tasks.\(group).owns", "\(first)" + (collisions.count > 1 ? " (and \(collisions.count - 1) more pairs)" : ""),
                               fix: "give them disjoint `owns`, add `needs` between them, or drop --strict to run them one after the other")
        }
        let ordered = overlaps == .allow ? tasks : OwnershipChecker.serialize(tasks, collisions: collisions)
        return Plan(workflow: workflow, tasks: ordered,
                    concurrency: concurrency ?? workflow.concurrency, prices: prices, collisions: collisions)
    }

    /// The tasks a `foreach: from` fan-out becomes once its source's items are known (run time).
    public static func expand(_ spec: TaskSpec, items: [ItemValue], workflow: Workflow) throws(SpecError) -> [PlannedTask] {
        let loaded = LoadedWorkflow(workflow: workflow, file: "(run time)", locations: [:])
        var ids = TaskIDs(group: spec.id)
        var out: [PlannedTask] = []
        for item in items {
            out.append(try render(spec, item: item, id: ids.next(for: item), workflow: workflow, loaded: loaded))
        }
        // Children whose `owns` overlap run one after the other, as in a planned fan-out.
        return OwnershipChecker.serialize(out, collisions: OwnershipChecker.collisions(out))
    }

    static func render(_ spec: TaskSpec, item: ItemValue?, id: String, workflow: Workflow,
                       loaded: LoadedWorkflow, deferItem: Bool = false) throws(SpecError) -> PlannedTask {
        func lookup(_ name: String) -> String? {
            if name == "task.id" { return id }
            if name == "workflow.name" { return workflow.name }
            if deferItem { return nil }
            if name == "item" { return item?.text }
            if name.hasPrefix("item."), case .map(let fields) = item { return fields[String(name.dropFirst(5))] }
            return nil
        }
        var owns: [String] = []
        for (index, pattern) in spec.owns.enumerated() {
            let rendered = Template.render(pattern, lookup)
            if !deferItem {
                do {
                    owns.append(try Glob(rendered).pattern)
                } catch {
                    throw loaded.error(at: "tasks.\(spec.id).owns.\(index)", "task `\(id)`: \(error.description)")
                }
            } else {
                owns.append(rendered)
            }
        }
        let agent = spec.agent ?? workflow.agent
        let command = spec.command.map { Command(argv: $0.argv.map { Template.render($0, lookup) }, viaShell: $0.viaShell) }
        let named = spec.model ?? workflow.model
        var task = PlannedTask(
            id: id, group: spec.id, item: item, agent: agent,
            model: named ?? workflow.agents?[agent]?.defaultModel ?? BuiltinAgents.defaultModel(for: agent),
            prompt: spec.prompt.map { Template.render($0, lookup) }, command: command,
            needs: WorkflowValidator.dependencies(of: spec), owns: owns,
            env: spec.env.mapValues { Template.render($0, lookup) },
            timeout: spec.timeout, stallTimeout: spec.stallTimeout, retries: spec.retries,
            estimate: spec.estimate, kind: spec.effectiveKind, expands: nil,
            isolation: spec.isolation ?? workflow.isolation ?? .worktree, uses: Array(Set(spec.uses ?? [])).sorted(),
            join: spec.join ?? false)
        task.modelIsDefault = named == nil
        task.allowDenials = spec.allowDenials ?? false
        task.mcp = spec.mcp ?? true
        task.sandbox = spec.sandbox ?? workflow.sandbox
        task.writable = (workflow.writable ?? []) + (spec.writable ?? [])
        task.runsOn = Array(Set(spec.runsOn ?? [])).sorted()
        return task
    }
}

/// Readable, unique ids for fanned-out tasks: `scan.Sources-App`, falling back to the index.
struct TaskIDs {
    let group: String
    var used = Set<String>()
    var index = 0

    init(group: String) { self.group = group }

    mutating func next(for item: ItemValue) -> String {
        defer { index += 1 }
        var slug = ""
        if case .string(let text) = item {
            var lastDash = false
            for c in text.unicodeScalars {
                let keep = (c.properties.isAlphabetic && c.isASCII) || ("0"..."9").contains(c) || c == "_"
                if keep {
                    slug.unicodeScalars.append(c)
                    lastDash = false
                } else if !lastDash && !slug.isEmpty {
                    slug += "-"
                    lastDash = true
                }
            }
            while slug.hasSuffix("-") { slug.removeLast() }
            if slug.count > 40 { slug = String(slug.prefix(40)) }
        }
        if slug.isEmpty { slug = String(index) }
        var candidate = "\(group).\(slug)"
        var n = 2
        while used.contains(candidate) {
            candidate = "\(group).\(slug)-\(n)"
            n += 1
        }
        used.insert(candidate)
        return candidate
    }
}
