import Foundation
import MusterPostgres
import MusterStore
import MusterTestKit
import Testing

/// What the many-hosts tests share: a PostgreSQL schema of their own (`MUSTER_TEST_POSTGRES_URL`,
/// which scripts/test sets), a bare remote cloned from the test repository and served by
/// `git daemon` on loopback, and `muster worker` processes, each with a cache folder of its own
/// (its own clone: nothing travels through a shared folder but the daemon's).
final class ManyHostsFixture: Sendable {
    static let postgresURL = ProcessInfo.processInfo.environment["MUSTER_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    static let enabled: Bool = {
        if postgresURL == nil { print("ManyHostsTests skipped: MUSTER_TEST_POSTGRES_URL is not set (scripts/test starts a private PostgreSQL and sets it)") }
        return postgresURL != nil
    }()
    static let skipReason: Comment = "MUSTER_TEST_POSTGRES_URL is not set: run scripts/test, which starts a private PostgreSQL"

    let h: TestRepository
    let storeURL: String
    let store: PostgresStore
    let remoteURL: String
    let daemon: BackgroundProcess

    /// A schema no other test uses on the server `base`: the store URL that names it (with `pool`), and its name.
    static func freshSchema(on base: String, pool: Int = 4) -> (url: String, schema: String) {
        let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        return (base + (base.contains("?") ? "&" : "?") + "schema=\(schema)&pool=\(pool)", schema)
    }

    /// `postgres`: a server of the test's own (PrivatePostgres) instead of `MUSTER_TEST_POSTGRES_URL`.
    init(spec: String, postgres: String? = nil) async throws {
        h = try await TestRepository()
        try h.write("fleet.yml", spec)
        try await h.commitAll("spec")
        let base = try #require(postgres ?? Self.postgresURL)
        storeURL = Self.freshSchema(on: base).url
        store = try await PostgresStore(url: storeURL)
        let served = h.folder.appending("served")
        try FileManager.default.createDirectory(at: served, withIntermediateDirectories: true)
        try await h.git("clone", "-q", "--bare", h.root.path, served.appendingPathComponent("remote.git").path)
        let port = try FreePort.pick()
        daemon = try h.spawn("/usr/bin/env", [
            "git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack", "--base-path=\(served.path)",
            "--listen=127.0.0.1", "--port=\(port)", served.path,
        ], stderr: h.folder.appending("daemon.log").path)
        remoteURL = "git://127.0.0.1:\(port)/remote.git"
        let url = remoteURL, h = self.h
        let serving = try await eventually(timeout: 20) { try await h.git("ls-remote", url).status == 0 }
        try #require(serving, "git daemon did not serve \(url): \(h.folder.read("daemon.log"))")
    }

    /// Stops the daemon and drops the schema (the repository's folder goes with `h`).
    func close() async {
        daemon.signal(SIGTERM)
        _ = await daemon.exited()
        try? await store.dropSchema()
        store.close()
    }

    /// `muster worker` with a cache (its clone) of its own; its output goes to files in the test folder.
    /// `on`: a network namespace's host, reaching PostgreSQL and the remote through its gateway.
    /// `labels`: its `--labels` (nil: none). `options`: more of its options (`--stop-timeout 2s`, say).
    func startWorker(_ name: String, slots: Int = 3, lease: String = "30s", on host: NetworkHosts.Host? = nil,
                     labels: String? = nil, options: [String] = []) throws -> BackgroundProcess {
        var repo = remoteURL, store = storeURL
        var launcher = [TestRepository.muster]
        if let host {
            repo = repo.replacingOccurrences(of: "127.0.0.1", with: host.gateway)
            store = store.replacingOccurrences(of: "127.0.0.1", with: host.gateway)
            launcher = ["/usr/bin/env", "ip", "netns", "exec", host.namespace, TestRepository.muster]
        }
        // --stop-timeout: a stuck worker ends (status 3, saying why) before a test gives up on it.
        return try h.spawn(launcher[0], Array(launcher.dropFirst()) + ["worker", "--repo", repo, "--store", store, "--slots", "\(slots)", "--lease", lease,
                                                                          "--stop-timeout", "20s"]
                            + (labels.map { ["--labels", $0] } ?? []) + options,
                           environment: ["MUSTER_CACHE": h.folder.appending("host-\(name)").path, "MUSTER_POSTGRES_LOG": Self.postgresLog],
                           stdout: h.folder.appending("\(name).out").path, stderr: h.folder.appending("\(name).err").path)
    }

    /// The ports a namespaced host must reach: PostgreSQL's and the git daemon's.
    var ports: [Int] {
        [storeURL, remoteURL].compactMap { url in
            url.range(of: #"127\.0\.0\.1:([0-9]+)"#, options: .regularExpression).flatMap { Int(url[$0].split(separator: ":").last ?? "") }
        }
    }

    /// `muster run --slots 0`: the coordinator, in the test repository (the user's host).
    func startCoordinator(lease: String = "30s") throws -> BackgroundProcess {
        try h.spawn(TestRepository.muster, ["run", "fleet.yml", "--slots", "0", "--remote", remoteURL, "--store", storeURL,
                                            "--lease", lease, "--json"],
                    environment: ["MUSTER_POSTGRES_LOG": Self.postgresLog],
                    stdout: h.folder.appending("coordinator.out").path, stderr: h.folder.appending("coordinator.err").path)
    }

    func log(_ name: String) -> String { h.folder.read(name) }

    /// Warnings only: a store call waiting long says which it is in the logs a failing test prints.
    static let postgresLog = "warning"

    /// The only run in this schema, once the coordinator recorded it.
    func runID() async throws -> String {
        var id: String?
        let store = self.store
        _ = try await eventually(timeout: 60) {
            id = try await store.runs(limit: 5).first?.id
            return id != nil
        }
        return try #require(id, "no run recorded: \(log("coordinator.err"))")
    }

    func events(_ run: String) async throws -> [EventRecord] {
        try await store.events(run: run, after: 0, limit: 100_000)
    }
}

extension TemporaryFolder {
    func read(_ name: String) -> String { (try? String(contentsOf: appending(name), encoding: .utf8)) ?? "" }
}

enum FreePort {
    /// A TCP port free on 127.0.0.1 right now (bound to port 0, read back, released).
    static func pick() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PortError() }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw PortError() }
        let named = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        guard named == 0 else { throw PortError() }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    struct PortError: Error {}
}
