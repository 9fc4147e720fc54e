import Foundation
import GRDB
import MusterCore
import Testing
@testable import MusterStore

/// A stored spec muster cannot decode (a store written by a newer muster, a damaged file) is an
/// error naming the task, on every read: never a stand-in task that would run something else.
@Suite struct CorruptSpecTests {
    @Test func anUndecodableSpecIsCorruptNotAStandInTask() async throws {
        let store = try SQLiteStoreConformanceTests.freshStore()
        defer { try? FileManager.default.removeItem(atPath: (store.path as NSString).deletingLastPathComponent) }
        let task = PlannedTask(id: "a", group: "a", agent: "shell", command: Command(argv: ["true"]))
        try await store.createRun(NewRun(id: "r1", workflow: Workflow(name: "w", tasks: []), specPath: "w.yml", root: "/tmp",
                                         concurrency: 1, simulate: false, createdAt: Date()), tasks: [task])
        #expect(try await store.task(run: "r1", id: "a")?.spec == task)

        try await store.write { db in try db.execute(sql: "UPDATE tasks SET spec = '{\"agent\": 42}' WHERE id = 'a'") }
        for read in [{ try await store.task(run: "r1", id: "a").map { [$0] } ?? [] },
                     { try await store.tasks(run: "r1") },
                     { try await store.claim(run: "r1", holder: "h", limit: 1, leaseSeconds: 60, now: Date()).map(\.task) }] {
            do {
                let tasks = try await read()
                Issue.record("read an undecodable spec as \(tasks.map(\.spec))")
            } catch let error as StoreError {
                guard case .corrupt(let what) = error else { Issue.record("\(error)"); continue }
                #expect(what.contains("task a"), "\(what)")
            }
        }
    }
}
