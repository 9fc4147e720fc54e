import Foundation
import MusterStore
import Testing
@testable import MusterRuntime
import MusterTestKit

@Suite struct IntegratorTests {
    /// A task that ran in its worktree and committed `files` (when it succeeded).
    func task(_ f: GitFixture, _ id: String, group: String? = nil, position: Int, needs: [String] = [], files: [String: String],
              from: String? = nil, merging: [String] = [], state: TaskState = .succeeded, violations: [String] = []) async throws -> IntegrationTask {
        let path = try await f.worktree(id, from: from)
        for need in merging { try await f.git(["merge", "-q", "--no-edit", f.branch(need)], in: path) }
        let start = try await f.git(["rev-parse", "HEAD"], in: path)
        for (file, text) in files { try f.write(file, text, in: path) }
        let head = try await f.commit(id)
        return IntegrationTask(id: id, group: group ?? id, position: position, needs: needs, state: state,
                               git: TaskGitState(worktree: path, branch: f.branch(id), baseCommit: start, headCommit: head,
                                                 changedPaths: Array(files.keys), violations: violations),
                               error: state == .failed ? "exit status 1" : nil)
    }

    /// Subjects of the branch's first-parent history after the base, oldest first.
    func firstParentSubjects(_ f: GitFixture, _ branch: String) async throws -> [String] {
        try await f.git(["log", "--first-parent", "--reverse", "--format=%s", "\(f.base)..\(branch)"])
            .split(separator: "\n").map(String.init)
    }

    func conflictingThree(_ f: GitFixture) async throws -> [IntegrationTask] {
        [try await task(f, "t1", position: 0, files: ["shared.txt": GitFixture.lines(replacing: [5: "one"]), "t1.txt": "1\n"]),
         try await task(f, "t2", position: 1, files: ["shared.txt": GitFixture.lines(replacing: [5: "two"]), "t2.txt": "2\n"]),
         try await task(f, "t3", position: 2, files: ["t3.txt": "3\n"])]
    }

    @Test func mergesInDependencyOrder() async throws {
        let f = try await GitFixture.make()
        // `report` comes first in the spec but needs the scan group; it started from their merge.
        let scanA = try await task(f, "scan.a", group: "scan", position: 1, files: ["a/AUDIT.md": "a\n"])
        let scanB = try await task(f, "scan.b", group: "scan", position: 2, files: ["b/AUDIT.md": "b\n"])
        let report = try await task(f, "report", position: 0, needs: ["scan"], files: ["AUDIT.md": "ranked\n"],
                                    merging: ["scan.a", "scan.b"])
        let other = try await task(f, "other", position: 3, files: ["other.txt": "other changed\n"])
        let mainBefore = try await f.git(["rev-parse", "HEAD"])

        let result = try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: [report, other, scanB, scanA])
        #expect(result.succeeded)
        #expect(result.createdBranch)
        #expect(result.branch == "muster/r1/integrated")
        #expect(result.merged.map(\.task) == ["scan.a", "scan.b", "report", "other"])
        let subjects = try await firstParentSubjects(f, result.branch)
        #expect(subjects == ["scan.a", "scan.b", "report", "other"].map { "muster: integrate \($0) (run r1)" })
        #expect(try await f.git(["rev-parse", result.branch]) == result.endCommit)
        #expect(try await f.git(["show", "\(result.branch):AUDIT.md"]) == "ranked")
        // The user's checkout never moved, and the integration worktree is gone.
        #expect(try await f.git(["rev-parse", "HEAD"]) == mainBefore)
        #expect(try await f.git(["symbolic-ref", "--short", "HEAD"]) == "main")
        #expect(try await f.git(["status", "--porcelain"]).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: f.root.appendingPathComponent(".muster/worktrees/r1/_integration").path))

