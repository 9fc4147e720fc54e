/// A repository-relative ownership pattern, e.g. `Sources/App/**/*.swift`.
///
/// Ownership covers everything beneath what the pattern names: `Sources/App` owns `Sources/App/x.swift`.
/// `*` and `?` never cross `/` (and do match dotfiles); `**` as a whole segment spans zero or more segments.
public struct Glob: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The pattern as written, normalised: no leading "./", no "." segments, no duplicate "/".
    public let pattern: String
    /// True when the pattern ended in "/": the expander then only returns directories.
    public let directoriesOnly: Bool
    let segments: [GlobSegment]

    public init(_ pattern: String) throws(GlobError) {
        if pattern.isEmpty { throw .empty }
        if pattern.hasPrefix("/") { throw .absolute(pattern) }
        let parts = pattern.split(separator: "/").filter { $0 != "." }
        if parts.contains("..") { throw .leavesRepository(pattern) }
        if parts.isEmpty { throw .empty }
        // "./~x" would normalise to "~x", which must stay invalid so encode/decode round-trips.
        if parts[0].hasPrefix("~") { throw .absolute(pattern) }
        directoriesOnly = pattern.hasSuffix("/")
        self.pattern = parts.joined(separator: "/") + (directoriesOnly ? "/" : "")
        do {
            segments = try parts.map { part throws(GlobParseFailure) in
                part == "**" ? .globstar : .pattern(try GlobSegmentMatcher(parsing: part))
            }
        } catch {
            // A "/" inside braces splits the segment first, so say why the brace looks unclosed.
            let hint = error.reason == "unclosed \"{\"" && pattern.contains("}") ? "; alternatives cannot contain \"/\"" : ""
            throw .malformed(pattern, reason: error.reason + hint)
        }
    }

    public var description: String { pattern }

    /// True when the pattern matches `path` or one of its ancestor directories.
    public func matches(_ path: String) -> Bool { run(path, beneath: true) }

    /// True when the pattern matches `path` itself (no ancestor rule; a trailing "/" is ignored).
    public func matchesExactly(_ path: String) -> Bool { run(path, beneath: false) }

    /// True iff some path is owned by both patterns, decided exactly by intersecting the two automata.
    public func overlaps(_ other: Glob) -> Bool {
        // The implicit trailing `**` is the "and everything beneath" rule.
        let a = segments + [.globstar], b = other.segments + [.globstar]
        let width = b.count + 1
        var seen = Set<Int>([0])
        var queue = [(0, 0)]
        while let (i, j) = queue.popLast() {
            if i == a.count && j == b.count { return true }
            var next: [(Int, Int)] = []
            if i < a.count, case .globstar = a[i] { next.append((i + 1, j)) }
            if j < b.count, case .globstar = b[j] { next.append((i, j + 1)) }
            if i < a.count && j < b.count {
                // Consume one path segment on both sides; `**` may absorb it and stay put.
                switch (a[i], b[j]) {
                case (.globstar, .globstar): break  // stays at (i, j): nothing new
                case (.globstar, .pattern(let m)): if m.acceptsSomething { next.append((i, j + 1)) }
                case (.pattern(let m), .globstar): if m.acceptsSomething { next.append((i + 1, j)) }
                case (.pattern(let x), .pattern(let y)): if x.intersects(y) { next.append((i + 1, j + 1)) }
                }
            }
            for (p, q) in next where seen.insert(p * width + q).inserted { queue.append((p, q)) }
        }
        return false
    }

    // MARK: Segment-level automaton (shared with GlobExpander)

    /// Active positions in `segments`; index `segments.count` means "whole pattern matched".
    typealias State = [Bool]

    var initialState: State {
        var state = State(repeating: false, count: segments.count + 1)
        state[0] = true
        return closed(state)
    }

    func advance(_ state: State, over name: some StringProtocol) -> State {
        var next = State(repeating: false, count: state.count)
        for i in segments.indices where state[i] {
            switch segments[i] {
            case .globstar: next[i] = true
            case .pattern(let m): if m.matches(name) { next[i + 1] = true }
            }
        }
        return closed(next)
    }

    func isAccepting(_ state: State) -> Bool { state[segments.count] }

    /// True when more path segments could still lead to a match.
    func canContinue(_ state: State) -> Bool { state.dropLast().contains(true) }

    /// The exact names that can advance `state`, or nil when some active segment is a wildcard.
    func literalNames(_ state: State) -> [String]? {
        var names: [String] = []
        for i in segments.indices where state[i] {
            guard case .pattern(let m) = segments[i], let literal = m.literal else { return nil }
            names.append(literal)
        }
        return names
    }

    /// `**` may match zero segments, so activation flows forward past it.
    private func closed(_ state: State) -> State {
        var state = state
        for i in segments.indices where state[i] {
            if case .globstar = segments[i] { state[i + 1] = true }
        }
        return state
    }

    private func run(_ path: String, beneath: Bool) -> Bool {
        let names = path.split(separator: "/").filter { $0 != "." }
        if names.isEmpty { return false }
        var state = initialState
        for name in names {
            state = advance(state, over: name)
            if beneath && isAccepting(state) { return true }
            if !state.contains(true) { return false }
        }
        return isAccepting(state)
    }

    // MARK: Hashable, Codable — identity is the normalised pattern.

    public static func == (lhs: Glob, rhs: Glob) -> Bool { lhs.pattern == rhs.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(pattern)
    }
}

