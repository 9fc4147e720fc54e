import Foundation
import MusterStore

public struct DashboardOptions: Sendable {
    /// SGR colours and reverse video (off with NO_COLOR or TERM=dumb).
    public var colour: Bool
    /// The pager for a task's log, the path appended: `less +F`, or $PAGER.
    public var pager: [String]

    public init(colour: Bool, pager: [String]) {
        self.colour = colour
        self.pager = pager
    }

    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> DashboardOptions {
        let colour = environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
        return DashboardOptions(colour: colour, pager: Pager.command(environment: environment))
    }
}

/// The full-screen dashboard: follows the run's events (polled every 100 ms, so a change shows
/// within 250 ms), redraws on change and once a second for the clocks, resizes with the terminal,
/// and answers keys: ↑/↓ or j/k move, PgUp/PgDn page, enter opens the task's log in a pager,
/// `/` filters by task id, `q` (or Ctrl-C) quits. The terminal is restored on every way out.
public final class Dashboard {
    public let feed: DashboardFeed
    public let options: DashboardOptions
    /// When the dashboard runs in its tmux session, it keeps the task panes in step.
    public var panes: TmuxPanes?
    var view = DashboardView()
    var lastFrame: Frame?
    var tableRows = 10
    var messageUntil: ContinuousClock.Instant?

    public init(feed: DashboardFeed, options: DashboardOptions, panes: TmuxPanes? = nil) {
        self.feed = feed
        self.options = options
        self.panes = panes
    }

    /// One plain frame with every task and no escape codes (stdout is not a terminal).
    public static func snapshot(feed: DashboardFeed, width: Int, now: Date = Date()) -> String {
        let renderer = DashboardRenderer(width: width, height: nil, interactive: false)
        return feed.frame(renderer, view: DashboardView(), now: now).lines.map { $0.trimmingTrailingSpaces() }.joined(separator: "\n")
    }

