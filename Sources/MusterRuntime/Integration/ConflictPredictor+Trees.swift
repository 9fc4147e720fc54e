import Foundation

/// Trees and index entries as byte paths: a base commit's listing and what an index changes against it.
extension ConflictPredictor {
    // MARK: Reading trees and indexes

    /// Path, mode and object id of every file, in git's order (byte order of full paths).
    struct Entry: Sendable, Equatable {
        var path: [UInt8]
        var mode: UInt32
        var oid: [UInt8]
        var stage: UInt8 = 0
    }

    package struct TreeListing: Sendable {
        /// Files (and submodules), sorted.
        var entries: [Entry]
        /// Every folder's tree id, by path.
        var trees: [[UInt8]: String] = [:]
        var hashLength: Int
    }

    /// `git ls-tree -r -t` of a commit.
    static func listTree(repository: String, commit: String) async throws -> TreeListing {
        let text = try await Git(repository).run(["ls-tree", "-r", "-t", "-z", "--full-tree", commit]).stdout
        var entries: [Entry] = []
        var trees: [[UInt8]: String] = [:]
        var hashLength = 20
        for record in text.utf8.split(separator: 0) {
            // <mode> SP <type> SP <oid> TAB <path>
            guard let tab = record.firstIndex(of: 9) else { continue }
            let fields = record[..<tab].split(separator: 32)
            guard fields.count == 3, let mode = UInt32(String(decoding: fields[0], as: UTF8.self), radix: 8),
                  let oid = hexBytes(fields[2]) else { throw PredictionError("unexpected ls-tree output") }
            hashLength = oid.count
            let path = Array(record[record.index(after: tab)...])
            if mode & 0o170000 == 0o040000 {
                trees[path] = String(decoding: fields[2], as: UTF8.self)
            } else {
                entries.append(Entry(path: path, mode: mode, oid: oid))
            }
        }
        return TreeListing(entries: entries, trees: trees, hashLength: hashLength)
    }

    static func hexBytes<C: Collection>(_ hex: C) -> [UInt8]? where C.Element == UInt8 {
        guard hex.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.count / 2)
        var high: UInt8?
        for c in hex {
            let v: UInt8
            switch c {
            case 48...57: v = c - 48
            case 97...102: v = c - 87
            case 65...70: v = c - 55
            default: return nil
            }
            if let h = high { bytes.append(h << 4 | v); high = nil } else { high = v }
        }
        return bytes
    }

    /// Paths whose mode or content differ between an index and a tree (both sorted the same way).
    static func changedPaths(_ index: [Entry], _ base: [Entry]) -> [[UInt8]] {
        var changed: [[UInt8]] = []
        var i = 0, j = 0
        while i < index.count || j < base.count {
            if j == base.count || (i < index.count && index[i].path.lexicographicallyPrecedes(base[j].path)) {
                changed.append(index[i].path); i += 1          // added
            } else if i == index.count || base[j].path.lexicographicallyPrecedes(index[i].path) {
                changed.append(base[j].path); j += 1           // deleted
            } else {
                if index[i].stage != 0 || index[i].mode != base[j].mode || index[i].oid != base[j].oid { changed.append(index[i].path) }
                i += 1
                if i == index.count || index[i].path != base[j].path { j += 1 }   // conflict stages share one path
            }
        }
        var paths: [[UInt8]] = []
        for path in changed where paths.last != path { paths.append(path) }
        return paths
    }
}
