import Foundation

/// Writes a task's small files (prompt, result) with plain open/write/close.
///
/// Foundation's `String.write(to:)` fsyncs each file and tags it with an extended attribute: 3.5 ms
/// a file on this machine, which serialised 1,000 concurrent task starts into 7 s. These files are
/// rewritten from the Store or the agent's output if a crash loses them, so durability per file buys nothing.
enum PlainFile {
    static func write(_ text: String, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError.io("cannot write \(path)", errno) }
        defer { close(fd) }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                throw SystemError.io("cannot write \(path)", errno)
            }
            bytes = bytes.dropFirst(written)
        }
    }
}
