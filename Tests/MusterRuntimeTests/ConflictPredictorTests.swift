import Foundation
import MusterStore
import Testing
@testable import MusterRuntime
import MusterTestKit

@Suite struct ConflictPredictorTests {
    @Test func sameLinesCommittedAgainstUncommittedIsAConflict() async throws {
        let f = try await GitFixture.make()
        let a = try await f.worktree("a"), b = try await f.worktree("b")
        try f.write("shared.txt", GitFixture.lines(replacing: [5: "from a"]), in: a)
        try await f.commit("a")
        try f.write("shared.txt", GitFixture.lines(replacing: [5: "from b"]), in: b)   // never staged or committed

        let indexFile = try #require(ConflictPredictor.indexPath(of: b))
        let indexBefore = try Data(contentsOf: URL(fileURLWithPath: indexFile))
        let statusBefore = try await f.git(["status", "--porcelain"], in: b)
        let report = try await ConflictPredictor(repository: f.root.path, concurrency: 2)
            .predict([f.predictorWorktree("a"), f.predictorWorktree("b")])

        #expect(report.conflicts == [.init(first: "a", second: "b", files: ["shared.txt"], conflicting: true)])
        #expect(report.overlaps.isEmpty)
        #expect(report.skipped.isEmpty)
        #expect(report.changedPaths == 2)
        // The snapshot went through a private index: b's own index, files and status are as they were.
        #expect(try Data(contentsOf: URL(fileURLWithPath: indexFile)) == indexBefore)
        #expect(try await f.git(["status", "--porcelain"], in: b) == statusBefore)
        #expect(try String(contentsOfFile: b + "/shared.txt", encoding: .utf8).contains("from b"))
    }

    @Test func sameFileDifferentRegionsIsAnOverlapNotAConflict() async throws {
        let f = try await GitFixture.make()
        let a = try await f.worktree("a"), b = try await f.worktree("b")
        try f.write("shared.txt", GitFixture.lines(replacing: [2: "from a"]), in: a)
        try f.write("shared.txt", GitFixture.lines(replacing: [27: "from b"]), in: b)
        try await f.git(["add", "shared.txt"], in: b)   // staged only
        let report = try await ConflictPredictor(repository: f.root.path).predict([f.predictorWorktree("a"), f.predictorWorktree("b")])
        #expect(report.conflicts.isEmpty)
        #expect(report.overlaps == [.init(first: "a", second: "b", files: ["shared.txt"], conflicting: false)])
        #expect(report.candidates == 1)
    }

    @Test func disjointFilesFindNothing() async throws {
        let f = try await GitFixture.make()
        let a = try await f.worktree("a"), b = try await f.worktree("b"), c = try await f.worktree("c")
        try f.write("shared.txt", GitFixture.lines(replacing: [5: "from a"]), in: a)
        try f.write("other.txt", "changed by b\n", in: b)
        try f.write("new/c.txt", "new from c\n", in: c)
        try await f.commit("c")
        let report = try await ConflictPredictor(repository: f.root.path)
            .predict(["a", "b", "c"].map { f.predictorWorktree($0) })
        #expect(report.conflicts.isEmpty)
        #expect(report.overlaps.isEmpty)
        #expect(report.candidates == 0, "no shared path: merge-tree is never run")
        #expect(report.changedWorktrees == 3)
        #expect(report.changedPaths == 3)
    }

    @Test func untrackedNewFileInBothIsAConflict() async throws {
        let f = try await GitFixture.make()
        let a = try await f.worktree("a"), b = try await f.worktree("b")
        try f.write("docs/NEW.md", "written by a\n", in: a)
        try f.write("docs/NEW.md", "written by b\n", in: b)
        let report = try await ConflictPredictor(repository: f.root.path).predict([f.predictorWorktree("b"), f.predictorWorktree("a")])
        #expect(report.conflicts == [.init(first: "a", second: "b", files: ["docs/NEW.md"], conflicting: true)])
        // Still untracked in both: nothing was added to their indexes.
        #expect(try await f.git(["status", "--porcelain", "--untracked-files=all"], in: a) == "?? docs/NEW.md")
        #expect(try await f.git(["status", "--porcelain", "--untracked-files=all"], in: b) == "?? docs/NEW.md")
    }