public enum GlobError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case absolute(String)
    case leavesRepository(String)
    case malformed(String, reason: String)

    public var description: String {
        switch self {
        case .empty:
            "owns glob is empty: write a path relative to the repository root, or \"**\" for everything"
        case .absolute(let p):
            "owns glob \"\(p)\" is absolute: use a path relative to the repository root"
        case .leavesRepository(let p):
            "owns glob \"\(p)\" leaves the repository: use a path relative to the repository root, without \"..\""
        case .malformed(let p, let reason):
            "owns glob \"\(p)\" is malformed (\(reason)): fix it, or escape special characters with \"\\\""
        }
    }
}

// MARK: - Segments

enum GlobSegment: Sendable {
    case globstar
    case pattern(GlobSegmentMatcher)
}

struct GlobParseFailure: Error { let reason: String }

/// A set of Unicode scalars, kept as sorted disjoint ranges inside the universe of
/// segment characters (every scalar except "/"), so negation and intersection are exact.
struct GlobCharSet: Sendable {
    private(set) var ranges: [ClosedRange<UInt32>]

    private static let universe: [ClosedRange<UInt32>] = [0...0x2E, 0x30...0xD7FF, 0xE000...0x10FFFF]
    static let any = GlobCharSet(ranges: universe)

    private init(ranges: [ClosedRange<UInt32>]) { self.ranges = ranges }

    init(_ scalar: Unicode.Scalar) { self.init(ranges: [scalar.value...scalar.value], negated: false) }

    init(ranges raw: [ClosedRange<UInt32>], negated: Bool) {
        var merged: [ClosedRange<UInt32>] = []
        for r in raw.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = merged.last, r.lowerBound <= last.upperBound &+ 1 {
                merged[merged.count - 1] = last.lowerBound...max(last.upperBound, r.upperBound)
            } else {
                merged.append(r)
            }
        }
        if negated {
            var complement: [ClosedRange<UInt32>] = []
            var start: UInt32 = 0
            for r in merged {
                if r.lowerBound > start { complement.append(start...(r.lowerBound - 1)) }
                start = r.upperBound + 1
            }
            if start <= 0x10FFFF { complement.append(start...0x10FFFF) }
            merged = complement
        }
        self.ranges = GlobCharSet.intersection(merged, GlobCharSet.universe)
    }

    func contains(_ scalar: Unicode.Scalar) -> Bool {
        ranges.contains { $0.contains(scalar.value) }
    }

    func intersects(_ other: GlobCharSet) -> Bool {
        !GlobCharSet.intersection(ranges, other.ranges).isEmpty
    }

    var single: Unicode.Scalar? {
        guard ranges.count == 1, ranges[0].lowerBound == ranges[0].upperBound else { return nil }
        return Unicode.Scalar(ranges[0].lowerBound)
    }

    /// Two-pointer intersection of sorted disjoint range lists.
    private static func intersection(_ a: [ClosedRange<UInt32>], _ b: [ClosedRange<UInt32>]) -> [ClosedRange<UInt32>] {
        var result: [ClosedRange<UInt32>] = []
        var i = 0, j = 0
        while i < a.count && j < b.count {
            let low = max(a[i].lowerBound, b[j].lowerBound), high = min(a[i].upperBound, b[j].upperBound)
            if low <= high { result.append(low...high) }
            if a[i].upperBound < b[j].upperBound { i += 1 } else { j += 1 }
        }
        return result
    }
}

