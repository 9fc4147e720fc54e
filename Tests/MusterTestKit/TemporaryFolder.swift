import Foundation
import Synchronization

/// A fresh folder under the system temp directory, removed with everything in it when the last
/// reference goes: a test that fails halfway still leaves nothing behind.
///
/// The removal runs on a thread of its own (a repository with worktrees is thousands of unlinks,
/// slow on a busy disk), never on one of Swift concurrency's threads; the test process waits for
/// removals still under way when it exits.
public final class TemporaryFolder: Sendable {
    public let url: URL
    public var path: String { url.path }

    /// `prefix` names the folder (`muster-<prefix>-<uuid>`) so a leftover says which test made it.
    public init(_ prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("muster-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { Self.remove(url) }

    public func appending(_ name: String) -> URL { url.appendingPathComponent(name) }

    // MARK: Removal

    private static let removals = Mutex((pending: 0, waitsAtExit: false))

    /// Removes `url` and everything in it on a thread of its own.
    public static func remove(_ url: URL) {
        let registerExitWait = removals.withLock { state -> Bool in
            state.pending += 1
            defer { state.waitsAtExit = true }
            return !state.waitsAtExit
        }
        if registerExitWait { atexit { TemporaryFolder.waitForRemovals() } }
        let thread = Thread {
            // A store closing at the same moment can add a file (its WAL) while the folder is emptied: try again.
            for attempt in 1...10 {
                do {
                    try FileManager.default.removeItem(at: url)
                    break
                } catch {
                    if !FileManager.default.fileExists(atPath: url.path) { break }
                    usleep(useconds_t(attempt * 20_000))
                }
            }
            removals.withLock { $0.pending -= 1 }
        }
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// At exit (the main thread, no test running): lets removals under way finish, for up to a minute.
    private static func waitForRemovals() {
        for _ in 0..<6000 where removals.withLock({ $0.pending }) > 0 { usleep(10_000) }
    }
}

extension TemporaryFolder {
    private static let untilExit = Mutex<[URL]>([])

    /// A folder for a shared fixture that outlives any one test: removed when the test process exits.
    public static func keptUntilExit(_ prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("muster-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let first = untilExit.withLock { list in
            list.append(url)
            return list.count == 1
        }
        if first { atexit { TemporaryFolder.removeKeptFolders() } }
        return url
    }

    private static func removeKeptFolders() {
        for url in untilExit.withLock({ $0 }) { try? FileManager.default.removeItem(at: url) }
    }
}
