import Foundation
import MusterCore
import TOMLKit

/// `[limits.NAME]` and `[resources]` in muster.toml: shared limits every workflow of the repository
/// may `use`, and the figures `muster throttle --limit NAME` takes when given none.
///
/// ```toml
/// [limits.anthropic]
/// requests_per_minute = 50
/// tokens_per_minute = 200000
/// concurrent = 8
/// burst = "2s"
///
/// [resources]
/// postgres = 20
/// ```
extension ProjectConfig {
    typealias Failure = (_ path: [String], _ atValue: Bool, _ message: String, _ fix: String?) -> SpecError

    static func limits(_ table: TOMLTable, fail: Failure) throws(SpecError) -> [String: LimitSpec] {
        var out: [String: LimitSpec] = [:]
        if let limits = table["limits"] {
            guard let limitsTable = limits.table else {
                throw fail(["limits"], true, "`limits` must be a table of limits", "write `[limits.NAME]` with `requests_per_minute = 50`")
            }
            for key in limitsTable.keys.sorted() {
                try checkKey(key, ["limits", key], fail: fail)
                guard let body = limitsTable[key]?.table else {
                    throw fail(["limits", key], true, "limit `\(key)` must be a table of figures",
                               "write `[limits.\(key)]` with `requests_per_minute = 50`, or a pool under `[resources]`: `\(key) = N`")
                }
                var limit = LimitSpec()
                for field in body.keys.sorted() {
                    let path = ["limits", key, field]
                    guard LimitSpec.keys.contains(field) else {
                        let hint = Suggest.nearest(field, among: LimitSpec.keys).map { "did you mean `\($0)`?" }
                            ?? "known keys: \(LimitSpec.keys.joined(separator: ", "))"
                        throw fail(path, false, "unknown key `\(field)` in limit `\(key)`", hint)
                    }
                    let value = body[field]!
                    switch field {
                    case "requests_per_minute": limit.requestsPerMinute = try figure(value, path, fail: fail)
                    case "tokens_per_minute": limit.tokensPerMinute = try figure(value, path, fail: fail)
                    case "concurrent": limit.concurrent = try figure(value, path, fail: fail)
                    default: limit.burstSeconds = try burst(value, path, fail: fail)
                    }
                }
                guard !limit.isEmpty else {
                    throw fail(["limits", key], false, "limit `\(key)` sets no figure",
                               "give at least one of requests_per_minute, tokens_per_minute or concurrent")
                }
                out[key] = limit
            }
        }
        if let resources = table["resources"] {
            guard let resourcesTable = resources.table else {
                throw fail(["resources"], true, "`resources` must be a table of pools", "write `[resources]` with `postgres = 20`")
            }
            for key in resourcesTable.keys.sorted() {
                try checkKey(key, ["resources", key], fail: fail)
                if out[key] != nil {
                    throw fail(["resources", key], false, "`\(key)` is both a limit and a resource",
                               "keep one: a pool of N slots is `\(key) = N` under `[resources]`, the same as `concurrent = N` under `[limits.\(key)]`")
                }
                out[key] = .resource(try figure(resourcesTable[key]!, ["resources", key], fail: fail))
            }
        }
        return out
    }

    static func checkKey(_ key: String, _ path: [String], fail: Failure) throws(SpecError) {
        guard LimitSpec.isValidKey(key) else {
            throw fail(path, false, "limit key `\(key)` is not a simple name", "use letters, digits, `_`, `-`, `.` and `:`")
        }
    }

    /// A positive whole number.
    static func figure(_ value: any TOMLValueConvertible, _ path: [String], fail: Failure) throws(SpecError) -> Int {
        let name = path.joined(separator: ".")
        guard value.type == .int, let number = value.int else {
            throw fail(path, true, "`\(name)` must be a whole number", "write a positive whole number, e.g. `50`")
        }
        guard number > 0 else {
            throw fail(path, true, "`\(name)` must be more than 0, not \(number)", "write a positive whole number, or remove the line for no limit on it")
        }
        return number
    }

    /// Seconds: a number, or a duration string (`"500ms"`, `"2s"`).
    static func burst(_ value: any TOMLValueConvertible, _ path: [String], fail: Failure) throws(SpecError) -> Double {
        let seconds = value.double ?? value.int.map(Double.init) ?? value.string.flatMap(Duration.parseSpec).map(\.seconds)
        guard let seconds, seconds > 0, seconds.isFinite else {
            throw fail(path, true, "`\(path.joined(separator: "."))` must be a positive duration", "write e.g. `burst = \"2s\"`")
        }
        return seconds
    }
}
