import Foundation
import MusterStore

/// What the person looking at the dashboard has chosen: the selected task, the scroll position,
/// and the filter. The renderer keeps the selection on screen and hands the adjusted view back.
public struct DashboardView: Sendable, Equatable {
    public var selected: String?
    public var top = 0
    public var filter = ""
    public var editingFilter = false
    /// A one-off line for the footer (e.g. "no output yet").
    public var message: String?
    public init(selected: String? = nil, filter: String = "") {
        self.selected = selected
        self.filter = filter
    }
}

/// How a line is drawn on a colour terminal; the text itself is the same either way.
public enum LineStyle: Sendable, Equatable {
    case plain, title, heading, selected, waiting, failed, warning, dim, footer
}

public struct Frame: Sendable {
    public var lines: [String]
    public var styles: [LineStyle]
    public var view: DashboardView
    /// The task rows drawn, top to bottom.
    public var visibleTasks: [String]
}

/// Lays one dashboard frame out as text lines of exactly `width` columns: the header (progress,
/// counts per state, elapsed, ETA, cost and budget), the task table, live workers, warnings, and a
/// footer with the keys. `height` nil: every task (the plain snapshot printed when stdout is not a terminal).
public struct DashboardRenderer: Sendable {
    public var width: Int
    public var height: Int?
    public var interactive: Bool

    public init(width: Int, height: Int?, interactive: Bool = true) {
        self.width = max(20, width)
        self.height = height.map { max(4, $0) }
        self.interactive = interactive
    }

    struct Layout {
        var tableRows: Int
        var workerRows: Int
        var warningRows: Int
    }

    /// Screen rows for each block; the task table gets what the others leave.
    func layout(_ model: DashboardModel, rows: Int, warnings: Int) -> Layout {
        let workers = model.workers.count
        guard let height else { return Layout(tableRows: rows, workerRows: workers, warningRows: warnings) }
        let fixed = 3 + 1 + (interactive ? 1 : 0) + 1  // header, blank, footer, table heading
        var workerCap = height >= 40 ? 6 : 2
        var warningCap = height >= 40 ? 8 : 3
        while true {
            let workerBlock = workers == 0 ? 0 : 2 + min(workers, workerCap)
            let warningBlock = warnings == 0 ? 0 : 2 + min(warnings, warningCap)
            let table = height - fixed - workerBlock - warningBlock
            if table >= min(5, max(1, rows)) || (workerCap == 0 && warningCap == 0) {
                return Layout(tableRows: max(0, table), workerRows: workers == 0 ? 0 : min(workers, workerCap),
                              warningRows: warnings == 0 ? 0 : min(warnings, warningCap))
            }
            if warningCap >= workerCap && warningCap > 0 { warningCap -= 1 } else if workerCap > 0 { workerCap -= 1 }
        }
    }

    /// The ids of the task rows the frame will show (so their output tails can be read first).
    public func visibleTaskIDs(_ model: DashboardModel, view: DashboardView, order: [Int]? = nil) -> [String] {
        let rows = order ?? model.order(filter: view.filter)
        let warnings = model.warnings
        let layout = layout(model, rows: rows.count, warnings: warnings.count)
        let (top, _) = scroll(rows, model: model, view: view, visible: layout.tableRows)
        return rows[min(top, rows.count)..<min(rows.count, top + layout.tableRows)].map { model.tasks[$0].id }
    }

    /// Keeps the selected row on screen; returns the first row shown and the selected index.
    func scroll(_ rows: [Int], model: DashboardModel, view: DashboardView, visible: Int) -> (Int, Int?) {
        guard !rows.isEmpty else { return (0, nil) }
        let index = view.selected.flatMap { id in rows.firstIndex { model.tasks[$0].id == id } } ?? (interactive ? 0 : nil)
        // No room for rows (a tiny pane): keep the selection for when there is.
        guard visible > 0 else { return (index ?? 0, index) }
        var top = min(max(0, view.top), max(0, rows.count - visible))
        if let index {
            if index < top { top = index }
            if index >= top + visible { top = index - visible + 1 }
        }
        return (top, index)
    }

