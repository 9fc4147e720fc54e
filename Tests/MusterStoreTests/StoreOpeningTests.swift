import Foundation
import Synchronization
import MusterStore
import Testing

/// Opening a store: concurrent first opens never fail, and a store SQLite cannot use is one clear
/// error naming the path, with nothing written to it (issue 11, finding 8).
@Suite struct StoreOpeningTests {
    static func folder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("muster-open-\(UUID().uuidString)")
    }

    /// 20 openers at once on a store that does not exist yet, repeated: each one gets a working store.
    /// Threads of their own, each with its own connections and lock descriptor, as processes would have.
    @Test func concurrentFirstOpensNeverFail() throws {
        for round in 0..<15 {
            let dir = Self.folder()
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("muster.db").path
            let failures = Mutex<[String]>([])
            let group = DispatchGroup()
            for _ in 0..<20 {
                group.enter()
                Thread {
                    defer { group.leave() }
                    do { _ = try SQLiteStore(path: path) } catch { failures.withLock { $0.append("\(error)") } }
                }.start()
            }
            group.wait()
            let seen = failures.withLock { $0 }
            #expect(seen.isEmpty, "round \(round): \(seen.count) of 20 opens failed: \(seen.first ?? "")")
        }
    }

    @Test func aFileThatIsNotAStoreIsRefusedAndLeftAlone() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("muster.db").path
        let garbage = Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 * 31 + 7) })
        try garbage.write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try SQLiteStore(path: path)
        } throws: { error in
            guard case StoreError.unusable(let where_, _, _) = error else { return false }
            return where_ == path && !"\(error)".contains("\n") && "\(error)".contains("damaged")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == garbage)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["muster.db"], "files were added beside it")
    }

    @Test func aFolderWhereTheStoreShouldBeIsRefused() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("muster.db").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        #expect {
            _ = try SQLiteStore(path: path)
        } throws: { error in
            guard case StoreError.unusable(let where_, _, _) = error else { return false }
            return where_ == path
        }
    }
}
