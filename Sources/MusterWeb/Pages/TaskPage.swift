import Foundation

/// `/runs/RUN/tasks/TASK`: prompt, live log, result, diff with its ownership verdict, tokens and
/// cost, attempts. The log is a `<pre>` the script appends to (as text, never as markup).
enum TaskPage {
    static func render(_ detail: TaskDetail, control: ControlForm?) -> String {
        let header = "<h1><a href=\"\(HTML.runURL(detail.run))\" class=\"id\">\(HTML.escape(detail.run))</a> / "
            + "<span class=\"id\">\(HTML.escape(detail.task.id))</span></h1>"
        let stream = HTML.taskURL(detail.run, detail.task.id) + "/stream?from=\(detail.logSize)"
        var body = "<div id=\"task-live\">" + live(detail, control: control) + "</div>"
        body += "<section><h2>Log</h2><pre id=\"log\" class=\"log\">\(HTML.escape(detail.log))</pre></section>"
        if let prompt = detail.prompt { body += "<section><h2>Prompt</h2><pre>\(HTML.escape(prompt))</pre></section>" }
        if let result = detail.result { body += "<section><h2>Result</h2><pre>\(HTML.escape(result))</pre></section>" }
        body += diff(detail)
        return HTML.page(title: "muster · \(detail.task.id)", stream: stream, header: header, body: body)
    }

    /// The part the event stream replaces when the task's state changes.
    static func live(_ detail: TaskDetail, control: ControlForm?) -> String {
        let task = detail.task
        var html = "<section class=\"summary\"><span class=\"state s-\(HTML.escape(task.state))\" id=\"task-state\">\(HTML.escape(task.state))</span>"
        html += "<dl class=\"facts\">"
        html += fact("agent", detail.agent + (detail.model.map { " · " + $0 } ?? ""))
        html += fact("wave", "\(task.wave)")
        html += fact("attempt", "\(task.attempt) (\(detail.failures) failed, \(detail.retries) retries allowed)")
        html += fact("elapsed", HTML.duration(task.elapsedSeconds), escaped: true)
        html += fact("cost", HTML.money(task.costUSD), escaped: true)
        if let t = detail.tokens {
            html += fact("tokens", "input \(t.input) · output \(t.output) · cache read \(t.cacheRead) · cache write \(t.cacheWrite)")
        }
        if let parent = task.parent {
            html += "<div><dt>parent</dt><dd><a href=\"\(HTML.taskURL(detail.run, parent))\">\(HTML.escape(parent))</a></dd></div>"
        }
        if !detail.needs.isEmpty { html += fact("needs", detail.needs.joined(separator: ", ")) }
        if !detail.owns.isEmpty { html += fact("owns", detail.owns.joined(separator: ", ")) }
        if let code = detail.exitCode { html += fact("exit", "\(code)") }
        if !detail.earlierAttempts.isEmpty { html += fact("earlier logs", detail.earlierAttempts.map { "output.attempt-\($0).log" }.joined(separator: ", ")) }
        html += "</dl>"
        if let error = detail.error { html += "<p class=\"error\">\(HTML.escape(error))</p>" }
        if let summary = detail.summary { html += "<p class=\"summary-text\">\(HTML.escape(summary))</p>" }
        if let control, ["failed", "skipped", "cancelled", "blocked"].contains(task.state) {
            html += control.button(action: HTML.runURL(detail.run) + "/retry", label: "Retry failed tasks of this run", confirm: false)
        }
        html += "</section>"
        if !detail.events.isEmpty {
            html += "<section><h2>Events</h2><ul class=\"events\">"
            for e in detail.events.suffix(30).reversed() {
                html += "<li><span class=\"meta\">\(HTML.time(e.at))</span> <span class=\"kind\">\(HTML.escape(e.kind))</span> \(HTML.escape(e.message))</li>"
            }
            html += "</ul></section>"
        }
        return html
    }

    static func fact(_ name: String, _ value: String, escaped: Bool = false) -> String {
        "<div><dt>\(HTML.escape(name))</dt><dd>\(escaped ? value : HTML.escape(value))</dd></div>"
    }

    static func diff(_ detail: TaskDetail) -> String {
        guard let git = detail.git else { return "" }
        var html = "<section><h2>Changes <span class=\"verdict v-\(HTML.escape(git.verdict))\">"
        html += git.verdict == "ok" ? "every path owned" : "\(git.violations.count) outside owns"
        html += "</span></h2><ul class=\"paths\">"
        let violations = Set(git.violations)
        for path in git.changedPaths {
            html += "<li class=\"\(violations.contains(path) ? "violation" : "")\">\(HTML.escape(path))</li>"
        }
        html += "</ul>"
        if let branch = git.branch { html += "<p class=\"meta\">branch \(HTML.escape(branch)) · base \(HTML.escape(git.baseCommit.prefix(12)))</p>" }
        if let diff = detail.diff { html += "<pre class=\"diff\">\(HTML.escape(diff))</pre>" }
        return html + "</section>"
    }
}
