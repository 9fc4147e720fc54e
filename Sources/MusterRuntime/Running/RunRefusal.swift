/// Input a caller can fix (a bad option, a missing CLI, a ref that does not exist): the CLI prints
/// it on one line and exits 2. Raised before anything is recorded.
public struct RunRefusal: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String

    public init(_ description: String) { self.description = description }
}
