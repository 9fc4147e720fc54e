import Foundation
import Synchronization

/// A fresh folder under the system temp directory, removed with everything in it when the last
/// reference goes: a test that fails halfway still leaves nothing behind.
public final class TemporaryFolder: Sendable {
    public let url: URL
    public var path: String { url.path }

    /// `prefix` names the folder (`muster-<prefix>-<uuid>`) so a leftover says which test made it.
    public init(_ prefix: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("muster-\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    public func appending(_ name: String) -> URL { url.appendingPathComponent(name) }
}

extension TemporaryFolder {
    private static let untilExit = Mutex<[TemporaryFolder]>([])

    /// A folder for a shared fixture that outlives any one test: removed when the test process exits.
    public static func keptUntilExit(_ prefix: String) throws -> URL {
        let folder = try TemporaryFolder(prefix)
        let first = untilExit.withLock { list in
            list.append(folder)
            return list.count == 1
        }
        if first { atexit { TemporaryFolder.untilExit.withLock { $0.removeAll() } } }
        return folder.url
    }
}
