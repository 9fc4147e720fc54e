import Foundation
import MusterCore
import MusterStore
import Testing
@testable import MusterTerminal

@Suite struct DashboardModelTests {
    @Test(arguments: [
        ("Allow edit to Package.swift? (y/n)", true),
        ("Do you want to proceed [Y/n]", true),
        ("Claude needs your permission to use Bash", true),
        ("Approve this plan", true),
        ("Continue?", true),
        ("Compiling Sources/A/main.swift", false),
        ("Tests passed: 42", false),
        ("", false),
    ])
    func promptHeuristic(_ line: String, _ expected: Bool) {
        #expect(InputPrompt.looksLikePrompt(line) == expected)
    }

    @Test func derivedValuesOfTheRecordedRun() async throws {
        let model = try await Fixture.model(try await Fixture.recorded())
        #expect(model.counts[.running] == 3)
        #expect(model.waitingCount == 1)
        #expect(model.shownState(model.tasks.first { $0.id == "scan.5" }!) == "waiting")
        #expect(model.elapsed == 180)
        // scan.2 took 45 s, scan.1 60 s, scan.3 95 s: 66.7 s on average; 9 unfinished tasks (report was skipped), 4 slots,
        // minus what the running ones already did (min(avg, elapsed): 66.7 + 66.7 + 66.7).
        let average = (45.0 + 60 + 95) / 3
        #expect(abs((model.eta ?? 0) - (9 * average - 3 * average) / 4) < 0.001)
        #expect(model.warnings.map(\.kind) == ["task.stalled", "ownership.violation", "conflict.predicted"])
        #expect(model.ordered().prefix(4).map(\.id) == ["scan.5", "scan.4", "scan.6", "scan.2"])
        #expect(model.ordered(filter: "SCAN.1").map(\.id) == ["scan.10", "scan.11", "scan.12", "scan.1"])
        #expect(model.workers.filter(model.isLost).map(\.host) == ["build-02"])
        var budgeted = model
        budgeted.budgetUSD = 20
        #expect(DashboardRenderer(width: 120, height: 30).render(budgeted).lines[0].contains("$0.83 of $20.00 budget"))
    }

    @Test func scrollsThroughAThousandTasks() async throws {
        let (store, dir) = try Fixture.scratchStore()
        let tasks = (1...1000).map { Fixture.task(String(format: "t%04d", $0), group: "t", agent: "shell") }
        try await store.createRun(NewRun(id: "big", workflow: Workflow(name: "big", tasks: []), specPath: "w.yml", root: dir.path,
                                         concurrency: 8, simulate: false, createdAt: Fixture.t0), tasks: tasks)
        let feed = DashboardFeed(store: store, run: try require(try await store.run("big")))
        try await feed.pollEvents()
        try await feed.reload()
        let renderer = DashboardRenderer(width: 80, height: 24)
        var view = DashboardView()
        var frame = feed.frame(renderer, view: view, now: Fixture.now)
        #expect(frame.visibleTasks.first == "t0001")
        let rows = frame.visibleTasks.count
        // Down to the end, one row at a time, like pressing j 999 times.
        let ordered = feed.model(now: Fixture.now).ordered()
        for index in 1..<1000 {
            view = frame.view
            view.selected = ordered[index].id
            frame = renderer.render(feed.model(now: Fixture.now), view: view)
            #expect(frame.visibleTasks.contains(ordered[index].id))
            #expect(frame.lines.count == 24)
        }
        #expect(frame.visibleTasks.last == "t1000")
        #expect(frame.visibleTasks.count == rows)
        #expect(frame.lines.last!.hasPrefix("\(1000 - rows + 1)-1000 of 1000 ·"))
        #expect(frame.lines.allSatisfy { TextCells.width($0) == 80 })
        // Filtering narrows the table and the footer says so.
        view = frame.view
        view.filter = "t09"
        frame = renderer.render(feed.model(now: Fixture.now), view: view)
        #expect(frame.visibleTasks.allSatisfy { $0.hasPrefix("t09") })
        #expect(frame.lines.last!.hasPrefix("1-\(rows) of 100 (1000 in all) · filter \"t09\""))
    }

