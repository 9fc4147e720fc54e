/// Whether one ownership pattern lies inside others: a spawned task may only own what its parent owns.
extension Glob {
    /// True when every path `child` owns (itself and everything beneath) is owned by one of `parents`.
    public static func covers(_ parents: [Glob], _ child: Glob) -> Bool {
        parents.contains { $0.covers(child) }
    }

    /// True when every path `child` owns is owned by this pattern.
    ///
    /// Walks `child` segment by segment through this pattern's automaton, keeping only the states
    /// reached for *every* name the child segment could match: a literal advances exactly, a wildcard
    /// only where this pattern's segment accepts at least as much (`*`, `**`, or the same text), and a
    /// child `**` only keeps this pattern's own `**` positions. So the answer is never a false yes; a
    /// child written with a different wildcard than its parent (`a?` inside `[ab]?`) is refused, and
    /// the message asks for a narrower, literal pattern.
    public func covers(_ child: Glob) -> Bool {
        var state = initialState
        if isAccepting(state) { return true }
        for segment in child.segments {
            switch segment {
            case .pattern(let m):
                if let literal = m.literal {
                    state = advance(state, over: literal)
                } else {
                    var next = State(repeating: false, count: state.count)
                    for i in segments.indices where state[i] {
                        switch segments[i] {
                        case .globstar: next[i] = true
                        case .pattern(let n): if n.contains(m) { next[i + 1] = true }
                        }
                    }
                    state = closedState(next)
                }
            case .globstar:
                var next = State(repeating: false, count: state.count)
                for i in segments.indices where state[i] {
                    if case .globstar = segments[i] { next[i] = true }
                }
                state = closedState(next)
            }
            // Ownership covers everything beneath a matched path.
            if isAccepting(state) { return true }
            if !state.contains(true) { return false }
        }
        return isAccepting(state)
    }

    private func closedState(_ state: State) -> State {
        var state = state
        for i in segments.indices where state[i] {
            if case .globstar = segments[i] { state[i + 1] = true }
        }
        return state
    }
}

extension GlobSegmentMatcher {
    /// A sufficient test that every name `other` matches, this matches too.
    func contains(_ other: GlobSegmentMatcher) -> Bool {
        if let literal = other.literal { return matches(literal) }
        return source == "*" || source == other.source
    }
}
