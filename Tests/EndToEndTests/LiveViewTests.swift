import Foundation
import MusterTestKit
import Testing

/// The live views end to end: `muster run --tmux` on a private tmux server, `muster ps` before and
/// after `kill -9`, notifications and the DONE sentinel, and the plain dashboard snapshot.
@Suite(.serialized) struct LiveViewTests {
    static let hasTmux = FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux")
        || FileManager.default.isExecutableFile(atPath: "/usr/local/bin/tmux")

    /// A tmux server of the test's own (`tmux -L muster-test-<uuid>`), killed at the end.
    struct PrivateTmux {
        let socket = "muster-test-\(UUID().uuidString.prefix(8))"
        let root: URL

        @discardableResult
        func run(_ arguments: String...) async throws -> CommandResult {
            try await Command.run("/usr/bin/env", ["tmux", "-L", socket] + arguments, in: root)
        }

        func lines(_ arguments: String...) async throws -> [String] {
            try await Command.run("/usr/bin/env", ["tmux", "-L", socket] + arguments, in: root).stdout
                .split(separator: "\n").map(String.init)
        }

        func kill() async {
            _ = try? await run("kill-server")
            let dir = ProcessInfo.processInfo.environment["TMUX_TMPDIR"] ?? "/tmp"
            try? FileManager.default.removeItem(atPath: "\(dir)/tmux-\(getuid())/\(socket)")
        }

        /// Runs `body`, then stops the server whether it threw or not (a `defer` cannot wait).
        func around(_ body: () async throws -> Void) async throws {
            do { try await body() } catch {
                await kill()
                throw error
            }
            await kill()
        }
    }

    static func newestRun(_ h: TestRepository) async -> String? {
        guard FileManager.default.fileExists(atPath: h.path(".muster/muster.db")) else { return nil }
        return (try? await h.muster("runs", "--json").json() as? [[String: Any]])?.first?["run"] as? String
    }

