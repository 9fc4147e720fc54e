import Foundation
import MusterStore
import MusterStoreConformance
import Testing

/// The message-claim conformance checks, run against a fresh SQLite file per check.
@Suite struct MessageConformanceTests {
    @Test(arguments: StoreConformance.messageChecks.map(\.name))
    func messages(_ name: String) async throws {
        let check = StoreConformance.messageChecks.first { $0.name == name }!.check
        let store = try SQLiteStoreConformanceTests.freshStore()
        defer { try? FileManager.default.removeItem(atPath: (store.path as NSString).deletingLastPathComponent) }
        try await check(store)
    }
}
