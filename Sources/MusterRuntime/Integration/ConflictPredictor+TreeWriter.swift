import Foundation

/// Writes a snapshot's tree objects from its index entries, rebuilding only the folders that changed.
extension ConflictPredictor {
    /// The root tree of each snapshot whose index muster read. Only folders holding a change are
    /// written (the others are the base's trees), deepest first, by one `git hash-object -t tree`
    /// per folder depth for all snapshots together (git checks each tree's format). nil where it
    /// cannot (conflict stages, nothing left, a failed batch): those snapshots use `git write-tree`.
    func buildTrees(_ snapshots: [Snapshot], bases: [String: TreeListing], scratch: Scratch) async -> [String?] {
        struct Plan { var entries: [Entry]; var base: TreeListing; var built: [[UInt8]: String] = [:] }
        var plans: [Int: Plan] = [:]
        var levels: [Int: [(slot: Int, dir: [UInt8])]] = [:]
        for (slot, snapshot) in snapshots.enumerated() {
            guard let entries = snapshot.entries, let base = bases[snapshot.worktree.baseCommit], !snapshot.changed.isEmpty,
                  entries.allSatisfy({ $0.stage == 0 }) else { continue }
            var dirty: Set<[UInt8]> = [[]]
            for path in snapshot.changed {
                var prefix = path[...]
                while let slash = prefix.lastIndex(of: 0x2F) {
                    prefix = prefix[..<slash]
                    dirty.insert(Array(prefix))
                }
            }
            plans[slot] = Plan(entries: entries, base: base)
            for dir in dirty { levels[dir.isEmpty ? 0 : dir.count(where: { $0 == 0x2F }) + 1, default: []].append((slot, dir)) }
        }
        let git = Git(repository)
        for depth in levels.keys.sorted(by: >) {
            var order: [(slot: Int, dir: [UInt8], file: String)] = []
            for (slot, dir) in levels[depth]! {
                guard let plan = plans[slot] else { continue }
                guard let content = Self.treeObject(dir: dir, entries: plan.entries, base: plan.base, built: plan.built) else {
                    plans[slot] = nil
                    continue
                }
                if content.isEmpty {
                    // Nothing left in this folder: its parent leaves it out (an empty root: write-tree decides).
                    if dir.isEmpty { plans[slot] = nil } else { plans[slot]!.built[dir] = "" }
                    continue
                }
                let file = scratch.url.appendingPathComponent("tree-\(depth)-\(order.count)").path
                guard FileManager.default.createFile(atPath: file, contents: Data(content)) else {
                    plans[slot] = nil
                    continue
                }
                order.append((slot, dir, file))
            }
            guard !order.isEmpty else { continue }
            let output = try? await git.run(["hash-object", "-t", "tree", "-w", "--stdin-paths"],
                                            stdin: Data(order.map { $0.file + "\n" }.joined().utf8))
            let oids = output?.stdout.split(separator: "\n").map(String.init) ?? []
            guard oids.count == order.count else {
                for step in order { plans[step.slot] = nil }
                continue
            }
            for (step, oid) in zip(order, oids) where plans[step.slot] != nil { plans[step.slot]!.built[step.dir] = oid }
        }
        return snapshots.indices.map { slot in plans[slot]?.built[[]].flatMap { $0.isEmpty ? nil : $0 } }
    }

    /// One folder's tree object: its files from the index, its subfolders from `built` (changed) or
    /// the base (unchanged). Walking the sorted index yields git's tree order (a folder sorts as
    /// "name/"). nil when a subfolder's tree is unknown.
    static func treeObject(dir: [UInt8], entries: [Entry], base: TreeListing, built: [[UInt8]: String]) -> [UInt8]? {
        let prefix = dir.isEmpty ? [] : dir + [0x2F]
        var i = dir.isEmpty ? 0 : lowerBound(entries, prefix)
        let end = dir.isEmpty ? entries.count : lowerBound(entries, dir + [0x30])   // "dir0" follows every "dir/…"
        var content: [UInt8] = []
        while i < end {
            let entry = entries[i]
            let rest = entry.path[prefix.count...]
            if let slash = rest.firstIndex(of: 0x2F) {
                let name = rest[..<slash]
                let sub = prefix + name
                guard let hex = built[sub] ?? base.trees[sub] else { return nil }
                if !hex.isEmpty {
                    guard let oid = hexBytes(hex.utf8) else { return nil }
                    content += treeMode
                    content += name
                    content.append(0)
                    content += oid
                }
                i = lowerBound(entries, sub + [0x30], from: i)
            } else {
                content += entry.mode == 0o100644 ? regularMode : Array("\(String(entry.mode, radix: 8)) ".utf8)
                content += rest
                content.append(0)
                content += entry.oid
                i += 1
            }
        }
        return content
    }

    static let treeMode = Array("40000 ".utf8)
    static let regularMode = Array("100644 ".utf8)

    /// The first entry whose path is not before `path`.
    static func lowerBound(_ entries: [Entry], _ path: [UInt8], from start: Int = 0) -> Int {
        var low = start, high = entries.count
        while low < high {
            let mid = (low + high) / 2
            if entries[mid].path.lexicographicallyPrecedes(path) { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
