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
        package init(task: String, reason: String) {
            self.task = task
            self.reason = reason
        }
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
}
