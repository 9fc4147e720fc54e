import Foundation
import MusterCore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// How a task's launch is wrapped: the agent's state folders, extra writable paths, owned paths.
@Suite("Sandbox launch")
struct SandboxLaunchTests {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("muster-sbx-\(UUID().uuidString)").path
    var tree: String { root + "/.muster/worktrees/r/a" }

    func launch(environment: [String: String] = [:]) -> SandboxLaunch {
        SandboxLaunch(report: SandboxReport(available: true, path: "/usr/bin/bwrap", version: "bubblewrap 0.8.0", reason: nil),
                      repository: root, storePath: root + "/.muster/muster.db", runDirectory: root + "/.muster/runs/r",
                      environment: environment)
    }

    func request() -> LaunchRequest {
        LaunchRequest(key: "a", executable: "/bin/sh", arguments: ["sh", "-c", "true"], environment: ["TMPDIR": "/tmp/x"],
                      directory: tree, logPath: "/dev/null", stdoutPath: "/dev/null")
    }

    func binds(_ argv: [String]) -> [String] {
        argv.indices.filter { argv[$0] == "--bind" }.map { argv[$0 + 1] }
    }

    @Test("claude gets a per-run CLAUDE_CONFIG_DIR, writable; muster's own setting wins; TMPDIR points at the private /tmp")
    func agentStateFolders() throws {
        try FileManager.default.createDirectory(atPath: tree + "/src", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var req = request()
        let note = try launch().wrap(&req, task: PlannedTask(id: "a", group: "a", agent: "claude"), mode: .worktree, tree: tree,
                                     inPlace: false, outbox: root + "/.muster/runs/r/tasks/a")
        #expect(note == "worktree")
        let state = root + "/.muster/runs/r/agent-state/claude"
        #expect(req.environment["CLAUDE_CONFIG_DIR"] == state && FileManager.default.fileExists(atPath: state))
        #expect(req.environment["TMPDIR"] == "/tmp")
        #expect(req.executable == "/usr/bin/bwrap" && req.sandboxed && binds(req.arguments).contains(state))
        var own = request()
        _ = try launch(environment: ["CLAUDE_CONFIG_DIR": root + "/mine"]).wrap(&own, task: PlannedTask(id: "a", group: "a", agent: "claude"),
                                                                               mode: .worktree, tree: tree, inPlace: false, outbox: root + "/o")
        #expect(own.environment["CLAUDE_CONFIG_DIR"] == root + "/mine" && binds(own.arguments).contains(root + "/mine"))
    }

    @Test("writable paths: relative ones in the tree, and ones in the checkout or its .git skipped with a note")
    func extraWritable() throws {
        try FileManager.default.createDirectory(atPath: tree, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var task = PlannedTask(id: "a", group: "a", agent: "shell")
        task.writable = ["build/cache", root + "/.git/hooks", root + "/src"]
        var req = request()
        let note = try launch().wrap(&req, task: task, mode: .worktree, tree: tree, inPlace: false, outbox: root + "/o")
        #expect(binds(req.arguments).contains(tree + "/build/cache"))
        #expect(!binds(req.arguments).contains(root + "/.git/hooks") && !binds(req.arguments).contains(root + "/src"))
        #expect(note.contains("inside the repository's .git") && note.contains("outside the task's own tree"), "\(note)")
    }

    @Test("owned: the tree read-only; literal prefixes (created when missing) and existing files writable")
    func ownedPaths() throws {
        try FileManager.default.createDirectory(atPath: tree + "/docs", withIntermediateDirectories: true)
        try "x".write(toFile: tree + "/NOTES.md", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var task = PlannedTask(id: "a", group: "a", agent: "shell")
        task.owns = ["src/a/**", "NOTES.md", "docs/new.md"]
        var req = request()
        let note = try launch().wrap(&req, task: task, mode: .owned, tree: tree, inPlace: false, outbox: root + "/o")
        #expect(req.arguments.contains("--ro-bind") && !binds(req.arguments).contains(tree))
        #expect(Set(binds(req.arguments)).isSuperset(of: [tree + "/src/a", tree + "/NOTES.md", tree + "/docs"]), "\(req.arguments)")
        #expect(FileManager.default.fileExists(atPath: tree + "/src/a"))
        #expect(note == "owned; writable: src/a, NOTES.md, docs", "\(note)")
    }

    @Test("aider stages into an index and object folder of the task's own; the repository's stay read-only; claude gets none")
    func aiderGitScratch() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("a.txt", "a\n")
        try await h.commitAll()
        let repository = h.root.path, worktree = repository + "/.muster/worktrees/r/a"
        #expect(try await h.git("worktree", "add", "-q", "-b", "muster/r/a", worktree).status == 0)
        let launch = SandboxLaunch(report: SandboxReport(available: true, path: "/usr/bin/bwrap", version: "bubblewrap 0.8.0", reason: nil),
                                   repository: repository, storePath: repository + "/.muster/muster.db",
                                   runDirectory: repository + "/.muster/runs/r", environment: [:])
        func request() -> LaunchRequest {
            LaunchRequest(key: "a", executable: "/bin/sh", arguments: ["sh"], environment: [:], directory: worktree,
                          logPath: "/dev/null", stdoutPath: "/dev/null")
        }
        var req = request()
        _ = try launch.wrap(&req, task: PlannedTask(id: "a", group: "a", agent: "aider"), mode: .worktree, tree: worktree,
                            inPlace: false, outbox: repository + "/.muster/runs/r/tasks/a")
        let folder = repository + "/.muster/runs/r/agent-state/git/a"
        #expect(req.environment["GIT_INDEX_FILE"] == folder + "/index" && FileManager.default.fileExists(atPath: folder + "/index"),
                "the worktree's index is copied for the agent")
        #expect(req.environment["GIT_OBJECT_DIRECTORY"] == folder + "/objects")
        #expect(req.environment["GIT_ALTERNATE_OBJECT_DIRECTORIES"] == repository + "/.git/objects")
        #expect(binds(req.arguments).contains(folder) && !binds(req.arguments).contains(repository + "/.git/objects"))
        var claude = request()
        _ = try launch.wrap(&claude, task: PlannedTask(id: "a", group: "a", agent: "claude"), mode: .worktree, tree: worktree,
                            inPlace: false, outbox: repository + "/.muster/runs/r/tasks/a")
        #expect(claude.environment["GIT_INDEX_FILE"] == nil)
    }
}
