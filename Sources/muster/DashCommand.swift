import ArgumentParser
import Foundation
import MusterStore
import MusterTerminal

struct DashCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dash",
        abstract: "A live full-screen dashboard of a run (default: the newest); a plain snapshot when stdout is not a terminal.",
        discussion: """
            Keys: ↑/↓ or j/k move, PgUp/PgDn page, enter opens the task's log in `less +F` (or $PAGER), \
            / filters by task id (esc clears), q quits. A running task whose last output line asks for \
            input or approval is shown as `waiting`.
            """)

    @Argument(help: "The run id (see `muster runs`).") var run: String?
    @Option(help: "Snapshot width when stdout is not a terminal (default: $COLUMNS, else 120).") var width: Int?
    @Flag(help: .hidden) var panes = false
    @Option(help: .hidden) var socket: String?
    @Option(help: .hidden) var panesPerWindow = 8
    @Option(help: .hidden) var benchFrames: Int?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            let record = try await global.resolveRun(run, in: store)
            let feed = DashboardFeed(store: store, run: record)
            if let benchFrames {
                try await DashBench.run(feed: feed, frames: max(1, benchFrames), json: global.json)
                return
            }
            if global.json {
                FileHandle.standardOutput.write(try await RunReport.build(store: store, run: record.id).json())
                print()
                return
            }
            try await feed.pollEvents()
            try await feed.reload()
            guard TerminalScreen.isTerminal else {
                let columns = width ?? ProcessInfo.processInfo.environment["COLUMNS"].flatMap { Int($0) } ?? 120
                print(Dashboard.snapshot(feed: feed, width: columns))
                return
            }
            let tmuxPanes = panes ? TmuxPanes(tmux: Tmux(socket: socket), run: record.id, root: record.root, panesPerWindow: panesPerWindow) : nil
            let dashboard = Dashboard(feed: feed, options: .fromEnvironment(), panes: tmuxPanes)
            if let signo = try await dashboard.run(), signo == SIGINT { throw ExitCode(ExitCodes.interrupted) }
        }
    }
}

/// `muster dash --bench-frames N RUN` (for scripts/bench-dash): N frames read from the Store and rendered at 200×50.
enum DashBench {
    static func run(feed: DashboardFeed, frames: Int, json: Bool) async throws {
        let renderer = DashboardRenderer(width: 200, height: 50)
        var load = Duration.zero, render = Duration.zero
        let clock = ContinuousClock()
        for _ in 0..<frames {
            let t0 = clock.now
            try await feed.pollEvents()
            try await feed.reload()
            let t1 = clock.now
            _ = feed.frame(renderer, view: DashboardView(), now: feed.store.clock())
            let t2 = clock.now
            load += t1 - t0
            render += t2 - t1
        }
        func ms(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
        let perLoad = ms(load) / Double(frames), perRender = ms(render) / Double(frames)
        if json {
            Terminal.json(CommandJSON.DashTiming(frames: frames, tasks: feed.tasks.count, msPerFrame: perLoad + perRender,
                                                 storeMS: perLoad, renderMS: perRender))
        } else {
            print(String(format: "%d tasks: %.2f ms a frame (store %.2f ms, render %.2f ms) over %d frames",
                         feed.tasks.count, perLoad + perRender, perLoad, perRender, frames))
        }
    }
}
