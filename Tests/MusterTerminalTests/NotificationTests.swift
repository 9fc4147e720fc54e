import Foundation
import MusterCore
import MusterStore
import Testing
@testable import MusterTerminal

@Suite struct NotificationTests {
    /// A generous bound: synchronous end-to-end tests can hold both concurrency threads of a 2-core machine for seconds.
    static func eventually(_ seconds: Double = 120, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return condition()
    }

    @Test func webhookRetriesAfterA500AndDeliversTheSecondTime() async throws {
        let listener = try HTTPListener(statuses: [500, 200])
        defer { listener.stop() }
        let sender = WebhookSender(url: listener.url, timeout: 5, retries: 3, backoff: 0.05)
        let delivery = await sender.send(Data(#"{"run":"r1","status":"failed"}"#.utf8))
        #expect(delivery.delivered)
        #expect(delivery.attempts == 2)
        #expect(listener.requests.count == 2)
        #expect(listener.requests.allSatisfy { $0.path == "/hook" && $0.body.contains(#""status":"failed""#) })
    }

    @Test func webhookGivesUpAfterItsRetries() async throws {
        let listener = try HTTPListener(statuses: [503])
        defer { listener.stop() }
        let delivery = await WebhookSender(url: listener.url, timeout: 5, retries: 3, backoff: 0.01).send(Data("{}".utf8))
        #expect(!delivery.delivered)
        #expect(delivery.attempts == 4)
        #expect(delivery.status == 503)
        // A client error is not retried.
        let refused = try HTTPListener(statuses: [404])
        defer { refused.stop() }
        #expect(await WebhookSender(url: refused.url, retries: 3, backoff: 0.01).send(Data("{}".utf8)).attempts == 1)
    }

    @Test func notifierFollowsTheRunAndWritesDone() async throws {
        let listener = try HTTPListener(statuses: [500, 200])
        defer { listener.stop() }
        let (store, dir) = try Fixture.scratchStore()
        let tasks = [Fixture.task("a", group: "a", agent: "shell"), Fixture.task("b", group: "b", agent: "shell")]
        try await store.createRun(NewRun(id: "n1", workflow: Workflow(name: "notify", tasks: []), specPath: "w.yml", root: dir.path,
                                         concurrency: 2, simulate: false, createdAt: Date()), tasks: tasks)
        // An old stall, from before this session: not notified again.
        try await store.appendEvent(NewEvent(run: "n1", task: "a", kind: "task.stalled", message: "old", at: Date()))
        let commandOutput = dir.url.appendingPathComponent("command.json").path
        var options = NotifyOptions(webhook: listener.url, command: ["/bin/sh", "-c", "cat > \"$0\"", commandOutput])
        options.webhookBackoff = 0.05
        let lines = LinesBox()
        let notifier = RunNotifier(store: store, run: "n1", options: options, log: { lines.append($0) })
        try await notifier.start(pollInterval: .milliseconds(20))

        let claimed = try await store.claim(run: "n1", holder: "h", limit: 2, leaseSeconds: 60, now: Date())
        try await store.appendEvent(NewEvent(run: "n1", task: "a", kind: "task.stalled", message: "stalled: no output for 1m00s", at: Date()))
        #expect(await Self.eventually { listener.requests.count >= 2 }, "the stall is posted (a 500, then a retry)")
        #expect(listener.requests.last?.body.contains(#""event":"task.stalled""#) == true)

        _ = try await store.finish(run: "n1", holder: "h", [
            TaskOutcome(task: "a", attempt: claimed[0].task.attempt, result: .failed(retryAt: nil), error: "exit 1", costUSD: 0.5),
            TaskOutcome(task: "b", attempt: claimed[1].task.attempt, result: .succeeded, costUSD: 0.25),
        ], now: Date())
        try await store.finishRun("n1", status: .failed, now: Date())
        let report = try #require(await notifier.finish(elapsed: 12.5))
        #expect(report.status == "failed")

        let bodies = listener.requests.map(\.body)
        #expect(bodies.filter { $0.contains(#""event":"run.failed""#) }.count == 1, "the end is posted once: \(bodies)")
        #expect(!bodies.contains { $0.contains(#""message":"old""#) })
        let done = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.url.appendingPathComponent(".muster/runs/n1/DONE"))) as? [String: Any]
        #expect(done?["run"] as? String == "n1")
        #expect(done?["status"] as? String == "failed")
        #expect(done?["elapsed_seconds"] as? Double == 12.5)
        #expect((done?["cost_usd"] as? Double).map { abs($0 - 0.75) < 1e-9 } == true)
        #expect((done?["counts"] as? [String: Int])?["failed"] == 1)
        #expect(((done?["failed_tasks"] as? [[String: Any]])?.first?["id"] as? String) == "a")
        // The command got the last summary on stdin.
        let command = try String(contentsOfFile: commandOutput, encoding: .utf8)
        #expect(command.contains(#""event":"run.failed""#))
        #expect(lines.all.isEmpty, "no delivery failed: \(lines.all)")
    }