        // Again: everything is already in; nothing moves.
        let again = try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: [report, other, scanB, scanA])
        #expect(again.merged.isEmpty)
        #expect(again.alreadyIntegrated == ["scan.a", "scan.b", "report", "other"])
        #expect(again.endCommit == result.endCommit)
    }

    @Test func orderIsTopologicalThenPosition() {
        func t(_ id: String, _ group: String, _ position: Int, _ needs: [String] = []) -> IntegrationTask {
            IntegrationTask(id: id, group: group, position: position, needs: needs, state: .succeeded, git: nil)
        }
        let tasks = [t("d", "d", 0, ["c"]), t("c", "c", 1, ["a", "b"]), t("b.2", "b", 3), t("b.1", "b", 2), t("a", "a", 4), t("e", "e", 5)]
        #expect(Integrator.order(tasks).map(\.id) == ["b.1", "b.2", "a", "c", "d", "e"])
    }

    @Test func stopsAtTheFirstConflictAndKeepsTheLastGoodMerge() async throws {
        let f = try await GitFixture.make()
        let tasks = try await conflictingThree(f)
        let result = try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: tasks)
        #expect(!result.succeeded)
        #expect(result.merged.map(\.task) == ["t1"])
        #expect(result.conflict == .init(task: "t2", branch: "muster/r1/t2", commit: tasks[1].git!.headCommit!, files: ["shared.txt"]))
        #expect(result.notAttempted == ["t3"])
        // The branch is at t1's merge: t1 in, t2 and t3 not.
        let tip = try await f.git(["rev-parse", result.branch])
        #expect(tip == result.endCommit)
        #expect(try await f.git(["rev-parse", "\(tip)^2"]) == tasks[0].git!.headCommit)
        #expect(try await f.git(["show", "\(tip):shared.txt"]).contains("one"))
        #expect(try await f.git(["ls-tree", "--name-only", tip]).split(separator: "\n").sorted() == ["other.txt", "shared.txt", "t1.txt"])
        // The merge was aborted and its worktree removed; the user's checkout is clean.
        #expect(!FileManager.default.fileExists(atPath: f.root.appendingPathComponent(".muster/worktrees/r1/_integration").path))
        #expect(!(try await f.git(["worktree", "list"]).contains("_integration")))
        #expect(try await f.git(["status", "--porcelain"]).isEmpty)
    }

    @Test func dryRunPredictsTheSameStopWithoutMovingAnyRef() async throws {
        let f = try await GitFixture.make()
        let tasks = try await conflictingThree(f)
        let refsBefore = try await f.refs()
        let worktreesBefore = try await f.git(["worktree", "list", "--porcelain"])
        let predicted = try await Integrator(repository: f.root.path)
            .integrate(run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(dryRun: true))
        #expect(try await f.refs() == refsBefore)
        #expect(try await f.git(["worktree", "list", "--porcelain"]) == worktreesBefore)
        #expect(try await f.git(["status", "--porcelain"]).isEmpty)
        #expect(predicted.dryRun && predicted.createdBranch && predicted.worktree == nil)

        let real = try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: tasks)
        #expect(predicted.merged.map(\.task) == real.merged.map(\.task))
        #expect(predicted.conflict == real.conflict)
        #expect(predicted.notAttempted == real.notAttempted)
        // The predicted merge has the same content as the real one.
        let predictedTree = try await f.git(["rev-parse", "\(predicted.endCommit)^{tree}"])
        #expect(try await f.git(["rev-parse", "\(real.endCommit)^{tree}"]) == predictedTree)
        #expect(try await f.refs() != refsBefore, "the real run created the branch")

        // A dry run of a clean sequence (t2 excluded as failed) reaches the end, still moving nothing.
        var withoutT2 = tasks
        withoutT2[1].state = .failed
        let refsNow = try await f.refs()
        let clean = try await Integrator(repository: f.root.path)
            .integrate(run: f.run, baseCommit: f.base, tasks: withoutT2, options: IntegrationOptions(dryRun: true))
        #expect(clean.succeeded)
        #expect(clean.alreadyIntegrated == ["t1"])
        #expect(clean.merged.map(\.task) == ["t3"])
        #expect(try await f.refs() == refsNow)
    }

    @Test func failedAndViolatingTasksAreNeverMerged() async throws {
        let f = try await GitFixture.make()
        let tasks = [
            try await task(f, "good", position: 0, files: ["good.txt": "good\n"]),
            try await task(f, "trespasser", position: 1, files: ["other.txt": "not mine\n"], state: .failed, violations: ["other.txt"]),
            try await task(f, "broken", position: 2, files: ["broken.txt": "half done\n"], state: .failed),
            try await task(f, "busy", position: 3, files: ["busy.txt": "in progress\n"], state: .running),
            // Succeeded yet carrying violations (should not happen): still never merged.
            try await task(f, "sneaky", position: 4, files: ["shared.txt": "sneaky\n"], violations: ["shared.txt"]),
            IntegrationTask(id: "idle", group: "idle", position: 5, state: .succeeded,
                            git: TaskGitState(worktree: f.worktreePath("idle"), branch: f.branch("idle"), baseCommit: f.base)),
        ]
        let result = try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: tasks)
        #expect(result.succeeded)
        #expect(result.merged.map(\.task) == ["good"])
        #expect(result.excluded.map(\.task) == ["trespasser", "broken", "busy", "sneaky", "idle"])
        let reasons = Dictionary(uniqueKeysWithValues: result.excluded.map { ($0.task, $0.reason) })
        #expect(reasons["trespasser"] == "ownership violations: other.txt")
        #expect(reasons["broken"] == "failed: exit status 1")
        #expect(reasons["busy"] == "not finished (running)")
        #expect(reasons["sneaky"] == "ownership violations: shared.txt")
        #expect(reasons["idle"] == "changed nothing")
        for excluded in tasks[1...4] {
            let contained = try await Git(f.root.path).run(["merge-base", "--is-ancestor", excluded.git!.headCommit!, result.branch], allowFailure: true)
            #expect(!contained.succeeded, "\(excluded.id) must not be in \(result.branch)")
        }
    }

    @Test func refusesTheCheckedOutBranchUnlessAllowed() async throws {
        let f = try await GitFixture.make()
        let tasks = [try await task(f, "t1", position: 0, files: ["t1.txt": "1\n"])]
        let refsBefore = try await f.refs()
        await #expect(throws: IntegrationError.checkedOut(branch: "main", worktree: f.root.path, main: true)) {
            try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(into: "main"))
        }
        await #expect(throws: IntegrationError.self) {
            try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(into: "main", dryRun: true))
        }
        // Another task's worktree has its branch checked out: refused, allowed or not.
        await #expect(throws: IntegrationError.self) {
            try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: tasks,
                                                                    options: IntegrationOptions(into: "muster/r1/t1", allowCheckedOut: true))
        }
        #expect(try await f.refs() == refsBefore)

        let result = try await Integrator(repository: f.root.path)
            .integrate(run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(into: "main", allowCheckedOut: true))
        #expect(result.merged.map(\.task) == ["t1"])
        #expect(try await f.git(["rev-parse", "main"]) == result.endCommit)
        #expect(FileManager.default.fileExists(atPath: f.root.appendingPathComponent("t1.txt").path), "merged in place, as asked")
        #expect(try await f.git(["status", "--porcelain"]).isEmpty)
    }

    @Test func intoANewBranchAndBadInput() async throws {
        let f = try await GitFixture.make()
        let tasks = [try await task(f, "t1", position: 0, files: ["t1.txt": "1\n"])]
        let result = try await Integrator(repository: f.root.path)
            .integrate(run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(into: "release/next"))
        #expect(result.branch == "release/next" && result.createdBranch)
        #expect(try await f.git(["rev-parse", "release/next"]) == result.endCommit)
        await #expect(throws: IntegrationError.invalidBranch("bad..name")) {
            try await Integrator(repository: f.root.path).integrate(run: f.run, baseCommit: f.base, tasks: tasks, options: IntegrationOptions(into: "bad..name"))
        }
        let plain = FileManager.default.temporaryDirectory.appendingPathComponent("muster-plain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: plain, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: plain) }
        await #expect(throws: IntegrationError.notGitRepository(plain.path)) {
            try await Integrator(repository: plain.path).integrate(run: f.run, baseCommit: f.base, tasks: tasks)
        }
    }
}
