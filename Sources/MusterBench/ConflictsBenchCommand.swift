import ArgumentParser
import Foundation
import MusterRuntime

/// `conflicts`: muster's conflict prediction against naive pairwise `git merge-tree`, on the same
/// worktrees in the same process (driven by scripts/bench-conflicts).
struct ConflictsBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conflicts",
        abstract: "Time conflict prediction (path index + merge-tree on candidates) against merge-tree on every pair.")

    @Option(help: ArgumentHelp("The repository whose linked worktrees are the tasks (task id: the folder name).", valueName: "path"))
    var repo: String
    @Option(help: ArgumentHelp("The commit every worktree started from.", valueName: "commit")) var base: String
    @Option(help: ArgumentHelp("Expected conflicts, one \"TASK TASK\" pair per line.", valueName: "file")) var expect: String?
    @Option(help: "Time merge-tree on this many random pairs only and extrapolate (default: every pair).") var sample: Int?
    @Option(help: "Git processes at once (default: the number of cores).") var concurrency: Int?
    @Option(help: "Warm prediction runs (the median is compared).") var repeats = 5

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        if let sample, sample < 1 { throw ValidationError("--sample must be at least 1") }
    }

    func run() async throws {
        let list = try await Git(repo).output(["worktree", "list", "--porcelain"])
        let paths = list.split(separator: "\n").filter { $0.hasPrefix("worktree ") }.dropFirst().map { String($0.dropFirst("worktree ".count)) }
        let worktrees = paths.map { ConflictPredictor.Worktree(task: ($0 as NSString).lastPathComponent, path: $0, baseCommit: base) }
        let predictor = ConflictPredictor(repository: repo, concurrency: concurrency)
        print("worktrees=\(worktrees.count) pairs=\(worktrees.count * (worktrees.count - 1) / 2) concurrency=\(predictor.concurrency) cores=\(ProcessInfo.processInfo.activeProcessorCount)")

        // Wall-clock is what a user waits; CPU time (muster plus every git it ran) shows the work done,
        // and stays comparable when the machine is busy with something else.
        let (cold, coldCPU) = try await Self.measure { try await predictor.predict(worktrees) }   // first touch: hashes every changed file
        print(String(format: "muster (cold)    %7.3f s wall  %7.3f s cpu   changed paths %d, candidate pairs %d, conflicts %d, overlaps %d",
                     cold.seconds, coldCPU, cold.changedPaths, cold.candidates, cold.conflicts.count, cold.overlaps.count))
        var runs: [(report: ConflictPredictor.Report, cpu: Double)] = []
        for _ in 0..<(repeats + 1) / 2 { runs.append(try await Self.measure { try await predictor.predict(worktrees) }) }

        let (naive, naiveCPUTried) = try await Self.measure { try await predictor.predictAllPairs(worktrees, sample: sample) }
        let sampled = naive.pairsTried < naive.pairsTotal
        let naiveSeconds: Double, naiveCPU: Double
        if sampled {
            // Snapshots are timed in full; only the merge-tree part is extrapolated.
            let (snapshots, snapshotCPU) = try await Self.measure { try await predictor.predictAllPairs(worktrees, sample: 0) }
            let scale = Double(naive.pairsTotal) / Double(max(1, naive.pairsTried))
            naiveSeconds = snapshots.report.seconds + (naive.report.seconds - snapshots.report.seconds) * scale
            naiveCPU = snapshotCPU + (naiveCPUTried - snapshotCPU) * scale
            print(String(format: "naive pairwise   %7.3f s wall  %7.3f s cpu   EXTRAPOLATED from %d of %d pairs (%.3f s, %.2f ms/pair) plus snapshots (%.3f s)",
                         naiveSeconds, naiveCPU, naive.pairsTried, naive.pairsTotal, naive.report.seconds,
                         (naive.report.seconds - snapshots.report.seconds) / Double(max(1, naive.pairsTried)) * 1000, snapshots.report.seconds))
        } else {
            naiveSeconds = naive.report.seconds
            naiveCPU = naiveCPUTried
            print(String(format: "naive pairwise   %7.3f s wall  %7.3f s cpu   merge-tree on all %d pairs, conflicts %d",
                         naiveSeconds, naiveCPU, naive.pairsTotal, naive.report.conflicts.count))
        }
        for _ in 0..<repeats / 2 { runs.append(try await Self.measure { try await predictor.predict(worktrees) }) }
        // Warm runs before and after the naive pass; the medians are compared.
        let walls = runs.map(\.report.seconds).sorted(), cpus = runs.map(\.cpu).sorted()
        let warm = runs.sorted { $0.report.seconds < $1.report.seconds }[runs.count / 2].report
        let warmCPU = cpus[cpus.count / 2]
        print(String(format: "muster (warm)    %7.3f s wall  %7.3f s cpu   median of %d runs (wall %.3f to %.3f)",
                     warm.seconds, warmCPU, runs.count, walls.first!, walls.last!))

        var failures: [String] = []
        let found = Set(warm.conflicts.map { "\($0.first) \($0.second)" })
        for run in runs.map(\.report) + [cold] where Set(run.conflicts.map { "\($0.first) \($0.second)" }) != found {
            failures.append("two predictions of the same worktrees differ")
            break
        }
        let naiveFound = Set(naive.report.conflicts.map { "\($0.first) \($0.second)" })
        if sampled {
            // Every conflict the sample found must be one muster found.
            if !naiveFound.isSubset(of: found) { failures.append("naive found conflicts muster missed: \(naiveFound.subtracting(found).sorted())") }
        } else if naiveFound != found {
            failures.append("muster and naive disagree: only muster \(found.subtracting(naiveFound).sorted()), only naive \(naiveFound.subtracting(found).sorted())")
        }
        // Against merge-tree on every pair: muster's precision and recall (a sample gives recall only).
        let agreed = found.intersection(naiveFound).count
        let recall = naiveFound.isEmpty ? 1.0 : Double(agreed) / Double(naiveFound.count)
        let precision = sampled ? "n/a (sampled)" : String(format: "%.3f", found.isEmpty ? 1.0 : Double(agreed) / Double(found.count))
        print("against all-pairs  precision \(precision)  recall \(String(format: "%.3f", recall))   (\(found.count) predicted, \(naiveFound.count) by merge-tree)")
        if let expect {
            let expected = Set(try String(contentsOfFile: expect, encoding: .utf8).split(separator: "\n").map(String.init))
            if expected != found {
                failures.append("expected conflicts differ: missing \(expected.subtracting(found).sorted()), unexpected \(found.subtracting(expected).sorted())")
            } else {
                print("conflict set: \(found.count) pairs, as planted" + (sampled ? "" : "; naive found the same \(naiveFound.count)"))
            }
        }
        if !warm.skipped.isEmpty || !naive.report.skipped.isEmpty {
            failures.append("skipped: \((warm.skipped + naive.report.skipped).prefix(5).map { "\($0.task): \($0.reason)" })")
        }
        print(String(format: "speed-up         %6.1fx wall (warm median), %.1fx cold; %.1fx cpu   goal: >= 20x and < 5 s at 200 worktrees -> %@",
                     naiveSeconds / warm.seconds, naiveSeconds / cold.seconds, naiveCPU / warmCPU,
                     naiveSeconds / warm.seconds >= 20 && warm.seconds < 5 ? "met" : "NOT met"))
        for failure in failures { print("DISAGREE: \(failure)") }
        if !failures.isEmpty { throw ExitCode(1) }
    }

    /// Runs `body`; returns its result and the CPU seconds it took (this process and the processes it waited for).
    static func measure<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let before = cpuSeconds()
        let result = try await body()
        return (result, cpuSeconds() - before)
    }

    static func cpuSeconds() -> Double {
        var total = 0.0
        #if os(Linux)
        let whom = [__rusage_who_t(RUSAGE_SELF.rawValue), __rusage_who_t(RUSAGE_CHILDREN.rawValue)]
        #else
        let whom = [RUSAGE_SELF, RUSAGE_CHILDREN]
        #endif
        for who in whom {
            var usage = rusage()
            _ = getrusage(who, &usage)
            total += Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        }
        return total
    }
}
