import Foundation
import MusterPostgres
import MusterStore
import MusterStoreConformance
import Testing

/// The whole conformance suite, unchanged, against PostgresStore: a fresh schema per check.
@Suite(.enabled(if: PostgresTestDatabase.enabled, PostgresTestDatabase.skipReason))
struct PostgresConformanceTests {
    static func check(_ name: String, in checks: [(name: String, check: StoreConformance.Check)]) async throws {
        let check = checks.first { $0.name == name }!.check
        try await PostgresTestDatabase.withFreshStore { store, _ in try await check(store) }
    }

    @Test(arguments: StoreConformance.all.map(\.name))
    func conformance(_ name: String) async throws { try await Self.check(name, in: StoreConformance.all) }

    @Test(arguments: StoreConformance.limitChecks.map(\.name))
    func limits(_ name: String) async throws { try await Self.check(name, in: StoreConformance.limitChecks) }

    @Test(arguments: StoreConformance.messageChecks.map(\.name))
    func messages(_ name: String) async throws { try await Self.check(name, in: StoreConformance.messageChecks) }

    @Test(arguments: StoreConformance.spawnChecks.map(\.name))
    func spawning(_ name: String) async throws { try await Self.check(name, in: StoreConformance.spawnChecks) }
}
