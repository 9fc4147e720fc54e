import Foundation
import Hummingbird
import MusterStore

/// The live pages' event streams: a fresh server-rendered fragment is pushed when something
/// changed, no polling loop in the page. A run board's stream follows the run's shared snapshot
/// (every `hub.interval`, a look at memory; the snapshot itself looks at the Store's event log at
/// most that often, for all streams together) and pushes when its version moves. A task page's
/// stream reads the event log forward from the last sequence it saw and the task's log file.
struct StreamRoutes {
    let reader: BoardReader
    let policy: AccessPolicy
    let hub: StreamHub
    let snapshots: BoardSnapshots
    /// Clocks (elapsed, ETA, heartbeat ages) refresh this often without events.
    static let refresh: Duration = .seconds(5)
    /// A comment line this often keeps proxies from closing a quiet stream.
    static let keepAlive: Duration = .seconds(15)
    static let logChunk = 64 * 1024

    func register(on router: Router<BasicRequestContext>) {
        router.get("/stream") { _, _ in
            Response(status: .ok, headers: SSE.headers, body: ResponseBody { writer in
                try await hub.open {
                    var last = ""
                    var ticks = 0
                    while !hub.stopping {
                        let html = RunsPage.live(try await reader.runs())
                        if html != last {
                            try await writer.write(SSE.frame(event: "board", data: html))
                            last = html
                        } else if ticks % 50 == 0 {
                            try await writer.write(SSE.keepAlive)
                        }
                        ticks += 1
                        try await Task.sleep(for: .seconds(1))
                    }
                }
                try await writer.finish(nil)
            })
        }
        router.get("/runs/:run/stream") { request, context in
            let run = try PageRoutes.id(context, "run")
            guard try await snapshots.current(run) != nil else { return PageRoutes.notFound(request, "run") }
            let all = PageRoutes.wantsAll(request)
            let control = policy.controlForm
            return Response(status: .ok, headers: SSE.headers, body: ResponseBody { writer in
                try await hub.open {
                    var version = -1
                    var sent = ContinuousClock.now
                    while !hub.stopping {
                        guard let snapshot = try await snapshots.current(run) else { break }
                        let now = ContinuousClock.now
                        if snapshot.version != version {
                            let live = all ? BoardPage.live(snapshot.board, control: control, all: true) : snapshot.live
                            try await writer.write(SSE.frame(event: "board", data: live, id: "\(snapshot.board.cursor)"))
                            version = snapshot.version
                            sent = now
                        } else if now - sent >= Self.keepAlive {
                            try await writer.write(SSE.keepAlive)
                            sent = now
                        }
                        try await Task.sleep(for: hub.interval)
                    }
                }
                try await writer.finish(nil)
            })
        }
        router.get("/runs/:run/tasks/:task/stream") { request, context in
            let run = try PageRoutes.id(context, "run"), task = try PageRoutes.id(context, "task")
            guard try await reader.task(run: run, task: task) != nil else { return PageRoutes.notFound(request, "run or task") }
            // Resume the log where the page (or the last event received, on a reconnect) left it.
            let resume = request.headers[.init("Last-Event-ID")!].flatMap(UInt64.init)
                ?? request.uri.queryParameters["from"].flatMap { UInt64(String($0)) } ?? 0
            let control = policy.controlForm
            return Response(status: .ok, headers: SSE.headers, body: ResponseBody { writer in
                try await hub.open {
                    try await followTask(run: run, task: task, from: resume, control: control) { try await writer.write($0) }
                }
                try await writer.finish(nil)
            })
        }
    }

    func followTask(run: String, task: String, from start: UInt64, control: ControlForm?,
                    write: (ByteBuffer) async throws -> Void) async throws {
        var offset = start
        var lastLive = ""
        var lastAttempt: Int?
        var cursor: Int64 = 0
        var sent = ContinuousClock.now - Self.refresh
        while !hub.stopping {
            let batch = try await reader.store.events(run: run, after: cursor, limit: 1000)
            cursor = batch.last?.sequence ?? cursor
            let now = ContinuousClock.now
            // The summary: when the task has news, on the clock refresh, and at the start.
            if batch.contains(where: { $0.task == task }) || now - sent >= Self.refresh || lastAttempt == nil {
                guard let detail = try await reader.task(run: run, task: task) else { break }
                if let previous = lastAttempt, detail.task.attempt > previous {
                    offset = 0  // a new attempt: output.log starts again
                    try await write(SSE.frame(event: "log", data: "\n--- attempt \(detail.task.attempt) ---\n", id: "0"))
                }
                lastAttempt = detail.task.attempt
                let live = TaskPage.live(detail, control: control)
                if live != lastLive {
                    try await write(SSE.frame(event: "task", data: live))
                    lastLive = live
                }
                sent = now
            }
            // The log: whatever was appended since the last byte sent.
            guard let record = try await reader.store.run(run) else { break }
            let files = TaskFiles(root: record.root, run: run, task: task)
            if let size = files.size("output.log"), size < offset { offset = 0 }
            while let data = files.read("output.log", from: offset, limit: Self.logChunk), !data.isEmpty {
                let text = Self.completeUTF8(data)
                guard !text.isEmpty else { break }
                offset += UInt64(text.count)
                try await write(SSE.frame(event: "log", data: String(decoding: text, as: UTF8.self), id: "\(offset)"))
            }
            try await Task.sleep(for: hub.taskInterval)
        }
    }

    /// The bytes up to the last whole UTF-8 character: a character cut by a chunk goes out with the next one.
    static func completeUTF8(_ data: Data) -> Data {
        let bytes = [UInt8](data)
        var end = bytes.count
        var back = 0
        while end > 0, back < 4, bytes[end - 1] & 0xC0 == 0x80 { end -= 1; back += 1 }
        guard end > 0 else { return data }
        let lead = bytes[end - 1]
        let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > back + 1 && data.count - (end - 1) < length ? data.prefix(end - 1) : data
    }
}
