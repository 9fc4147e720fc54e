import Foundation
import MusterCore
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing
@testable import MusterWeb

/// The server on a real socket: event streams, the Host check, graceful shutdown, promtool and a browser.
@Suite struct WebLiveTests {
    @Test func theBoardStreamPushesATaskChange() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let live = try await LiveServer.start(try fixture.server())
        let stream = try RawHTTP.get(port: live.port, "/runs/web-run/stream")
        let first = await stream.read { $0.contains("id=\"t-build\" data-state=\"running\"") }
        #expect(first.contains("text/event-stream"))
        #expect(first.contains("event: board\n"))
        try await fixture.finish("build")
        let later = await stream.read { $0.contains("id=\"t-build\" data-state=\"succeeded\"") }
        #expect(later.contains("id=\"t-build\" data-state=\"succeeded\""))
        try await live.stop()
    }

    @Test func theTaskStreamFollowsItsLog() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let live = try await LiveServer.start(try fixture.server())
        let stream = try RawHTTP.get(port: live.port, "/runs/web-run/tasks/build/stream?from=7")
        _ = await stream.read { $0.contains("event: task") }
        try fixture.append(task: "build", "output.log", "step 2 <b>\n")
        let text = await stream.read { $0.contains("data: step 2 <b>") }
        #expect(text.contains("event: log\nid: 18\ndata: step 2 <b>\n"), "the log goes out as text; the page appends it as a text node")
        #expect(!text.contains("data: step 1"), "the page already shows the first 7 bytes")
        try await live.stop()
    }

    @Test func aRequestNamingAnotherHostIsRefused() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let live = try await LiveServer.start(try fixture.server())
        let rebound = await (try RawHTTP.get(port: live.port, "/api/runs", host: "evil.example:7777")).read { $0.contains("\r\n\r\n") }
        #expect(rebound.hasPrefix("HTTP/1.1 403"))
        let local = await (try RawHTTP.get(port: live.port, "/api/runs", host: "localhost:\(live.port)")).read { $0.contains("web-run") }
        #expect(local.hasPrefix("HTTP/1.1 200"))
        try await live.stop()
    }

    @Test func shutdownEndsOpenStreams() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let server = try fixture.server()
        let live = try await LiveServer.start(server)
        let stream = try RawHTTP.get(port: live.port, "/runs/web-run/stream")
        _ = await stream.read { $0.contains("event: board") }
        #expect(server.hub.openStreams == 1)
        try await live.stop()  // would wait forever for the browser if the stream did not end
        #expect(server.hub.openStreams == 0)
    }

    @Test func promtoolAcceptsTheMetricsDuringARun() async throws {
        guard let promtool = Tools.find("promtool") else { return try Tools.missing("promtool (Debian package prometheus)") }
        let fixture = try await WebFixture(tasks: 20)
        defer { fixture.remove() }
        try await fixture.finish("build")
        try await fixture.store.appendEvent(NewEvent(run: WebFixture.run, task: "build", kind: "limit.waiting",
                                                     message: "waited 1.5 s for anthropic, \"weird\\key\"", at: Date()))
        try await fixture.store.registerWorker(WorkerRecord(id: "worker@host:1", run: WebFixture.run, role: "worker", host: "host",
                                                            pid: 1, startedAt: Date(), heartbeatAt: Date()))
        let live = try await LiveServer.start(try fixture.server(WebOptions(perTaskMetrics: true)))
        let response = await (try RawHTTP.get(port: live.port, "/metrics", headers: ["Connection: close"])).read { _ in false }
        try await live.stop()
        let body = try #require(response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) })
        #expect(body.contains("muster_tasks{"))
        let file = fixture.root.appendingPathComponent("metrics.txt")
        try body.write(to: file, atomically: true, encoding: .utf8)
        let check = try CommandRunner.runBlocking(promtool, ["check", "metrics"], in: fixture.root.path,
                                                  environment: ProcessInfo.processInfo.environment, stdin: Data(body.utf8))
        #expect(check.status.code == 0, "promtool: \(check.stdout) \(check.stderr)")
    }

    /// A browser opens the board during a run, sees a task change state without a reload, and a
    /// phone-width screenshot is kept (.build/artifacts/board-phone.png).
    @Test func aBrowserSeesATaskChangeWithoutReloading() async throws {
        guard let executable = HeadlessChromium.executable else { return try Tools.missing("chromium (Debian package chromium)") }
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        for i in 1...6 {
            try await fixture.store.appendEvent(NewEvent(run: WebFixture.run, task: "build", kind: i == 3 ? "conflict.predicted" : "note",
                                                         message: i == 3 ? "build and report both change Package.swift" : "note \(i)", at: Date()))
        }
        let server = try fixture.server()
        let live = try await LiveServer.start(server)
        let browser = try HeadlessChromium(executable: executable)
        do {
            try await browser.open(live.base + "/runs/web-run")
            #expect(try await eventually(timeout: 30) { try await browser.evaluate("document.readyState") as? String == "complete" })
            #expect(try await eventually(timeout: 30) { server.hub.openStreams >= 1 }, "the page opened its event stream")
            _ = try await browser.evaluate("window.musterMarker = 'same page'; 1")
            #expect(try await browser.evaluate("document.getElementById('t-build').dataset.state") as? String == "running")
            try await fixture.finish("build")
            #expect(try await eventually(timeout: 30) {
                try await browser.evaluate("document.getElementById('t-build').dataset.state") as? String == "succeeded"
            })
            #expect(try await browser.evaluate("window.musterMarker") as? String == "same page", "no reload")
            #expect(try await browser.evaluate("Number(document.body.dataset.updates) > 0") as? Bool == true)
            let png = try await browser.screenshot(width: 390, height: 844)
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
            try Tools.keepArtifact(png, name: "board-phone.png")
            try await browser.open(live.base + "/runs/web-run/tasks/" + encoded(WebFixture.evil))
            // `open` returns before the navigation ends: wait until the task page itself is loaded (its
            // path, and the board's own script in its head) before counting script elements.
            #expect(try await eventually(timeout: 30) {
                try await browser.evaluate("document.readyState === 'complete' && location.pathname.includes('/tasks/') && document.querySelector('script[src=\"/assets/board.js\"]') !== null") as? Bool == true
            }, "the task page never loaded")
            let scripts = try await browser.evaluate("document.querySelectorAll('script').length")
            let page = try await browser.evaluate("document.documentElement.outerHTML.slice(0, 3000)")
            #expect(scripts as? Int == 1, "no injected script element: \(String(describing: scripts)) in \(String(describing: page))")
            try Tools.keepArtifact(try await browser.screenshot(width: 390, height: 844), name: "task-phone.png")
        } catch {
            await browser.close()
            try? await live.stop()
            throw error
        }
        await browser.close()
        try await live.stop()
    }
}

enum Tools {
    static func find(_ name: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Without the tool: skipped with the reason printed, except on CI, where it is a failure.
    static func missing(_ tool: String) throws {
        if ProcessInfo.processInfo.environment["CI"] != nil {
            Issue.record("\(tool) is not installed (scripts/test installs it)")
        } else {
            print("skipped: \(tool) is not installed (scripts/test installs it)")
        }
    }

    /// Kept under .build/artifacts (the package's build folder) for people and CI to look at.
    static func keepArtifact(_ data: Data, name: String) throws {
        var dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        dir = dir.appendingPathComponent(".build/artifacts")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try data.write(to: dir.appendingPathComponent(name))
        print("artifact: \(dir.appendingPathComponent(name).path)")
    }
}
