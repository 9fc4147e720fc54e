/// The board's stylesheet and script, served from the binary: no CDN, no build step.
enum Assets {
    /// Follows the page's event stream (`data-stream`): `board` and `task` events carry
    /// server-rendered (escaped) HTML for the live part of the page; `log` events carry plain text,
    /// appended as a text node, never parsed as markup. `data-updates` counts the updates received.
    static let script = #"""
    (function () {
      "use strict";
      var body = document.body;
      document.addEventListener("submit", function (e) {
        var f = e.target;
        if (f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) e.preventDefault();
      });
      var url = body.dataset.stream;
      if (!url || !window.EventSource) return;
      var conn = document.getElementById("conn");
      var es = new EventSource(url);
      function bump() { body.dataset.updates = String(Number(body.dataset.updates || 0) + 1); }
      es.onopen = function () { conn.textContent = "live"; conn.className = "conn on"; };
      es.onerror = function () { conn.textContent = "reconnecting"; conn.className = "conn off"; };
      es.addEventListener("board", function (e) { document.getElementById("live").innerHTML = e.data; bump(); });
      es.addEventListener("task", function (e) {
        var t = document.getElementById("task-live");
        if (t) { t.innerHTML = e.data; bump(); }
      });
      es.addEventListener("log", function (e) {
        var log = document.getElementById("log");
        if (!log) return;
        var atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
        log.appendChild(document.createTextNode(e.data));
        if (log.textContent.length > 1000000) log.textContent = log.textContent.slice(-500000);
        if (atEnd) log.scrollTop = log.scrollHeight;
        bump();
      });
    })();
    """#

    static let stylesheet = #"""
    :root { --bg: #fff; --fg: #1b1f24; --dim: #667085; --line: #e4e7ec; --ok: #067647; --bad: #b42318;
            --run: #175cd3; --warn: #b54708; --wait: #6941c6; }
    @media (prefers-color-scheme: dark) {
      :root { --bg: #0d1117; --fg: #e6edf3; --dim: #8b949e; --line: #30363d; --ok: #3fb950; --bad: #f85149;
              --run: #58a6ff; --warn: #d29922; --wait: #bc8cff; }
    }
    * { box-sizing: border-box; }
    body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--fg); }
    header { display: flex; gap: .6rem; align-items: baseline; flex-wrap: wrap; padding: .6rem .9rem; border-bottom: 1px solid var(--line); }
    header h1 { font-size: 1.05rem; margin: 0; overflow-wrap: anywhere; }
    a { color: var(--run); text-decoration: none; }
    a.home { font-weight: 700; color: var(--fg); }
    main { padding: .6rem .9rem 2rem; max-width: 70rem; }
    h2 { font-size: .95rem; margin: 1.1rem 0 .4rem; }
    h3 { font-size: .8rem; color: var(--dim); margin: .8rem 0 .2rem; text-transform: uppercase; letter-spacing: .04em; }
    .id { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; }
    .meta, .kind { color: var(--dim); font-size: .85em; }
    .conn { margin-left: auto; font-size: .75rem; color: var(--dim); }
    .conn.on::before { content: "● "; color: var(--ok); }
    .conn.off::before { content: "● "; color: var(--warn); }
    .state { display: inline-block; padding: 0 .45em; border-radius: .6em; font-size: .8rem; border: 1px solid currentColor; white-space: nowrap; }
    .s-succeeded { color: var(--ok); } .s-failed, .s-blocked, .s-interrupted { color: var(--bad); }
    .s-running { color: var(--run); } .s-waiting { color: var(--wait); font-weight: 600; }
    .s-skipped, .s-cancelled, .s-cancelling, .s-pending, .s-ready { color: var(--dim); }
    progress, meter { width: 100%; height: .7rem; margin: .4rem 0; }
    .facts { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; margin: .3rem 0; }
    .facts div { display: flex; gap: .35rem; } .facts dt { color: var(--dim); } .facts dd { margin: 0; overflow-wrap: anywhere; }
    ul { padding-left: 1.1rem; margin: .2rem 0; } .runs { list-style: none; padding: 0; }
    .run { padding: .5rem 0; border-bottom: 1px solid var(--line); }
    .grid { width: 100%; border-collapse: collapse; table-layout: auto; }
    .grid td { padding: .28rem .4rem; border-bottom: 1px solid var(--line); vertical-align: top; }
    .grid td:first-child { font-family: ui-monospace, monospace; font-size: .85rem; overflow-wrap: anywhere; }
    .grid .num { text-align: right; white-space: nowrap; color: var(--dim); font-size: .85rem; }
    .grid .detail { color: var(--dim); font-size: .85rem; overflow-wrap: anywhere; }
    .child { padding-left: 1.2rem !important; } .child::before { content: "↳ "; color: var(--dim); }
    .d2 { padding-left: 2.2rem !important; } .d3, .d4 { padding-left: 3.2rem !important; }
    .grid tr.more td { color: var(--dim); font-size: .85rem; font-family: inherit; }
    .warn h2 { color: var(--warn); } .lost { color: var(--bad); }
    .error { color: var(--bad); white-space: pre-wrap; overflow-wrap: anywhere; }
    pre { background: rgba(127,127,127,.08); padding: .6rem; overflow: auto; max-height: 28rem; font-size: .8rem;
          white-space: pre-wrap; overflow-wrap: anywhere; border-radius: .3rem; }
    .verdict { font-weight: 400; font-size: .8rem; } .v-ok { color: var(--ok); } .v-violation, .violation { color: var(--bad); }
    form.control { display: inline-block; margin: .4rem .4rem 0 0; }
    form.control button { font: inherit; padding: .35rem .8rem; border-radius: .4rem; border: 1px solid var(--line); background: transparent; color: var(--fg); }
    @media (max-width: 40rem) {
      .grid td:nth-child(3), .grid td:nth-child(5) { display: none; }
      .grid .detail { display: block; border-bottom: 0; padding-top: 0; }
      .grid tr { display: grid; grid-template-columns: 1fr auto auto; border-bottom: 1px solid var(--line); }
      .grid td { border-bottom: 0; }
      .grid td.detail, .grid tr.more td { grid-column: 1 / -1; }
    }
    """#
}
