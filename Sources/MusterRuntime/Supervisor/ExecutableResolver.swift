import Foundation
import Synchronization

/// Finds an executable on PATH once per name and remembers the real path, so launching a
/// thousand tasks does not search PATH (or go through a shell or a shim) a thousand times.
public final class ExecutableResolver: Sendable {
    let cache = Mutex<[String: String]>([:])
    let searchPath: [String]

    public init(path: String? = ProcessInfo.processInfo.environment["PATH"]) {
        searchPath = (path ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":").map(String.init)
    }

    public func resolve(_ name: String, relativeTo directory: String) throws -> String {
        if name.contains("/") {
            let path = name.hasPrefix("/") ? name : (directory as NSString).appendingPathComponent(name)
            guard access(path, X_OK) == 0 else { throw SystemError.notFound(name) }
            return path
        }
        if let known = cache.withLock({ $0[name] }) { return known }
        for dir in searchPath {
            let candidate = (dir as NSString).appendingPathComponent(name)
            var info = stat()
            if access(candidate, X_OK) == 0, stat(candidate, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
                let real = (try? FileManager.default.destinationOfSymbolicLink(atPath: candidate)).map {
                    $0.hasPrefix("/") ? $0 : (dir as NSString).appendingPathComponent($0)
                } ?? candidate
                cache.withLock { $0[name] = real }
                return real
            }
        }
        throw SystemError.notFound(name)
    }
}
