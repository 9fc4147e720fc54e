import ArgumentParser
import Foundation
import MusterCore
import MusterStore
import Synchronization

/// `serve-seed`: a run of N tasks that ran and finished (usage, cost, a few failures), for `/metrics`
/// and board figures without spawning N processes (driven by scripts/bench-serve).
struct ServeSeedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve-seed", abstract: "Create a run of N finished tasks with usage and cost.")

    @Option(help: ArgumentHelp("The SQLite store file (created if missing).", valueName: "path")) var store: String
    @Option(help: "The run id.") var run: String
    @Option(help: "How many tasks.") var tasks: Int
    @Option(help: "How many of them stay running (the rest finish).") var running = 0

    func run() async throws {
        let sqlite = try SQLiteStore(path: store)
        let planned = (1...tasks).map { i in
            PlannedTask(id: String(format: "task-%05d", i), group: "g\(i % 10)", agent: i % 3 == 0 ? "codex" : "claude",
                        model: i % 2 == 0 ? "claude-sonnet-4-5" : "claude-opus-4-1", command: Command(argv: ["true"]))
        }
        let t0 = Date().addingTimeInterval(-600)
        try await sqlite.createRun(NewRun(id: run, workflow: Bench.workflow(name: "bench-serve"), specPath: "(muster-bench serve-seed)",
                                          root: FileManager.default.currentDirectoryPath, concurrency: 64, simulate: false, createdAt: t0),
                                   tasks: planned)
        let holder = "bench@\(ProcessInfo.processInfo.hostName):\(getpid())"
        let claimed = try await sqlite.claim(run: run, holder: holder, limit: tasks, leaseSeconds: 3600, now: t0)
        try await sqlite.recordProcesses(run: run, holder: holder, claimed.map {
            StartedProcess(task: $0.task.id, pid: 1, pgid: 1, host: "bench", startedAt: t0.addingTimeInterval(Double.random(in: 0...60)))
        }, now: t0)
        let finishing = claimed.dropFirst(running)
        var batch: [TaskOutcome] = []
        for (n, claim) in finishing.enumerated() {
            let failed = n % 50 == 0
            batch.append(TaskOutcome(task: claim.task.id, attempt: claim.task.attempt, result: failed ? .failed(retryAt: nil) : .succeeded,
                                     exitCode: failed ? 1 : 0, error: failed ? "exit 1" : nil, summary: "done",
                                     usage: TokenUsage(input: 1000 + n, output: 300, cacheRead: 5000, cacheWrite: 200), costUSD: 0.02))
            if batch.count == 500 {
                _ = try await sqlite.finish(run: run, holder: holder, batch, now: t0.addingTimeInterval(Double.random(in: 70...500)))
                batch = []
            }
        }
        if !batch.isEmpty { _ = try await sqlite.finish(run: run, holder: holder, batch, now: t0.addingTimeInterval(300)) }
        print("run=\(run) tasks=\(tasks) running=\(running) holder=\(holder)")
    }
}

/// `serve-touch`: appends one event to a run, so the next `/metrics` scrape reads the tasks again.
struct ServeTouchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve-touch", abstract: "Append one event to a run.")

    @Option(help: ArgumentHelp("The SQLite store file.", valueName: "path")) var store: String
    @Option(help: "The run.") var run: String

    func run() async throws {
        try await SQLiteStore(path: store).appendEvent(NewEvent(run: run, task: nil, kind: "note", message: "bench touch", at: Date()))
    }
}

/// `serve-latency`: how long a Store change takes to reach an event-stream client of `muster serve`.
/// Appends an event, then waits for the board frame whose `id:` (the last sequence the frame
/// includes) reaches it; the stream is read on a thread of its own.
struct ServeLatencyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve-latency", abstract: "Time Store event → SSE client of muster serve.")

    @Option(help: ArgumentHelp("The SQLite store file muster serve reads.", valueName: "path")) var store: String
    @Option(help: "The run to watch.") var run: String
    @Option(help: "muster serve's port on 127.0.0.1.") var port: Int
    @Option(help: "How many events to time.") var samples = 20

    func run() async throws {
        let sqlite = try SQLiteStore(path: store)
        let seen = Mutex<Int64>(0)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw ValidationError("cannot connect to 127.0.0.1:\(port)") }
        let request = Array("GET /runs/\(run)/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        _ = send(fd, request, request.count, 0)
        Thread {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            var text = ""
            while true {
                let n = recv(fd, &buffer, buffer.count, 0)
                if n <= 0 { return }
                text += String(decoding: buffer[0..<n], as: UTF8.self)
                // Frames end with a blank line; keep the unfinished tail.
                while let end = text.range(of: "\n\n") {
                    let frame = text[..<end.lowerBound]
                    for line in frame.split(separator: "\n") where line.hasPrefix("id: ") {
                        if let id = Int64(line.dropFirst(4)) { seen.withLock { $0 = max($0, id) } }
                    }
                    text = String(text[end.upperBound...])
                }
            }
        }.start()
        // The first frame: the stream is live.
        let ready = ContinuousClock.now
        while seen.withLock({ $0 }) == 0 && ContinuousClock.now - ready < .seconds(30) { try await Task.sleep(for: .milliseconds(5)) }
        var latencies: [Double] = []
        var cursor = try await Self.lastSequence(sqlite, run: run, after: 0)
        for i in 0..<samples {
            let start = ContinuousClock.now
            try await sqlite.appendEvent(NewEvent(run: run, task: nil, kind: "note", message: "bench \(i)", at: Date()))
            let sequence = try await Self.lastSequence(sqlite, run: run, after: cursor)
            cursor = sequence
            while seen.withLock({ $0 }) < sequence {
                if ContinuousClock.now - start > .seconds(30) { throw ValidationError("no frame for event \(sequence) after 30 s") }
                try await Task.sleep(for: .milliseconds(1))
            }
            latencies.append(Bench.seconds(since: start))
            try await Task.sleep(for: .milliseconds(300))  // let the stream go idle again between samples
        }
        close(fd)
        latencies.sort()
        let p95 = latencies[min(latencies.count - 1, Int((Double(latencies.count) * 0.95).rounded(.up)) - 1)]
        print(String(format: "sse_latency samples=%d p50_ms=%.1f p95_ms=%.1f max_ms=%.1f", latencies.count,
                     latencies[(latencies.count - 1) / 2] * 1000, p95 * 1000, latencies.last! * 1000))
    }

    static func lastSequence(_ store: SQLiteStore, run: String, after start: Int64) async throws -> Int64 {
        var cursor = start
        while true {
            let batch = try await store.events(run: run, after: cursor, limit: 10_000)
            guard let last = batch.last else { return cursor }
            cursor = last.sequence
            if batch.count < 10_000 { return cursor }
        }
    }
}
