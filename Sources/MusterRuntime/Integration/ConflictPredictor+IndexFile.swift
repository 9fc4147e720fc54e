import Foundation

/// A reader for git's index file format.
extension ConflictPredictor {
    /// The entries of a git index file (versions 2 to 4). nil for what it does not read (a split or
    /// sparse index, an unknown version): the caller asks git instead.
    enum IndexFile {
        static func entries(atPath path: String, hashLength: Int) -> [Entry]? {
            guard let data = FileManager.default.contents(atPath: path) else { return nil }
            return data.withUnsafeBytes { raw in parse(raw.bindMemory(to: UInt8.self), hashLength: hashLength) }
        }

        static func parse(_ b: UnsafeBufferPointer<UInt8>, hashLength: Int) -> [Entry]? {
            func u32(_ at: Int) -> UInt32 { UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3]) }
            guard b.count >= 12 + hashLength, b[0] == 0x44, b[1] == 0x49, b[2] == 0x52, b[3] == 0x43 else { return nil }   // "DIRC"
            let version = u32(4), count = Int(u32(8))
            guard (2...4).contains(version) else { return nil }
            let end = b.count - hashLength
            var entries: [Entry] = []
            entries.reserveCapacity(count)
            var pos = 12
            var previous: [UInt8] = []
            for _ in 0..<count {
                let start = pos
                let flagsAt = start + 40 + hashLength
                guard flagsAt + 2 <= end else { return nil }
                let mode = u32(start + 24)
                guard mode & 0o170000 != 0o040000 else { return nil }   // a sparse-index directory entry
                let oid = Array(b[(start + 40)..<(start + 40 + hashLength)])
                let flags = UInt16(b[flagsAt]) << 8 | UInt16(b[flagsAt + 1])
                var name = flagsAt + 2
                if version >= 3 && flags & 0x4000 != 0 { name += 2 }
                var path: [UInt8]
                if version == 4 {
                    // Prefix compression: a varint of bytes to drop from the previous path, then the rest.
                    guard name < end else { return nil }
                    var c = b[name]; name += 1
                    var strip = Int(c & 127)
                    while c & 128 != 0 {
                        guard name < end else { return nil }
                        c = b[name]; name += 1
                        strip = ((strip + 1) << 7) | Int(c & 127)
                    }
                    guard strip <= previous.count else { return nil }
                    path = Array(previous.prefix(previous.count - strip))
                    guard let nul = (name..<end).first(where: { b[$0] == 0 }) else { return nil }
                    path += b[name..<nul]
                    pos = nul + 1
                } else {
                    guard let nul = (name..<end).first(where: { b[$0] == 0 }) else { return nil }
                    path = Array(b[name..<nul])
                    pos = start + ((name - start + (nul - name) + 8) & ~7)
                }
                previous = path
                entries.append(Entry(path: path, mode: mode, oid: oid, stage: UInt8((flags >> 12) & 3)))
            }
            // Extensions: a split index keeps its entries elsewhere; a sparse one folds directories.
            while pos + 8 <= end {
                let signature = String(decoding: b[pos..<(pos + 4)], as: UTF8.self)
                if signature == "link" || signature == "sdir" { return nil }
                pos += 8 + Int(u32(pos + 4))
            }
            return entries
        }
    }
}
