import ArgumentParser
import Foundation
import MusterStore

/// `limit-worker`: takes one request at a time from a shared token bucket for a fixed time and
/// prints how many it got (scripts/bench-limits runs 1, 4 and 8 at once on one store).
struct LimitWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limit-worker", abstract: "Acquire from a shared token bucket in a loop; print acquisitions.")

    @Option var store: String
    @Option var key = "bench"
    @Option(help: "The bucket's requests per minute (default: high enough never to say wait).") var rpm = 1_000_000_000
    @Option var seconds: Double = 3
    @Option(help: "Start at this Unix time, so every worker measures the same span.") var startAt: Double?

    func run() async throws {
        let store = try SQLiteStore(path: store)
        let limit = RateLimit(requestsPerMinute: rpm)
        if let startAt { try await Task.sleep(for: .milliseconds(max(0, Int64((startAt - Date().timeIntervalSince1970) * 1000)))) }
        let end = Date().addingTimeInterval(seconds)
        var granted = 0, waited = 0
        while true {
            let now = Date()
            if now >= end { break }
            switch try await store.acquireTokens(key: key, requests: 1, tokens: 0, limit: limit, now: now) {
            case .granted: granted += 1
            case .wait, .reserved: waited += 1
            }
        }
        print("granted=\(granted) waited=\(waited) seconds=\(seconds)")
    }
}
