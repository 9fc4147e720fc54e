/// Which tasks wait for which, as indices: the one dependency graph behind the plan (waves,
/// critical path, the schedule estimate), ownership (which tasks can run at the same time, which of
/// a colliding pair waits for the other) and integration (the order branches are merged in).
public struct TaskGraph: Sendable {
    /// For each node, the nodes it waits for (no repeats, ascending).
    public let predecessors: [[Int]]
    /// For each node, the nodes waiting for it (ascending).
    public let successors: [[Int]]
    /// Every node that is on no cycle, dependencies first (Kahn's algorithm). Ties: first come,
    /// first served (nodes freed together in index order), or the smallest by `priority` when given.
    public let order: [Int]

    public var count: Int { predecessors.count }
    /// Nodes on a cycle (or waiting for one): a validated spec has none.
    public var blocked: [Int] {
        var placed = Array(repeating: false, count: count)
        for node in order { placed[node] = true }
        return (0..<count).filter { !placed[$0] }
    }

    /// `priority(a, b)`: a goes first when both are free.
    public init(predecessors: [[Int]], priority: ((Int, Int) -> Bool)? = nil) {
        let predecessors = predecessors.map { Array(Set($0)).sorted() }
        var successors = Array(repeating: [Int](), count: predecessors.count)
        for (node, waitsFor) in predecessors.enumerated() { for p in waitsFor { successors[p].append(node) } }
        self.predecessors = predecessors
        self.successors = successors
        var waiting = predecessors.map(\.count)
        var order: [Int] = []
        order.reserveCapacity(predecessors.count)
        if let priority {
            var ready = predecessors.indices.filter { waiting[$0] == 0 }.sorted(by: priority)
            while !ready.isEmpty {
                let next = ready.removeFirst()
                order.append(next)
                for s in successors[next] {
                    waiting[s] -= 1
                    if waiting[s] == 0 {
                        ready.insert(s, at: ready.firstIndex { priority(s, $0) } ?? ready.endIndex)
                    }
                }
            }
        } else {
            var ready = Deque(predecessors.indices.filter { waiting[$0] == 0 })
            while let next = ready.popFirst() {
                order.append(next)
                for s in successors[next] {
                    waiting[s] -= 1
                    if waiting[s] == 0 { ready.append(s) }
                }
            }
        }
        self.order = order
    }

    /// The graph of planned tasks: `needs: [scan]` waits for every task of group scan, and `after`
    /// (added when `owns` collide) waits for one task.
    public init(_ tasks: [PlannedTask]) {
        var members: [String: [Int]] = [:]
        var index: [String: Int] = [:]
        for (i, task) in tasks.enumerated() {
            members[task.group, default: []].append(i)
            index[task.id] = i
        }
        self.init(predecessors: tasks.map { task in task.needs.flatMap { members[$0] ?? [] } + task.after.compactMap { index[$0] } })
    }

    /// Each node's position in `order`.
    public var rank: [Int] {
        var rank = Array(repeating: count, count: count)
        for (position, node) in order.enumerated() { rank[node] = position }
        return rank
    }

    /// Each node's wave: one more than the latest wave it waits for (0: waits for nothing).
    public var levels: [Int] {
        var level = Array(repeating: 0, count: count)
        for node in order { level[node] = predecessors[node].map { level[$0] + 1 }.max() ?? 0 }
        return level
    }

    /// Everything each node waits for, directly or not.
    public var ancestors: [Set<Int>] {
        var ancestors = Array(repeating: Set<Int>(), count: count)
        for node in order {
            for p in predecessors[node] {
                ancestors[node].insert(p)
                ancestors[node].formUnion(ancestors[p])
            }
        }
        return ancestors
    }
}

/// A small FIFO without quadratic `removeFirst`.
struct Deque {
    private var items: [Int]
    private var head = 0
    init(_ items: [Int]) { self.items = items }
    mutating func append(_ item: Int) { items.append(item) }
    mutating func popFirst() -> Int? {
        guard head < items.count else { return nil }
        defer { head += 1 }
        return items[head]
    }
}
