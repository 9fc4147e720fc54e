import Foundation
import MusterStore
import Testing
@testable import MusterRuntime
import MusterTestKit

/// The merge queue: `integrate` with a check after each merge (or batch), dropping what breaks it.
@Suite struct IntegrationCheckTests {
    /// A task that committed `files` on its own branch.
    func task(_ f: GitFixture, _ id: String, position: Int, needs: [String] = [], files: [String: String],
              merging: [String] = []) async throws -> IntegrationTask {
        let path = try await f.worktree(id)
        for need in merging { try await f.git(["merge", "-q", "--no-edit", f.branch(need)], in: path) }
        let start = try await f.git(["rev-parse", "HEAD"], in: path)
        for (file, text) in files { try f.write(file, text, in: path) }
        let head = try await f.commit(id)
        return IntegrationTask(id: id, group: id, position: position, needs: needs, state: .succeeded,
                               git: TaskGitState(worktree: path, branch: f.branch(id), baseCommit: start, headCommit: head,
                                                 changedPaths: Array(files.keys)))
    }

    /// Fails when the merged tree holds `broken`; also fails if it could reach a `.git`, and leaves a file behind.
    static let check = "test ! -e .git && touch made-by-check && if test -f broken; then echo \"broken is here\" >&2; exit 3; fi"

    @Test func aBreakingTaskIsDroppedWithItsDependentAndTheRestMerge() async throws {
        let f = try await GitFixture.make()
        let good = try await task(f, "good", position: 0, files: ["good.txt": "good\n"])
        let bad = try await task(f, "bad", position: 1, files: ["broken": "x\n"])
        let dependent = try await task(f, "dependent", position: 2, needs: ["bad"], files: ["dep.txt": "dep\n"], merging: ["bad"])
        let later = try await task(f, "later", position: 3, files: ["later.txt": "later\n"])
        // The user's own work in progress, which nothing may touch.
        try f.write("other.txt", "edited, not committed\n")
        try f.write("scratch.txt", "untracked\n")
        let head = try await f.git(["rev-parse", "HEAD"])
        let statusBefore = try await f.git(["status", "--porcelain"])
        let worktreesBefore = try await f.git(["worktree", "list", "--porcelain"])

        let result = try await Integrator(repository: f.root.path).integrate(
            run: f.run, baseCommit: f.base, tasks: [good, bad, dependent, later], options: IntegrationOptions(check: Self.check))
        #expect(result.succeeded)
        #expect(result.merged.map(\.task) == ["good", "later"])
        #expect(result.dropped.map(\.task) == ["bad", "dependent"])
        #expect(result.dropped[0].reason.contains("exit status 3"))
        #expect(result.dropped[0].output?.contains("broken is here") == true)
        #expect(result.dropped[1].because == "bad" && result.dropped[1].output == nil)
        // The start, then one check per merge attempted: good, bad, later (dependent never merged).
        #expect(result.checksRun == 4)
        #expect(try await f.git(["rev-parse", result.branch]) == result.endCommit)
        let files = try await f.git(["ls-tree", "-r", "--name-only", result.branch]).split(separator: "\n").map(String.init)
        #expect(files.contains("good.txt") && files.contains("later.txt"))
        #expect(!files.contains("broken") && !files.contains("dep.txt") && !files.contains("made-by-check"))
        // The user's branch, index, files and worktree list are as they were.
        #expect(try await f.git(["rev-parse", "HEAD"]) == head)
        #expect(try await f.git(["symbolic-ref", "--short", "HEAD"]) == "main")
        #expect(try await f.git(["status", "--porcelain"]) == statusBefore)
        #expect(try await f.git(["worktree", "list", "--porcelain"]) == worktreesBefore)
        #expect(!FileManager.default.fileExists(atPath: f.root.appendingPathComponent("made-by-check").path))
    }

    @Test func aFailingBatchIsBisectedToTheBreakingMerge() async throws {
        let f = try await GitFixture.make()
        var tasks: [IntegrationTask] = []
        for index in 0..<5 {
            let files = index == 2 ? ["broken": "x\n"] : ["f\(index).txt": "\(index)\n"]
            tasks.append(try await task(f, "t\(index)", position: index, files: files))
        }
        let result = try await Integrator(repository: f.root.path).integrate(
            run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(check: Self.check, checkBatch: 4))
        #expect(result.merged.map(\.task) == ["t0", "t1", "t3", "t4"])
        #expect(result.dropped.map(\.task) == ["t2"])
        // start; t0-t3 fails; t0-t1 passes; t2-t3 fails; t2 fails; t3 passes; t4 passes.
        #expect(result.checksRun == 7)
        let subjects = try await f.git(["log", "--first-parent", "--reverse", "--format=%s", "\(f.base)..\(result.branch)"])
        #expect(subjects.split(separator: "\n").map(String.init) == ["t0", "t1", "t3", "t4"].map { "muster: integrate \($0) (run r1)" })
    }

    @Test func aCheckThatFailsAtTheStartStopsBeforeAnything() async throws {
        let f = try await GitFixture.make()
        let one = try await task(f, "one", position: 0, files: ["one.txt": "1\n"])
        let refs = try await f.refs()
        await #expect(throws: IntegrationError.self) {
            try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: [one],
                                                                   options: IntegrationOptions(check: "echo nope; exit 1"))
        }
        #expect(try await f.refs() == refs, "no branch was created")
    }

    @Test func aDryRunChecksTooButMovesNothing() async throws {
        let f = try await GitFixture.make()
        let tasks = [try await task(f, "good", position: 0, files: ["good.txt": "good\n"]),
                     try await task(f, "bad", position: 1, files: ["broken": "x\n"])]
        let refs = try await f.refs()
        let result = try await Integrator(repository: f.root.path).integrate(
            run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(dryRun: true, check: Self.check))
        #expect(result.merged.map(\.task) == ["good"] && result.dropped.map(\.task) == ["bad"])
        #expect(try await f.refs() == refs)
    }

    @Test func aConflictStillStopsAndTheCheckRefusesTheCheckout() async throws {
        let f = try await GitFixture.make()
        let tasks = [try await task(f, "t1", position: 0, files: ["shared.txt": GitFixture.lines(replacing: [5: "one"])]),
                     try await task(f, "t2", position: 1, files: ["shared.txt": GitFixture.lines(replacing: [5: "two"])]),
                     try await task(f, "t3", position: 2, files: ["t3.txt": "3\n"])]
        let result = try await Integrator(repository: f.root.path).integrate(
            run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(check: "true", checkBatch: 3))
        #expect(result.merged.map(\.task) == ["t1"])
        #expect(result.conflict?.task == "t2" && result.notAttempted == ["t3"])

        await #expect(throws: IntegrationError.checkInCheckout) {
            try await Integrator(repository: f.root.path).integrate(
                run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(into: "main", allowCheckedOut: true, check: "true"))
        }
    }
}
