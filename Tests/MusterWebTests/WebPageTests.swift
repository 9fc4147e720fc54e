import Foundation
import Hummingbird
import HummingbirdTesting
import MusterCore
import MusterStore
import Testing
@testable import MusterWeb

/// Every page, its `/api` twin, and the bad paths, through the router (no sockets).
@Suite struct WebPageTests {
    @Test func runsPageListsTheRunEscaped() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        try await fixture.server().testApplication.test(.router) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                #expect(body.contains("href=\"/runs/web-run\""))
                #expect(body.contains("web &lt;test&gt;"))
                #expect(!body.contains("web <test>"))
                #expect(response.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            }
            try await client.execute(uri: "/api/runs", method: .get) { response in
                let runs = try Responses.decoder.decode([RunSummary].self, from: response.body)
                #expect(runs.map(\.id) == [WebFixture.run])
                #expect(runs.first?.byState["running"] == 2)
            }
        }
    }

    @Test func boardShowsTasksByWaveAndItsTwin() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        try await fixture.server().testApplication.test(.router) { client in
            try await client.execute(uri: "/runs/web-run", method: .get) { response in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                #expect(body.contains("data-stream=\"/runs/web-run/stream\""))
                #expect(body.contains("<h3>wave 1</h3>") && body.contains("<h3>wave 2</h3>"))
                #expect(body.contains("id=\"t-build\" data-state=\"running\""))
                #expect(body.contains("id=\"t-report\" data-state=\"pending\""))
            }
            try await client.execute(uri: "/api/runs/web-run", method: .get) { response in
                let board = try Responses.decoder.decode(RunBoard.self, from: response.body)
                #expect(board.tasks.count == 3)
                #expect(board.tasks.first { $0.id == "report" }?.wave == 2)
                #expect(board.run.total == 3)
            }
        }
    }

    @Test func taskPageShowsPromptLogAndTwin() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        try await fixture.server().testApplication.test(.router) { client in
            try await client.execute(uri: "/runs/web-run/tasks/build", method: .get) { response in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                #expect(body.contains("Build &lt;b&gt;it&lt;/b&gt; &amp; &quot;quote&quot;"))
                #expect(body.contains("<pre id=\"log\" class=\"log\">step 1\n</pre>"))
                #expect(body.contains("data-stream=\"/runs/web-run/tasks/build/stream?from=7\""))
            }
            try await client.execute(uri: "/api/runs/web-run/tasks/build", method: .get) { response in
                let detail = try Responses.decoder.decode(TaskDetail.self, from: response.body)
                #expect(detail.task.state == "running")
                #expect(detail.log == "step 1\n")
                #expect(detail.owns == ["out/build/**"])
            }
        }
    }

    @Test(arguments: ["/runs/nope", "/api/runs/nope", "/runs/web-run/tasks/nope", "/api/runs/web-run/tasks/nope",
                      "/runs/..", "/runs/%2E%2E", "/runs/web-run/tasks/..%2F..%2F..%2Fetc%2Fpasswd",
                      "/runs/web-run/tasks/%2e%2e", "/runs/web-run/tasks/%00", "/runs/%ZZ", "/runs/nope/stream",
                      "/runs/web-run/tasks/..%2Fbuild/stream", "/nothing/here"])
    func unknownOrHostilePathsAre404(path: String) async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        try await fixture.server().testApplication.test(.router) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .notFound, "\(path)")
                if path.hasPrefix("/api/") {
                    #expect(response.headers[.contentType] == "application/json")
                }
            }
        }
    }

    @Test func aTaskFileThatIsALinkIsNotFollowed() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let secret = fixture.root.appendingPathComponent("secret.txt")
        try "TOP-SECRET".write(to: secret, atomically: true, encoding: .utf8)
        let dir = fixture.taskFolder.appendingPathComponent("build")
        try FileManager.default.removeItem(at: dir.appendingPathComponent("output.log"))
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("output.log"), withDestinationURL: secret)
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("result.md"), withDestinationURL: secret)
        try await fixture.server().testApplication.test(.router) { client in
            try await client.execute(uri: "/runs/web-run/tasks/build", method: .get) { response in
                #expect(response.status == .ok)
                #expect(!String(buffer: response.body).contains("TOP-SECRET"))
            }
        }
    }

    @Test func metricsUseTheIssuesNames() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        try await fixture.finish("build")
        try await fixture.store.appendEvent(NewEvent(run: WebFixture.run, task: "build", kind: "limit.waiting",
                                                     message: "waited 2.5 s for anthropic", at: Date()))
        try await fixture.store.appendEvent(NewEvent(run: WebFixture.run, task: "build", kind: "limit.cooldown",
                                                     message: "anthropic: task build was rate-limited; cool-down #1 until x (1.0 s)", at: Date()))
        try await fixture.store.appendEvent(NewEvent(run: WebFixture.run, task: "build", kind: "conflict.predicted", message: "x", at: Date()))
        let text = try await fixture.server().metrics.render()
        #expect(text.contains(#"muster_tasks{run="web-run",state="running"} 1"#))
        #expect(text.contains(#"muster_tasks{run="web-run",state="succeeded"} 1"#))
        #expect(text.contains(#"muster_runs{status="running"} 1"#))
        #expect(text.contains(#"muster_tokens_total{agent="shell",model="default",type="input"} 100"#))
        #expect(text.contains(#"muster_cost_usd_total{agent="shell",model="default"} 0.01"#))
        #expect(text.contains(#"muster_task_duration_seconds_count{agent="shell"} 1"#))
        #expect(text.contains(#"muster_limit_wait_seconds_count{key="anthropic"} 1"#))
        #expect(text.contains(#"muster_limit_cooldowns_total{key="anthropic"} 1"#))
        #expect(text.contains("muster_conflicts_predicted_total 1"))
        #expect(text.contains("muster_ownership_violations_total 0"))
        #expect(text.contains("muster_claim_latency_seconds_count"))
        #expect(!text.contains("muster_task_state"), "per-task series only behind --per-task-metrics")
        let perTask = try await fixture.server(WebOptions(perTaskMetrics: true)).metrics.render()
        #expect(perTask.contains(#"muster_task_state{run="web-run",state="running",task="<script>alert('id')</script>"} 1"#))
    }
}

