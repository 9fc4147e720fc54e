import Foundation

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

    /// One line as a terminal would finally show it: escape sequences removed, only what follows
    /// the last carriage return, tabs as spaces, other control characters dropped.
    public static func clean(_ line: some StringProtocol) -> String {
        var out = ""
        var scalars = Array(line.unicodeScalars)[...]
        while let s = scalars.popFirst() {
            switch s.value {
            case 0x1B:
                guard let next = scalars.popFirst() else { break }
                if next == "[" {
                    // CSI: parameters, then one final byte in @…~.
                    while let c = scalars.popFirst(), !(0x40...0x7E).contains(c.value) {}
                } else if next == "]" || next == "P" || next == "_" {
                    // OSC/DCS/APC: up to BEL or ESC \.
                    while let c = scalars.popFirst() {
                        if c.value == 0x07 { break }
                        if c.value == 0x1B { _ = scalars.popFirst(); break }
                    }
                }
            case 0x0D: out.removeAll(keepingCapacity: true)
            case 0x09: out += "    "
            case 0..<0x20, 0x7F, 0x80..<0xA0: continue
            default: out.unicodeScalars.append(s)
            }
        }
        return out.trimmingTrailingSpaces()
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self[...]
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}

/// Short forms for narrow columns.
public enum Format {
    /// `12s`, `4m05s`, `1h02m`, `3d04h`.
    public static func duration(_ seconds: Double) -> String {
        let s = Int(max(0, seconds).rounded(.down))
        if s < 60 { return "\(s)s" }
        if s < 3600 { return String(format: "%dm%02ds", s / 60, s % 60) }
        if s < 86400 { return String(format: "%dh%02dm", s / 3600, (s % 3600) / 60) }
        return String(format: "%dd%02dh", s / 86400, (s % 86400) / 3600)
    }

    public static func money(_ value: Double) -> String {
        value > 0 && value < 0.01 ? String(format: "$%.4f", value) : String(format: "$%.2f", value)
    }

    public static func tokens(_ n: Int) -> String {
        n >= 1_000_000 ? String(format: "%.1fM", Double(n) / 1e6) : n >= 1000 ? String(format: "%.1fk", Double(n) / 1e3) : "\(n)"
    }
}
