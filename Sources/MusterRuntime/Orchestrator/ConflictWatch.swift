import Foundation
import MusterStore
import Synchronization

/// Early conflict prediction during a run: every so often, the live worktrees (uncommitted work
/// included) are checked with `ConflictPredictor`, and each newly predicted conflict is recorded as a
/// `conflict.predicted` event for people and views. It runs beside the loop, never inside it: a check
/// over many worktrees takes seconds, and dispatch must not wait for it.
final class ConflictWatch: Sendable {
    let predictor: ConflictPredictor
    let store: any Store
    let run: String
    /// The run's wall clock (`RunOptions.clock`), for the events' times.
    let clock: @Sendable () -> Date
    private let state = Mutex<(running: Bool, reported: Set<String>)>((false, []))

    init(repository: String, store: any Store, run: String, clock: @escaping @Sendable () -> Date) {
        predictor = ConflictPredictor(repository: repository)
        self.clock = clock
        self.store = store
        self.run = run
    }

    /// Starts a check unless one is still going. Needs two live worktrees to compare.
    func check(_ worktrees: [ConflictPredictor.Worktree]) {
        guard worktrees.count >= 2 else { return }
        let start = state.withLock { s -> Bool in
            if s.running { return false }
            s.running = true
            return true
        }
        guard start else { return }
        Task.detached { [self] in
            defer { state.withLock { $0.running = false } }
            guard let report = try? await predictor.predict(worktrees) else { return }
            for pair in report.conflicts {
                let key = [pair.first, pair.second].sorted().joined(separator: "\u{0}")
                let isNew = state.withLock { $0.reported.insert(key).inserted }
                guard isNew else { continue }
                let files = pair.files.prefix(10).joined(separator: ", ")
                try? await store.appendEvent(NewEvent(
                    run: run, task: pair.first, kind: "conflict.predicted",
                    message: "\(pair.first) and \(pair.second) will conflict in \(files)", at: clock()))
            }
        }
    }
}