    @Test func fileWhereAnotherTaskHasADirectoryIsAConflict() async throws {
        let f = try await GitFixture.make()
        let a = try await f.worktree("a"), b = try await f.worktree("b")
        try f.write("notes", "a file\n", in: a)
        try f.write("notes/b.md", "a file in a folder\n", in: b)
        let report = try await ConflictPredictor(repository: f.root.path).predict([f.predictorWorktree("a"), f.predictorWorktree("b")])
        #expect(report.candidates == 1)
        #expect(report.conflicts.count == 1)
        #expect(report.conflicts.first?.tasks == ["a", "b"])
    }

    @Test func ignoredFilesAndDependenciesAreNotConflicts() async throws {
        let f = try await GitFixture.make()
        try f.write(".gitignore", "build/\n")
        try await f.git(["add", ".gitignore"])
        try await f.git(["commit", "-q", "-m", "ignore build"])
        let base = try await f.git(["rev-parse", "HEAD"])
        let a = try await f.worktree("a", from: base)
        try f.write("shared.txt", GitFixture.lines(replacing: [5: "from a"]), in: a)
        try f.write("build/out.o", "a\n", in: a)
        let aHead = try await f.commit("a")
        // b needs a: it starts from a's work and edits the line a edited, on top of it.
        let b = try await f.worktree("b", from: aHead)
        try f.write("shared.txt", GitFixture.lines(replacing: [5: "from b, after a"]), in: b)
        try f.write("build/out.o", "b\n", in: b)
        let report = try await ConflictPredictor(repository: f.root.path)
            .predict([f.predictorWorktree("a", base: base), f.predictorWorktree("b", base: aHead)])
        #expect(report.conflicts.isEmpty, "b builds on a: merging them is a fast-forward of that line")
        #expect(report.changedPaths == 2, "ignored build output is not a change")
    }

    @Test func aMissingWorktreeIsSkippedNotFatal() async throws {
        let f = try await GitFixture.make()
        let a = try await f.worktree("a"), b = try await f.worktree("b")
        try f.write("shared.txt", GitFixture.lines(replacing: [5: "from a"]), in: a)
        try f.write("shared.txt", GitFixture.lines(replacing: [5: "from b"]), in: b)
        let gone = ConflictPredictor.Worktree(task: "gone", path: f.root.appendingPathComponent("nowhere").path, baseCommit: f.base)
        let report = try await ConflictPredictor(repository: f.root.path).predict([f.predictorWorktree("a"), gone, f.predictorWorktree("b")])
        #expect(report.skipped.map(\.task) == ["gone"])
        #expect(report.conflicts.map(\.tasks) == [["a", "b"]])
    }

    @Test(arguments: [2, 3, 4])
    func readingTheIndexFindsWhatGitDiffFinds(version: Int) async throws {
        let f = try await GitFixture.make()
        for file in ["a-b", "a.b", "a/x", "a/y/z", "tool.sh", "gone.txt", "d/only.txt", "swap/inner.txt", "keep/deep/er/k.txt"] {
            try f.write(file, "\(file)\n")
        }
        try await f.git(["add", "-A"])
        try await f.git(["commit", "-q", "-m", "more files"])
        let base = try await f.git(["rev-parse", "HEAD"])
        let w = try await f.worktree("w", from: base)
        try await f.git(["update-index", "--index-version", String(version)], in: w)
        try f.write("a/x", "changed\n", in: w)
        try f.write("a/y/new", "new\n", in: w)
        try f.write("a0", "new\n", in: w)
        try f.write("committed/new.txt", "new\n", in: w)
        try await f.git(["add", "committed"], in: w)
        try await f.git(["commit", "-q", "-m", "w"], in: w)
        try FileManager.default.removeItem(atPath: w + "/gone.txt")
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: w + "/tool.sh")
        try FileManager.default.removeItem(atPath: w + "/d")                 // a folder emptied
        try FileManager.default.removeItem(atPath: w + "/swap")
        try f.write("swap", "a file where a folder was\n", in: w)
        try FileManager.default.createSymbolicLink(atPath: w + "/link", withDestinationPath: "a-b")
        try f.write("intent.txt", "intent\n", in: w)
        try await f.git(["add", "-N", "intent.txt"], in: w)   // an extended-flags entry (index v3)

