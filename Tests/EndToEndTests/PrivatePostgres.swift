import Foundation
import MusterTestKit
import Testing

/// A PostgreSQL cluster of the test's own (initdb in a temp folder, loopback, a free port), so a
/// fault test may stop and start it: the cluster named by `MUSTER_TEST_POSTGRES_URL` is never
/// touched. Same settings as scripts/lib/postgres.sh (durability off: the data is thrown away).
/// Stopped and removed by `close()`.
final class PrivatePostgres: Sendable {
    let folder: TemporaryFolder
    let bin: String
    let port: Int
    var data: String { folder.appending("data").path }
    var url: String { "postgres://postgres@127.0.0.1:\(port)/muster_test" }

    /// The server binaries scripts/lib/postgres.sh installed (Debian's `postgresql`), nil without them.
    static let binaries: String? = {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted { $0.compare($1, options: .numeric) == .orderedAscending }
        return versions.map { "\(root)/\($0)/bin" }.last { FileManager.default.isExecutableFile(atPath: "\($0)/pg_ctl") }
    }()

    init() async throws {
        bin = try #require(Self.binaries, "no PostgreSQL server binaries under /usr/lib/postgresql (scripts/test installs them)")
        folder = try TemporaryFolder("pg")
        port = try FreePort.pick()
        try FileManager.default.createDirectory(at: folder.appending("socket"), withIntermediateDirectories: true)
        if getuid() == 0 {
            // The server refuses to run as root: the cluster belongs to `postgres`.
            _ = try await Self.shell(["chown", "-R", "postgres:", folder.path])
            _ = try await Self.shell(["chmod", "755", folder.path])
        }
        let initdb = try await asOwner(["\(bin)/initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8"])
        try #require(initdb.status == 0, "initdb: \(initdb.stderr)")
        try await start()
        let created = try await Self.shell(["\(bin)/psql", "-q", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", "postgres",
                                            "-c", "CREATE DATABASE muster_test"])
        try #require(created.status == 0, "CREATE DATABASE: \(created.stderr)")
    }

    /// Starts the server (again) on the same port, waiting until it accepts connections.
    func start() async throws {
        let options = "-c listen_addresses=127.0.0.1 -p \(port) -k \(folder.appending("socket").path) -c max_connections=200 "
            + "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB"
        let started = try await asOwner(["\(bin)/pg_ctl", "-D", data, "-l", folder.appending("server.log").path, "-w", "-t", "60",
                                         "-o", options, "start"])
        try #require(started.status == 0, "pg_ctl start: \(started.stderr) \(folder.read("server.log"))")
    }

    /// Stops the server (fast: open transactions are rolled back, connections cut).
    func stop() async throws {
        let stopped = try await asOwner(["\(bin)/pg_ctl", "-D", data, "-m", "fast", "-w", "stop"])
        try #require(stopped.status == 0, "pg_ctl stop: \(stopped.stderr)")
    }

    /// One statement through psql; its output (unaligned, no headers).
    func query(_ sql: String) async throws -> String {
        let result = try await Self.shell(psql + ["-Atc", sql])
        try #require(result.status == 0, "psql: \(result.stderr)")
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    var psql: [String] { ["\(bin)/psql", "-q", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", "muster_test"] }

    func close() async {
        if FileManager.default.fileExists(atPath: folder.appending("data/postmaster.pid").path) { try? await stop() }
    }

    private func asOwner(_ command: [String]) async throws -> CommandResult {
        try await Self.shell(getuid() == 0 ? ["runuser", "-u", "postgres", "--"] + command : command)
    }

    private static func shell(_ command: [String]) async throws -> CommandResult {
        try await Command.run("/usr/bin/env", command, in: URL(fileURLWithPath: "/"))
    }
}
