import Foundation
import MusterCore
import MusterStore

/// Run-time spawning rules every `Store` must enforce itself (issue 6, part 1). Each check gets a
/// fresh, empty store.
extension StoreConformance {
    public static let spawnChecks: [(name: String, check: Check)] = [
        ("childOwnsMustBeInsideParentOwns", childOwnsMustBeInsideParentOwns),
        ("spawnDepthIsBounded", spawnDepthIsBounded),
        ("identicalChildIsFolded", identicalChildIsFolded),
        ("childCanOnlyNeedExistingNonAncestorTasks", childCanOnlyNeedExistingNonAncestorTasks),
        ("onlyRunningTasksSpawn", onlyRunningTasksSpawn),
        ("refusedSpawnAddsNothing", refusedSpawnAddsNothing),
        ("joinWaitsForEveryDescendant", joinWaitsForEveryDescendant),
        ("waitingTasksAreCounted", waitingTasksAreCounted),
    ]

    static func owning(_ id: String, _ owns: [String], join: Bool = false, needs: [String] = []) -> PlannedTask {
        var planned = task(id, needs: needs)
        planned.owns = owns
        planned.join = join
        return planned
    }

    static func child(_ command: String, owns: [String] = [], id: String = "", after: [String] = []) -> PlannedTask {
        PlannedTask(id: id, group: id, agent: "shell", command: Command(argv: [command]), owns: owns, after: after)
    }

    /// Makes a run of `tasks` and claims every ready one for "o".
    static func runningRun(_ store: any Store, _ tasks: [PlannedTask], maxDepth: Int? = nil) async throws {
        var workflow = Workflow(name: "spawning", tasks: [])
        workflow.maxDepth = maxDepth
        try await store.createRun(NewRun(id: "r1", workflow: workflow, specPath: "w.yml", root: "/tmp", concurrency: 4,
                                         simulate: false, createdAt: t0), tasks: tasks)
        _ = try await store.claim(run: "r1", holder: "o", limit: 100, leaseSeconds: 600, now: t0)
    }

    static func refusal(_ body: () async throws -> Void) async throws -> SpawnError? {
        do { try await body() } catch let error as SpawnError { return error }
        return nil
    }

    public static let childOwnsMustBeInsideParentOwns: Check = { store in
        try await runningRun(store, [owning("p", ["Sources/App/**", "docs/app.md"]), owning("reader", [])])
        let inside = try await store.spawn(run: "r1", parent: "p", children: [
            child("a", owns: ["Sources/App/Models/**"]), child("b", owns: ["Sources/App/x.swift", "docs/app.md"]),
            child("c", owns: ["Sources/App/*.swift"]), child("d"),
        ], now: t0)
        try expect(inside.map(\.folded) == [false, false, false, false], "children inside the parent's owns: \(inside)")
        for outside in [["Sources/**"], ["Sources/Lib/x.swift"], ["docs/**"], ["**"], ["Sources/App/../Lib/x"]] {
            let error = try await refusal { _ = try await store.spawn(run: "r1", parent: "p", children: [child("e", owns: outside)], now: t0) }
            try expect(error != nil, "a child owning \(outside) outside Sources/App/** and docs/app.md was accepted")
        }
        let none = try await refusal { _ = try await store.spawn(run: "r1", parent: "reader", children: [child("f", owns: ["a.txt"])], now: t0) }
        try expect(none.map { "\($0)".contains("owns nothing") } == true, "a parent owning nothing gave a child a.txt: \(String(describing: none))")
    }