/// One path segment's pattern as an epsilon-free NFA over scalars; state 0 is the start.
struct GlobSegmentMatcher: Sendable {
    struct Edge: Sendable {
        let chars: GlobCharSet
        let to: Int
    }

    private(set) var edges: [[Edge]]
    private(set) var accepting: [Bool]
    /// Set when the segment has no wildcards, so matching is a string compare and the expander can stat directly.
    private(set) var literal: String?
    /// False for segments like `{,}` or `[/]` that match no non-empty name.
    private(set) var acceptsSomething = true
    /// The segment as written, for the containment check.
    private(set) var source = ""

    init(parsing text: Substring) throws(GlobParseFailure) {
        source = String(text)
        var parser = SegmentParser(scalars: Array(text.unicodeScalars))
        let pieces = try parser.parseSequence(inBraces: false)
        var builder = NFABuilder()
        let end = builder.build(pieces, from: 0)
        (edges, accepting) = builder.withoutEpsilons(accept: end)
        let singles = pieces.map { piece -> Unicode.Scalar? in
            if case .chars(let set) = piece { set.single } else { nil }
        }
        if !singles.contains(where: { $0 == nil }) {
            var scalars = String.UnicodeScalarView()
            scalars.append(contentsOf: singles.compactMap { $0 })
            literal = String(scalars)
        }
        acceptsSomething = intersects(.anyName)
    }

    private init(edges: [[Edge]], accepting: [Bool], source: String) {
        self.edges = edges
        self.accepting = accepting
        self.source = source
    }

    /// Any non-empty name: "?" followed by "*".
    static let anyName = GlobSegmentMatcher(
        edges: [[Edge(chars: .any, to: 1)], [Edge(chars: .any, to: 1)]], accepting: [false, true], source: "?*")

    func matches(_ name: some StringProtocol) -> Bool {
        if let literal { return name.unicodeScalars.elementsEqual(literal.unicodeScalars) }
        var current: Set<Int> = [0]
        for scalar in name.unicodeScalars {
            var next = Set<Int>()
            for state in current {
                for edge in edges[state] where edge.chars.contains(scalar) { next.insert(edge.to) }
            }
            if next.isEmpty { return false }
            current = next
        }
        return current.contains { accepting[$0] }
    }

    /// True when both accept a common non-empty name: search the product automaton.
    func intersects(_ other: GlobSegmentMatcher) -> Bool {
        // Key packs (state, other state, consumed-a-character) into one Int.
        func key(_ p: Int, _ q: Int, _ consumed: Bool) -> Int { (p * other.edges.count + q) * 2 + (consumed ? 1 : 0) }
        var seen: Set<Int> = [key(0, 0, false)]
        var queue = [(0, 0, false)]
        while let (p, q, consumed) = queue.popLast() {
            if consumed && accepting[p] && other.accepting[q] { return true }
            for a in edges[p] {
                for b in other.edges[q] where a.chars.intersects(b.chars) {
                    if seen.insert(key(a.to, b.to, true)).inserted { queue.append((a.to, b.to, true)) }
                }
            }
        }
        return false
    }
}

/// Parsed form of one segment: character sets, stars and (possibly nested) alternations.
fileprivate indirect enum SegmentPiece {
    case chars(GlobCharSet)
    case star
    case alternation([[SegmentPiece]])
}

private struct SegmentParser {
    let scalars: [Unicode.Scalar]
    var index = 0

    init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

