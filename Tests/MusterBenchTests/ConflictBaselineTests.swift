import Foundation
import MusterRuntime
import MusterTestKit
import Testing
@testable import MusterBench

/// The benchmark's naive baseline against conflict prediction, on the same worktrees.
@Suite struct ConflictBaselineTests {
    @Test func allPairsBaselineFindsTheSameConflicts() async throws {
        let f = try await GitFixture.make()
        for task in ["a", "b", "c", "d"] { try await f.worktree(task) }
        try f.write("shared.txt", GitFixture.lines(replacing: [5: "a"]), in: f.worktreePath("a"))
        try f.write("shared.txt", GitFixture.lines(replacing: [5: "b"]), in: f.worktreePath("b"))
        try f.write("shared.txt", GitFixture.lines(replacing: [20: "c"]), in: f.worktreePath("c"))
        try f.write("other.txt", "d\n", in: f.worktreePath("d"))
        let worktrees = ["a", "b", "c", "d"].map { f.predictorWorktree($0) }
        let predictor = ConflictPredictor(repository: f.root.path)
        let fast = try await predictor.predict(worktrees)
        let naive = try await predictor.predictAllPairs(worktrees)
        #expect(naive.pairsTotal == 6)
        #expect(fast.conflicts == naive.report.conflicts)
        #expect(fast.conflicts.map(\.tasks) == [["a", "b"]])
        #expect(Set(fast.overlaps.map(\.tasks)) == [["a", "c"], ["b", "c"]])
    }
}
