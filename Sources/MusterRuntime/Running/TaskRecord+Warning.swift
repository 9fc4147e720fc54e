import MusterStore

extension TaskRecord {
    /// How a warning is stored in `error` (a task that succeeded with something worth telling).
    public static let warningPrefix = "warning: "

    /// The warning of a task that ended with one (spawn refused, changed nothing it owns, a
    /// rate limit it got past), without its prefix; nil when `error` is a failure or absent.
    /// Read here, the one place that knows how it is stored.
    public var warning: String? {
        guard let error, error.hasPrefix(Self.warningPrefix) else { return nil }
        return String(error.dropFirst(Self.warningPrefix.count))
    }
}
