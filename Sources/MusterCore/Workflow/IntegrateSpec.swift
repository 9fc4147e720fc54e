/// `integrate:` in a spec: how `muster integrate` checks each merge (`--check`, `--check-batch` override it).
public struct IntegrateSpec: Codable, Sendable, Equatable {
    /// A shell command run (`sh -c`) on the files of each integration commit; a merge it fails is dropped.
    public var check: String?
    /// Merges per check: 1 checks every merge; N merges N, checks once, and bisects on failure.
    public var batch: Int?

    public init(check: String? = nil, batch: Int? = nil) {
        self.check = check
        self.batch = batch
    }

    public static let keys = ["check", "batch"]
    /// A batch beyond this would only bisect longer.
    public static let maxBatch = 1000

    /// Why `command` is refused as a check, or nil.
    public static func problem(_ command: String) -> String? {
        if command.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "is empty" }
        if command.utf8.count > 8192 { return "is longer than 8192 bytes" }
        if command.unicodeScalars.contains(where: { $0.value == 0 }) { return "contains a NUL byte" }
        return nil
    }
}
