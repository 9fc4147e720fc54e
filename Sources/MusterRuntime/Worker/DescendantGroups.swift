import Foundation
import MusterStore

/// The process groups of a process's live descendants, its own group left out: a worker's agents
/// (each leads a group of its own, sandboxed or not), found without asking its orchestrator, which
/// may be the part that is stuck. Read from /proc (`stat`: state, ppid, pgrp); zombies do not count.
enum DescendantGroups {
    static func of(_ root: Int32 = getpid()) -> Set<Int32> {
        var parent: [Int32: Int32] = [:], group: [Int32: Int32] = [:]
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), let fields = ProcStat.fields(entry: entry) else { continue }
            guard fields.count > 2, fields[0] != "Z", fields[0] != "X", let ppid = Int32(fields[1]), let pgrp = Int32(fields[2]) else { continue }
            parent[pid] = ppid
            group[pid] = pgrp
        }
        let own = group[root] ?? getpgrp()
        var groups = Set<Int32>()
        for (pid, pgrp) in group where pgrp > 1 && pgrp != own && !groups.contains(pgrp) {
            // Up the ancestry (bounded: a cycle cannot happen, a reused pid read mid-scan might).
            var ancestor = parent[pid], hops = 0
            while let current = ancestor, current > 1, hops < 256 {
                if current == root { groups.insert(pgrp); break }
                ancestor = parent[current]
                hops += 1
            }
        }
        return groups
    }
}
