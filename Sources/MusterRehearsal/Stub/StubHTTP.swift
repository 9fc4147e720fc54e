import Foundation

/// One HTTP request as the stub sees it: the conversation key is taken off the path first
/// (`/c/<key>/v1/messages` → key, `/v1/messages`).
public struct StubRequest: Sendable {
    public var method: String
    public var path: String
    public var query: String
    public var headers: [(String, String)]
    public var body: Data
    /// The conversation this request belongs to: a key registered with `ModelStub.register`, or nil.
    public var conversation: String?

    public init(method: String, uri: String, headers: [(String, String)], body: Data) {
        self.method = method
        self.headers = headers
        self.body = body
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var path = String(parts.first ?? "/")
        query = parts.count > 1 ? String(parts[1]) : ""
        if path.hasPrefix("/c/") {
            let rest = path.dropFirst(3)
            let key = rest.prefix { $0 != "/" }
            conversation = String(key)
            path = String(rest.dropFirst(key.count))
            if path.isEmpty { path = "/" }
        }
        self.path = path
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1
    }

    /// The body as a JSON object; nil when it is not one.
    public var json: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }
}

/// What the stub answers: a status and headers, then the body in parts, each after its delay
/// (a streamed answer is many parts; a delay before the first part holds the whole answer back).
public struct StubResponse: Sendable {
    public struct Part: Sendable {
        public var delay: Duration
        public var bytes: Data
    }

    public var status: Int
    public var headers: [(String, String)]
    public var parts: [Part]

    public init(status: Int, headers: [(String, String)] = [], parts: [Part]) {
        self.status = status
        self.headers = headers
        self.parts = parts
    }

    public static func json(_ object: Any, status: Int = 200, headers: [(String, String)] = [], delay: Duration = .zero) -> StubResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return StubResponse(status: status, headers: [("content-type", "application/json")] + headers,
                            parts: [Part(delay: delay, bytes: data)])
    }

    /// Server-sent events: each event one part, `gap` apart.
    public static func sse(_ events: [String], delay: Duration, gap: Duration) -> StubResponse {
        var parts: [Part] = []
        for (index, event) in events.enumerated() {
            parts.append(Part(delay: index == 0 ? delay : gap, bytes: Data(event.utf8)))
        }
        return StubResponse(status: 200, headers: [("content-type", "text/event-stream"), ("cache-control", "no-cache")],
                            parts: parts)
    }

    public static let empty = StubResponse(status: 200, parts: [])
}

enum JSONText {
    static func encode(_ object: Any) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
