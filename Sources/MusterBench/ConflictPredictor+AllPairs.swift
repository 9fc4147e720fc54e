import Foundation
import MusterRuntime

/// The benchmark's baseline: `git merge-tree` on every pair of worktrees.
extension ConflictPredictor {
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
