import Foundation
import MusterStore

/// Fitting text into terminal cells: display width, truncation with an ellipsis, padding, and
/// cleaning agent output (escape sequences, carriage returns, control characters) for display.
public enum TextCells {
    /// Columns one character takes: 0 for combining marks, 2 for wide (CJK, most emoji), else 1.
    static func width(of character: Character) -> Int {
        guard let scalar = character.unicodeScalars.first else { return 0 }
        let v = scalar.value
        if v < 0x300 { return 1 }
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        let wide: [ClosedRange<UInt32>] = [0x1100...0x115F, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF,
                                            0x4E00...0x9FFF, 0xA000...0xA4CF, 0xAC00...0xD7A3, 0xF900...0xFAFF,
                                            0xFE30...0xFE4F, 0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x1F300...0x1F64F,
                                            0x1F900...0x1F9FF, 0x20000...0x3FFFD]
        return wide.contains { $0.contains(v) } ? 2 : 1
    }

    public static func width(_ text: String) -> Int {
        var total = 0
        for c in text { total += width(of: c) }
        return total
    }

    /// At most `columns` wide; a cut ends in `…`.
    public static func truncate(_ text: String, _ columns: Int) -> String {
        guard columns > 0 else { return "" }
        if text.utf8.count <= columns && text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        guard width(text) > columns else { return text }
        var out = ""
        var used = 0
        for c in text {
            let w = width(of: c)
            if used + w > columns - 1 { break }
            out.append(c)
            used += w
        }
        return out + "…"
    }

    /// Exactly `columns` wide: truncated, then padded on the right.
    public static func pad(_ text: String, _ columns: Int) -> String {
        let cut = truncate(text, columns)
        return cut + String(repeating: " ", count: max(0, columns - width(cut)))
    }

    /// Exactly `columns` wide, aligned right.
    public static func padLeft(_ text: String, _ columns: Int) -> String {
        let cut = truncate(text, columns)
        return String(repeating: " ", count: max(0, columns - width(cut))) + cut
    }

    /// One line as a terminal would finally show it (see `TerminalLine.clean`).
    public static func clean(_ line: some StringProtocol) -> String { TerminalLine.clean(line) }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self[...]
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
