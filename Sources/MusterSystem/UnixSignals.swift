import Dispatch
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Unix signals as an async sequence, after swift-service-lifecycle's `UnixSignalsSequence`.
///
/// While it traps a signal, that signal no longer acts its default way (ending the process): each
/// delivery arrives as an element instead, so a caller can stop its children cleanly, forward the
/// signal or redraw. `cancel()` ends the sequence and gives the signals their default action back.
/// A signal is trapped by one sequence at a time.
public final class UnixSignals: AsyncSequence, @unchecked Sendable {
    public typealias Element = Int32

    public let signals: [Int32]
    // Set once in `init`, only cancelled after: safe to share.
    private let sources: [DispatchSourceSignal]
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation

    private static let queue = DispatchQueue(label: "muster.unix-signals")

    public init(trapping signals: [Int32]) {
        self.signals = signals
        (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        sources = signals.map { [continuation] signo in
            // Ignored, so no thread takes the default action; the dispatch source still sees it.
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: Self.queue)
            source.setEventHandler { continuation.yield(signo) }
            source.resume()
            return source
        }
    }

    public convenience init(trapping signals: Int32...) { self.init(trapping: signals) }

    public func makeAsyncIterator() -> AsyncStream<Int32>.Iterator { stream.makeAsyncIterator() }

    /// Stops trapping and ends the sequence. `restoringDefaults` false leaves the signals ignored
    /// (for a process about to exit that must not be stopped on its way out).
    public func cancel(restoringDefaults: Bool = true) {
        sources.forEach { $0.cancel() }
        if restoringDefaults { signals.forEach { signal($0, SIG_DFL) } }
        continuation.finish()
    }
}
