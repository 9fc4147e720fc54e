import Foundation
import MusterStore
import MusterStoreConformance
import Testing

/// The shared conformance suite, run against a fresh SQLite file per check.
@Suite struct SQLiteStoreConformanceTests {
    static func freshStore() throws -> SQLiteStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("muster-store-\(UUID().uuidString)")
        return try SQLiteStore(path: dir.appendingPathComponent("muster.db").path)
    }

    @Test(arguments: StoreConformance.all.map(\.name))
    func conformance(_ name: String) async throws {
        let check = StoreConformance.all.first { $0.name == name }!.check
        let store = try Self.freshStore()
        defer { try? FileManager.default.removeItem(atPath: (store.path as NSString).deletingLastPathComponent) }
        try await check(store)
    }
}
