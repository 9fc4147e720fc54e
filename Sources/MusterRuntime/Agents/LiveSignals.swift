import Foundation
import MusterCore

/// Something an agent printed while running that muster acts on before it exits.
public enum LiveSignal: Sendable, Equatable {
    /// The model API answered 429 (rate limit) or 529 (overloaded) and the CLI is retrying on its
    /// own: every other task on the same limits should hold off now, not when this one gives up.
    case rateLimited(status: Int, detail: String)
}

/// Reads an agent's output lines as they arrive (see `OutputLineHandler`). Called on the
/// supervisor's I/O thread: it must be quick, never block, and keep no more than a line.
public protocol LiveSignalParser: Sendable {
    func signal(in line: ArraySlice<UInt8>, fromStdout: Bool, truncated: Bool) -> LiveSignal?
}

/// Claude Code's stream-json while it runs: `{"type":"system","subtype":"api_retry","attempt":1,
/// "max_retries":10,"retry_delay_ms":1208,"error_status":429,"error":"rate_limit",…}` for every
/// retry of a failed request (checked against Claude Code 2.1.332's real output,
/// Tests/MusterRuntimeTests/Fixtures/claude-r429always.jsonl).
public struct ClaudeLiveSignals: LiveSignalParser {
    public init() {}

    public func signal(in line: ArraySlice<UInt8>, fromStdout: Bool, truncated: Bool) -> LiveSignal? {
        // Most lines are not retries: a byte search before any JSON parsing keeps a chatty agent cheap.
        guard fromStdout, !truncated, line.count < 64 * 1024, ByteSearch.contains(line, "\"api_retry\"") else { return nil }
        guard let event = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
              event["type"] as? String == "system", event["subtype"] as? String == "api_retry" else { return nil }
        let status = JSONValue.int(event["error_status"])
        let kind = event["error"] as? String ?? ""
        guard let code = RateLimit.status(status, kind: kind) else { return nil }
        let attempt = JSONValue.int(event["attempt"]).map { "attempt \($0)" } ?? "a retry"
        let of = JSONValue.int(event["max_retries"]).map { " of \($0)" } ?? ""
        return .rateLimited(status: code, detail: "the API answered \(code) (\(kind.isEmpty ? "rate limit" : kind)); the CLI is on \(attempt)\(of)")
    }
}

enum ByteSearch {
    static func contains(_ haystack: ArraySlice<UInt8>, _ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard n > 0, haystack.count >= n else { return n == 0 }
        return haystack.withUnsafeBytes { hay in
            let first = needle.utf8Start.pointee
            var offset = 0
            while offset + n <= hay.count {
                // memchr to the next candidate, then compare the rest.
                guard let hit = memchr(hay.baseAddress! + offset, Int32(first), hay.count - offset - n + 1) else { return false }
                let at = hay.baseAddress!.distance(to: UnsafeRawPointer(hit))
                if memcmp(hay.baseAddress! + at, needle.utf8Start, n) == 0 { return true }
                offset = at + 1
            }
            return false
        }
    }
}
