import Foundation

/// Finds tasks whose live worktrees will conflict when integrated, before they finish.
///
/// Each worktree's current state (committed, staged, modified and untracked files, minus ignored
/// ones) is snapshotted through a temporary index, so the worktree's own index and files are never
/// touched. Changed paths are indexed (path → tasks): only pairs that share a path, or where one
/// task's file is another's directory, become candidates, which costs time in proportion to the
/// number of changes, not to all N² pairs. Each candidate is then confirmed with
/// `git merge-tree --write-tree`: pairs that merge cleanly are overlaps, the rest conflicts.
///
/// Git processes per prediction: one `add -A` per worktree, one `merge-tree` per candidate pair, and
/// a handful shared by all (listing the base, writing the changed folders' trees and the snapshot
/// commits in batches); no ref is created or moved. All run at most `concurrency` at a time.
public struct ConflictPredictor: Sendable {
    /// One live worktree: the task it belongs to and the commit its changes are measured from.
    public struct Worktree: Sendable, Hashable, Codable {
        public var task: String
        public var path: String
        /// The commit the task started from (its run's base, or base plus the branches it needs).
        public var baseCommit: String
        /// Its agent's scratch files (globs): left out, so two aider tasks never "conflict" on `.aider*`.
        public var scratch: [String]?
        public init(task: String, path: String, baseCommit: String, scratch: [String]? = nil) {
            self.scratch = scratch
            self.task = task
            self.path = path
            self.baseCommit = baseCommit
        }
    }

    /// Two tasks that touch the same files. `first` sorts before `second`.
    public struct Pair: Sendable, Hashable, Codable {
        public var first: String
        public var second: String
        /// Conflicts: the files `git merge-tree` reports as conflicted. Overlaps: the shared paths.
        public var files: [String]
        public var conflicting: Bool
        public init(first: String, second: String, files: [String], conflicting: Bool) {
            self.first = first
            self.second = second
            self.files = files
            self.conflicting = conflicting
        }
        public var tasks: [String] { [first, second] }
    }

    public struct Skipped: Sendable, Hashable, Codable {
        public var task: String
        public var reason: String
    }

    public struct Report: Sendable, Codable {
        /// Pairs `git merge-tree` could not merge: each names the conflicted files.
        public var conflicts: [Pair] = []
        /// Pairs that change the same files but merge cleanly.
        public var overlaps: [Pair] = []
        /// Worktrees that could not be looked at (gone, not a worktree, base unknown).
        public var skipped: [Skipped] = []
        public var worktrees = 0
        /// Worktrees with at least one change.
        public var changedWorktrees = 0
        /// Changed paths over all worktrees (a path changed by two tasks counts twice).
        public var changedPaths = 0
        /// Pairs confirmed with `git merge-tree`.
        public var candidates = 0
        public var seconds = 0.0
        public init() {}
    }

    public let repository: String
    public let concurrency: Int

