import Foundation

/// The expanded task graph with its waves, critical path and estimates: what `muster plan` prints.
public struct Plan: Sendable {
    public let workflow: Workflow
    public let tasks: [PlannedTask]
    public let concurrency: Int
    public let waves: [[String]]
    public let estimate: PlanEstimate
    public let advice: [ParallelismAdvice]
    /// Parallel tasks whose `owns` overlap; the plan orders each pair (see `PlannedTask.after`).
    public let collisions: [OwnershipCollision]

    public init(workflow: Workflow, tasks: [PlannedTask], concurrency: Int, prices: PriceTable,
                collisions: [OwnershipCollision] = []) {
        self.workflow = workflow
        self.tasks = tasks
        self.collisions = collisions
        self.concurrency = max(1, concurrency)
        let graph = TaskGraph(tasks)
        self.waves = Self.waves(tasks, graph: graph)
        self.estimate = PlanEstimate(tasks: tasks, graph: graph, concurrency: self.concurrency, prices: prices)
        self.advice = ParallelismAdvice.advise(workflow: workflow, tasks: tasks, concurrency: self.concurrency, prices: prices)
    }

    /// Task ids by wave: a task's wave is one more than the latest wave it waits for.
    static func waves(_ tasks: [PlannedTask], graph: TaskGraph) -> [[String]] {
        let level = graph.levels
        var waves: [[String]] = Array(repeating: [], count: (level.max() ?? -1) + 1)
        for i in tasks.indices { waves[level[i]].append(tasks[i].id) }
        return waves
    }
}

public struct PlanEstimate: Codable, Sendable, Equatable {
    public var taskCount: Int
    /// Wall-clock at the plan's concurrency (list scheduling over the estimates).
    public var wallClockMinutes: Double
    /// Everything one after another.
    public var sequentialMinutes: Double
    public var criticalPathMinutes: Double
    public var criticalPath: [String]
    public var tokens: TokenUsage
    /// nil when a task bills a model without a price.
    public var costUSD: Double?
    public var unpricedModels: [String]
    public var unestimatedTasks: Int
    /// Fan-outs whose size is known only at run time (`foreach: from`).
    public var dynamicGroups: [String]

    init(tasks: [PlannedTask], graph: TaskGraph, concurrency: Int, prices: PriceTable) {
        let durations = tasks.map { $0.isExpander ? 0 : ($0.estimate?.minutes ?? 0) }
        taskCount = tasks.filter { !$0.isExpander }.count
        unestimatedTasks = tasks.filter { !$0.isExpander && $0.estimate?.minutes == nil }.count
        dynamicGroups = tasks.filter(\.isExpander).map(\.group)
        sequentialMinutes = durations.reduce(0, +)
        wallClockMinutes = Self.schedule(durations: durations, graph: graph, slots: concurrency)
        (criticalPathMinutes, criticalPath) = Self.criticalPath(durations: durations, graph: graph, ids: tasks.map(\.id))
        var tokens = TokenUsage()
        var cost: Double? = 0
        var unpriced = Set<String>()
        for task in tasks where !task.isExpander {
            let usage = TokenUsage(input: task.estimate?.inputTokens ?? 0, output: task.estimate?.outputTokens ?? 0)
            tokens = tokens + usage
            if let c = prices.cost(model: task.model, usage: usage) {
                cost = cost.map { $0 + c }
            } else {
                cost = nil
                unpriced.insert(task.model ?? "(no model for agent \(task.agent))")
            }
        }
        self.tokens = tokens
        self.costUSD = cost
        self.unpricedModels = unpriced.sorted()
    }

    /// Simulates `slots` workers taking ready tasks in file order; returns the finish time.
    static func schedule(durations: [Double], graph: TaskGraph, slots: Int) -> Double {
        var waitingOn = graph.predecessors.map(\.count)
        let successors = graph.successors
        var ready = Deque((0..<graph.count).filter { waitingOn[$0] == 0 })
        var running = MinHeap()
        var now = 0.0
        while true {
            while running.count < slots, let next = ready.popFirst() {
                running.push(now + durations[next], next)
            }
            guard let (finish, index) = running.pop() else { break }
            now = finish
            for s in successors[index] {
                waitingOn[s] -= 1
                if waitingOn[s] == 0 { ready.append(s) }
            }
        }
        return now
    }

    /// Longest chain of estimated minutes through the graph, with unlimited workers.
    static func criticalPath(durations: [Double], graph: TaskGraph, ids: [String]) -> (Double, [String]) {
        var finish = Array(repeating: 0.0, count: graph.count)
        var previous = Array(repeating: -1, count: graph.count)
        for i in graph.order {
            var start = 0.0
            for p in graph.predecessors[i] where previous[i] < 0 || finish[p] >= start {
                start = finish[p]
                previous[i] = p
            }
            finish[i] = start + durations[i]
        }
        // On ties prefer the later task: it is deeper in the graph, so the path shows the whole chain.
        guard var last = finish.indices.last else { return (0, []) }
        for index in finish.indices where finish[index] > finish[last] { last = index }
        var path: [String] = []
        let total = finish[last]
        while last >= 0 {
            path.append(ids[last])
            last = previous[last]
        }
        return (total, path.reversed())
    }
}

/// Binary min-heap of (time, task index) for the schedule simulation.
struct MinHeap {
    private var items: [(Double, Int)] = []
    var count: Int { items.count }
    mutating func push(_ time: Double, _ index: Int) {
        items.append((time, index))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].0 < items[parent].0 else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }
    mutating func pop() -> (Double, Int)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left].0 < items[smallest].0 { smallest = left }
            if right < items.count && items[right].0 < items[smallest].0 { smallest = right }
            if smallest == parent { break }
            items.swapAt(parent, smallest)
            parent = smallest
        }
        return top
    }
}
