import Foundation
import MusterStore

/// One live (or lost) process of muster's: an orchestrator or worker from the workers table, or
/// a running task's agent process.
public struct LiveSession: Sendable, Equatable {
    public enum Kind: String, Sendable { case orchestrator, worker, task }
    public var kind: Kind
    public var run: String
    public var task: String?
    public var host: String
    public var pid: Int32
    public var since: Date?
    public var agent: String?
    public var heartbeatAt: Date?
    /// Stopped heartbeating (3 × 10 s), or its pid is gone on this host.
    public var lost: Bool
    /// The labels an orchestrator or worker claims with (`--labels`); nil: none.
    public var labels: [String]? = nil
}

/// What `muster ps` lists: every registered orchestrator and worker (across runs) and every
/// running task, each marked lost when it stopped heartbeating or its process is gone.
public enum LiveSessions {
    public static let heartbeatInterval: TimeInterval = 10
    public static var lostAfter: TimeInterval { 3 * heartbeatInterval }

    public static func collect(store: any StoreReader, now: Date = Date(), host: String = ProcessInfo.processInfo.hostName,
                               isAlive: (Int32) -> Bool = ProcessLiveness.isAlive) async throws -> [LiveSession] {
        let workers = try await store.workers(run: nil)
        var runIDs = Set(workers.map(\.run))
        for run in try await store.runs(limit: 200) where run.status == .running { runIDs.insert(run.id) }
        var tasks: [TaskRecord] = []
        for run in runIDs.sorted() {
            tasks += try await store.tasks(run: run).filter { $0.state == .running }
        }
        return classify(workers: workers, runningTasks: tasks, now: now, host: host, isAlive: isAlive)
    }

    /// Pure: which of these are lost, in a stable order (orchestrators and workers, then tasks).
    public static func classify(workers: [WorkerRecord], runningTasks: [TaskRecord], now: Date, host: String,
                                isAlive: (Int32) -> Bool) -> [LiveSession] {
        var out: [LiveSession] = []
        for w in workers.sorted(by: { ($0.run, $0.startedAt.timeIntervalSince1970) < ($1.run, $1.startedAt.timeIntervalSince1970) }) {
            let stale = now.timeIntervalSince(w.heartbeatAt) > lostAfter
            let gone = w.host == host && !isAlive(w.pid)
            out.append(LiveSession(kind: w.role == "orchestrator" ? .orchestrator : .worker, run: w.run, task: w.task, host: w.host,
                                   pid: w.pid, since: w.startedAt, agent: w.agent, heartbeatAt: w.heartbeatAt, lost: stale || gone,
                                   labels: w.labels))
        }
        for t in runningTasks.sorted(by: { ($0.run, $0.position) < ($1.run, $1.position) }) {
            let pid = t.pid ?? 0
            let gone = pid == 0 ? (t.leaseExpiresAt.map { $0 < now } ?? false)
                : (t.host ?? host) == host ? !isAlive(pid) : (t.leaseExpiresAt.map { $0 < now } ?? false)
            out.append(LiveSession(kind: .task, run: t.run, task: t.id, host: t.host ?? "-", pid: pid, since: t.startedAt,
                                   agent: t.spec.agent, heartbeatAt: nil, lost: gone))
        }
        return out
    }
}
