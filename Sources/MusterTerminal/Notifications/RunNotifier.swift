import Foundation
import MusterStore
import Synchronization

/// Where notifications go. All off by default; the DONE sentinel is written regardless.
public struct NotifyOptions: Sendable {
    /// OSC 9 / OSC 777 and the bell on stderr (only set it when stderr is a terminal).
    public var desktop = false
    public var webhook: URL?
    /// An argv (no shell) run with the JSON summary on stdin.
    public var command: [String]?
    public var webhookTimeout: TimeInterval = 10
    public var webhookRetries = 3
    public var webhookBackoff: TimeInterval = 0.5
    /// How long the end of a run waits for deliveries still in flight.
    public var finalWait: TimeInterval = 20

    public init(desktop: Bool = false, webhook: URL? = nil, command: [String]? = nil) {
        self.desktop = desktop
        self.webhook = webhook
        self.command = command
    }

    public var isEmpty: Bool { !desktop && webhook == nil && command == nil }
}

/// Follows a run's event log and notifies when the run ends (`run.succeeded|failed|cancelled`),
/// a task stalls (`task.stalled`) or is denied tool calls (`task.denied`), or the budget stops dispatch (`budget.exceeded`). Deliveries run
/// in child tasks, so a slow webhook never holds the run up. `finish` writes
/// `.muster/runs/<run>/DONE` with the JSON summary. Reads the Store only.
public final class RunNotifier: Sendable {
    public static let triggers: Set<String> = ["run.succeeded", "run.failed", "run.cancelled", "task.stalled", "task.denied", "budget.exceeded"]

    public let store: any StoreReader
    public let run: String
    public let options: NotifyOptions
    /// Called with a line for stderr when a delivery fails.
    let log: @Sendable (String) -> Void

    struct State {
        var cursor: Int64 = 0
        var follower: Task<Void, Never>?
        var deliveries: [Task<Void, Never>] = []
        var notifiedEnd = false
    }
    let state = Mutex(State())

    public init(store: any StoreReader, run: String, options: NotifyOptions,
                log: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) {
        self.store = store
        self.run = run
        self.options = options
        self.log = log
    }

    /// Starts following from the end of the log as it is now (earlier events were notified before).
    public func start(pollInterval: Duration = .milliseconds(250)) async throws {
        var cursor: Int64 = 0
        while true {
            let batch = try await store.events(run: run, after: cursor, limit: 1000)
            guard let last = batch.last else { break }
            cursor = last.sequence
            if batch.count < 1000 { break }
        }
        state.withLock { $0.cursor = cursor }
        guard !options.isEmpty else { return }
        let follower = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: pollInterval)
                if Task.isCancelled { break }
                // Run ends are left to `finish`, which knows the session's elapsed time.
                try? await drain(includeRunEnd: false, elapsed: nil)
            }
        }
        state.withLock { $0.follower = follower }
    }

    /// Reads new events and notifies for the triggers among them.
    func drain(includeRunEnd: Bool, elapsed: Double?) async throws {
        while true {
            let cursor = state.withLock { $0.cursor }
            let batch = try await store.events(run: run, after: cursor, limit: 500)
            guard let last = batch.last else { return }
            for event in batch where Self.triggers.contains(event.kind) {
                let isEnd = event.kind.hasPrefix("run.")
                if isEnd && !includeRunEnd {
                    // Stop here; `finish` picks up from this event.
                    state.withLock { $0.cursor = event.sequence - 1 }
                    return
                }
                if isEnd {
                    let first = state.withLock { s in defer { s.notifiedEnd = true }; return !s.notifiedEnd }
                    guard first else { continue }
                }
                let report = try await RunReport.build(store: store, run: run, event: event, elapsed: isEnd ? elapsed : nil)
                deliver(report)
            }
            state.withLock { $0.cursor = last.sequence }
            if batch.count < 500 { return }
        }
    }

    /// Sends `report` on every channel, each in a child task.
    public func deliver(_ report: RunReport) {
        let body = report.json()
        let title = "muster"
        if options.desktop { DesktopNotification.send(title: title, body: report.headline) }
        var tasks: [Task<Void, Never>] = []
        if let url = options.webhook {
            let sender = WebhookSender(url: url, timeout: options.webhookTimeout, retries: options.webhookRetries,
                                       backoff: options.webhookBackoff)
            let log = self.log
            tasks.append(Task {
                let delivery = await sender.send(body)
                if !delivery.delivered {
                    let why = delivery.status.map { "HTTP \($0)" } ?? delivery.error ?? "no answer"
                    log("muster: webhook \(url.absoluteString) failed after \(delivery.attempts) attempts: \(why)")
                }
            })
        }
        if let argv = options.command {
            let command = CommandNotification(argv: argv)
            let log = self.log
            tasks.append(Task {
                switch await command.run(body, report: report) {
                case .success(0): break
                case .success(let status): log("muster: --notify-command \(argv.first ?? "") exited with status \(status)")
                case .failure(let error): log("muster: --notify-command: \(error.message)")
                }
            })
        }
        state.withLock { $0.deliveries += tasks }
    }

    /// At the run's end: notifies for what is left in the log, writes the DONE sentinel (when the
    /// run is over), and waits a bounded time for deliveries in flight. Returns the summary.
    @discardableResult
    public func finish(elapsed: Double?, root: String? = nil) async -> RunReport? {
        let follower = state.withLock { s in defer { s.follower = nil }; return s.follower }
        follower?.cancel()
        await follower?.value
        if !options.isEmpty { try? await drain(includeRunEnd: true, elapsed: elapsed) }
        var report: RunReport?
        if let record = try? await store.run(run), record.status.isFinal {
            report = try? await RunReport.build(store: store, run: run, elapsed: elapsed)
            if let report {
                let directory = URL(fileURLWithPath: root ?? record.root).appendingPathComponent(".muster/runs/\(run)")
                do {
                    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                    try report.json().write(to: directory.appendingPathComponent("DONE"), options: .atomic)
                } catch {
                    log("muster: could not write \(directory.path)/DONE: \(error.localizedDescription)")
                }
            }
        }
        await waitForDeliveries(upTo: options.finalWait)
        return report
    }

    /// Stops following without notifying (the run did not end: an orchestrator error).
    public func cancel() {
        let tasks = state.withLock { s in defer { s.follower = nil }; return [s.follower].compactMap { $0 } }
        tasks.forEach { $0.cancel() }
    }

    func waitForDeliveries(upTo seconds: TimeInterval) async {
        let pending = state.withLock { s in defer { s.deliveries = [] }; return s.deliveries }
        guard !pending.isEmpty else { return }
        let done = SharedFlag()
        Task {
            for task in pending { await task.value }
            done.set()
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if done.isSet { return }
            try? await Task.sleep(for: .milliseconds(20))
        }
        log("muster: gave up waiting for notifications after \(Int(seconds)) s")
    }
}

final class SharedFlag: Sendable {
    let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