    @Test(.enabled(if: hasTmux)) func tmuxPanesFollowTheRunningTasks() async throws {
        let h = try await TestRepository()
        let tmux = PrivateTmux(root: h.root)
        try await tmux.around {
            let items = (1...10).map(String.init).joined(separator: ", ")
            // The files that let tasks finish live outside the repository (inside, they would be changes the tasks do not own).
            let gatesFolder = try TemporaryFolder("gates")
            let gates = gatesFolder.url
            func open(_ item: Int) throws { try Data().write(to: gates.appendingPathComponent("go-\(item)")) }
            try h.write("live.yml", """
                name: live
                concurrency: 10
                isolation: none
                sandbox: none  # the gates live in the host's /tmp, which a sandbox replaces with a private one
                tasks:
                  work:
                    foreach: {items: [\(items)]}
                    shell: true
                    command: |
                      echo "task {{item}} working"
                      while [ ! -f \(gates.path)/go-{{item}} ]; do sleep 0.1; done
                      echo "task {{item}} done"
                """)
            let process = try h.start(["run", "--tmux", "--tmux-socket", tmux.socket, "live.yml"])
            defer { process.killAndReap() }
            var run: String?
            #expect(try await eventually { run = await Self.newestRun(h); return run != nil })
            let session = "muster-" + (run ?? "")
            func taskPanes() async throws -> [String] {
                try await tmux.lines("list-panes", "-s", "-t", "=" + session, "-F", "#{@muster-task}").filter { !$0.isEmpty }
            }
            func dashboard() async throws -> String {
                let pane = try await tmux.lines("list-panes", "-s", "-t", "=" + session, "-F", "#{pane_id} #{@muster-role}")
                    .first { $0.hasSuffix(" dash") }?.split(separator: " ").first.map(String.init) ?? ""
                return try await tmux.run("capture-pane", "-p", "-t", pane).stdout
            }

            // One pane per running task: 8 panes a window, so the dashboard's window holds 7 tasks, a second window 3.
            let settled1 = try await eventually(timeout: 30) { try await taskPanes().count == 10 }
            let seen1 = settled1 ? [] : ((try? await taskPanes()) ?? [])
            #expect(settled1, "panes: \(seen1)")
            #expect(Set(try await taskPanes()) == Set((1...10).map { "work.\($0)" }))
            #expect(try await tmux.lines("list-windows", "-t", "=" + session).count == 2)
            let settled2 = try await eventually { try await dashboard().contains("running 10") }
            let seen2 = settled2 ? "" : ((try? await dashboard()) ?? "")
            #expect(settled2, "dashboard:\n\(seen2)")
            // Polled like the line above: a capture can land in the middle of a redraw.
            let settled3 = try await eventually { try await dashboard().contains("run \(run ?? "") (live)") }
            let seen3 = settled3 ? "" : ((try? await dashboard()) ?? "")
            #expect(settled3, "dashboard:\n\(seen3)")
            // A task pane shows its log.
            let pane = try await tmux.lines("list-panes", "-s", "-t", "=" + session, "-F", "#{pane_id} #{@muster-task}")
                .first { $0.hasSuffix(" work.3") }?.split(separator: " ").first.map(String.init) ?? ""
            #expect(try await eventually { try await tmux.run("capture-pane", "-p", "-t", pane).stdout.contains("task 3 working") })

            // Four tasks end: their panes close a few seconds later; the others stay.
            for item in 1...4 { try open(item) }
            #expect(try await eventually { try await dashboard().contains("succeeded 4") })
            #expect(try await taskPanes().count >= 6)
            let settled4 = try await eventually(timeout: 20) { try await taskPanes().count == 6 }
            let seen4 = settled4 ? [] : ((try? await taskPanes()) ?? [])
            #expect(settled4, "panes: \(seen4)")
            #expect(Set(try await taskPanes()) == Set((5...10).map { "work.\($0)" }))

            // The rest end: no task pane is left, the dashboard stays with the outcome.
            for item in 5...10 { try open(item) }
            let settled5 = try await eventually(timeout: 20) { try await taskPanes().isEmpty }
            let seen5 = settled5 ? [] : ((try? await taskPanes()) ?? [])
            #expect(settled5, "panes: \(seen5)")
            let status = await process.exited()
            #expect(status.code == 0)
            let settled6 = try await eventually { try await dashboard().contains("succeeded 10") }
            let seen6 = settled6 ? "" : ((try? await dashboard()) ?? "")
            #expect(settled6, "dashboard:\n\(seen6)")
            #expect(try await tmux.lines("list-windows", "-t", "=" + session).count == 1)

            // `muster tmux RUN -d` reuses the session and leaves it detached.
            let again = try await h.muster("tmux", run ?? "", "-d", "--socket", tmux.socket)
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stdout.contains("tmux -L \(tmux.socket) attach -t \(session)"))
            #expect(try await tmux.lines("list-sessions").count == 1)
        }
    }

    @Test func psSeesTheOrchestratorAndItsTaskThenLosesThem() async throws {
        let h = try await TestRepository()
        try h.write("ps.yml", """
            name: ps
            isolation: none
            sandbox: none  # an unsandboxed agent outlives its orchestrator (a sandboxed one dies with it)
            tasks:
              wait:
                command: [sleep, "60"]
            """)
        let process = try h.start(["run", "ps.yml"])
        var taskPid: Int32 = 0
        defer {
            process.killAndReap()
            if taskPid > 0 { kill(-taskPid, SIGKILL) }
        }
        func sessions() async -> [[String: Any]] {
            ((try? await h.muster("ps", "--json").json()) as? [[String: Any]]) ?? []
        }
        func entry(_ kind: String) async -> [String: Any]? { await sessions().first { $0["kind"] as? String == kind } }
        let live = try await eventually {
            let pid = (await entry("task"))?["pid"] as? Int ?? 0
            return (await entry("orchestrator"))?["status"] as? String == "live" && pid > 0
        }
        let seenLive = live ? [] : await sessions()
        #expect(live, "ps: \(seenLive)")
        let orchestrator = try #require(await entry("orchestrator"))
        let task = try #require(await entry("task"))
        taskPid = Int32(task["pid"] as? Int ?? 0)
        #expect(orchestrator["pid"] as? Int == Int(process.pid))
        #expect(orchestrator["host"] as? String == ProcessInfo.processInfo.hostName)
        #expect(task["task"] as? String == "wait" && task["agent"] as? String == "shell" && task["status"] as? String == "live")
        #expect(task["run"] as? String == orchestrator["run"] as? String)
        let text = try await h.muster("ps")
        #expect(text.stdout.contains("orchestrator") && text.stdout.contains("wait") && text.stdout.contains("live"))

        process.signal(SIGKILL)
        _ = await process.exited()
        let lost = try await eventually { (await entry("orchestrator"))?["status"] as? String == "lost" }
        let seenLost = lost ? [] : await sessions()
        #expect(lost, "ps: \(seenLost)")
        // Its agent outlives it (its own process group) until it too is killed.
        #expect((await entry("task"))?["status"] as? String == "live")
        kill(-taskPid, SIGKILL)
        let killed = taskPid
        // Never signal this number again: once the group is gone it may name another test's group.
        taskPid = 0
        _ = killed
        let taskLost = try await eventually { (await entry("task"))?["status"] as? String == "lost" }
        let seenTaskLost = taskLost ? [] : await sessions()
        #expect(taskLost, "ps: \(seenTaskLost)")
        #expect(try await h.muster("ps").stdout.contains("lost"))
    }

    @Test func notificationsAndTheDoneSentinel() async throws {
        let h = try await TestRepository()
        try h.write("n.yml", """
            name: notify
            isolation: none
            on_failure: continue
            tasks:
              ok:
                command: ["true"]
              broken:
                shell: true
                command: "echo 'about to fail'; exit 3"
            """)
        // Bad input is refused before a run is recorded.
        let bad = try await h.muster("run", "--notify-webhook", "ftp://example.com/x", "n.yml")
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--notify-webhook"))
        #expect(await Self.newestRun(h) == nil)

        let result = try await h.muster("run", "--json", "--notify", "--notify-command", "sh -c 'cat > notified.json'", "n.yml")
        #expect(result.status == 1, "\(result.stderr)")
        let run = try #require(await Self.newestRun(h))
        let done = try #require(try JSONSerialization.jsonObject(with: Data(h.read(".muster/runs/\(run)/DONE").utf8)) as? [String: Any])
        #expect(done["run"] as? String == run)
        #expect(done["status"] as? String == "failed")
        #expect((done["counts"] as? [String: Int])?["succeeded"] == 1)
        #expect((done["failed_tasks"] as? [[String: Any]])?.first?["id"] as? String == "broken")
        #expect(done["elapsed_seconds"] as? Double != nil && done["cost_usd"] as? Double != nil)
        let notified = try #require(try JSONSerialization.jsonObject(with: Data(h.read("notified.json").utf8)) as? [String: Any])
        #expect(notified["event"] as? String == "run.failed")
        // --notify without a terminal on stderr stays silent: no escape codes in the output.
        #expect(!result.stderr.contains("\u{1B}]9;") && !result.stdout.contains("\u{1B}]9;"))

        // The dashboard without a terminal: one plain snapshot.
        let snapshot = try await h.muster("dash", run, "--width", "100")
        #expect(snapshot.status == 0, "\(snapshot.stderr)")
        #expect(!snapshot.stdout.contains("\u{1B}"))
        #expect(snapshot.stdout.contains("muster · run \(run) (notify) · failed"))
        #expect(snapshot.stdout.contains("failed    broken"))
        #expect(snapshot.stdout.split(separator: "\n").allSatisfy { $0.count <= 100 })
    }
}