    /// `order`: `model.order(filter: view.filter)`, when the caller has it already.
    public func render(_ model: DashboardModel, view: DashboardView = DashboardView(), order: [Int]? = nil) -> Frame {
        var lines: [String] = []
        var styles: [LineStyle] = []
        func add(_ text: String, _ style: LineStyle = .plain) {
            lines.append(TextCells.pad(text, width))
            styles.append(style)
        }
        let rows = order ?? model.order(filter: view.filter)
        let warnings = model.warnings
        let layout = layout(model, rows: rows.count, warnings: warnings.count)

        // Header
        add(titleLine(model), .title)
        add(progressLine(model))
        add(countsLine(model))
        add("")

        // Task table
        var view = view
        let (top, selected) = scroll(rows, model: model, view: view, visible: layout.tableRows)
        view.top = top
        if interactive { view.selected = selected.map { model.tasks[rows[$0]].id } }
        let shown = rows[min(top, rows.count)..<min(rows.count, top + layout.tableRows)].map { model.tasks[$0] }
        let columns = Columns(width: width, model: model, shown: shown)
        add(columns.heading, .heading)
        for (offset, task) in shown.enumerated() {
            let isSelected = interactive && top + offset == selected
            let style: LineStyle = isSelected ? .selected : model.isWaiting(task) ? .waiting
                : (task.state == .failed || task.state == .blocked) ? .failed : task.state.isFinal ? .dim : .plain
            add(columns.row(task, model: model, selected: isSelected), style)
        }
        if rows.isEmpty && layout.tableRows > 0 {
            add(view.filter.isEmpty ? "  no tasks" : "  no task matches \"\(view.filter)\"", .dim)
        }

        // Workers
        if layout.workerRows > 0 {
            add("")
            add("WORKERS (\(model.workers.count))", .heading)
            let list = model.workers
            let room = list.count > layout.workerRows ? layout.workerRows - 1 : layout.workerRows
            for worker in list.prefix(room) {
                add(workerLine(worker, model: model), model.isLost(worker) ? .failed : .plain)
            }
            if list.count > room { add("  … \(list.count - room) more", .dim) }
        }

        // Warnings
        if layout.warningRows > 0 {
            add("")
            add("WARNINGS (\(warnings.count))", .heading)
            let room = warnings.count > layout.warningRows ? layout.warningRows - 1 : layout.warningRows
            for event in warnings.prefix(room) { add(warningLine(event, model: model), .warning) }
            if warnings.count > room { add("  … \(warnings.count - room) older", .dim) }
        }

        if let height {
            while lines.count < height - (interactive ? 1 : 0) { add("") }
            if lines.count > height - (interactive ? 1 : 0) {
                lines.removeLast(lines.count - (height - (interactive ? 1 : 0)))
                styles.removeLast(styles.count - lines.count)
            }
        }
        if interactive { add(footer(view, rows: rows.count, total: model.tasks.count, top: top, shown: shown.count), .footer) }
        return Frame(lines: lines, styles: styles, view: view, visibleTasks: shown.map(\.id))
    }

    // MARK: Header

    func titleLine(_ model: DashboardModel) -> String {
        var parts = ["muster", "run \(model.run.id) (\(model.run.name))", model.run.status.rawValue,
                     Format.duration(model.elapsed) + " elapsed"]
        if !model.run.status.isFinal {
            parts.append(model.eta.map { "ETA " + Format.duration($0) } ?? "ETA -")
        }
        var cost = Format.money(model.counts.costUSD)
        if model.counts.unknownCost > 0 { cost += " +\(model.counts.unknownCost) unknown" }
        if let budget = model.budgetUSD {
            cost += " of \(Format.money(budget)) budget"
        }
        parts.append(cost)
        if !model.cooldowns.isEmpty {
            parts.append("cool-down " + model.cooldowns.map { "\($0.key) \(Format.duration(max(0, $0.until.timeIntervalSince(model.now))))" }
                .joined(separator: ", "))
        }
        if model.run.simulate { parts.append("simulated") }
        return parts.joined(separator: " · ")
    }

    func progressLine(_ model: DashboardModel) -> String {
        let c = model.counts
        let percent = c.total == 0 ? 0 : Int((Double(c.finished) / Double(c.total) * 100).rounded(.down))
        let suffix = " \(c.finished)/\(c.total) done \(percent)%"
        let barWidth = max(4, min(60, width - TextCells.width(suffix) - 2))
        let filled = c.total == 0 ? 0 : Int((Double(barWidth) * Double(c.finished) / Double(c.total)).rounded(.down))
        let running = c.total == 0 ? 0 : min(barWidth - filled, Int((Double(barWidth) * Double(c[.running]) / Double(c.total)).rounded(.up)))
        return "[" + String(repeating: "█", count: filled) + String(repeating: "▒", count: running)
            + String(repeating: "░", count: max(0, barWidth - filled - running)) + "]" + suffix
    }

