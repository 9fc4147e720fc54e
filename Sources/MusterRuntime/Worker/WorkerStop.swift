import Synchronization

/// How a worker is asked to stop (SIGTERM or SIGINT): the first time it starts nothing new and lets
/// its running tasks finish, record and push (drain); the second time it stops its agents at once
/// and records nothing, so their leases lapse and other workers take the tasks over (hand back).
/// Either way no task is lost. Shared by the worker's idle loop and the orchestrator it runs.
public final class WorkerStop: Sendable {
    let count = Mutex(0)

    public init() {}

    public func request() { count.withLock { $0 += 1 } }
    public var draining: Bool { count.withLock { $0 >= 1 } }
    public var handingBack: Bool { count.withLock { $0 >= 2 } }
}

public enum WorkerError: Error, CustomStringConvertible, Sendable {
    /// A second stop signal: the tasks were left to lapse to other workers.
    case handedBack(tasks: Int)
    case coordinatedElsewhere(run: String, holder: String, host: String)

    public var description: String {
        switch self {
        case .handedBack(let tasks): "stopped at once: \(tasks) running tasks handed back (their leases lapse and another worker takes them)"
        case .coordinatedElsewhere(let run, let holder, let host):
            "run \(run) is coordinated by \(holder) on \(host); stop it first or wait for its lease to lapse"
        }
    }
}
