import Foundation
import MusterStore
import Synchronization

/// Finished tasks' worktrees, kept under `.muster/worktrees/pool/` for the next tasks (of this run or
/// a later one) instead of a fresh `git worktree add` and a full checkout: the next task moves one to
/// its own path, resets it to its base (git rewrites only the files that differ) and cleans it
/// (`WorktreePool+Recycle.swift`). What a `setup:` command produced stays when its inputs are
/// unchanged, so setup is skipped (`SetupCache`). Bounded by count and disk (`WorktreeSettings`).
///
/// On disk each entry is a worktree folder `pool/<name>/` and its record `pool/<name>.json`. Taking
/// one renames the record first (atomic: two takers never get the same worktree, even from two
/// processes); a worktree whose `.git` link is not the one recorded is never reused, only removed.
final class WorktreePool: Sendable {
    /// What `setup:` made in a worktree, and the inputs it was made from.
    struct SetupRecord: Codable, Sendable, Equatable {
        /// The setup commands (a worktree made with other commands never skips setup).
        var commands: [String]
        /// The commands and the hashes of their input files (`SetupCache.key`).
        var key: String
        /// Untracked paths setup created (`dir/` for a folder): kept across reuse while `key` holds.
        var products: [String]
    }

    struct Entry: Codable, Sendable {
        var name: String
        /// The admin folder `git worktree add` made for it: its `.git` must still name exactly this.
        var gitDir: String
        var setup: SetupRecord?
        /// Its disk use when it was pooled (only measured when the pool has a disk bound).
        var bytes: Int64?
        var pooledAt: Date
    }

    let folder: URL
    let settings: WorktreeSettings
    /// What setup made in each live worktree (by path), recorded at preparation, read at release.
    /// Kept in memory: the task's own folder is its outbox, which it can write.
    private let ledger = Mutex<[String: SetupRecord]>([:])
    /// Releases under way in this process, counted against the bound before their records exist.
    private let releasing = Mutex<Int>(0)

    init(workspace: Workspace, settings: WorktreeSettings) {
        folder = Self.folder(of: workspace)
        self.settings = settings
    }

    static func folder(of workspace: Workspace) -> URL {
        workspace.stateDirectory.appendingPathComponent("worktrees/pool")
    }

    func remember(_ record: SetupRecord?, for worktree: String) {
        ledger.withLock { $0[worktree] = record }
    }

    func setupRecord(for worktree: String) -> SetupRecord? {
        ledger.withLock { $0.removeValue(forKey: worktree) }
    }

    /// The pooled entries with their records, newest first.
    static func entries(in folder: URL) -> [Entry] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return names.filter { $0.hasSuffix(".json") }.compactMap { name -> Entry? in
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) else { return nil }
            return try? decoder.decode(Entry.self, from: data)
        }.sorted { $0.pooledAt > $1.pooledAt }
    }

    var entries: [Entry] { Self.entries(in: folder) }

    /// No pooled worktree at all (a listing, nothing decoded): an empty pool needs no other look.
    var isEmpty: Bool {
        !((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).contains { $0.hasSuffix(".json") }
    }

    /// Takes `entry` for this caller alone: false when another taker (or `muster clean --pool`) was first.
    func claim(_ entry: Entry) -> Bool {
        Self.claim(entry.name, in: folder)
    }

    static func claim(_ name: String, in folder: URL) -> Bool {
        let record = folder.appendingPathComponent(name + ".json").path
        let claimed = folder.appendingPathComponent(name + ".claimed").path
        guard rename(record, claimed) == 0 else { return false }
        unlink(claimed)
        return true
    }

    func write(_ entry: Entry) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(entry)
        // Written under another name and renamed: a taker never reads half a record.
        let temporary = folder.appendingPathComponent(entry.name + ".json.tmp")
        try data.write(to: temporary)
        guard rename(temporary.path, folder.appendingPathComponent(entry.name + ".json").path) == 0 else {
            throw GitError(command: "worktree pool", message: "could not record \(entry.name): \(String(cString: strerror(errno)))")
        }
    }

    /// Reserves room for one more entry; false when the pool is full by count or by disk.
    func reserve(bytes: Int64?) -> Bool {
        let current = entries
        return releasing.withLock { inFlight in
            guard settings.pool > 0, current.count + inFlight < settings.pool else { return false }
            if let limit = settings.poolDiskBytes {
                let used = current.reduce(Int64(0)) { $0 + ($1.bytes ?? 0) }
                guard let bytes, used + bytes <= limit else { return false }
            }
            inFlight += 1
            return true
        }
    }

    func unreserve() {
        releasing.withLock { $0 -= 1 }
    }

    /// Disk used by a folder (`du -sk`), in bytes; nil when it cannot be measured.
    static func diskUse(_ path: String) async -> Int64? {
        guard let output = try? await CommandRunner.run("/usr/bin/du", ["-sk", path], in: "/", environment: ["LC_ALL": "C"], pool: .shared),
              output.succeeded, let kilobytes = Int64(output.stdout.split(whereSeparator: { $0 == "\t" || $0 == " " }).first ?? "")
        else { return nil }
        return kilobytes * 1024
    }
}

/// `muster clean --pool`: removes every pooled worktree (never a live task's: those are not in the pool).
public enum WorktreePoolCleaner {
    public struct Report: Sendable {
        public var removed: [String] = []
        /// Disk they used, as measured when they were pooled (0 when the pool had no disk bound).
        public var bytes: Int64 = 0
    }

    public static func empty(workspace: Workspace) async throws -> Report {
        let folder = WorktreePool.folder(of: workspace)
        var report = Report()
        guard FileManager.default.fileExists(atPath: folder.path) else { return report }
        let repo = Git(workspace.root)
        let admin = WorktreeAdmin()
        for entry in WorktreePool.entries(in: folder) where WorktreePool.claim(entry.name, in: folder) {
            await admin.remove(repo, folder.appendingPathComponent(entry.name).path)
            report.removed.append(entry.name)
            report.bytes += entry.bytes ?? 0
        }
        // Worktrees a crash left without their record (taken ones are not here: they were moved out).
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where !name.contains(".") {
            await admin.remove(repo, folder.appendingPathComponent(name).path)
            report.removed.append(name)
        }
        try await repo.run(["worktree", "prune"], allowFailure: true)
        return report
    }
}