    func countsLine(_ model: DashboardModel) -> String {
        let c = model.counts
        var parts: [String] = []
        let waiting = model.waitingCount
        for state in [TaskState.running, .ready, .pending, .succeeded, .failed, .blocked, .skipped, .cancelled] {
            let n = c[state]
            guard n > 0 || state == .running || state == .succeeded || state == .failed else { continue }
            parts.append(state == .running && waiting > 0 ? "running \(n) (waiting \(waiting))" : "\(state.rawValue) \(n)")
        }
        let line = parts.joined(separator: " · ")
        guard c.tokens.input + c.tokens.output > 0 else { return line }
        let tokens = " · tokens \(Format.tokens(c.tokens.input)) in / \(Format.tokens(c.tokens.output)) out"
        return TextCells.width(line + tokens) <= width ? line + tokens : line
    }

    // MARK: Blocks

    func workerLine(_ worker: WorkerRecord, model: DashboardModel) -> String {
        let age = model.now.timeIntervalSince(worker.heartbeatAt)
        let hostWidth = min(24, max(8, model.workers.map(\.host.count).max() ?? 8)) + 1
        var text = "  " + TextCells.pad(model.isLost(worker) ? "LOST" : "live", 6) + TextCells.pad(worker.role, 13)
            + TextCells.pad(worker.host, hostWidth) + TextCells.pad("pid \(worker.pid)", 11)
            + "heartbeat " + TextCells.pad("\(Format.duration(age)) ago", 10)
            + "up \(Format.duration(model.now.timeIntervalSince(worker.startedAt)))"
        if let task = worker.task { text += " · \(task)" }
        return text
    }

    func warningLine(_ event: EventRecord, model: DashboardModel) -> String {
        let age = Format.duration(model.now.timeIntervalSince(event.at))
        let subject = event.task.map { "\($0): " } ?? ""
        return "  " + TextCells.padLeft(age, 6) + " ago  " + TextCells.pad(event.kind, 20) + subject
            + TextCells.clean(event.message.split(separator: "\n").first ?? "")
    }

    func footer(_ view: DashboardView, rows: Int, total: Int, top: Int, shown: Int) -> String {
        let position = rows == 0 ? "0 of \(total)" : "\(top + 1)-\(top + shown) of \(rows)" + (rows == total ? "" : " (\(total) in all)")
        if view.editingFilter { return "filter: \(view.filter)_ · enter keeps it · esc clears · \(position)" }
        var text = position
        if !view.filter.isEmpty { text += " · filter \"\(view.filter)\" (esc clears)" }
        text += " · ↑↓/jk move · enter log · / filter · q quit"
        if let message = view.message { text = message + " · " + text }
        return text
    }
}

/// The task table's columns, sized to the width and the longest task id.
struct Columns {
    var task: Int
    var agent: Int
    var showAgent: Bool
    var showTokens: Bool
    let state = 9, elapsed = 7, tokens = 7, cost = 8

    /// The task column fits the longest id of the run (so it does not jump while scrolling); the
    /// agent column the rows shown (a task's spec is only read for rows on screen).
    init(width: Int, model: DashboardModel, shown: [TaskRecord]) {
        var longest = 4
        var longestAgent = 5
        let tasks = model.tasks
        for i in tasks.indices.prefix(5000) { longest = max(longest, tasks[i].id.utf8.count) }
        for task in shown { longestAgent = max(longestAgent, task.spec.agent.utf8.count) }
        showAgent = width >= 70
        showTokens = width >= 90
        agent = min(longestAgent, 10)
        task = min(longest, width >= 160 ? 40 : width >= 100 ? 28 : 18)
    }

    var heading: String { line(gutter: "  ", state: "STATE", task: "TASK", agent: "AGENT", elapsed: "TIME", tokens: "TOKENS", cost: "COST", last: "LAST OUTPUT") }

    func row(_ t: TaskRecord, model: DashboardModel, selected: Bool) -> String {
        let elapsed = model.elapsed(of: t).map(Format.duration) ?? "-"
        let usage = t.usage.map { $0.input + $0.output + $0.cacheRead + $0.cacheWrite }
        let tokens = usage.map { $0 > 0 ? Format.tokens($0) : "-" } ?? "-"
        let cost = t.costUSD.map(Format.money) ?? (t.state.isFinal && t.attempt > 0 ? "?" : "-")
        return line(gutter: selected ? "> " : "  ", state: model.shownState(t), task: t.id, agent: t.spec.agent, elapsed: elapsed,
                    tokens: tokens, cost: cost, last: model.detail(t))
    }

    func line(gutter: String, state: String, task: String, agent: String, elapsed: String, tokens: String, cost: String, last: String) -> String {
        var text = gutter + TextCells.pad(state, self.state) + " " + TextCells.pad(task, self.task) + " "
        if showAgent { text += TextCells.pad(agent, self.agent) + " " }
        text += TextCells.padLeft(elapsed, self.elapsed) + " "
        if showTokens { text += TextCells.padLeft(tokens, self.tokens) + " " }
        text += TextCells.padLeft(cost, self.cost) + "  " + last
        return text
    }
}
