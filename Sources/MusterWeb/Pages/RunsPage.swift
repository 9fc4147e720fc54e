import Foundation

/// `/`: every run, newest first, with its status, progress, cost and budget.
enum RunsPage {
    static func render(_ runs: [RunSummary]) -> String {
        HTML.page(title: "muster runs", stream: "/stream", header: "<h1>Runs</h1>", body: live(runs))
    }

    static func live(_ runs: [RunSummary]) -> String {
        guard !runs.isEmpty else { return "<p class=\"empty\">No runs yet: start one with <code>muster run FILE</code>.</p>" }
        var html = "<ul class=\"runs\">"
        for run in runs {
            let status = run.interrupted ? "interrupted" : run.status
            html += "<li class=\"run\"><a href=\"\(HTML.runURL(run.id))\"><span class=\"id\">\(HTML.escape(run.id))</span> "
            html += "<span class=\"name\">\(HTML.escape(run.name))</span></a> "
            html += "<span class=\"state s-\(HTML.escape(status))\">\(HTML.escape(status))</span>"
            html += BoardPage.progress(run)
            html += "<span class=\"meta\">\(run.finished)/\(run.total) done · \(HTML.money(run.costUSD))"
            if let budget = run.budgetUSD { html += " of \(HTML.money(budget))" }
            html += " · started \(HTML.time(run.createdAt))</span></li>"
        }
        return html + "</ul>"
    }
}
