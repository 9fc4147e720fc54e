/// `{{ name }}` placeholders in prompts, commands, `owns` and `env`. Names are dotted paths:
/// `item`, `item.field`, `task.id`, `run.id`, `needs.X.summaries`, `needs.X.results`.
public enum Template {
    public struct Placeholder: Sendable, Equatable {
        public var name: String
        /// The `{{ … }}` text as written, so a deferred placeholder can be kept verbatim.
        public var raw: String
    }

    enum Piece {
        case text(Substring)
        case placeholder(Placeholder)
    }

    static func pieces(_ text: String) -> [Piece] {
        var pieces: [Piece] = []
        var rest = text[...]
        while let open = rest.range(of: "{{") {
            guard let close = rest[open.upperBound...].range(of: "}}") else { break }
            pieces.append(.text(rest[..<open.lowerBound]))
            let inner = rest[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
            pieces.append(.placeholder(Placeholder(name: inner, raw: String(rest[open.lowerBound..<close.upperBound]))))
            rest = rest[close.upperBound...]
        }
        pieces.append(.text(rest))
        return pieces
    }

    public static func placeholders(in text: String) -> [Placeholder] {
        pieces(text).compactMap { if case .placeholder(let p) = $0 { p } else { nil } }
    }

    /// Replaces each placeholder with `lookup(name)`; a `nil` answer keeps the placeholder as written,
    /// so planning can fill `{{item}}` now and leave `{{needs.X.summaries}}` for dispatch.
    public static func render(_ text: String, _ lookup: (String) -> String?) -> String {
        guard text.contains("{{") else { return text }
        var out = ""
        for piece in pieces(text) {
            switch piece {
            case .text(let t): out += t
            case .placeholder(let p): out += lookup(p.name) ?? p.raw
            }
        }
        return out
    }
}

import Foundation
