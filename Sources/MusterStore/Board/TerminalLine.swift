import Foundation

/// Agent output as a person should see it, for every view (terminal dashboard, web board).
public enum TerminalLine {
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
        while out.last == " " { out.removeLast() }
        return out
    }
}
