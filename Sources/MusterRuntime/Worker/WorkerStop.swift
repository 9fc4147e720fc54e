import Synchronization

/// How a worker is asked to stop (SIGTERM or SIGINT): the first time it starts nothing new and lets
/// its running tasks finish, record and push (drain); the second time it stops its agents at once
/// and records nothing, so their leases lapse and other workers take the tasks over (hand back).
/// Either way no task is lost. Shared by the worker's idle loop and the orchestrator it runs.
public final class WorkerStop: Sendable {
    let count = Mutex(0)
    /// Told of each request: the orchestrator running a run for the worker wakes its loop this way
    /// (a process traps its signals once: the worker's trap, not the orchestrator's, receives them).
    let observers = Mutex<[Int: @Sendable () -> Void]>([:])
    let nextObserver = Mutex(0)

    public init() {}

    public func request() {
        count.withLock { $0 += 1 }
        for observer in observers.withLock({ Array($0.values) }) { observer() }
    }

    func observe(_ observer: @escaping @Sendable () -> Void) -> Int {
        let id = nextObserver.withLock { id in defer { id += 1 }; return id }
        observers.withLock { $0[id] = observer }
        return id
    }

    func unobserve(_ id: Int) { _ = observers.withLock { $0.removeValue(forKey: id) } }
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
