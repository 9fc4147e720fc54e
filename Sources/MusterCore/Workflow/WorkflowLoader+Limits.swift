import Yams

/// `limits:` and `resources:`: shared rate limits and pools that tasks name in `uses:`.
extension NodeReader {
    /// `limits: {anthropic: {requests_per_minute: 50, tokens_per_minute: 200000, concurrent: 8, burst: 2s}}`
    mutating func limits(_ node: Node) throws(SpecError) -> [String: LimitSpec] {
        var out: [String: LimitSpec] = [:]
        for (key, keyNode, body) in try pairs(node, what: "`limits`", allowed: nil) {
            try checkLimitKey(key, keyNode)
            record("limits.\(key)", keyNode)
            guard case .mapping = body else {
                throw fail(body, "limit `\(key)` must be a mapping of figures",
                           fix: "write e.g. `\(key): {requests_per_minute: 50, concurrent: 8}`, or put a pool under `resources: {\(key): N}`")
            }
            var limit = LimitSpec()
            for (field, _, value) in try pairs(body, what: "limit `\(key)`", allowed: LimitSpec.keys) {
                switch field {
                case "requests_per_minute": limit.requestsPerMinute = try figure(value, "`limits.\(key).requests_per_minute`")
                case "tokens_per_minute": limit.tokensPerMinute = try figure(value, "`limits.\(key).tokens_per_minute`")
                case "concurrent": limit.concurrent = try figure(value, "`limits.\(key).concurrent`")
                default: limit.burstSeconds = try duration(value, "`limits.\(key).burst`").seconds
                }
            }
            guard !limit.isEmpty else {
                throw fail(keyNode, "limit `\(key)` sets no figure",
                           fix: "give at least one of requests_per_minute, tokens_per_minute or concurrent")
            }
            out[key] = limit
        }
        return out
    }

    /// `resources: {postgres: 20}`: a pool of 20 slots.
    mutating func resources(_ node: Node) throws(SpecError) -> [String: LimitSpec] {
        var out: [String: LimitSpec] = [:]
        for (key, keyNode, value) in try pairs(node, what: "`resources`", allowed: nil) {
            try checkLimitKey(key, keyNode)
            record("resources.\(key)", keyNode)
            guard case .scalar = value else {
                throw fail(value, "resource `\(key)` must be a number of slots",
                           fix: "write e.g. `\(key): 20`; rates go under `limits:`")
            }
            out[key] = .resource(try figure(value, "`resources.\(key)`"))
        }
        return out
    }

    /// A positive whole number: a rate, a token count or a number of slots.
    func figure(_ node: Node, _ what: String) throws(SpecError) -> Int {
        guard case .scalar(let scalar) = node, let value = node.int else {
            let text = (node.scalar?.string).map { ", not `\($0)`" } ?? ""
            throw fail(node, "\(what) must be a whole number\(text)", fix: "write a positive whole number, e.g. `50`")
        }
        guard value > 0 else {
            throw fail(node, "\(what) must be more than 0, not \(scalar.string)",
                       fix: "write a positive whole number, or remove the line for no limit on it")
        }
        guard value <= Ceiling.tokens else {
            throw fail(node, "\(what) is too large: \(scalar.string)", fix: "use at most \(Ceiling.tokens)")
        }
        return value
    }

    func checkLimitKey(_ key: String, _ node: Node) throws(SpecError) {
        guard LimitSpec.isValidKey(key) else {
            throw fail(node, "limit key `\(key)` is not a simple name",
                       fix: "use letters, digits, `_`, `-`, `.` and `:` (every process sharing the store shares the key)")
        }
    }

    /// The spec's limits and pools laid over muster.toml's; one key cannot be both a limit and a pool.
    func mergeLimits(defaults: [String: LimitSpec], limits: [String: LimitSpec],
                     resources: [String: LimitSpec]) throws(SpecError) -> [String: LimitSpec] {
        if let key = Set(limits.keys).intersection(resources.keys).sorted().first {
            let (a, b) = (locations["limits.\(key)"], locations["resources.\(key)"])
            let later = (a?.line ?? 0) > (b?.line ?? 0) ? a : b
            throw SpecError(file: file, location: later ?? SourceLocation(line: 1, column: 1),
                            message: "`\(key)` is both under `limits` and under `resources`",
                            fix: "keep one: a pool of N slots is `resources: {\(key): N}`, the same as `limits: {\(key): {concurrent: N}}`")
        }
        return defaults.merging(limits) { _, spec in spec }.merging(resources) { _, spec in spec }
    }
}
