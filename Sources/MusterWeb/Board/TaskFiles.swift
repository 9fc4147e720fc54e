import Foundation

/// Reads the files muster keeps for a task (`<root>/.muster/runs/<run>/tasks/<task>/`). That folder
/// is the task's outbox, writable by the agent: a name is only ever built from ids the Store knows,
/// a path must stay inside the folder, and a symbolic link or anything but a regular file is refused
/// (an agent could plant `output.log -> /etc/shadow`).
public struct TaskFiles: Sendable {
    public let directory: String

    public init(root: String, run: String, task: String) {
        directory = URL(fileURLWithPath: root).appendingPathComponent(".muster/runs")
            .appendingPathComponent(Self.component(run)).appendingPathComponent("tasks")
            .appendingPathComponent(Self.component(task)).path
    }

    /// An id as one path component: `/` and a leading `.` cannot climb out of the folder.
    static func component(_ id: String) -> String {
        var safe = id.replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "\0", with: "_")
        if safe.hasPrefix(".") { safe = "_" + safe.dropFirst() }
        return safe.isEmpty ? "_" : safe
    }

    public func path(_ name: String) -> String { directory + "/" + name }

    /// The file's size, or nil when it is missing, a link or not a regular file.
    public func size(_ name: String) -> UInt64? {
        var info = stat()
        guard lstat(path(name), &info) == 0, (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else { return nil }
        return UInt64(info.st_size)
    }

    /// Bytes `from` an offset (at most `limit`), nil when the file is missing, a link or not regular.
    /// Opened with O_NOFOLLOW, so a link swapped in after the check is refused too.
    public func read(_ name: String, from offset: UInt64 = 0, limit: Int) -> Data? {
        let fd = open(path(name), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & mode_t(S_IFMT)) == mode_t(S_IFREG) else { return nil }
        let size = UInt64(info.st_size)
        guard offset < size else { return Data() }
        let count = Int(min(UInt64(limit), size - offset))
        var data = Data(count: count)
        let got = data.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
        guard got >= 0 else { return nil }
        return data.prefix(got)
    }

    /// The last `limit` bytes as text (invalid UTF-8 repaired), from a line start when cut.
    public func tail(_ name: String, limit: Int) -> (text: String, size: UInt64)? {
        guard let size = size(name) else { return nil }
        let start = size > UInt64(limit) ? size - UInt64(limit) : 0
        guard var data = read(name, from: start, limit: limit) else { return nil }
        if start > 0, let newline = data.firstIndex(of: 0x0A) { data = data.suffix(from: data.index(after: newline)) }
        return (String(decoding: data, as: UTF8.self), size)
    }

    public func text(_ name: String, limit: Int) -> String? {
        read(name, limit: limit).map { String(decoding: $0, as: UTF8.self) }
    }
}
