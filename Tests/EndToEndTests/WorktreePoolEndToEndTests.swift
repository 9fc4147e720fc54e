import Foundation
import MusterTestKit
import Testing

/// `[worktree]` in muster.toml through the built binary: worktrees made many at once, finished ones
/// reused across tasks and runs with setup skipped, `muster clean --pool`, bad values refused.
@Suite struct WorktreePoolEndToEndTests {
    func adminFolders(_ h: TestRepository) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: h.path(".git/worktrees"))) ?? []).count
    }

    @Test func fiftyTasksStartingAtOnceEachGetTheirWorktree() async throws {
        let h = try await TestRepository()
        try h.write("notes.txt", "start\n")
        try h.write("muster.toml", "[worktree]\nparallelism = 8\n")
        try await h.commitAll()
        let tasks = (1...50).map { "  t\($0):\n    command: [\"sh\", \"-c\", \"test \\\"$(cat notes.txt)\\\" = start && git symbolic-ref HEAD > head-t\($0).txt\"]\n    owns: [head-t\($0).txt]\n" }
        try h.write("w.yml", "name: many\nsandbox: none\nconcurrency: 50\ntasks:\n" + tasks.joined())
        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        #expect(adminFolders(h) == 50)
        for index in 1...50 {
            let head = try await h.git("show", "muster/\(id)/t\(index):head-t\(index).txt").stdout
            #expect(head == "refs/heads/muster/\(id)/t\(index)\n", "t\(index)")
        }
    }

    @Test func finishedWorktreesAreReusedAcrossTasksAndRunsWithSetupSkipped() async throws {
        let h = try await TestRepository()
        let counter = h.root.deletingLastPathComponent().appendingPathComponent("setup-count").path
        for name in ["a", "b", "c"] { try h.write("\(name).txt", "start\n") }
        try h.write(".gitignore", "cache/\ndeps/\n")
        try h.write("muster.toml", "[worktree]\npool = 4\nsetup = [\"echo ran >> '\(counter)'; mkdir -p deps && echo built > deps/lib.txt\"]\n")
        try await h.commitAll()
        // Each task checks that nothing of the one before reached it, then leaves its own traces:
        // a changed tracked file (committed on its branch) and an ignored file.
        // (Each owns its own file: tasks owning the same file would run chained, each on the other's work.)
        let check = "test \\\"$(cat a.txt b.txt c.txt)\\\" = \\\"$(printf 'start\\\\nstart\\\\nstart')\\\" && test ! -e cache/leak.txt && test -e deps/lib.txt"
        let tasks = ["a", "b", "c"].map {
            "  \($0):\n    command: [\"sh\", \"-c\", \"\(check) && echo \($0) > \($0).txt && mkdir -p cache && echo \($0) > cache/leak.txt\"]\n    owns: [\($0).txt]\n"
        }
        try h.write("w.yml", "name: pooled\nsandbox: none\nconcurrency: 1\ntasks:\n" + tasks.joined())
        let first = try await h.muster("run", "w.yml", "--json")
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        #expect(adminFolders(h) == 1, "three tasks one after the other: one `git worktree add`")
        let runs = { ((try? String(contentsOfFile: counter, encoding: .utf8)) ?? "").split(separator: "\n").count }
        #expect(runs() == 1)
        let second = try await h.muster("run", "w.yml", "--json")
        #expect(second.status == 0, "\(second.stdout)\n\(second.stderr)")
        #expect(adminFolders(h) == 1)
        #expect(runs() == 1, "the base and the setup are unchanged: setup skipped in the next run too")
        let id = try #require((try second.json() as? [String: Any])?["run"] as? String)
        #expect(try await h.git("show", "muster/\(id)/c:c.txt").stdout == "c\n")
        #expect(try await h.git("show", "muster/\(id)/c:a.txt").stdout == "start\n")

        let clean = try await h.muster("clean", "--pool", "--json")
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect((try clean.json() as? [String: Any])?["removed_pooled_worktrees"] as? Int == 1)
        #expect(adminFolders(h) == 0)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: h.path(".muster/worktrees/pool"))) ?? []).isEmpty)
    }

    @Test func badWorktreeSettingsAreRefusedWithTheirLine() async throws {
        let h = try await TestRepository()
        try h.write("notes.txt", "start\n")
        try await h.commitAll()
        try h.write("w.yml", "name: any\ntasks:\n  a:\n    command: [\"true\"]\n")
        for (body, says) in [("pool = -1", "worktree.pool"), ("parallelism = 0", "worktree.parallelism"), ("pool_disk = \"lots\"", "worktree.pool_disk"),
                             ("pools = 3", "did you mean `pool`?"), ("copy = [\"../x\"]", "plain relative path")] {
            try h.write("muster.toml", "# settings\n[worktree]\n\(body)\n")
            let result = try await h.muster("run", "w.yml")
            #expect(result.status == 2, "\(body): \(result.stderr)")
            #expect(result.stderr.contains("muster.toml:3:") && result.stderr.contains(says), "\(body): \(result.stderr)")
            #expect(!h.exists(".muster/worktrees"), "\(body): nothing made")
        }
    }
}
