/// A request muster refuses with a reason the caller can act on (bad input, not a failure of muster):
/// the CLI prints it and exits 2, `muster mcp` returns it as a tool error.
public struct RefusedRequest: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