        let predictor = ConflictPredictor(repository: f.root.path)
        let scratch = try ConflictPredictor.Scratch()
        defer { scratch.remove() }
        let worktree = ConflictPredictor.Worktree(task: "w", path: w, baseCommit: base)
        let listing = try await ConflictPredictor.listTree(repository: f.root.path, commit: base)
        let snapshotIndex = scratch.url.appendingPathComponent("index-0").path
        let read = try await predictor.snapshot(worktree, index: 0, scratch: scratch, base: listing)
        #expect(ConflictPredictor.IndexFile.entries(atPath: snapshotIndex, hashLength: listing.hashLength) != nil, "read without git")
        let asked = try await predictor.snapshot(worktree, index: 1, scratch: scratch, base: nil)
        #expect(read.paths.sorted() == asked.paths.sorted())
        #expect(Set(read.paths) == ["a/x", "a/y/new", "a0", "committed/new.txt", "gone.txt", "tool.sh", "intent.txt",
                                    "d/only.txt", "swap", "swap/inner.txt", "link"])
        // The tree muster builds (changed folders only, by hash-object) is the tree git writes.
        let built = await predictor.buildTrees([read], bases: [base: listing], scratch: scratch)
        let written = try await ConflictPredictor.snapshotGit(in: w, index: snapshotIndex)(["write-tree"])
        #expect(built == [written.trimmingCharacters(in: .whitespacesAndNewlines)])
    }

    /// Its speed (linear in the changes, not in the pairs) is `scripts/bench conflicts`'s to measure, never a test's.
    @Test func candidateIndexNamesOnlyPairsThatSharePaths() {
        // 2,000 worktrees × 20 private files plus one file shared by three: only those three pairs are candidates.
        var changes = (0..<2000).map { i in (0..<20).map { "t\(i)/file\($0).swift" } }
        for i in [3, 700, 1999] { changes[i].append("Package.swift") }
        changes[42].append("t3")   // a file where t3 has a folder
        let pairs = ConflictPredictor.candidates(changes)
        let keys = Set(pairs.keys.map { [$0.a, $0.b] })
        #expect(keys == [[3, 700], [3, 1999], [700, 1999], [3, 42]])
        #expect(pairs[.init(a: 3, b: 42)] == ["t3"])
    }
}

/// Agents' scratch files (aider's `.aider*`) are neither changes nor conflicts.
@Suite struct ScratchFileConflictTests {
    @Test func twoAiderCachesAreNoConflict() async throws {
        let f = try await GitFixture.make()
        let a = try await f.worktree("a"), b = try await f.worktree("b")
        try f.write(".aider.tags.cache.v4/cache.db", "cache of a\n", in: a)
        try f.write(".aider.tags.cache.v4/cache.db", "cache of b\n", in: b)
        func worktree(_ task: String, scratch: [String]?) -> ConflictPredictor.Worktree {
            .init(task: task, path: f.worktreePath(task), baseCommit: f.base, scratch: scratch)
        }
        let without = try await ConflictPredictor(repository: f.root.path).predict([worktree("a", scratch: nil), worktree("b", scratch: nil)])
        #expect(without.conflicts.count == 1, "the same untracked path in both is a conflict unless it is scratch")
        let with = try await ConflictPredictor(repository: f.root.path).predict([worktree("a", scratch: [".aider*"]), worktree("b", scratch: [".aider*"])])
        #expect(with.conflicts.isEmpty && with.changedPaths == 0)
    }
}
