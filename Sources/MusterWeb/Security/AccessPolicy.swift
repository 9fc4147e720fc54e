import Foundation
import Synchronization

/// Who may see the board and change a run.
/// - Without a token (loopback only): anyone on this machine may read; requests must name a
///   loopback host, so a web page elsewhere cannot read the board through DNS rebinding.
/// - With a token: every request needs it, as `Authorization: Bearer TOKEN` or the session cookie
///   that the one-time login link (or the login form) sets.
/// - Control (`--allow-control`, which needs a token): POST only, and a cookie-authenticated
///   request must also carry the page's CSRF token and come from this origin.
public final class AccessPolicy: Sendable {
    public let token: String?
    public let allowControl: Bool
    let session = Secrets.random()
    let csrf = Secrets.random()
    private let oneTimeCode: Mutex<String?>
    static let cookie = "muster_session"

    public init(token: String?, allowControl: Bool) {
        self.token = token
        self.allowControl = allowControl
        oneTimeCode = Mutex(token == nil ? nil : Secrets.random())
    }

    /// The one-time login link's path (`/login?code=…`), nil once used or without a token.
    public var loginPath: String? { oneTimeCode.withLock { $0.map { "/login?code=\($0)" } } }

    /// Spends the one-time code: true only for the first request that presents it.
    func redeem(_ code: String) -> Bool {
        oneTimeCode.withLock { current in
            guard let expected = current, Secrets.equal(code, expected) else { return false }
            current = nil
            return true
        }
    }

    func acceptsToken(_ candidate: String) -> Bool { token.map { Secrets.equal(candidate, $0) } ?? false }
    func acceptsSession(_ candidate: String) -> Bool { token != nil && Secrets.equal(candidate, session) }
    func acceptsCSRF(_ candidate: String) -> Bool { Secrets.equal(candidate, csrf) }

    /// A Host header naming this machine's loopback (any port).
    static func isLoopbackHost(_ host: String) -> Bool {
        var name = host.lowercased()
        if name.hasPrefix("["), let end = name.firstIndex(of: "]") {
            name = String(name[name.index(after: name.startIndex)..<end])
        } else if let colon = name.lastIndex(of: ":") {
            name = String(name[..<colon])
        }
        return name == "localhost" || name == "::1" || name.hasPrefix("127.") && name.split(separator: ".").count == 4
    }

    /// The form fields a control button posts.
    var controlForm: ControlForm? { allowControl ? ControlForm(csrf: csrf) : nil }
}

/// A control button: a POST form carrying the CSRF token.
struct ControlForm: Sendable {
    let csrf: String

    func button(action: String, label: String, confirm: Bool) -> String {
        let confirmAttribute = confirm ? " data-confirm=\"\(HTML.escape(label))?\"" : ""
        return "<form class=\"control\" method=\"post\" action=\"\(action)\"\(confirmAttribute)>"
            + "<input type=\"hidden\" name=\"csrf\" value=\"\(HTML.escape(csrf))\">"
            + "<button type=\"submit\">\(HTML.escape(label))</button></form>"
    }
}
