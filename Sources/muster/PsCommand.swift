import ArgumentParser
import Foundation
import MusterStore
import MusterTerminal

struct PsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ps",
        abstract: "List muster's orchestrators, workers and running tasks in this store; `lost` when one stopped heartbeating or its process is gone.",
        discussion: "An orchestrator heartbeats every 10 s and is lost after 30 s without one; a task on this host is lost when its process is gone. A lost holder's leases expire as usual, and `muster resume RUN` takes its tasks over.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            let now = store.clock()
            let sessions = try await LiveSessions.collect(store: store, now: now)
            if global.json {
                Terminal.json(sessions.map { s in
                    CommandJSON.Session(kind: s.kind.rawValue, run: s.run, task: s.task, host: s.host, pid: Int(s.pid),
                                        since: CommandJSON.date(s.since), agent: s.agent, heartbeatAt: CommandJSON.date(s.heartbeatAt),
                                        status: s.lost ? "lost" : "live", labels: s.labels)
                })
                return
            }
            guard !sessions.isEmpty else {
                print("nothing running: no orchestrator, worker or task is registered in \(global.storeDescription)")
                return
            }
            let runWidth = min(32, max(3, sessions.map(\.run.count).max() ?? 3)) + 2
            let taskWidth = min(32, max(4, sessions.map { $0.task?.count ?? 1 }.max() ?? 4)) + 2
            print(Terminal.dim(Terminal.padded("KIND", 14) + Terminal.padded("RUN", runWidth) + Terminal.padded("TASK", taskWidth)
                               + Terminal.padded("HOST", 18) + Terminal.padded("PID", 9) + Terminal.padded("SINCE", 10)
                               + Terminal.padded("AGENT", 10) + "STATUS"))
            for s in sessions {
                let since = s.since.map { Format.duration(now.timeIntervalSince($0)) } ?? "-"
                var status = s.lost ? Terminal.paint("lost", "31") : Terminal.paint("live", "32")
                if let beat = s.heartbeatAt { status += Terminal.dim(" (heartbeat \(Format.duration(now.timeIntervalSince(beat))) ago)") }
                print(Terminal.padded(s.kind.rawValue, 14) + Terminal.padded(s.run, runWidth) + Terminal.padded(s.task ?? "-", taskWidth)
                      + Terminal.padded(String(s.host.prefix(17)), 18) + Terminal.padded(String(s.pid), 9) + Terminal.padded(since, 10)
                      + Terminal.padded(s.agent ?? "-", 10) + status)
            }
        }
    }
}