    @Test func theSnapshotIsPlainAndComplete() async throws {
        let (store, dir) = try Fixture.scratchStore()
        let tasks = (1...60).map { Fixture.task("job.\($0)", group: "job", agent: "shell") }
        try await store.createRun(NewRun(id: "s", workflow: Workflow(name: "s", tasks: []), specPath: "w.yml", root: dir.path,
                                         concurrency: 8, simulate: false, createdAt: Fixture.t0), tasks: tasks)
        let claimed = try await store.claim(run: "s", holder: "h", limit: 1, leaseSeconds: 60, now: Fixture.at(1))
        let log = DashboardFeed.outputLog(root: dir.path, run: "s", task: claimed[0].task.id)
        try FileManager.default.createDirectory(atPath: (log as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "\u{1B}[32mcompiling\u{1B}[0m\nstep 1\rstep 2 of 3\n".write(toFile: log, atomically: true, encoding: .utf8)
        let feed = DashboardFeed(store: store, run: try require(try await store.run("s")))
        try await feed.pollEvents()
        try await feed.reload()
        let text = Dashboard.snapshot(feed: feed, width: 100, now: Fixture.at(10))
        #expect(!text.contains("\u{1B}"))
        #expect(text.split(separator: "\n").filter { $0.contains("job.") }.count == 60)
        #expect(text.contains("running   job.1"))
        #expect(text.contains("step 2 of 3"))
        #expect(!text.contains("↑↓"), "no key help in a snapshot")
    }
}

@Suite struct TextAndInputTests {
    @Test func outputTailReadsOnlyTheEndAndCleansIt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tail-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var text = String(repeating: "filler line that is long enough\n", count: 2000)
        text += "\u{1B}[1mBuilding\u{1B}[0m 10%\r\u{1B}[2KBuilding 100%\n\n   \n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let tail = OutputTail()
        #expect(tail.lastLine(path: path) == "Building 100%")
        // A prompt written without a newline is the last line too.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("Proceed? [y/N] ".utf8))
        try handle.close()
        #expect(tail.lastLine(path: path) == "Proceed? [y/N]")
        #expect(tail.lastLine(path: path + ".missing") == nil)
    }

    @Test func textIsFittedToColumns() {
        #expect(TextCells.pad("abc", 5) == "abc  ")
        #expect(TextCells.truncate("abcdef", 4) == "abc…")
        #expect(TextCells.padLeft("7", 3) == "  7")
        #expect(TextCells.width("日本語") == 6)
        #expect(TextCells.width(TextCells.truncate("日本語テキスト", 7)) <= 7)
        #expect(TextCells.clean("a\tb\u{07}c\u{1B}]0;title\u{07}d") == "a    bcd")
    }

    @Test func keysAreDecoded() {
        #expect(Key.decode(Array("jk/q".utf8)) == [.character("j"), .character("k"), .character("/"), .character("q")])
        #expect(Key.decode([0x1B, 0x5B, 0x41, 0x1B, 0x5B, 0x42, 0x0D, 0x03]) == [.up, .down, .enter, .interrupt])
        #expect(Key.decode(Array("\u{1B}[5~\u{1B}[6~\u{1B}OA".utf8)) == [.pageUp, .pageDown, .up])
        #expect(Key.decode([0x1B]) == [.escape])
        #expect(Key.decode([0x7F]) == [.backspace])
    }

    @Test func pagerFollowsWithLessUnlessPagerSaysOtherwise() {
        #expect(Pager.command(environment: [:]) == ["less", "+F"])
        #expect(Pager.command(environment: ["PAGER": "less -R"]) == ["less", "-R", "+F"])
        #expect(Pager.command(environment: ["PAGER": "most"]) == ["most"])
    }
}

@Suite struct LiveSessionsTests {
    @Test func lostWhenHeartbeatIsStaleOrPidIsGone() async throws {
        let store = try await Fixture.recorded()
        let workers = try await store.workers(run: nil)
        let running = try await store.tasks(run: "audit-3f2a1c").filter { $0.state == .running }
        let alive: Set<Int32> = [4100, 4104, 4106]
        let sessions = LiveSessions.classify(workers: workers, runningTasks: running, now: Fixture.now, host: "build-01",
                                             isAlive: { alive.contains($0) })
        #expect(sessions.map(\.kind) == [.orchestrator, .orchestrator, .task, .task, .task])
        // build-01's orchestrator beat 5 s ago; build-02's 160 s ago (another host: only the heartbeat tells).
        #expect(sessions.filter { $0.kind == .orchestrator }.map(\.lost) == [false, true])
        #expect(sessions.filter { $0.kind == .task }.map { "\($0.task!):\($0.lost)" } == ["scan.4:false", "scan.5:true", "scan.6:false"])
        #expect(sessions.first { $0.task == "scan.4" }?.agent == "claude")
        // An orchestrator on this host whose pid is gone is lost at once.
        let gone = LiveSessions.classify(workers: workers, runningTasks: [], now: Fixture.at(176), host: "build-01", isAlive: { _ in false })
        #expect(gone.first?.lost == true)
    }

    @Test func processLiveness() {
        #expect(ProcessLiveness.isAlive(getpid()))
        #expect(!ProcessLiveness.isAlive(0))
        #expect(!ProcessLiveness.isAlive(Int32.max - 1))
    }

    @Test func activeCooldownsShowInTheHeader() async throws {
        var model = try await Fixture.model(try await Fixture.recorded())
        let plain = DashboardRenderer(width: 200, height: 50).render(model).lines.joined(separator: "\n")
        #expect(!plain.contains("cool-down"), "no cool-down, no mention")
        model.cooldowns = [Cooldown(key: "anthropic", attempt: 2, until: model.now.addingTimeInterval(12))]
        let frame = DashboardRenderer(width: 200, height: 50).render(model).lines.joined(separator: "\n")
        #expect(frame.contains("cool-down anthropic 12"), "\(frame.prefix(400))")
    }
}
