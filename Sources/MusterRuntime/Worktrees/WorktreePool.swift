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

    /// The pooled entries with their records, newest first (decodes every record: for `muster
    /// clean --pool` and tests; a task takes one with `take`, which decodes only what it takes).
    static func entries(in folder: URL) -> [Entry] {
        let decoder = recordDecoder()
        return names(in: folder).compactMap { name -> Entry? in
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name + ".json").path) else { return nil }
            return try? decoder.decode(Entry.self, from: data)
        }.sorted { $0.pooledAt > $1.pooledAt }
    }

    var entries: [Entry] { Self.entries(in: folder) }

    /// The pooled worktrees' names (one listing, nothing read), newest first: a name starts with
    /// the time it was pooled (`newName`).
    static func names(in folder: URL) -> [String] {
        let listed = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return listed.filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted(by: >)
    }

    /// No pooled worktree at all (a listing, nothing decoded): an empty pool needs no other look.
    var isEmpty: Bool { Self.names(in: folder).isEmpty }

    /// A name for a worktree pooled now with `setup`: `p-<µs since 1970, 13 hex>-<setup commands'
    /// mark, 8 hex>-<8 random hex>`. Sorting names sorts by age, and a taker finds the entries made
    /// with its own setup commands without reading any record.
    static func newName(setup commands: [String]?, at date: Date) -> String {
        let micros = UInt64(max(0, date.timeIntervalSince1970 * 1_000_000))
        return "p-" + String(format: "%013llx", micros) + "-" + setupMark(commands) + "-" + String(format: "%08x", UInt32.random(in: 0...UInt32.max))
    }

    /// 32 bits of a stable hash of the setup commands, the same in every process; "00000000" for none.
    static func setupMark(_ commands: [String]?) -> String {
        guard let commands, !commands.isEmpty else { return "00000000" }
        let hash = UInt32(truncatingIfNeeded: StableHash.fnv1a(commands.joined(separator: "\0")))
        return String(format: "%08x", hash == 0 ? 1 : hash)
    }

    /// Takes the newest pooled worktree, those pooled with `commands` as their setup first: its
    /// record is renamed for this taker alone (another taker, or `muster clean --pool`, that was
    /// first makes the rename fail: the next one is tried), then read. A record that cannot be read
    /// hands its worktree back as `unreadable` for removal. nil when none is left.
    func take(preferringSetup commands: [String]) -> Taken? {
        let names = Self.names(in: folder)
        let mark = "-" + Self.setupMark(commands) + "-"
        let preferred = commands.isEmpty ? [] : names.filter { $0.contains(mark) }
        for name in preferred + names where Self.claim(name, in: folder, keep: true) {
            let claimed = folder.appendingPathComponent(name + ".claimed").path
            defer { unlink(claimed) }
            guard let data = FileManager.default.contents(atPath: claimed),
                  let entry = try? Self.recordDecoder().decode(Entry.self, from: data), entry.name == name else {
                return .unreadable(name)
            }
            return .entry(entry)
        }
        return nil
    }

    enum Taken {
        case entry(Entry)
        /// Its record could not be read: the worktree `pool/<name>` is removed, never reused.
        case unreadable(String)
    }

    static func recordDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// Renames the record `<name>.json` to `<name>.claimed` (removed again unless `keep`).
    static func claim(_ name: String, in folder: URL, keep: Bool = false) -> Bool {
        let record = folder.appendingPathComponent(name + ".json").path
        let claimed = folder.appendingPathComponent(name + ".claimed").path
        guard rename(record, claimed) == 0 else { return false }
        if !keep { unlink(claimed) }
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
        let count = Self.names(in: folder).count
        // Records are read only for a disk bound: counting needs only the listing.
        let current = settings.poolDiskBytes == nil ? [] : entries
        return releasing.withLock { inFlight in
            guard settings.pool > 0, count + inFlight < settings.pool else { return false }
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
