/// Two tasks that can run at the same time and own overlapping paths: seed 000's most costly
/// failure (two agents overwrite one file), found before anything runs.
public struct OwnershipCollision: Codable, Sendable, Equatable, CustomStringConvertible {
    public var first: String
    public var second: String
    public var firstGlob: String
    public var secondGlob: String

    public var description: String {
        "`\(first)` (\(firstGlob)) and `\(second)` (\(secondGlob)) can run at the same time and own overlapping paths"
    }
}

public enum OwnershipChecker {
    struct Entry {
        var task: Int
        var glob: Glob
        var prefix: [Substring]
    }

    /// Pairs of tasks with no path between them in the graph whose `owns` globs intersect.
    /// Candidates come from an index on each glob's literal prefix (`Sources/App` of
    /// `Sources/App/*.swift`): only globs whose prefixes nest can overlap, so tasks that own
    /// separate folders are never compared pairwise.
    public static func collisions(_ tasks: [PlannedTask]) -> [OwnershipCollision] {
        var byPrefix: [String: [Entry]] = [:]
        var entries: [Entry] = []
        for (index, task) in tasks.enumerated() where !task.isExpander {
            for pattern in task.owns {
                guard let glob = try? Glob(pattern) else { continue }
                let entry = Entry(task: index, glob: glob, prefix: literalPrefix(glob.pattern))
                entries.append(entry)
                byPrefix[entry.prefix.joined(separator: "/"), default: []].append(entry)
            }
        }
        var seen = Set<[Int]>()
        var overlapping: [(Entry, Entry)] = []
        func consider(_ a: Entry, _ b: Entry) {
            guard a.task != b.task else { return }
            let key = [min(a.task, b.task), max(a.task, b.task)]
            guard !seen.contains(key), a.glob.overlaps(b.glob) else { return }
            seen.insert(key)
            overlapping.append(a.task < b.task ? (a, b) : (b, a))
        }
        for entry in entries {
            // Same prefix and every ancestor prefix (the empty prefix of `**/x` included).
            for depth in 0...entry.prefix.count {
                let key = entry.prefix.prefix(depth).joined(separator: "/")
                for other in byPrefix[key] ?? [] where depth < entry.prefix.count || other.task > entry.task {
                    consider(entry, other)
                }
            }
        }
        guard !overlapping.isEmpty else { return [] }
        // Reachability is only worth computing once some globs overlap.
        let ancestors = TaskGraph(tasks).ancestors
        let concurrent = { (a: Int, b: Int) in !ancestors[a].contains(b) && !ancestors[b].contains(a) }
        return overlapping.filter { concurrent($0.0.task, $0.1.task) }.map { x, y in
            OwnershipCollision(first: tasks[x.task].id, second: tasks[y.task].id, firstGlob: x.glob.pattern, secondGlob: y.glob.pattern)
        }.sorted { ($0.first, $0.second) < ($1.first, $1.second) }
    }

    /// Leading segments without wildcards: every path the glob covers lies beneath them.
    static func literalPrefix(_ pattern: String) -> [Substring] {
        var prefix: [Substring] = []
        for segment in pattern.split(separator: "/") {
            if segment.contains(where: { "*?[{\\".contains($0) }) { break }
            prefix.append(segment)
        }
        return prefix
    }

    /// Orders each colliding pair: the later task (in a topological order) waits for the earlier.
    /// Edges always point forward in one fixed order, so no cycle can form.
    public static func serialize(_ tasks: [PlannedTask], collisions: [OwnershipCollision]) -> [PlannedTask] {
        guard !collisions.isEmpty else { return tasks }
        let order = TaskGraph(tasks).rank
        let index = Dictionary(uniqueKeysWithValues: tasks.enumerated().map { ($1.id, $0) })
        var tasks = tasks
        for collision in collisions {
            guard let a = index[collision.first], let b = index[collision.second] else { continue }
            let (earlier, later) = order[a] <= order[b] ? (a, b) : (b, a)
            if !tasks[later].after.contains(tasks[earlier].id) { tasks[later].after.append(tasks[earlier].id) }
        }
        return tasks
    }
}
