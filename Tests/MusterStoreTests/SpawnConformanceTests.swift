import Foundation
import MusterStore
import MusterStoreConformance
import Testing

/// The run-time spawning conformance checks, run against a fresh SQLite file per check.
@Suite struct SpawnConformanceTests {
    @Test(arguments: StoreConformance.spawnChecks.map(\.name))
    func spawning(_ name: String) async throws {
        let check = StoreConformance.spawnChecks.first { $0.name == name }!.check
        let store = try SQLiteStoreConformanceTests.freshStore()
        defer { try? FileManager.default.removeItem(atPath: (store.path as NSString).deletingLastPathComponent) }
        try await check(store)
    }
}
