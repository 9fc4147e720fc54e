import Foundation
import MusterStore
import MusterStoreConformance
import Testing

/// The shared-limit conformance checks, run against a fresh SQLite file per check.
@Suite struct LimitConformanceTests {
    @Test(arguments: StoreConformance.limitChecks.map(\.name))
    func limitConformance(_ name: String) async throws {
        let check = StoreConformance.limitChecks.first { $0.name == name }!.check
        let store = try SQLiteStoreConformanceTests.freshStore()
        defer { try? FileManager.default.removeItem(atPath: (store.path as NSString).deletingLastPathComponent) }
        try await check(store)
    }

    @Test func limitsSurviveReopeningTheFile() async throws {
        let store = try SQLiteStoreConformanceTests.freshStore()
        defer { try? FileManager.default.removeItem(atPath: (store.path as NSString).deletingLastPathComponent) }
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let limit = RateLimit(requestsPerMinute: 60)
        #expect(try await store.acquireTokens(key: "api", requests: 1, tokens: 0, limit: limit, now: t0) == .granted)
        let other = try SQLiteStore(path: store.path)  // another process, in effect
        #expect(try await other.acquireTokens(key: "api", requests: 1, tokens: 0, limit: limit, now: t0) == .wait(1))
    }
}
