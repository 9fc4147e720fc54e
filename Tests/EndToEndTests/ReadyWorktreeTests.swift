import Foundation
import MusterTestKit
import Testing

/// `worktree: {copy, link, setup}`: worktrees that are ready to build, through the built binary.
@Suite struct ReadyWorktreeTests {
    @Test func copiedAndLinkedFilesReachTheTaskAndAreNeverCommitted() async throws {
        let h = try await TestRepository()
        try h.write("notes.txt", "start\n")
        // No .gitignore: only muster's per-worktree exclusion keeps these out of the task's commit.
        try await h.commitAll()
        try h.write(".env", "SECRET=42\n")
        try h.write("config/local.yml", "local: true\n")
        try h.write("node_modules/dep/index.js", "shared\n")
        try h.write("w.yml", """
            name: ready
            sandbox: none
            worktree:
              copy: [.env, "config/local.*"]
              link: [node_modules]
              setup: ["cat .env config/local.yml > setup-saw.txt", "rm setup-saw.txt && echo built > built.txt"]
            tasks:
              use:
                shell: true
                command: "cat .env node_modules/dep/index.js > out.txt; cat built.txt >> out.txt; echo leak > .env"
                owns: [out.txt, built.txt]
            """)
        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        let branch = "muster/\(id)/use"
        #expect(try await h.git("show", "\(branch):out.txt").stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "SECRET=42\nshared\nbuilt")
        let files = try await h.git("ls-tree", "-r", "--name-only", branch).stdout
        #expect(!files.contains(".env") && !files.contains("local.yml") && !files.contains("node_modules"), "\(files)")
        // The link is a symlink to the checkout's folder; the checkout's own .env is untouched.
        let worktree = h.path(".muster/worktrees/\(id)/use")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: worktree + "/node_modules")) == h.path("node_modules"))
        #expect(h.read(".env") == "SECRET=42\n")
        #expect(h.read(".muster/runs/\(id)/tasks/use/setup.log").contains("$ cat .env"))
    }

    @Test func aFailingSetupEndsTheTaskAsSetupFailedWithItsLog() async throws {
        let h = try await TestRepository()
        try h.write("notes.txt", "start\n")
        try await h.commitAll()
        try h.write("w.yml", """
            name: broken
            worktree:
              setup: ["echo preparing; echo 'no such tool' >&2; exit 7"]
            tasks:
              never:
                shell: true
                command: "echo ran > ran.txt"
                owns: [ran.txt]
            """)
        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 1, "\(run.stdout)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        let status = try #require(try await h.muster("status", id, "--json").json() as? [String: Any])
        let task = try #require((status["tasks"] as? [[String: Any]])?.first)
        #expect(task["state"] as? String == "failed")
        let error = try #require(task["error"] as? String)
        #expect(error.hasPrefix("setup failed:") && error.contains("exit status 7") && error.contains("no such tool"), "\(error)")
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/worktrees/\(id)/never/ran.txt")), "the task never ran")
    }

    @Test func pathsLeavingTheRepositoryAreRefusedAtLoad() async throws {
        let h = try await TestRepository()
        for (key, path) in [("copy", "../secret"), ("link", "/etc"), ("copy", ".git/config"), ("link", "a/*/b")] {
            try h.write("w.yml", "name: bad\nworktree:\n  \(key): [\"\(path)\"]\ntasks:\n  a:\n    command: [\"true\"]\n")
            let result = try await h.muster("run", "w.yml")
            #expect(result.status == 2, "\(path): \(result.stderr)")
            #expect(result.stderr.contains("w.yml:3:"), "\(path): \(result.stderr)")
        }
    }
}
