import ArgumentParser
import Foundation
import MusterPostgres
import MusterStore

/// `claim-worker`: claims through the Store API until nothing is left, finishing each batch as succeeded.
struct ClaimWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claim-worker", abstract: "Claim and finish tasks through the Store API until none are ready.")

    @OptionGroup var options: WorkerOptions

    func run() async throws {
        let store = try await StoreLocator.open(options.store)
        try await Bench.waitAtGate(options.startGate, holder: options.holder)
        var ids: [String] = []
        let wallStart = Date()
        let start = ContinuousClock.now
        while true {
            let claimed = try await store.claim(run: options.run, holder: options.holder, limit: options.batch,
                                                leaseSeconds: 600, now: Date())
            if claimed.isEmpty { break }
            ids.append(contentsOf: claimed.map(\.task.id))
            let report = try await store.finish(run: options.run, holder: options.holder, claimed.map {
                TaskOutcome(task: $0.task.id, attempt: $0.task.attempt, result: .succeeded, exitCode: 0)
            }, now: Date())
            if !report.rejected.isEmpty {
                throw ValidationError("finish rejected \(report.rejected.count) outcomes: \(report.rejected.prefix(5))")
            }
        }
        let seconds = Bench.seconds(since: start)
        Bench.reportSpan(start: wallStart, end: Date())
        try Bench.writeIDs(ids, to: options.out)
        print("claims=\(ids.count) seconds=\(Bench.format(seconds))")
    }
}
