import Foundation

/// Polls `condition` until it holds (true) or `timeout` seconds pass (false). The pause between
/// polls suspends the test instead of blocking a thread.
public func eventually(timeout: Double = 20, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}