    public static let spawnDepthIsBounded: Check = { store in
        try await runningRun(store, [owning("p", ["src/**"])], maxDepth: 2)
        let level1 = try await store.spawn(run: "r1", parent: "p", children: [child("one", owns: ["src/a/**"])], now: t0)
        _ = try await store.claim(run: "r1", holder: "o", limit: 10, leaseSeconds: 600, now: t0)
        let level2 = try await store.spawn(run: "r1", parent: level1[0].id, children: [child("two", owns: ["src/a/b/**"])], now: t0)
        _ = try await store.claim(run: "r1", holder: "o", limit: 10, leaseSeconds: 600, now: t0)
        let tooDeep = try await refusal {
            _ = try await store.spawn(run: "r1", parent: level2[0].id, children: [child("three", owns: ["src/a/b/c"])], now: t0)
        }
        try expect(tooDeep == .tooDeep(child: "of \(level2[0].id)", depth: 3, maxDepth: 2), "depth 3 under max_depth 2: \(String(describing: tooDeep))")
        let records = try await store.tasks(run: "r1")
        try expect(records.map { $0.spec.depth } == [0, 1, 2], "depths \(records.map { $0.spec.depth })")
        try expect(records.map(\.parent) == [nil, "p", level1[0].id], "parents \(records.map(\.parent))")
    }

    public static let identicalChildIsFolded: Check = { store in
        try await runningRun(store, [owning("p", ["src/**"])])
        let first = try await store.spawn(run: "r1", parent: "p", children: [child("fix a", owns: ["src/a"]), child("fix a", owns: ["src/a"])], now: t0)
        try expect(first == [SpawnedTask(id: "p.1", folded: false), SpawnedTask(id: "p.1", folded: true)], "same child twice in one call: \(first)")
        let again = try await store.spawn(run: "r1", parent: "p", children: [child("fix a", owns: ["src/a"]), child("fix b", owns: ["src/b"])], now: t0)
        try expect(again == [SpawnedTask(id: "p.1", folded: true), SpawnedTask(id: "p.2", folded: false)], "second call: \(again)")
        let counts = try await store.counts(run: "r1")
        try expect(counts.total == 3, "\(counts.total) tasks: duplicates were added")
    }

    public static let childCanOnlyNeedExistingNonAncestorTasks: Check = { store in
        try await runningRun(store, [owning("p", ["src/**"]), owning("q", [])])
        let unknown = try await refusal {
            _ = try await store.spawn(run: "r1", parent: "p", children: [child("x", after: ["later"])], now: t0)
        }
        try expect(unknown == .unknownNeed(child: "of p", need: "later"), "a need on a task that does not exist: \(String(describing: unknown))")
        let ancestor = try await refusal {
            _ = try await store.spawn(run: "r1", parent: "p", children: [child("x", after: ["p"])], now: t0)
        }
        try expect(ancestor == .needsAncestor(child: "of p", need: "p"), "a need on the parent: \(String(describing: ancestor))")
        // A child may need a sibling spawned before it (in the same call or earlier) and any other task.
        let ok = try await store.spawn(run: "r1", parent: "p", children: [
            child("first", owns: ["src/a"], id: "first"), child("second", owns: ["src/b"], id: "second", after: ["first", "q"]),
        ], now: t0)
        try expect(ok.map(\.id) == ["first", "second"], "\(ok)")
        let second = try await store.task(run: "r1", id: "second")
        try expect(second?.state == .pending, "a child needing unfinished tasks must wait, is \(String(describing: second?.state))")
        let taken = try await refusal { _ = try await store.spawn(run: "r1", parent: "p", children: [child("other", id: "q")], now: t0) }
        try expect(taken == .idTaken("q"), "an id already in the run: \(String(describing: taken))")
    }

