/// A position in the spec file; 1-based like every editor.
public struct SourceLocation: Sendable, Equatable, Codable {
    public var line: Int
    public var column: Int
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }
}

/// A mistake in the workflow spec: one line, naming file:line:column, what is wrong and how to fix it.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var location: SourceLocation
    public var message: String
    public var fix: String?

    public init(file: String, location: SourceLocation, message: String, fix: String? = nil) {
        self.file = file
        self.location = location
        self.message = message
        self.fix = fix
    }

    public var description: String {
        var line = "\(file):\(location.line):\(location.column): error: \(Self.oneLine(message))"
        if let fix { line += " (fix: \(Self.oneLine(fix)))" }
        return line
    }

    /// Messages quote what the spec holds, which may span lines or hold control characters: shown
    /// escaped, so an error stays one line on a terminal.
    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F { out += "\\u{\(String(scalar.value, radix: 16))}" } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out
    }
}

public enum Suggest {
    /// The candidate nearest to `word` by edit distance, if it is close enough to be a likely typo.
    public static func nearest(_ word: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(2, word.count / 3) ? best.0 : nil
    }

    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1,
                                 previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