    /// Runs until `q`, Ctrl-C or a signal; returns the signal that stopped it, if any.
    @discardableResult
    public func run() async throws -> Int32? {
        let screen = TerminalScreen()
        try screen.enter()
        defer { screen.restore() }
        if ProcessInfo.processInfo.environment["TMUX"] != nil {
            screen.write("\u{1B}]2;muster dash \(feed.runID)\u{07}")  // the pane's title in muster's tmux session
        }
        try await feed.pollEvents()
        try await feed.reload()
        syncPanes()
        var size = screen.size()
        var drawn: [String] = []
        var dirty = true
        var lastPoll = ContinuousClock.now
        var lastClock = ContinuousClock.now
        while true {
            if let signo = screen.stopSignal() { return signo }
            if screen.checkHangup() { return SIGHUP }
            if screen.takeResize() {
                size = screen.size()
                drawn = []
                dirty = true
            }
            for key in Key.decode(screen.readAvailable()) {
                switch handle(key) {
                case .quit: return nil
                case .redraw: dirty = true
                case .open(let task):
                    await openLog(task, screen: screen)
                    size = screen.size()
                    drawn = []
                    dirty = true
                case .none: break
                }
            }
            let now = ContinuousClock.now
            if now - lastPoll >= .milliseconds(100) {
                lastPoll = now
                if try await feed.pollEvents() {
                    try await feed.reload()
                    syncPanes()
                    dirty = true
                }
            }
            if now - lastClock >= .seconds(1) {
                lastClock = now
                try await feed.reload(tasks: false)
                syncPanes()
                if let until = messageUntil, now >= until {
                    view.message = nil
                    messageUntil = nil
                }
                dirty = true
            }
            if dirty {
                dirty = false
                drawn = draw(screen: screen, size: size, previous: drawn)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func syncPanes() {
        guard let panes else { return }
        do {
            try panes.sync(tasks: feed.tasks, now: feed.store.clock())
        } catch {
            show("tmux: \(error)")
        }
    }

    func show(_ message: String) {
        view.message = message
        messageUntil = ContinuousClock.now + .seconds(4)
    }

    /// Draws only the lines that changed since `previous`.
    func draw(screen: TerminalScreen, size: (width: Int, height: Int), previous: [String]) -> [String] {
        let renderer = DashboardRenderer(width: size.width, height: size.height, interactive: true)
        let frame = feed.frame(renderer, view: view, now: feed.store.clock())
        view = frame.view
        lastFrame = frame
        tableRows = max(1, frame.visibleTasks.count)
        var out = previous.isEmpty ? "\u{1B}[0m\u{1B}[2J" : ""
        for (index, line) in frame.lines.enumerated() {
            let styled = paint(line, frame.styles[index])
            if index < previous.count && previous[index] == styled { continue }
            out += "\u{1B}[\(index + 1);1H" + styled
        }
        if !out.isEmpty { screen.write(out) }
        return frame.lines.enumerated().map { paint($1, frame.styles[$0]) }
    }

    func paint(_ line: String, _ style: LineStyle) -> String {
        guard options.colour else { return line }
        let code: String? = switch style {
        case .plain: nil
        case .title, .heading: "1"
        case .selected: "7"
        case .waiting: "1;33"
        case .failed: "31"
        case .warning: "33"
        case .dim, .footer: "2"
        }
        return code.map { "\u{1B}[\($0)m\(line)\u{1B}[0m" } ?? line
    }

    enum Action { case none, redraw, quit, open(String) }

    func handle(_ key: Key) -> Action {
        if view.editingFilter {
            switch key {
            case .enter:
                view.editingFilter = false
            case .escape:
                view.editingFilter = false
                view.filter = ""
            case .backspace:
                if !view.filter.isEmpty { view.filter.removeLast() }
            case .interrupt: return .quit
            case .character(let c): view.filter.append(c)
            case .up, .down, .pageUp, .pageDown, .home, .end: return move(key)
            }
            view.top = 0
            return .redraw
        }
        switch key {
        case .character("q"), .character("Q"), .interrupt: return .quit
        case .character("/"):
            view.editingFilter = true
            return .redraw
        case .escape:
            guard !view.filter.isEmpty else { return .none }
            view.filter = ""
            return .redraw
        case .enter, .character("l"), .character("o"):
            guard let id = view.selected else { return .none }
            return .open(id)
        case .character("j"): return move(.down)
        case .character("k"): return move(.up)
        case .character("g"): return move(.home)
        case .character("G"): return move(.end)
        case .up, .down, .pageUp, .pageDown, .home, .end: return move(key)
        default: return .none
        }
    }

    func move(_ key: Key) -> Action {
        let model = feed.model(now: feed.store.clock())
        let rows = model.order(filter: view.filter).map { model.tasks[$0].id }
        guard !rows.isEmpty else { return .none }
        let current = view.selected.flatMap { id in rows.firstIndex(of: id) } ?? 0
        let next: Int = switch key {
        case .up: current - 1
        case .down: current + 1
        case .pageUp: current - tableRows
        case .pageDown: current + tableRows
        case .home: 0
        case .end: rows.count - 1
        default: current
        }
        view.selected = rows[min(max(0, next), rows.count - 1)]
        return .redraw
    }

    /// Hands the terminal to the pager, then takes it back.
    func openLog(_ task: String, screen: TerminalScreen) async {
        let path = feed.outputLog(task: task)
        guard FileManager.default.fileExists(atPath: path) else {
            show("no output yet for \(task)")
            return
        }
        screen.suspend()
        var status: Int32?
        if let pid = Pager.spawn(options.pager + [path]) {
            // Keep following the run (and the tmux panes) while the pager has the terminal.
            var ticks = 0
            while true {
                if let exit = Pager.exitStatus(pid) { status = exit; break }
                try? await Task.sleep(for: .milliseconds(50))
                ticks += 1
                if panes != nil && ticks % 10 == 0, (try? await feed.pollEvents()) == true {
                    try? await feed.reload()
                    syncPanes()
                }
            }
        }
        do { try screen.resume() } catch { show("could not take the terminal back: \(error)") }
        screen.clearStop()  // Ctrl-C in `less +F` reaches this process too
        _ = screen.takeResize()
        if let status, status != 0 { show("pager \(options.pager.first ?? "") exited with status \(status)") }
        if status == nil { show("could not start \(options.pager.joined(separator: " "))") }
    }
}

/// Runs a pager in the foreground with default signal handling, waits for it.
public enum Pager {
    /// `less +F` (follows a growing log) unless $PAGER names another pager.
    public static func command(environment: [String: String]) -> [String] {
        let words = (environment["PAGER"] ?? "").split(separator: " ").map(String.init)
        guard let first = words.first, !first.isEmpty else { return ["less", "+F"] }
        if URL(fileURLWithPath: first).lastPathComponent == "less" && !words.contains("+F") { return words + ["+F"] }
        return words
    }

    /// Starts it in the foreground process group with default signal handling; nil when it could not start.
    public static func spawn(_ argv: [String]) -> pid_t? { Spawn.start(argv) }

    /// Its exit status once it has exited (nil while it runs).
    public static func exitStatus(_ pid: pid_t) -> Int32? { Spawn.poll(pid) }
}
