import Foundation

extension Duration {
    /// Seconds as a Double, for arithmetic with wall-clock dates.
    public var seconds: Double {
        let (s, atto) = components
        return Double(s) + Double(atto) / 1e18
    }

    /// Parses spec durations: `90`, `1.5` (seconds), `250ms`, `30s`, `20m`, `2h`, `1h30m`.
    public static func parseSpec(_ text: String) -> Duration? {
        // Ten years: beyond it a timeout means "never", and Duration would overflow near 1e19 s.
        let limit = 10 * 365 * 86400.0
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let plain = Double(trimmed) {
            return plain >= 0 && plain <= limit ? .seconds(plain) : nil
        }
        var total = 0.0
        var number = ""
        var index = trimmed.startIndex
        var sawUnit = false
        while index < trimmed.endIndex {
            let c = trimmed[index]
            if c.isNumber || c == "." {
                number.append(c)
                index = trimmed.index(after: index)
                continue
            }
            var unit = String(c)
            let next = trimmed.index(after: index)
            if c == "m", next < trimmed.endIndex, trimmed[next] == "s" { unit = "ms" }
            guard let value = Double(number) else { return nil }
            switch unit {
            case "ms": total += value / 1000
            case "s": total += value
            case "m": total += value * 60
            case "h": total += value * 3600
            case "d": total += value * 86400
            default: return nil
            }
            sawUnit = true
            number = ""
            index = trimmed.index(index, offsetBy: unit.count)
        }
        guard sawUnit, number.isEmpty, total.isFinite, total <= limit else { return nil }
        return .seconds(total)
    }

    /// Short human form: `850ms`, `12.3s`, `4m05s`, `1h02m`.
    public var humanized: String {
        let s = seconds
        if s < 1 { return "\(Int((s * 1000).rounded()))ms" }
        if s < 60 { return String(format: "%.1fs", s) }
        if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
        return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
    }
}
