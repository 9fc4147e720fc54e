import Foundation
import MusterStore

/// Text made safe for HTML: every value from the Store, a task's output or a request goes through
/// `HTML.escape` (text and quoted attributes) or `HTML.path` (a URL path component) before it is
/// written into a page. Pages never build markup from unescaped strings.
public enum HTML {
    public static func escape(_ text: some StringProtocol) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\0": out += "\u{FFFD}"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static let pathAllowed: CharacterSet = {
        var set = CharacterSet()
        set.insert(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~")
        return set
    }()

    /// One URL path component, percent-encoded (so `/`, `..`-tricks and quotes cannot leave it), then escaped.
    public static func path(_ component: String) -> String {
        var encoded = component.addingPercentEncoding(withAllowedCharacters: pathAllowed) ?? ""
        if encoded == "." || encoded == ".." { encoded = encoded.replacingOccurrences(of: ".", with: "%2E") }
        return escape(encoded)
    }

    public static func runURL(_ run: String) -> String { "/runs/" + path(run) }
    public static func taskURL(_ run: String, _ task: String) -> String { runURL(run) + "/tasks/" + path(task) }

    /// The page shell: the stylesheet and script are served from the binary (`/assets/…`), so the
    /// Content-Security-Policy can refuse every inline script: an injection that slipped past
    /// escaping still could not run.
    static func page(title: String, stream: String? = nil, header: String, body: String) -> String {
        let streamAttribute = stream.map { " data-stream=\"\($0)\"" } ?? ""
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title))</title>
            <link rel="stylesheet" href="/assets/board.css">
            <script src="/assets/board.js" defer></script>
            </head><body\(streamAttribute) data-updates="0">
            <header><a class="home" href="/">muster</a>\(header)<span id="conn" class="conn"></span></header>
            <main id="live">\(body)</main>
            </body></html>
            """
    }

    static func duration(_ seconds: Double?) -> String { seconds.map { Format.duration($0) } ?? "–" }
    static func money(_ usd: Double?) -> String { usd.map { Format.money($0) } ?? "–" }

    static func time(_ date: Date?) -> String {
        guard let date else { return "–" }
        return escape(ISO8601DateFormatter().string(from: date))
    }
}