extension Responses {
    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

extension JSONDecoder {
    func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try decode(type, from: Data(buffer.readableBytesView))
    }
}

@Suite struct GrafanaDashboardTests {
    /// docs/grafana/muster.json queries only metrics `/metrics` exports.
    @Test func theDashboardUsesOnlyExportedMetrics() async throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let json = try String(contentsOf: repo.appendingPathComponent("docs/grafana/muster.json"), encoding: .utf8)
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(expressions.count >= 10)
        let names = Set(expressions.flatMap { expr in
            expr.split(whereSeparator: { !($0.isLetter || $0.isNumber || $0 == "_") }).filter { $0.hasPrefix("muster_") }.map(String.init)
        })
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        try await fixture.finish("build")
        try await fixture.store.appendEvent(NewEvent(run: WebFixture.run, task: "build", kind: "limit.waiting", message: "waited 1.0 s for k", at: Date()))
        try await fixture.store.appendEvent(NewEvent(run: WebFixture.run, task: "build", kind: "limit.cooldown", message: "k: task build was rate-limited", at: Date()))
        try await fixture.store.registerWorker(WorkerRecord(id: "w", run: WebFixture.run, role: "worker", host: "h", pid: 1,
                                                            startedAt: Date(), heartbeatAt: Date()))
        let exported = try await fixture.server().metrics.render()
        for name in names.sorted() {
            #expect(exported.contains("\n\(name){") || exported.contains("\n\(name) ") || exported.hasPrefix(name), "\(name) is not exported")
        }
    }
}
