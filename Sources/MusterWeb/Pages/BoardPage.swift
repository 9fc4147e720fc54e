import Foundation

/// `/runs/RUN`: the run board. `live` is the part the event stream replaces on every change.
enum BoardPage {
    /// At most this many task rows per wave unless the page asks for all (`?all=1`): the rest are
    /// counted in one line, done tasks first (the table lists running, failed and queued tasks first).
    static let rowsPerWave = 100

    static func render(_ board: RunBoard, control: ControlForm?, all: Bool = false) -> String {
        page(board, live: live(board, control: control, all: all), all: all)
    }

    /// The page around an already rendered live fragment (a shared snapshot's).
    static func page(_ board: RunBoard, live: String, all: Bool = false) -> String {
        let run = board.run
        let header = "<h1><span class=\"id\">\(HTML.escape(run.id))</span> <span class=\"name\">\(HTML.escape(run.name))</span></h1>"
        return HTML.page(title: "muster · \(run.id)", stream: HTML.runURL(run.id) + "/stream" + (all ? "?all=1" : ""), header: header,
                         body: live)
    }

    static func live(_ board: RunBoard, control: ControlForm?, all: Bool = false) -> String {
        let run = board.run
        var html = "<section class=\"summary\">"
        let status = run.interrupted ? "interrupted" : run.cancelRequested && run.status == "running" ? "cancelling" : run.status
        html += "<span class=\"state s-\(HTML.escape(status))\" id=\"run-state\">\(HTML.escape(status))</span>"
        html += progress(run)
        html += "<dl class=\"facts\">"
        html += "<div><dt>done</dt><dd>\(run.finished)/\(run.total)</dd></div>"
        for (state, n) in run.byState.sorted(by: { $0.key < $1.key }) where n > 0 {
            html += "<div><dt>\(HTML.escape(state))</dt><dd>\(n)</dd></div>"
        }
        html += "<div><dt>elapsed</dt><dd>\(HTML.duration(board.elapsedSeconds))</dd></div>"
        html += "<div><dt>eta</dt><dd>\(HTML.duration(board.etaSeconds))</dd></div>"
        html += "<div><dt>cost</dt><dd>\(HTML.money(run.costUSD))"
        if let budget = run.budgetUSD { html += " of \(HTML.money(budget))" }
        html += "</dd></div></dl>"
        if let budget = run.budgetUSD, budget > 0 {
            html += "<meter class=\"budget\" min=\"0\" max=\"\(budget)\" value=\"\(min(run.costUSD, budget))\" title=\"cost against the budget\"></meter>"
        }
        if let control, run.status == "running", !run.cancelRequested {
            html += control.button(action: HTML.runURL(run.id) + "/cancel", label: "Cancel run", confirm: true)
        }
        if let control, run.byState.contains(where: { ["failed", "skipped", "cancelled", "blocked"].contains($0.key) && $0.value > 0 }) {
            html += control.button(action: HTML.runURL(run.id) + "/retry", label: "Retry failed tasks", confirm: false)
        }
        html += "</section>"
        html += attention(board)
        html += tasks(board, limit: all ? nil : rowsPerWave)
        html += workers(board)
        return html
    }

    static func progress(_ run: RunSummary) -> String {
        let percent = run.total == 0 ? 0 : Int((Double(run.finished) / Double(run.total) * 100).rounded(.down))
        return "<progress max=\"\(max(1, run.total))\" value=\"\(run.finished)\" title=\"\(percent)%\">\(percent)%</progress>"
    }

    /// Cool-downs, limit waits, warnings (conflicts, ownership violations, stalls) and denied tasks.
    static func attention(_ board: RunBoard) -> String {
        var html = ""
        if !board.cooldowns.isEmpty {
            html += "<section class=\"limits\"><h2>Cool-downs</h2><ul>"
            for c in board.cooldowns {
                html += "<li><b>\(HTML.escape(c.key))</b> #\(c.attempt), \(HTML.duration(c.remainingSeconds)) left</li>"
            }
            html += "</ul></section>"
        }
        if !board.limitWaits.isEmpty {
            html += "<section class=\"limits\"><h2>Waited for limits</h2><ul>"
            for e in board.limitWaits.prefix(8) { html += "<li>\(taskLink(board, e.task)) \(HTML.escape(e.message))</li>" }
            html += "</ul></section>"
        }
        if !board.denied.isEmpty {
            html += "<section class=\"warn\"><h2>Denied</h2><ul>"
            for id in board.denied { html += "<li>\(taskLink(board, id))</li>" }
            html += "</ul></section>"
        }
        if !board.warnings.isEmpty {
            html += "<section class=\"warn\"><h2>Warnings</h2><ul>"
            for e in board.warnings.prefix(20) {
                html += "<li><span class=\"kind\">\(HTML.escape(e.kind))</span> \(taskLink(board, e.task)) \(HTML.escape(e.message))</li>"
            }
            html += "</ul></section>"
        }
        return html
    }