    /// `concurrency` bounds the git processes run at once (default: the number of cores).
    public init(repository: String, concurrency: Int? = nil) {
        self.repository = repository
        self.concurrency = max(1, concurrency ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    // MARK: Prediction

    public func predict(_ worktrees: [Worktree]) async throws -> Report {
        let clock = ContinuousClock.now
        var report = Report()
        report.worktrees = worktrees.count
        let scratch = try Scratch()
        defer { scratch.remove() }

        // Each distinct base is listed once; a worktree's changes are its snapshot index against that list.
        let bases = try await listBases(worktrees)
        let snapshots = try await boundedMap(Array(worktrees.enumerated()), limit: concurrency) { [bases] index, worktree in
            await attempt { try await self.snapshot(worktree, index: index, scratch: scratch, base: bases[worktree.baseCommit]) }
        }
        var live: [Snapshot] = []
        for (worktree, result) in zip(worktrees, snapshots) {
            switch result {
            case .success(let snapshot): live.append(snapshot)
            case .failure(let error): report.skipped.append(Skipped(task: worktree.task, reason: Self.reason(error)))
            }
        }
        report.changedWorktrees = live.filter { !$0.paths.isEmpty }.count
        report.changedPaths = live.reduce(0) { $0 + $1.paths.count }

        let candidates = Self.candidates(live.map(\.paths))
        report.candidates = candidates.count
        // Only worktrees in some candidate pair need a commit for merge-tree.
        let involved = Array(Set(candidates.flatMap { [$0.key.a, $0.key.b] })).sorted()
        let commits = try await self.commits(involved.map { live[$0] }, bases: bases, scratch: scratch)
        var commitOf: [Int: String] = [:]
        for (index, result) in zip(involved, commits) {
            switch result {
            case .success(let commit): commitOf[index] = commit
            case .failure(let error): report.skipped.append(Skipped(task: live[index].worktree.task, reason: Self.reason(error)))
            }
        }

        let pairs = candidates.compactMap { key, shared -> (Int, Int, [String], String, String)? in
            guard let a = commitOf[key.a], let b = commitOf[key.b] else { return nil }
            return (key.a, key.b, shared.sorted(), a, b)
        }
        let merged = try await boundedMap(pairs, limit: concurrency) { pair in
            await attempt { try await Self.mergeTree(repository: self.repository, pair.3, pair.4) }
        }
        for (pair, result) in zip(pairs, merged) {
            var first = live[pair.0].worktree.task, second = live[pair.1].worktree.task
            if second < first { swap(&first, &second) }
            switch result {
            case .success(let outcome):
                if outcome.conflicted.isEmpty {
                    report.overlaps.append(Pair(first: first, second: second, files: pair.2, conflicting: false))
                } else {
                    report.conflicts.append(Pair(first: first, second: second, files: outcome.conflicted, conflicting: true))
                }
            case .failure(let error):
                // merge-tree refusing (unrelated histories, a missing object) is reported, not guessed.
                report.skipped.append(Skipped(task: "\(first) + \(second)", reason: Self.reason(error)))
            }
        }
        let order: (Pair, Pair) -> Bool = { ($0.first, $0.second) < ($1.first, $1.second) }
        report.conflicts.sort(by: order)
        report.overlaps.sort(by: order)
        report.seconds = Self.seconds(since: clock)
        return report
    }

    /// The naive baseline (for the benchmark): snapshots every worktree and runs `git merge-tree`
    /// on every one of the N·(N-1)/2 pairs. Finds the same conflicts as `predict`, slowly.
    public func predictAllPairs(_ worktrees: [Worktree], sample: Int? = nil) async throws -> (report: Report, pairsTried: Int, pairsTotal: Int) {
        let clock = ContinuousClock.now
        var report = Report()
        report.worktrees = worktrees.count
        let scratch = try Scratch()
        defer { scratch.remove() }
        let bases = try await listBases(worktrees)
        let snapshots = try await boundedMap(Array(worktrees.enumerated()), limit: concurrency) { index, worktree in
            await attempt { try await self.snapshot(worktree, index: index, scratch: scratch, base: bases[worktree.baseCommit]) }
        }
        var taken: [Snapshot] = []
        for (worktree, result) in zip(worktrees, snapshots) {
            switch result {
            case .success(let snapshot): taken.append(snapshot)
            case .failure(let error): report.skipped.append(Skipped(task: worktree.task, reason: Self.reason(error)))
            }
        }
        var live: [(task: String, commit: String)] = []
        for (snapshot, result) in zip(taken, try await commits(taken, bases: bases, scratch: scratch)) {
            switch result {
            case .success(let commit): live.append((snapshot.worktree.task, commit))
            case .failure(let error): report.skipped.append(Skipped(task: snapshot.worktree.task, reason: Self.reason(error)))
            }
        }
        var pairs: [(Int, Int)] = []
        for i in live.indices { for j in live.indices where j > i { pairs.append((i, j)) } }
        let total = pairs.count
        if let sample, sample < pairs.count {
            var generator = SplitMix(seed: 42)
            pairs.shuffle(using: &generator)
            pairs = Array(pairs.prefix(sample))
        }
        let commitsByIndex = live.map(\.commit)
        let merged = try await boundedMap(pairs, limit: concurrency) { pair in
            await attempt { try await Self.mergeTree(repository: self.repository, commitsByIndex[pair.0], commitsByIndex[pair.1]) }
        }
        for (pair, result) in zip(pairs, merged) {
            var first = live[pair.0].task, second = live[pair.1].task
            if second < first { swap(&first, &second) }
            switch result {
            case .success(let outcome):
                if !outcome.conflicted.isEmpty {
                    report.conflicts.append(Pair(first: first, second: second, files: outcome.conflicted, conflicting: true))
                }
            case .failure(let error): report.skipped.append(Skipped(task: "\(first) + \(second)", reason: Self.reason(error)))
            }
        }
        report.candidates = pairs.count
        report.conflicts.sort { ($0.first, $0.second) < ($1.first, $1.second) }
        report.seconds = Self.seconds(since: clock)
        return (report, pairs.count, total)
    }

    // MARK: Candidates

    struct PairKey: Hashable { var a: Int; var b: Int }

    /// Pairs of worktrees (by index) that change a common path, or where one changes a file at a
    /// path the other uses as a directory; with the shared paths. Time: the number of changes
    /// times path depth, plus the number of pairs found.
    static func candidates(_ changes: [[String]]) -> [PairKey: Set<String>] {
        var owners: [String: [Int]] = [:]
        for (index, paths) in changes.enumerated() {
            for path in Set(paths) { owners[path, default: []].append(index) }
        }
        var pairs: [PairKey: Set<String>] = [:]
        func add(_ x: Int, _ y: Int, _ path: String) {
            guard x != y else { return }
            pairs[PairKey(a: min(x, y), b: max(x, y)), default: []].insert(path)
        }
        for (path, tasks) in owners where tasks.count > 1 {
            for i in tasks.indices { for j in tasks.indices where j > i { add(tasks[i], tasks[j], path) } }
        }
        // A file in one worktree where another has a directory (`docs` vs `docs/a.md`).
        for (index, paths) in changes.enumerated() {
            for path in Set(paths) {
                var prefix = Substring(path)
                while let slash = prefix.lastIndex(of: "/") {
                    prefix = prefix[..<slash]
                    if let others = owners[String(prefix)] { for other in others { add(index, other, String(prefix)) } }
                }
            }
        }
        return pairs
    }

    // MARK: Snapshots

    struct Snapshot: Sendable {
        var worktree: Worktree
        /// The private index holding the worktree's whole state.
        var index: String
        var paths: [String]
        /// That index's entries, when muster could read it (then its tree is built without `write-tree`).
        var entries: [Entry]?
        var changed: [[UInt8]] = []
    }

    /// Stages the worktree's whole state into a copy of its index and lists what differs from its base
    /// (by reading that index against `base` when it can, else with `git diff --cached`).
    func snapshot(_ worktree: Worktree, index: Int, scratch: Scratch, base: TreeListing?) async throws -> Snapshot {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: worktree.path, isDirectory: &isDir), isDir.boolValue else {
            throw PredictionError("worktree \(worktree.path) does not exist")
        }
        let indexFile = scratch.url.appendingPathComponent("index-\(index)").path
        let git = try Self.snapshotGit(in: worktree.path, index: indexFile)
        if let original = Self.indexPath(of: worktree.path) {
            // A copy keeps the stat cache, so `add -A` only hashes what changed.
            try? FileManager.default.removeItem(atPath: indexFile)
            try FileManager.default.copyItem(atPath: original, toPath: indexFile)
        } else {
            _ = try await git(["read-tree", "HEAD"])
        }
        let pathspecs = ScratchFiles.excludingPathspecs(worktree.scratch ?? [])
        _ = try await git(["add", "-A", "--ignore-errors", "--"] + (pathspecs.isEmpty ? ["."] : pathspecs))
        if let base, let entries = IndexFile.entries(atPath: indexFile, hashLength: base.hashLength) {
            let changed = Self.changedPaths(entries, base.entries)
            return Snapshot(worktree: worktree, index: indexFile, paths: changed.map { String(decoding: $0, as: UTF8.self) }.filter { !$0.hasPrefix(".muster/") },
                            entries: entries, changed: changed)
        }
        let diff = try await git(["diff", "--cached", "--name-only", "-z", "--no-renames", "--no-ext-diff", worktree.baseCommit, "--"])
        let paths = diff.split(separator: "\0").map(String.init)
        return Snapshot(worktree: worktree, index: indexFile, paths: paths.filter { !$0.hasPrefix(".muster/") })
    }

    /// A commit of each snapshot (parent: its worktree's HEAD), without touching any ref: `write-tree`
    /// per snapshot, then every commit object written by one `hash-object`.
    func commits(_ snapshots: [Snapshot], bases: [String: TreeListing], scratch: Scratch) async throws -> [Result<String, any Error>] {
        guard !snapshots.isEmpty else { return [] }
        let built = await buildTrees(snapshots, bases: bases, scratch: scratch)
        let trees = try await boundedMap(Array(snapshots.enumerated()), limit: concurrency) { slot, snapshot in
            if let tree = built[slot] { return Result<String, any Error>.success(tree) }
            return await attempt { () async throws -> String in
                let git = try Self.snapshotGit(in: snapshot.worktree.path, index: snapshot.index)
                return try await git(["write-tree"]).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        let heads = try await self.heads(of: snapshots.map(\.worktree.path))
        var results = trees
        var files: [(slot: Int, path: String)] = []
        for (slot, snapshot) in snapshots.enumerated() {
            guard case .success(let tree) = trees[slot] else { continue }
            let parent = heads[slot] ?? snapshot.worktree.baseCommit
            let subject = "muster: snapshot of \(snapshot.worktree.task)".replacingOccurrences(of: "\n", with: " ")
            let text = "tree \(tree)\nparent \(parent)\nauthor muster <muster@localhost> 0 +0000\n"
                + "committer muster <muster@localhost> 0 +0000\n\n\(subject)\n"
            let path = scratch.url.appendingPathComponent("commit-\(slot)").path
            do {
                try text.write(toFile: path, atomically: false, encoding: .utf8)
                files.append((slot, path))
            } catch { results[slot] = .failure(error) }
        }
        guard !files.isEmpty else { return results }
        do {
            let output = try await Git(repository).run(["hash-object", "-t", "commit", "-w", "--stdin-paths"],
                                                       stdin: Data(files.map { $0.path + "\n" }.joined().utf8))
            let oids = output.stdout.split(separator: "\n").map(String.init)
            guard oids.count == files.count else { throw PredictionError("git hash-object wrote \(oids.count) of \(files.count) commits") }
            for (file, oid) in zip(files, oids) { results[file.slot] = .success(oid) }
        } catch {
            for file in files { results[file.slot] = .failure(error) }
        }
        return results
    }

    /// Lists each distinct base commit once (nil where git cannot: those worktrees ask `git diff`).
    func listBases(_ worktrees: [Worktree]) async throws -> [String: TreeListing] {
        let commits = Array(Set(worktrees.map(\.baseCommit))).sorted()
        let listings = try await boundedMap(commits, limit: concurrency) { commit in
            try? await Self.listTree(repository: self.repository, commit: commit)
        }
        var bases: [String: TreeListing] = [:]
        for (commit, listing) in zip(commits, listings) { bases[commit] = listing }
        return bases
    }

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

    /// Each worktree's HEAD commit, from its `HEAD` file and one `for-each-ref` for all of them (nil: unknown).
    func heads(of worktrees: [String]) async throws -> [String?] {
        var direct: [String?] = []
        var symbolic: [String?] = []
        for worktree in worktrees {
            let head = Self.gitDir(of: worktree).flatMap { try? String(contentsOfFile: $0 + "/HEAD", encoding: .utf8) }?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if head.hasPrefix("ref: ") {
                direct.append(nil)
                symbolic.append(String(head.dropFirst("ref: ".count)))
            } else {
                direct.append(Self.hexBytes(head.utf8) != nil && !head.isEmpty ? head : nil)
                symbolic.append(nil)
            }
        }
        let refs = Array(Set(symbolic.compactMap { $0 })).sorted()
        var resolved: [String: String] = [:]
        if !refs.isEmpty {
            let output = try await Git(repository).output(["for-each-ref", "--format=%(objectname) %(refname)"] + refs)
            for line in output.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                if parts.count == 2 { resolved[String(parts[1])] = String(parts[0]) }
            }
        }
        return zip(direct, symbolic).map { direct, ref in direct ?? ref.flatMap { resolved[$0] } }
    }

    /// The worktree's git folder, found without running git (`.git` is a folder or a `gitdir:` file).
    static func gitDir(of worktree: String) -> String? {
        let dotGit = (worktree as NSString).appendingPathComponent(".git")
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit, isDirectory: &isDir) else { return nil }
        if isDir.boolValue { return dotGit }
        guard let text = try? String(contentsOfFile: dotGit, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("gitdir:") }) else { return nil }
        let path = line.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespaces)
        return path.hasPrefix("/") ? path : (worktree as NSString).appendingPathComponent(path)
    }

    /// The worktree's index file (nil: it has none yet).
    static func indexPath(of worktree: String) -> String? {
        guard let gitDir = gitDir(of: worktree) else { return nil }
        let index = (gitDir as NSString).appendingPathComponent("index")
        return FileManager.default.fileExists(atPath: index) ? index : nil
    }

    static let snapshotEnvironment: [String: String] = {
        var env = Git.environment
        // Fixed identity and dates: the same state always snapshots to the same commit id.
        for role in ["AUTHOR", "COMMITTER"] {
            env["GIT_\(role)_NAME"] = "muster"
            env["GIT_\(role)_EMAIL"] = "muster@localhost"
            env["GIT_\(role)_DATE"] = "@0 +0000"
        }
        return env
    }()

    /// Runs git in `directory` with `index` as its index file; returns stdout, throws on failure.
    static func snapshotGit(in directory: String, index: String) throws -> @Sendable ([String]) async throws -> String {
        let executable = try Git.resolver.resolve("git", relativeTo: directory)
        var env = snapshotEnvironment
        env["GIT_INDEX_FILE"] = index
        env["GIT_CEILING_DIRECTORIES"] = Git.ceiling(for: directory)
        return { [env] arguments in
            let output = try await CommandRunner.run(executable, ["-c", "core.hooksPath=/dev/null", "-c", "gc.auto=0"] + arguments,
                                                     in: directory, environment: env)
            guard output.succeeded else {
                let message = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                throw GitError(command: arguments.prefix(3).joined(separator: " "), message: message.isEmpty ? output.status.description : message)
            }
            return output.stdout
        }
    }

    // MARK: Reading trees and indexes

    /// Path, mode and object id of every file, in git's order (byte order of full paths).
    struct Entry: Sendable, Equatable {
        var path: [UInt8]
        var mode: UInt32
        var oid: [UInt8]
        var stage: UInt8 = 0
    }

    struct TreeListing: Sendable {
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

    // MARK: merge-tree

    public struct MergeOutcome: Sendable, Equatable {
        /// The merged tree (with conflict markers where it conflicted).
        public var tree: String
        /// Conflicted paths; empty when the merge is clean.
        public var conflicted: [String]
    }

    /// `git merge-tree --write-tree` of two commits: writes objects, never touches a ref, index or file.
    /// `environment`: the integrator's (merge drivers off); default: muster's usual git environment.
    public static func mergeTree(repository: String, _ first: String, _ second: String,
                                 environment: [String: String]? = nil) async throws -> MergeOutcome {
        let git = try Git.resolver.resolve("git", relativeTo: repository)
        let output = try await CommandRunner.run(git, ["-c", "gc.auto=0", "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", first, second],
                                                 in: repository, environment: environment ?? Git.environment(in: repository))
        guard case .exited(let code) = output.status, code == 0 || code == 1 else {
            let message = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw GitError(command: "merge-tree", message: message.isEmpty ? output.status.description : message)
        }
        // <tree> NUL <conflicted path> NUL ... NUL (an empty entry ends the list)
        let fields = output.stdout.split(separator: "\0", omittingEmptySubsequences: false)
        let tree = fields.first.map(String.init) ?? ""
        var conflicted: [String] = []
        if code == 1 {
            for field in fields.dropFirst() {
                if field.isEmpty { break }
                let path = String(field)
                if conflicted.last != path && !conflicted.contains(path) { conflicted.append(path) }
            }
            if conflicted.isEmpty { conflicted = ["(unknown: git merge-tree reported a conflict without naming files)"] }
        }
        return MergeOutcome(tree: tree, conflicted: conflicted)
    }

    // MARK: Helpers

    struct PredictionError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    static func reason(_ error: any Error) -> String {
        String(describing: error)
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// A private temp folder for index copies, removed when prediction ends.
    final class Scratch: Sendable {
        let url: URL
        init() throws {
            url = FileManager.default.temporaryDirectory.appendingPathComponent("muster-conflicts-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }
        func remove() { try? FileManager.default.removeItem(at: url) }
    }

    /// A seeded generator so a sampled baseline is repeatable.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}

/// Maps `items` through `body` with at most `limit` running at once; results keep the input order.
func boundedMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (T) async throws -> R) async throws -> [R] {
    guard !items.isEmpty else { return [] }
    return try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        func start() {
            let index = next, item = items[index]
            next += 1
            group.addTask { (index, try await body(item)) }
        }
        while next < min(max(1, limit), items.count) { start() }
        while let (index, result) = try await group.next() {
            results[index] = result
            if next < items.count { start() }
        }
        return results.map { $0! }
    }
}

/// The outcome of `body` as a value, so one failing item does not cancel the others.
func attempt<R>(_ body: () async throws -> R) async -> Result<R, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}
