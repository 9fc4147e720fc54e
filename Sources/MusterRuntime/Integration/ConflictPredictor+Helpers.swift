import Foundation

/// Errors, timing and scratch space shared by prediction and the benchmark baseline.
extension ConflictPredictor {
    // MARK: Helpers

    struct PredictionError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    package static func reason(_ error: any Error) -> String {
        String(describing: error)
    }

    package static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// A private temp folder for index copies, removed when prediction ends.
    package final class Scratch: Sendable {
        package let url: URL
        package init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("muster-conflicts-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        package func remove() { try? FileManager.default.removeItem(at: url) }
    }
}

/// Maps `items` through `body` with at most `limit` running at once; results keep the input order.
package func boundedMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
    guard !items.isEmpty else { return [] }
    return try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        func start() {
            let index = next, item = items[index]
            next += 1
            group.addTask { (index, try await body(item)) }
        }
        while next < min(max(1, limit), items.count) { start() }
        while let (index, result) = try await group.next() {
            results[index] = result
            if next < items.count { start() }
        }
        return results.map { $0! }
    }
}

/// The outcome of `body` as a value, so one failing item does not cancel the others.
package func attempt<R>(_ body: () async throws -> R) async -> Result<R, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}
