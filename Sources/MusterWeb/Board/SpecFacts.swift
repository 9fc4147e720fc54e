import Foundation
import MusterStore
import Synchronization

/// What the views need from a task's spec (agent, model, needs), cached by run and task: a spec
/// never changes once stored, and decoding 1,000 specs on every board render or scrape would
/// dominate both.
public final class SpecFacts: Sendable {
    public struct Facts: Sendable {
        public var agent: String
        public var model: String?
        public var needs: [String]
        public var after: [String]
    }

    private let cache = Mutex<[String: Facts]>([:])

    public init() {}

    public func facts(_ task: TaskRecord) -> Facts {
        let key = task.run + "\u{0}" + task.id
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let spec = task.spec
        let facts = Facts(agent: spec.agent, model: spec.model, needs: spec.needs, after: spec.after)
        cache.withLock { $0[key] = facts }
        return facts
    }

    /// Each task's wave: 1 when it needs nothing, else one more than the deepest group (or task) it needs.
    public func waves(_ tasks: [TaskRecord]) -> [String: Int] {
        var groupTasks: [String: [Int]] = [:]
        var byID: [String: Int] = [:]
        for i in tasks.indices {
            groupTasks[tasks[i].group, default: []].append(i)
            byID[tasks[i].id] = i
        }
        var memo = [Int?](repeating: nil, count: tasks.count)
        var visiting = Set<Int>()
        func wave(_ i: Int) -> Int {
            if let known = memo[i] { return known }
            guard visiting.insert(i).inserted else { return 1 }  // a cycle cannot be stored; stay total anyway
            let f = facts(tasks[i])
            var deepest = 0
            for name in f.needs + f.after {
                let targets = groupTasks[name] ?? byID[name].map { [$0] } ?? []
                for t in targets where t != i { deepest = max(deepest, wave(t)) }
            }
            visiting.remove(i)
            memo[i] = deepest + 1
            return deepest + 1
        }
        var out: [String: Int] = [:]
        for i in tasks.indices { out[tasks[i].id] = wave(i) }
        return out
    }
}