    static func taskLink(_ board: RunBoard, _ task: String?) -> String {
        guard let task else { return "" }
        return "<a href=\"\(HTML.taskURL(board.run.id, task))\">\(HTML.escape(task))</a>"
    }

    /// Tasks by wave; spawned children listed under their parent. Past `limit` rows in a wave, the
    /// rest are one line of counts by state with a link to the whole table.
    static func tasks(_ board: RunBoard, limit: Int?) -> String {
        var children: [String: [Int]] = [:]
        var ids = Set<String>()
        for (i, row) in board.tasks.enumerated() {
            ids.insert(row.id)
            if let parent = row.parent { children[parent, default: []].append(i) }
        }
        var byWave: [Int: [Int]] = [:]
        for (i, row) in board.tasks.enumerated() where row.parent.map({ !ids.contains($0) }) ?? true {
            byWave[row.wave, default: []].append(i)
        }
        var html = "<section class=\"tasks\"><h2>Tasks</h2>"
        var shown = Set<Int>()
        for wave in byWave.keys.sorted() {
            var out = ""
            var count = 0
            var hidden: [String: Int] = [:]
            func rows(_ indices: [Int], depth: Int) {
                for i in indices where shown.insert(i).inserted {
                    if let limit, count >= limit {
                        hidden[board.tasks[i].state, default: 0] += 1
                    } else {
                        out += row(board, board.tasks[i], depth: depth)
                        count += 1
                    }
                    if let kids = children[board.tasks[i].id], depth < 8 { rows(kids, depth: depth + 1) }
                }
            }
            rows(byWave[wave] ?? [], depth: 0)
            html += "<h3>wave \(wave)</h3><table class=\"grid\"><tbody>" + out
            if !hidden.isEmpty {
                let n = hidden.values.reduce(0, +)
                let states = hidden.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                    .map { "\($0.value) \(HTML.escape($0.key))" }.joined(separator: ", ")
                html += "<tr class=\"more\"><td colspan=\"6\">\(n) more: \(states) · "
                    + "<a href=\"\(HTML.runURL(board.run.id))?all=1\">show all \(board.tasks.count) tasks</a></td></tr>"
            }
            html += "</tbody></table>"
        }
        return html + "</section>"
    }

    static func row(_ board: RunBoard, _ task: TaskRow, depth: Int) -> String {
        let indent = depth > 0 ? " class=\"child d\(min(depth, 4))\"" : ""
        return "<tr id=\"t-\(HTML.path(task.id))\" data-state=\"\(HTML.escape(task.state))\">"
            + "<td\(indent)><a href=\"\(HTML.taskURL(board.run.id, task.id))\">\(HTML.escape(task.id))</a></td>"
            + "<td><span class=\"state s-\(HTML.escape(task.state))\">\(HTML.escape(task.state))</span></td>"
            + "<td class=\"num\">\(task.attempt > 1 ? "×\(task.attempt)" : "")</td>"
            + "<td class=\"num\">\(HTML.duration(task.elapsedSeconds))</td>"
            + "<td class=\"num\">\(task.costUSD.map { HTML.money($0) } ?? "")</td>"
            + "<td class=\"detail\">\(HTML.escape(task.detail.prefix(160)))</td></tr>"
    }

    static func workers(_ board: RunBoard) -> String {
        guard !board.workers.isEmpty else { return "" }
        var html = "<section class=\"workers\"><h2>Workers</h2><ul>"
        for w in board.workers {
            html += "<li class=\"\(w.lost ? "lost" : "")\"><b>\(HTML.escape(w.role))</b> \(HTML.escape(w.host)) "
            html += "<span class=\"meta\">heartbeat \(HTML.duration(w.heartbeatAgeSeconds)) ago\(w.lost ? " · lost" : "")</span>"
            if let task = w.task { html += " " + taskLink(board, task) }
            html += "</li>"
        }
        return html + "</ul></section>"
    }
}
