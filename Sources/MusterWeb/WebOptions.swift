import Foundation

/// `muster serve` options, checked before anything listens.
public struct WebOptions: Sendable {
    public var bind: String
    public var port: Int
    public var token: String?
    public var allowControl: Bool
    public var perTaskMetrics: Bool

    public init(bind: String = "127.0.0.1", port: Int = 7777, token: String? = nil, allowControl: Bool = false,
                perTaskMetrics: Bool = false) {
        self.bind = bind
        self.port = port
        self.token = token
        self.allowControl = allowControl
        self.perTaskMetrics = perTaskMetrics
    }

    /// Whether `bind` is a loopback address (the default, and the only one served without a token).
    public var isLoopback: Bool {
        bind == "localhost" || bind == "::1" || (bind.hasPrefix("127.") && bind.split(separator: ".").count == 4)
    }

    /// Refuses what would expose the board: a non-loopback bind without a token, control without a
    /// token, a guessable token, a port out of range.
    public func validate() throws {
        guard (0...65535).contains(port) else { throw WebError.badOption("--port must be 0…65535, not \(port)") }
        guard !bind.isEmpty, bind.allSatisfy({ $0.isLetter || $0.isNumber || ".:-".contains($0) }) else {
            throw WebError.badOption("--bind needs an IP address or host name, not \(bind)")
        }
        if let token {
            guard token.count >= 16, token.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline && $0.asciiValue! > 32 }) else {
                throw WebError.badOption("--token needs at least 16 printable characters without spaces (e.g. `openssl rand -hex 16`)")
            }
        }
        if !isLoopback && token == nil {
            throw WebError.badOption("--bind \(bind) would show the board to other machines: add --token TOKEN (e.g. `--token $(openssl rand -hex 16)`), or keep the default --bind 127.0.0.1")
        }
        if allowControl && token == nil {
            throw WebError.badOption("--allow-control needs --token: cancelling runs must not be open to every local process")
        }
    }
}

public enum WebError: Error, CustomStringConvertible, Sendable {
    case badOption(String)
    public var description: String {
        switch self {
        case .badOption(let message): message
        }
    }
}
