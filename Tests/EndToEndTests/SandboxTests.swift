import Foundation
import MusterRuntime
import MusterTestKit
import Testing

/// Shell tasks playing hostile agents against the bubblewrap sandbox: every write outside the task's
/// own tree is refused when it is made, and nothing a task starts outlives it. Each test fails with
/// `MUSTER_SANDBOX=off` (the diff check alone lets these writes through, or the daemons survive).
@Suite("Sandbox", .serialized, .enabled(if: SandboxProbe.check().available, "bubblewrap is not available here"))
struct SandboxTests {
    static func run(_ h: TestRepository, _ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
        try await Command.run(TestRepository.muster, arguments, in: h.root, environment: environment)
    }

    static func tasks(_ h: TestRepository, _ run: String) async throws -> [String: [String: Any]] {
        let status = try #require(try await h.muster("status", run, "--json").json() as? [String: Any])
        let list = try #require(status["tasks"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as? String ?? "", $0) })
    }

    /// Pids of processes whose argv holds `marker` as one argument.
    static func processes(_ marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = Int32(entry), let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == marker } ? pid : nil
        }
    }

    /// A unique `sleep` duration, so each test finds its own daemon.
    static func marker() -> String { "31\(Int.random(in: 1000...9999)).\(Int.random(in: 1000...9999))" }

    /// A task body that starts a daemon (`setsid`, double-forked, output detached), waits until it runs,
    /// then runs `then`. `clearEnvironment` also drops the markers the no-sandbox sweep looks for.
    static func daemonScript(_ marker: String, clearEnvironment: Bool, then: String) -> String {
        let env = clearEnvironment ? "env -i " : ""
        return """
            \(env)setsid /bin/sh -c 'echo up > "$1"; exec /bin/sleep \(marker)' sh "$MUSTER_OUTBOX/up" </dev/null >/dev/null 2>&1 &
            while [ ! -s "$MUSTER_OUTBOX/up" ]; do sleep 0.02; done
            \(then)
            """
    }

    static func cleanUp(_ marker: String) { for pid in processes(marker) { kill(pid, SIGKILL) } }

    @Test("writes into the checkout, a sibling's worktree, $HOME, .git/hooks and .git/info/exclude, and rm .git, are refused when made")
    func hostileWritesAreRefused() async throws {
        let h = try await TestRepository()
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("muster-home-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer {
            try? FileManager.default.removeItem(at: h.root)
            try? FileManager.default.removeItem(atPath: home)
        }
        try h.write("tracked.txt", "original\n")
        try h.write("hostile.yml", """
            name: hostile
            tasks:
              sib:
                command: [true]
              evil:
                needs: [sib]
                owns: [mine.txt]
                shell: true
                command: |
                  attempt() { if ( eval "$1" ) 2>/dev/null; then echo "$2=written"; else echo "$2=refused"; fi; }
                  attempt 'echo x > "$MUSTER_ROOT/pwned"' root
                  attempt 'echo x > "$MUSTER_ROOT/tracked.txt"' tracked
                  attempt 'echo x > "$MUSTER_ROOT/.muster/worktrees/$MUSTER_RUN/sib/evil"' sibling
                  attempt 'echo x > "$HOME/pwned"' home
                  attempt 'printf "#!/bin/sh\\necho hooked\\n" > "$MUSTER_ROOT/.git/hooks/post-merge"' hook
                  attempt 'echo "*" >> "$MUSTER_ROOT/.git/info/exclude"' exclude
                  attempt 'rm .git' dotgit
                  attempt 'echo mine > mine.txt' own
                  attempt 'echo scratch > /tmp/scratch && cat /tmp/scratch' tmp
            """)
        try await h.commitAll()
        let head = try await h.git("rev-parse", "HEAD").stdout
        let result = try await Self.run(h, ["run", "hostile.yml", "--json"], environment: ["HOME": home])
        #expect(result.status == 0, "\(result.stderr)")
        let runID = try await SpawnTests.runID(result)
        let log = SpawnTests.output(h, runID, "evil")
        for refused in ["root", "tracked", "sibling", "home", "hook", "exclude", "dotgit"] {
            #expect(log.contains("\(refused)=refused"), "\(refused) in:\n\(log)")
        }
        #expect(log.contains("own=written") && log.contains("tmp=written"), "its own tree and private /tmp stay writable:\n\(log)")
        #expect(!FileManager.default.fileExists(atPath: h.path("pwned")) && h.read("tracked.txt") == "original\n")
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/worktrees/\(runID)/sib/evil")))
        #expect(!FileManager.default.fileExists(atPath: home + "/pwned"))
        #expect(!FileManager.default.fileExists(atPath: h.path(".git/hooks/post-merge")))
        #expect(!h.lines(".git/info/exclude").contains("*"), "\(h.read(".git/info/exclude"))")
        #expect(FileManager.default.fileExists(atPath: h.path(".muster/worktrees/\(runID)/evil/.git")))
        #expect(try await h.git("rev-parse", "HEAD").stdout == head, "the user's branch did not move")
        #expect(try await h.git("status", "--porcelain").stdout.isEmpty, "the user's checkout is unchanged")
        #expect(try await h.git("show", "muster/\(runID)/evil:mine.txt").stdout == "mine\n", "its own work is committed")
        let events = h.read(".muster/runs/\(runID)/events.jsonl")
        #expect(events.contains("\"task.sandbox\"") && events.contains("worktree"), "\(events)")
    }

    @Test("sandbox: owned refuses a write outside owns when it is made; owned paths, new folders included, are writable")
    func ownedRefusesWritesOutsideOwns() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("src/a/keep.txt", "a\n")
        try h.write("src/b/keep.txt", "b\n")
        try h.write("NOTES.md", "notes\n")
        try h.write("owned.yml", """
            name: owned
            sandbox: owned
            tasks:
              a:
                owns: ["src/a/**", "docs/new/**", NOTES.md]
                shell: true
                command: |
                  echo ok > src/a/ok.txt && echo "a=written"
                  echo ok > docs/new/page.md && echo "docs=written"
                  echo ok > NOTES.md && echo "notes=written"
                  (echo no > src/b/no.txt) 2>/dev/null && echo "b=written" || echo "b=refused"
                  (echo no > top.txt) 2>/dev/null && echo "top=written" || echo "top=refused"
            """)
        try await h.commitAll()
        let result = try await h.muster("run", "owned.yml", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let runID = try await SpawnTests.runID(result)
        let log = SpawnTests.output(h, runID, "a")
        for line in ["a=written", "docs=written", "notes=written", "b=refused", "top=refused"] {
            #expect(log.contains(line), "\(line) in:\n\(log)")
        }
        #expect(try await h.git("show", "muster/\(runID)/a:src/a/ok.txt").stdout == "ok\n")
        await #expect(try Self.tasks(h, runID)["a"]?["state"] as? String == "succeeded")
    }

    @Test("muster spawn, wait and lock work from inside a sandboxed task, end to end")
    func spawnAndWaitFromASandboxedTask() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("spawn.yml", """
            name: inside
            tasks:
              parent:
                owns: ["src/**"]
                env: {M: "\(TestRepository.muster)"}
                shell: true
                command: |
                  "$M" spawn --owns 'src/a/**' -- sh -c 'mkdir -p src/a && echo child > src/a/out.txt'; echo "spawn=$?"
                  "$M" wait --timeout 60s; echo "wait=$?"
                  "$M" lock acquire src/shared.txt --ttl 1m; echo "lock=$?"
            """)
        try await h.commitAll()
        let result = try await h.muster("run", "spawn.yml", "--json")
        #expect(result.status == 0, "\(result.stderr)")
        let runID = try await SpawnTests.runID(result)
        let log = SpawnTests.output(h, runID, "parent")
        for line in ["spawn=0", "wait=0", "lock=0"] { #expect(log.contains(line), "\(line) in:\n\(log)") }
        let tasks = try await Self.tasks(h, runID)
        #expect(tasks["parent.1"]?["state"] as? String == "succeeded", "\(tasks)")
        #expect(try await h.git("show", "muster/\(runID)/parent.1:src/a/out.txt").stdout == "child\n")
    }

    @Test("a setsid daemon with a cleared environment dies with its task: on success, timeout, cancel, and kill -9 of the orchestrator (nothing left for resume)",
          arguments: ["success", "timeout", "cancel", "kill"])
    func daemonsDieWithTheirTask(_ ending: String) async throws {
        let h = try await TestRepository()
        let marker = Self.marker()
        defer {
            Self.cleanUp(marker)
            try? FileManager.default.removeItem(at: h.root)
        }
        let then = ending == "success" ? "echo started" : "exec sleep infinity"
        let script = Self.daemonScript(marker, clearEnvironment: true, then: then).split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
        try h.write("daemon.yml", """
            name: daemon
            tasks:
              d:
                \(ending == "timeout" ? "timeout: 2s" : "retries: 0")
                shell: true
                command: |
            \(script)
            """)
        try await h.commitAll()
        let process = try h.start(["run", "daemon.yml", "--grace", "1"])
        if ending != "success" {
            // A successful task ends as soon as its daemon runs: its `up` file below shows it started.
            #expect(try await eventually { !Self.processes(marker).isEmpty }, "the daemon started")
        }
        if ending == "cancel" {
            let run = try await #require(try CrashSafetyTests.newestRun(h))
            #expect(try await h.muster("cancel", run).status == 0)
        }
        if ending == "kill" { process.signal(SIGKILL) }
        let status = await process.exited()
        let expected: TerminationStatus = switch ending {
        case "success": .exited(0)
        case "cancel": .exited(130)
        case "kill": .signaled(SIGKILL)
        default: .exited(1)
        }
        #expect(status == expected, "\(status)")
        let run = try await #require(try CrashSafetyTests.newestRun(h))
        #expect(h.read(".muster/runs/\(run)/tasks/d/up") == "up\n", "the daemon started")
        #expect(try await eventually(timeout: 10) { Self.processes(marker).isEmpty }, "the daemon outlived its task (\(ending))")
    }

    @Test("the exit status of the sandboxed command passes through bwrap")
    func exitStatusPassesThrough() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("exit.yml", "name: exit\non_failure: continue\ntasks:\n  seven:\n    shell: true\n    command: 'exit 7'\n")
        try await h.commitAll()
        let result = try await h.muster("run", "exit.yml", "--json")
        #expect(result.status == 1)
        let seven = try await #require(try Self.tasks(h, try SpawnTests.runID(result))["seven"])
        #expect(seven["exit_code"] as? Int == 7 && (seven["error"] as? String)?.contains("exit status 7") == true, "\(seven)")
    }

    @Test("without bubblewrap: one warning for the run, tasks still run (diff checks), and a setsid daemon is still stopped")
    func fallbackWarnsOnceAndStopsDaemons() async throws {
        let h = try await TestRepository()
        let marker = Self.marker()
        defer {
            Self.cleanUp(marker)
            try? FileManager.default.removeItem(at: h.root)
        }
        let script = Self.daemonScript(marker, clearEnvironment: false, then: "echo started").split(separator: "\n").map { "      " + $0 }.joined(separator: "\n")
        try h.write("fallback.yml", """
            name: fallback
            tasks:
              a: {command: [true]}
              b: {command: [true]}
              d:
                shell: true
                command: |
            \(script)
            """)
        try await h.commitAll()
        let result = try await Self.run(h, ["run", "fallback.yml", "--json"], environment: ["MUSTER_BWRAP": "/nonexistent/bwrap"])
        #expect(result.status == 0, "\(result.stderr)")
        let warnings = result.stderr.components(separatedBy: "sandbox unavailable").count - 1
        #expect(warnings == 1 && result.stderr.contains("falling back to diff checks"), "\(result.stderr)")
        let runID = try await SpawnTests.runID(result)
        let events = h.read(".muster/runs/\(runID)/events.jsonl")
        #expect(events.contains("run.sandbox") && events.contains("none (sandbox unavailable"), "\(events)")
        #expect(try await eventually(timeout: 10) { Self.processes(marker).isEmpty }, "the daemon outlived its task without a sandbox")
        let agents = try await Self.run(h, ["agents", "--json"], environment: ["MUSTER_BWRAP": "/nonexistent/bwrap"])
        let sandbox = try #require((try agents.json() as? [String: Any])?["sandbox"] as? [String: Any])
        #expect(sandbox["available"] as? Bool == false && (sandbox["reason"] as? String)?.contains("/nonexistent/bwrap") == true, "\(sandbox)")
        let here = try #require((try await h.muster("agents", "--json").json() as? [String: Any])?["sandbox"] as? [String: Any])
        #expect(here["available"] as? Bool == true, "\(here)")
    }
}
