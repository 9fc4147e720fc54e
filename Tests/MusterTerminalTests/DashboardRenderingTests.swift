import Foundation
import Testing
@testable import MusterTerminal

/// The dashboard drawn from the recorded run (`Fixture`) at fixed sizes, compared with the
/// expected screens line for line (trailing spaces trimmed; blank filler lines dropped).
@Suite struct DashboardRenderingTests {
    static func screen(_ frame: Frame) -> String {
        frame.lines.map { $0.trimmingTrailingSpaces() }.joined(separator: "\n")
    }

    static func compare(_ frame: Frame, width: Int, height: Int, _ expected: String) {
        #expect(frame.lines.count == height)
        #expect(frame.lines.allSatisfy { TextCells.width($0) == width }, "every line is exactly \(width) columns")
        let actual = frame.lines.map { $0.trimmingTrailingSpaces() }
        // Blank filler between the last block and the footer is not part of the expected text.
        var compact = actual
        while compact.count > 1 && compact[compact.count - 2].isEmpty { compact.remove(at: compact.count - 2) }
        let text = compact.joined(separator: "\n")
        #expect(text == expected, "\n--- actual ---\n\(text)\n--- expected ---\n\(expected)")
    }

    @Test func recordedRunAt80x24() async throws {
        let model = try await Fixture.model(try await Fixture.recorded())
        Self.compare(DashboardRenderer(width: 80, height: 24).render(model), width: 80, height: 24, """
        muster · run audit-3f2a1c (audit) · running · 3m00s elapsed · ETA 1m40s · $0.83
        [██████████████████▒▒▒▒▒▒▒▒▒▒▒▒▒▒░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 4/13 done 30%
        running 3 (waiting 1) · ready 6 · succeeded 2 · failed 1 · skipped 1

          STATE     TASK    AGENT     TIME     COST  LAST OUTPUT
        > waiting   scan.5  claude   1m50s        -  Allow edit to Package.swift? (y/n)
          running   scan.4  claude   2m55s        -  Running swift test --filter AuditT…
          running   scan.6  claude   1m50s        -  Reading Sources/F/Parser.swift
          failed    scan.2  claude     45s    $0.12  exit 1: swift build failed
          ready     scan.7  claude       -        -
          ready     scan.8  claude       -        -
          ready     scan.9  claude       -        -
          ready     scan.10 claude       -        -
          ready     scan.11 claude       -        -

        WORKERS (2)
          live  orchestrator build-01 pid 4100   heartbeat 5s ago    up 3m00s
          LOST  orchestrator build-02 pid 977    heartbeat 2m40s ago up 2m59s

        WARNINGS (3)
             30s ago  task.stalled        scan.4: stalled: no output for 1m00s
           1m18s ago  ownership.violation scan.3: Sources/B/main.swift
           1m40s ago  conflict.predicted  scan.5: scan.5 and scan.6 both change Package…
        1-9 of 13 · ↑↓/jk move · enter log · / filter · q quit
        """)
    }

    @Test func recordedRunAt200x50() async throws {
        let model = try await Fixture.model(try await Fixture.recorded())
        Self.compare(DashboardRenderer(width: 200, height: 50).render(model), width: 200, height: 50, """
        muster · run audit-3f2a1c (audit) · running · 3m00s elapsed · ETA 1m40s · $0.83
        [██████████████████▒▒▒▒▒▒▒▒▒▒▒▒▒▒░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 4/13 done 30%
        running 3 (waiting 1) · ready 6 · succeeded 2 · failed 1 · skipped 1 · tokens 24.0k in / 6.3k out

          STATE     TASK    AGENT     TIME  TOKENS     COST  LAST OUTPUT
        > waiting   scan.5  claude   1m50s       -        -  Allow edit to Package.swift? (y/n)
          running   scan.4  claude   2m55s       -        -  Running swift test --filter AuditTests
          running   scan.6  claude   1m50s       -        -  Reading Sources/F/Parser.swift
          failed    scan.2  claude     45s    3.8k    $0.12  exit 1: swift build failed
          ready     scan.7  claude       -       -        -
          ready     scan.8  claude       -       -        -
          ready     scan.9  claude       -       -        -
          ready     scan.10 claude       -       -        -
          ready     scan.11 claude       -       -        -
          ready     scan.12 claude       -       -        -
          succeeded scan.1  claude   1m00s   15.4k    $0.41  Wrote Sources/A/AUDIT.md
          succeeded scan.3  claude   1m35s   11.1k    $0.30  Wrote Sources/C/AUDIT.md
          skipped   report  shell        -       -        -  needs a task that failed

        WORKERS (2)
          live  orchestrator build-01 pid 4100   heartbeat 5s ago    up 3m00s
          LOST  orchestrator build-02 pid 977    heartbeat 2m40s ago up 2m59s

        WARNINGS (3)
             30s ago  task.stalled        scan.4: stalled: no output for 1m00s
           1m18s ago  ownership.violation scan.3: Sources/B/main.swift
           1m40s ago  conflict.predicted  scan.5: scan.5 and scan.6 both change Package.swift
        1-13 of 13 · ↑↓/jk move · enter log · / filter · q quit
        """)
    }

    @Test func scrolledFilteredAndSelectedAt80x24() async throws {
        let model = try await Fixture.model(try await Fixture.recorded())
        var view = DashboardView(selected: "scan.12", filter: "scan")
        view.message = "no output yet for scan.12"
        let frame = DashboardRenderer(width: 80, height: 24).render(model, view: view)
        #expect(frame.view.selected == "scan.12")
        Self.compare(frame, width: 80, height: 24, """
        muster · run audit-3f2a1c (audit) · running · 3m00s elapsed · ETA 1m40s · $0.83
        [██████████████████▒▒▒▒▒▒▒▒▒▒▒▒▒▒░░░░░░░░░░░░░░░░░░░░░░░░░░░░] 4/13 done 30%
        running 3 (waiting 1) · ready 6 · succeeded 2 · failed 1 · skipped 1

          STATE     TASK    AGENT     TIME     COST  LAST OUTPUT
          running   scan.4  claude   2m55s        -  Running swift test --filter AuditT…
          running   scan.6  claude   1m50s        -  Reading Sources/F/Parser.swift
          failed    scan.2  claude     45s    $0.12  exit 1: swift build failed
          ready     scan.7  claude       -        -
          ready     scan.8  claude       -        -
          ready     scan.9  claude       -        -
          ready     scan.10 claude       -        -
          ready     scan.11 claude       -        -
        > ready     scan.12 claude       -        -

        WORKERS (2)
          live  orchestrator build-01 pid 4100   heartbeat 5s ago    up 3m00s
          LOST  orchestrator build-02 pid 977    heartbeat 2m40s ago up 2m59s

        WARNINGS (3)
             30s ago  task.stalled        scan.4: stalled: no output for 1m00s
           1m18s ago  ownership.violation scan.3: Sources/B/main.swift
           1m40s ago  conflict.predicted  scan.5: scan.5 and scan.6 both change Package…
        no output yet for scan.12 · 2-10 of 12 (13 in all) · filter "scan" (esc clears)…
        """)
    }
}
