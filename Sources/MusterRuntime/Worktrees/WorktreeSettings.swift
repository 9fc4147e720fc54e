import Foundation

/// muster.toml's `[worktree]` table: how task worktrees are made and recycled.
///
/// ```toml
/// [worktree]
/// parallelism = 4        # worktrees made at once (default: the machine's cores, at least 2)
/// pool = 16              # finished worktrees kept for the next tasks (default 0: off)
/// pool_disk = "4GB"      # and at most this much disk for them (default: no bound)
/// ```
public struct WorktreeSettings: Sendable, Equatable {
    public var parallelism: Int
    /// Finished worktrees kept for reuse; 0 turns the pool off.
    public var pool: Int
    /// Disk the pooled worktrees may use together, in bytes (nil: no bound beyond `pool`).
    public var poolDiskBytes: Int64?

    public static let defaultParallelism = max(2, ProcessInfo.processInfo.activeProcessorCount)

    public init(parallelism: Int = WorktreeSettings.defaultParallelism, pool: Int = 0, poolDiskBytes: Int64? = nil) {
        self.parallelism = parallelism
        self.pool = pool
        self.poolDiskBytes = poolDiskBytes
    }

    /// "4GB", "512MB", "100KB", "123" (bytes): nil when it is none of these.
    public static func bytes(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Int64)] = [("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)]
        for (suffix, factor) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            guard let value = Double(number), value.isFinite, value >= 0, value * Double(factor) < 9e18 else { return nil }
            return Int64(value * Double(factor))
        }
        guard let value = Int64(trimmed), value >= 0 else { return nil }
        return value
    }
}
