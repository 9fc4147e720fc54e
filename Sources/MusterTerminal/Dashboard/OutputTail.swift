import Foundation

/// The last line of a task's `output.log`, read cheaply: at most the last 4 KiB, and nothing when
/// the file has not changed since the last look (same size and modification time).
public final class OutputTail {
    public static let window = 4096
    struct Entry {
        var size: Int64
        var mtime: Int
        var line: String
    }
    var cache: [String: Entry] = [:]

    public init() {}

    public func lastLine(path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            cache[path] = nil
            return nil
        }
        let mtime = Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec)
        if let hit = cache[path], hit.size == Int64(info.st_size), hit.mtime == mtime { return hit.line }
        let line = Self.read(path: path, size: Int64(info.st_size)) ?? ""
        cache[path] = Entry(size: Int64(info.st_size), mtime: mtime, line: line)
        return line
    }

    /// Forget files not in `keep` (tasks scrolled away), so the cache stays small.
    public func retain(_ keep: Set<String>) {
        if cache.count > 4 * max(keep.count, 64) { cache = cache.filter { keep.contains($0.key) } }
    }

    static func read(path: String, size: Int64) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let count = Int(min(size, Int64(window)))
        guard count > 0 else { return "" }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(size - Int64(count))) }
        guard n > 0 else { return "" }
        return lastLine(of: buffer[..<n])
    }

    /// The last line with something visible in it (a cut first line is skipped when there are others).
    static func lastLine(of bytes: ArraySlice<UInt8>) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true).reversed() {
            let line = TextCells.clean(raw)
            if !line.trimmingCharacters(in: .whitespaces).isEmpty { return line }
        }
        return ""
    }
}
