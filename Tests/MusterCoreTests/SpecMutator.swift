import Foundation

/// Seeded mutations of a YAML spec for the fuzz corpus: byte flips, deletions, duplications,
/// splices of keys and values, numbers replaced with huge, NaN or negative ones, and indentation
/// changes. Deterministic: the same seed gives the same mutants on every machine.
/// (The end-to-end tests use this same file, linked, to feed mutants to the built binary.)
struct SpecMutator {
    /// SplitMix64: small, fast, and the same everywhere (unlike the system generator).
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    static let numbers = ["9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551616",
                          "1e300", "-1e300", "1e-300", ".inf", "-.inf", ".nan", ".NaN", "-1", "0", "-0.5", "1_000_000",
                          "0x7fffffffffffffff", "99999999999999999999999999", "4294967296", "2147483648", "1.7976931348623157e308"]
    static let bytes: [UInt8] = Array(":-[]{},#&*!|>'\"%@`? \t\n\\0123456789.eE+".utf8) + [0, 0x7F, 0xFF, 0xC3]

    let source: [UInt8]
    var random: Random

    init(source: String, seed: UInt64) {
        self.source = Array(source.utf8)
        random = Random(state: seed)
    }

    /// The next mutant: one to three mutations of the source.
    mutating func next() -> [UInt8] {
        var text = source
        for _ in 0...random.below(3) { text = mutate(text) }
        return text
    }

    mutating func mutate(_ text: [UInt8]) -> [UInt8] {
        var text = text
        guard !text.isEmpty else { return Array("name: x".utf8) }
        switch random.below(7) {
        case 0:  // flip a byte
            text[random.below(text.count)] = random.pick(Self.bytes)
        case 1:  // delete a short range
            let start = random.below(text.count)
            text.removeSubrange(start..<min(text.count, start + 1 + random.below(24)))
        case 2:  // duplicate a line
            var lines = Self.lines(text)
            let index = random.below(lines.count)
            lines.insert(lines[index], at: random.below(lines.count + 1))
            text = Self.join(lines)
        case 3:  // splice: one line's value onto another line's key
            var lines = Self.lines(text)
            let a = random.below(lines.count), b = random.below(lines.count)
            if let colonA = lines[a].firstIndex(of: UInt8(ascii: ":")), let colonB = lines[b].firstIndex(of: UInt8(ascii: ":")) {
                lines[a] = Array(lines[a][...colonA]) + Array(lines[b][lines[b].index(after: colonB)...])
            } else {
                lines.swapAt(a, b)
            }
            text = Self.join(lines)
        case 4, 5:  // a number replaced with a huge, NaN or negative one
            let digits = text.indices.filter { (48...57).contains(text[$0]) }
            guard let at = digits.isEmpty ? nil : random.pick(digits) else { return mutate(text) }
            var start = at, end = at
            while start > 0, Self.isNumberByte(text[start - 1]) { start -= 1 }
            while end + 1 < text.count, Self.isNumberByte(text[end + 1]) { end += 1 }
            text.replaceSubrange(start...end, with: Array(random.pick(Self.numbers).utf8))
        default:  // indentation: more, less, or a tab
            var lines = Self.lines(text)
            let index = random.below(lines.count)
            switch random.below(3) {
            case 0: lines[index] = Array(repeating: UInt8(ascii: " "), count: 1 + random.below(4)) + lines[index]
            case 1: lines[index] = Array(lines[index].drop { $0 == UInt8(ascii: " ") }.dropFirst(0))
                    .withIndent(max(0, lines[index].prefix { $0 == UInt8(ascii: " ") }.count - 1 - random.below(4)))
            default: lines[index] = [UInt8(ascii: "\t")] + lines[index]
            }
            text = Self.join(lines)
        }
        return text
    }

    static func isNumberByte(_ byte: UInt8) -> Bool { (48...57).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") }
    static func lines(_ text: [UInt8]) -> [[UInt8]] { text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init) }
    static func join(_ lines: [[UInt8]]) -> [UInt8] { Array(lines.joined(separator: [UInt8(ascii: "\n")])) }

    /// The ```yaml block under "## The workflow spec" in the README.
    static func readmeSpec(readme: URL) throws -> String {
        let text = try String(contentsOf: readme, encoding: .utf8)
        guard let section = text.range(of: "## The workflow spec"),
              let open = text.range(of: "```yaml\n", range: section.upperBound..<text.endIndex),
              let close = text.range(of: "\n```", range: open.upperBound..<text.endIndex) else {
            throw CocoaError(.fileReadCorruptFile)
        }
        return String(text[open.upperBound..<close.lowerBound]) + "\n"
    }
}

private extension Array where Element == UInt8 {
    func withIndent(_ spaces: Int) -> [UInt8] { Array(repeating: UInt8(ascii: " "), count: spaces) + self }
}
