import MusterStore

/// Who spawned whom, from the tasks' `parent` links.
public enum Lineage {
    /// The spec tasks of `group`, then every task they spawned, transitively, in run order.
    public static func members(of group: String, in all: [TaskRecord]) -> [TaskRecord] {
        var inLineage = Set(all.filter { $0.group == group && $0.parent == nil && !$0.spec.isExpander }.map(\.id))
        // Parents come before their children in position order (a child is appended when spawned).
        for task in all where task.parent.map(inLineage.contains) == true { inLineage.insert(task.id) }
        return all.filter { inLineage.contains($0.id) }
    }

    /// `task` and every task it descends from.
    public static func ancestors(of task: String, in all: [TaskRecord]) -> Set<String> {
        let parents = Dictionary(all.map { ($0.id, $0.parent) }, uniquingKeysWith: { a, _ in a })
        var found: Set<String> = [task]
        var current = parents[task] ?? nil
        while let id = current, found.insert(id).inserted { current = parents[id] ?? nil }
        return found
    }

    /// Every task spawned by `task`, transitively, in run order.
    public static func descendants(of task: String, in all: [TaskRecord]) -> [TaskRecord] {
        var inLineage: Set<String> = [task]
        var found: [TaskRecord] = []
        for record in all where record.parent.map(inLineage.contains) == true {
            inLineage.insert(record.id)
            found.append(record)
        }
        return found
    }
}
