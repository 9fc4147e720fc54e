import ArgumentParser
import Foundation
import Logging
import MusterPostgres
import PostgresNIO

/// `raw-pg-claim-worker`: the PostgreSQL peer baseline, the loop job queues on PostgreSQL run
/// (River, Oban, graphile-worker): one `UPDATE … FOR UPDATE SKIP LOCKED … RETURNING` to claim, one
/// `UPDATE` to finish, each its own statement, on one connection. Same schema as PostgresStore;
/// no Store layer, no fencing by run holder, no events, no promotion.
struct RawPostgresClaimWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "raw-pg-claim-worker", abstract: "The claim loop in raw SQL on PostgreSQL (SKIP LOCKED … RETURNING), for comparison.")

    @OptionGroup var options: WorkerOptions

    func run() async throws {
        let location = try PostgresLocation(url: options.store)
        var configuration = PostgresClient.Configuration(host: location.host, port: location.port, username: location.user,
                                                         password: location.password, database: location.database, tls: .disable)
        configuration.options.maximumConnections = 1
        if let schema = location.schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        let client = PostgresClient(configuration: configuration)
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        _ = try await client.query("SELECT 1").collect()  // connected before the gate, as the Store API worker is
        try await Bench.waitAtGate(options.startGate, holder: options.holder)
        let run = options.run, holder = options.holder, batch = options.batch
        var ids: [String] = []
        let wallStart = Date()
        let start = ContinuousClock.now
        while true {
            let now = Date().timeIntervalSince1970
            let claimed = try await client.query("""
                UPDATE tasks SET state = 'running', holder = \(holder), lease_expires_at = \(now + 600), attempt = attempt + 1,
                    started_at = \(now)
                WHERE run_id = \(run) AND id IN (SELECT id FROM tasks WHERE run_id = \(run) AND state = 'ready'
                                                 ORDER BY position LIMIT \(batch) FOR UPDATE SKIP LOCKED)
                RETURNING id
                """).collect().map { try $0.decode(String.self) }
            if claimed.isEmpty { break }
            ids.append(contentsOf: claimed)
            let finished = try await client.query("""
                UPDATE tasks SET state = 'succeeded', holder = NULL, lease_expires_at = NULL, exit_code = 0,
                    finished_at = \(Date().timeIntervalSince1970)
                WHERE run_id = \(run) AND id = ANY(\(claimed)::text[]) AND holder = \(holder) AND state = 'running'
                RETURNING 1
                """).collect().count
            if finished != claimed.count { throw ValidationError("finished \(finished) of \(claimed.count) claimed tasks") }
        }
        let seconds = Bench.seconds(since: start)
        Bench.reportSpan(start: wallStart, end: Date())
        try Bench.writeIDs(ids, to: options.out)
        print("claims=\(ids.count) seconds=\(Bench.format(seconds))")
    }
}