    mutating func parseSequence(inBraces: Bool) throws(GlobParseFailure) -> [SegmentPiece] {
        var pieces: [SegmentPiece] = []
        while index < scalars.count {
            let c = scalars[index]
            if inBraces && (c == "," || c == "}") { return pieces }  // the caller consumes it
            index += 1
            switch c {
            case "\\": pieces.append(.chars(GlobCharSet(try escaped())))
            case "*": pieces.append(.star)
            case "?": pieces.append(.chars(.any))
            case "[": pieces.append(.chars(try parseClass()))
            case "{": pieces.append(try parseAlternation())
            case "}": throw GlobParseFailure(reason: "unmatched \"}\"")
            default: pieces.append(.chars(GlobCharSet(c)))
            }
        }
        return pieces
    }

    private mutating func escaped() throws(GlobParseFailure) -> Unicode.Scalar {
        guard index < scalars.count else { throw GlobParseFailure(reason: "\"\\\" at the end of a segment") }
        defer { index += 1 }
        return scalars[index]
    }

    private mutating func parseAlternation() throws(GlobParseFailure) -> SegmentPiece {
        var alternatives: [[SegmentPiece]] = []
        while true {
            alternatives.append(try parseSequence(inBraces: true))
            guard index < scalars.count else { throw GlobParseFailure(reason: "unclosed \"{\"") }
            index += 1
            if scalars[index - 1] == "}" { return .alternation(alternatives) }
        }
    }

    /// `[abc]`, `[a-z]`, `[!a-z]` or `[^a-z]`; a "]" right after the opening is literal.
    private mutating func parseClass() throws(GlobParseFailure) -> GlobCharSet {
        var negated = false
        if index < scalars.count && (scalars[index] == "!" || scalars[index] == "^") {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while index < scalars.count {
            var low = scalars[index]
            index += 1
            if low == "]" && !first { return GlobCharSet(ranges: ranges, negated: negated) }
            first = false
            if low == "\\" { low = try escaped() }
            var high = low
            if index + 1 < scalars.count && scalars[index] == "-" && scalars[index + 1] != "]" {
                index += 1
                high = scalars[index]
                index += 1
                if high == "\\" { high = try escaped() }
                guard low <= high else { throw GlobParseFailure(reason: "reversed range \"\(low)-\(high)\"") }
            }
            ranges.append(low.value...high.value)
        }
        throw GlobParseFailure(reason: "unclosed \"[\"")
    }
}

/// Thompson-style construction with epsilon edges, then flattened to an epsilon-free NFA.
private struct NFABuilder {
    var edges: [[GlobSegmentMatcher.Edge]] = [[]]
    var epsilons: [[Int]] = [[]]

    mutating func newState() -> Int {
        edges.append([])
        epsilons.append([])
        return edges.count - 1
    }

    /// Adds `pieces` starting at state `from`; returns the state reached after them.
    mutating func build(_ pieces: [SegmentPiece], from start: Int) -> Int {
        var current = start
        for piece in pieces {
            let next = newState()
            switch piece {
            case .chars(let set):
                edges[current].append(.init(chars: set, to: next))
            case .star:
                epsilons[current].append(next)
                edges[next].append(.init(chars: .any, to: next))
            case .alternation(let alternatives):
                for alternative in alternatives {
                    // A fresh entry state per branch keeps branches from leaking into each other.
                    let entry = newState()
                    epsilons[current].append(entry)
                    epsilons[build(alternative, from: entry)].append(next)
                }
            }
            current = next
        }
        return current
    }

    func withoutEpsilons(accept: Int) -> ([[GlobSegmentMatcher.Edge]], [Bool]) {
        var flatEdges: [[GlobSegmentMatcher.Edge]] = []
        var accepting: [Bool] = []
        for state in edges.indices {
            var closure: Set<Int> = [state]
            var stack = [state]
            while let s = stack.popLast() {
                for t in epsilons[s] where closure.insert(t).inserted { stack.append(t) }
            }
            flatEdges.append(closure.sorted().flatMap { edges[$0] })
            accepting.append(closure.contains(accept))
        }
        return (flatEdges, accepting)
    }
}