    @Test func doneIsWrittenWithoutAnyNotificationAndOnlyWhenTheRunEnded() async throws {
        let (store, dir) = try Fixture.scratchStore()
        try await store.createRun(NewRun(id: "d1", workflow: Workflow(name: "d", tasks: []), specPath: "w.yml", root: dir.path,
                                         concurrency: 1, simulate: false, createdAt: Date()),
                                  tasks: [Fixture.task("a", group: "a", agent: "shell")])
        let notifier = RunNotifier(store: store, run: "d1", options: NotifyOptions())
        try await notifier.start()
        let done = dir.url.appendingPathComponent(".muster/runs/d1/DONE").path
        #expect(await notifier.finish(elapsed: nil) == nil)
        #expect(!FileManager.default.fileExists(atPath: done), "a run still running has no DONE")
        try await store.finishRun("d1", status: .cancelled, now: Date())
        let again = RunNotifier(store: store, run: "d1", options: NotifyOptions())
        #expect(await again.finish(elapsed: 3)?.status == "cancelled")
        #expect(FileManager.default.fileExists(atPath: done))
    }

    @Test func desktopNotificationUsesOSC9AndOSC777AndTheBell() {
        let text = DesktopNotification.escapeSequences(title: "muster", body: "run r1 failed; 3/4\u{1B}[31m")
        #expect(text.hasPrefix("\u{1B}]9;muster: run r1 failed, 3/4[31m\u{07}"))
        #expect(text.contains("\u{1B}]777;notify;muster;run r1 failed, 3/4[31m\u{07}"))
        #expect(text.hasSuffix("\u{07}\u{07}"))
    }

    @Test func aMissingNotifyCommandIsReportedNotThrown() async {
        let report = RunReport(run: "r", name: "n", status: "failed", counts: [:], total: 0, costUSD: 0, unknownCostTasks: 0,
                               elapsedSeconds: 0, failedTasks: [])
        let result = await CommandNotification(argv: ["muster-no-such-command-\(UUID().uuidString)"]).run(Data("{}".utf8), report: report)
        guard case .failure(let error) = result else {
            Issue.record("expected a failure, got \(result)")
            return
        }
        #expect(error.message.contains("not found"))
    }
}

final class LinesBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

/// A task failed by refused tool calls shows as `denied` in the DONE summary, its calls listed,
/// and `task.denied` is a notification with its own headline.
@Suite struct DeniedTaskViewTests {
    @Test func deniedTaskIsTypedInTheReportAndTheDashboard() async throws {
        let (store, dir) = try Fixture.scratchStore()
        try await store.createRun(NewRun(id: "r", workflow: Workflow(name: "r", concurrency: 1, tasks: []), specPath: "r.yml",
                                         root: dir.path, concurrency: 1, simulate: false, createdAt: Fixture.t0),
                                  tasks: [Fixture.task("lead", group: "lead", agent: "claude")])
        _ = try await store.claim(run: "r", holder: "h", limit: 1, leaseSeconds: 60, now: Fixture.t0)
        var outcome = TaskOutcome(task: "lead", attempt: 1, result: .failed(retryAt: nil), error: "denied: 1 tool call was refused")
        outcome.agentFacts = AgentFacts(denials: [PermissionDenial(tool: "Bash", input: "muster spawn --prompt x")], denied: true)
        _ = try await store.finish(run: "r", holder: "h", [outcome], now: Fixture.at(5))
        try await store.appendEvent(NewEvent(run: "r", task: "lead", kind: "task.denied", message: "Bash(muster spawn --prompt x)", at: Fixture.at(5)))
        let event = try #require(try await store.events(run: "r", after: 0, limit: 100).last { $0.kind == "task.denied" })
        let report = try await RunReport.build(store: store, run: "r", event: event, now: Fixture.at(6))
        #expect(report.failedTasks.first?.state == "denied")
        #expect(report.failedTasks.first?.denials == ["Bash(muster spawn --prompt x)"])
        #expect(report.headline == "task lead in run r was denied tool calls: Bash(muster spawn --prompt x)")
        #expect(RunNotifier.triggers.contains("task.denied"))
        let task = try #require(try await store.task(run: "r", id: "lead"))
        let model = DashboardModel(run: try #require(try await store.run("r")), tasks: [task], counts: try await store.counts(run: "r"),
                                   events: [], workers: [], now: Fixture.at(6))
        #expect(model.shownState(task) == "denied")
    }
}
