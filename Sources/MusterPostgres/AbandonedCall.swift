import Synchronization

/// A store call whose connection closed while it waited for an answer that then never came: the
/// driver can lose a request written to a connection closed under it (a server restart), leaving
/// its caller waiting forever. Counted as a lost connection: the call runs again on another.
struct ConnectionClosedUnanswered: Error, CustomStringConvertible, Sendable {
    let caller: String

    var description: String { "store call \(caller): its connection closed without an answer" }
}

/// A store call that did not answer within its bound (`PostgresLocation.abandonAfter`). Counted as
/// a lost connection (`PostgresStore.isConnectionLost`), so the caller's reconnect-and-retry path
/// runs instead of waiting forever on an answer that may never come.
struct AbandonedCall: Error, CustomStringConvertible, Sendable {
    let caller: String
    let after: Duration

    var description: String { "store call \(caller) abandoned: no answer within \(after)" }
}

/// Races `body` against a timer; whichever ends first resumes the caller, once. The loser is left
/// behind: a stuck `body` keeps running in a task of its own (cancelled, in case the driver heeds
/// that) but no longer holds its caller. A task group cannot do this: it waits for every child,
/// the stuck one included.
enum AbandonRace {
    /// Ends the race early with an error, unless it is already decided: true when that error is
    /// what the caller gets. Handed to `body`, for what it learns of its own failure in other ways
    /// (its connection closed without answering: see `HeldConnection`).
    struct GiveUp: Sendable {
        let resume: @Sendable (Error) -> Bool
        @discardableResult
        func callAsFunction(_ error: Error) -> Bool { resume(error) }
    }

    /// `abandoned`: told when the timer won, to cut what `body` started (`HeldConnection`).
    static func run<T: Sendable>(_ caller: String, within bound: Duration, abandoned: @escaping @Sendable () -> Void = {},
                                 _ body: @escaping @Sendable (GiveUp) async throws -> T) async throws -> T {
        let slot = ResumeOnce<T>()
        let giveUp = GiveUp { slot.resume(with: .failure($0)) }
        let work = Task { slot.resume(with: await Result { try await body(giveUp) }) }
        let timer = Task {
            try await Task.sleep(for: bound)
            if slot.resume(with: .failure(AbandonedCall(caller: caller, after: bound))) {
                abandoned()
                work.cancel()
            }
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in slot.set(continuation) }
        } onCancel: {
            work.cancel()
        }
    }
}

/// A continuation resumed by whichever side of the race ends first; a result that arrives before
/// the continuation is set waits in the slot.
private final class ResumeOnce<T: Sendable>: Sendable {
    private enum State {
        case waiting
        case suspended(CheckedContinuation<T, Error>)
        case decided(Result<T, Error>)
        case resumed
    }
    private let state = Mutex(State.waiting)

    func set(_ continuation: CheckedContinuation<T, Error>) {
        let decided: Result<T, Error>? = state.withLock { state in
            guard case .decided(let result) = state else { state = .suspended(continuation); return nil }
            state = .resumed
            return result
        }
        if let decided { continuation.resume(with: decided) }
    }

    /// True when this result is the one the caller gets (it came first).
    @discardableResult
    func resume(with result: Result<T, Error>) -> Bool {
        let continuation: CheckedContinuation<T, Error>?? = state.withLock { state in
            switch state {
            case .waiting: state = .decided(result); return .some(nil)
            case .suspended(let continuation): state = .resumed; return .some(continuation)
            case .decided, .resumed: return nil
            }
        }
        guard let continuation else { return false }
        continuation?.resume(with: result)
        return true
    }
}

extension Result where Failure == Error {
    init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