    public static let onlyRunningTasksSpawn: Check = { store in
        try await makeRun(store, [task("p"), task("later", needs: ["p"])])
        let pending = try await refusal { _ = try await store.spawn(run: "r1", parent: "later", children: [child("x")], now: t0) }
        try expect(pending == .parentNotRunning(task: "later", state: "pending"), "a pending parent spawned: \(String(describing: pending))")
        let missing = try await refusal { _ = try await store.spawn(run: "r1", parent: "ghost", children: [child("x")], now: t0) }
        try expect(missing == .unknownParent(run: "r1", task: "ghost"), "an unknown parent spawned: \(String(describing: missing))")
        let claimed = try await store.claim(run: "r1", holder: "o", limit: 1, leaseSeconds: 600, now: t0)
        try await succeed(store, claimed, holder: "o")
        let done = try await refusal { _ = try await store.spawn(run: "r1", parent: "p", children: [child("x")], now: t0) }
        try expect(done == .parentNotRunning(task: "p", state: "succeeded"), "a finished parent spawned: \(String(describing: done))")
    }

    public static let refusedSpawnAddsNothing: Check = { store in
        try await runningRun(store, [owning("p", ["src/**"])])
        let error = try await refusal {
            _ = try await store.spawn(run: "r1", parent: "p", children: [child("good", owns: ["src/a"]), child("bad", owns: ["lib"])], now: t0)
        }
        try expect(error != nil, "the second child owns lib/ outside src/**")
        let counts = try await store.counts(run: "r1")
        try expect(counts.total == 1, "a refused spawn left \(counts.total - 1) children behind")
    }

    public static let joinWaitsForEveryDescendant: Check = { store in
        try await runningRun(store, [owning("p", ["src/**"]), owning("collect", [], join: true, needs: ["p"]),
                                     owning("plain", [], needs: ["p"])])
        let kids = try await store.spawn(run: "r1", parent: "p", children: [child("a", owns: ["src/a/**"]), child("b", owns: ["src/b"])], now: t0)
        let running = try await store.claim(run: "r1", holder: "o", limit: 10, leaseSeconds: 600, now: t0)
        try expect(Set(running.map(\.task.id)) == Set(kids.map(\.id)), "children claimed: \(running.map(\.task.id))")
        let grandchild = try await store.spawn(run: "r1", parent: kids[0].id, children: [child("aa", owns: ["src/a/x"])], now: t0)
        // The parent exits before its children: `plain` may start, `collect` must not.
        _ = try await store.finish(run: "r1", holder: "o", [TaskOutcome(task: "p", attempt: 1, result: .succeeded)], now: t0)
        func state(_ id: String) async throws -> TaskState? { try await store.task(run: "r1", id: id)?.state }
        let plain = try await state("plain")
        try expect(plain == .ready, "plain (needs p) is \(String(describing: plain))")
        try expect(try await state("collect") == .pending, "collect joined before the children ended")
        try await succeed(store, running, holder: "o")
        try expect(try await state("collect") == .pending, "collect joined before the grandchild ended")
        let last = try await store.claim(run: "r1", holder: "o", limit: 10, leaseSeconds: 600, now: t0).filter { $0.task.id == grandchild[0].id }
        try expect(last.count == 1, "grandchild claimed")
        // A descendant that fails still ends the wait: the join task decides what to make of it.
        _ = try await store.finish(run: "r1", holder: "o", [TaskOutcome(task: grandchild[0].id, attempt: 1, result: .failed(retryAt: nil), error: "x")], now: t0)
        let collect = try await state("collect")
        try expect(collect == .ready, "collect is \(String(describing: collect)) after every descendant ended")
    }

    public static let waitingTasksAreCounted: Check = { store in
        try await runningRun(store, [task("p"), task("q")])
        try await store.setWaiting(run: "r1", task: "p", waiting: true)
        try expect(try await store.counts(run: "r1").waiting == 1, "one waiting task")
        try await store.setWaiting(run: "r1", task: "p", waiting: false)
        try expect(try await store.counts(run: "r1").waiting == 0, "no waiting task")
        try await store.setWaiting(run: "r1", task: "q", waiting: true)
        _ = try await store.finish(run: "r1", holder: "o", [TaskOutcome(task: "q", attempt: 1, result: .succeeded)], now: t0)
        try expect(try await store.counts(run: "r1").waiting == 0, "a finished task still counted as waiting")
    }
}
