import Foundation
import MusterTestKit

/// Hosts of their own network for the many-hosts tests: one network namespace per worker, joined to
/// this one by a veth pair on a private /30 (nothing leaves the machine). PostgreSQL and the git daemon
/// listen on 127.0.0.1 here, so `socat` relays each host's gateway address to them; a worker sees only
/// its gateway. Needs root (`ip netns add`): `probe()` says why when the machine refuses.
final class NetworkHosts: Sendable {
    struct Host: Sendable {
        var namespace: String
        /// The veth end in this namespace: taking it down cuts the host off.
        var link: String
        /// This namespace's address on the pair, where the host reaches PostgreSQL and the remote.
        var gateway: String
    }

    let hosts: [Host]
    let relays: [BackgroundProcess]
    let h: TestRepository

    /// nil when namespaces are allowed; else what was refused.
    static func probe() async -> String? {
        let name = "muster-probe-\(UInt16.random(in: 0...UInt16.max))"
        guard let added = try? await ip(["netns", "add", name]) else { return "`ip` could not be run" }
        if added.status != 0 { return "`ip netns add` was refused: \(added.stderr.trimmingCharacters(in: .whitespacesAndNewlines))" }
        _ = try? await ip(["netns", "del", name])
        return nil
    }

    @discardableResult
    static func ip(_ arguments: [String]) async throws -> CommandResult {
        try await Command.run("/usr/bin/env", ["ip"] + arguments, in: URL(fileURLWithPath: "/"))
    }

    /// `count` hosts, each with relays from its gateway to `ports` on 127.0.0.1 (same port numbers).
    init(count: Int, relaying ports: [Int], h: TestRepository) async throws {
        self.h = h
        let tag = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        let octet = Int.random(in: 100...250)
        var hosts: [Host] = []
        var relays: [BackgroundProcess] = []
        for i in 1...count {
            let host = Host(namespace: "muster-\(tag)-\(i)", link: "mh\(tag)\(i)a", gateway: "10.\(octet).\(i).1")
            let peer = "mh\(tag)\(i)b"
            for step in [["netns", "add", host.namespace],
                         ["link", "add", host.link, "type", "veth", "peer", "name", peer],
                         ["link", "set", peer, "netns", host.namespace],
                         ["addr", "add", "\(host.gateway)/30", "dev", host.link],
                         ["link", "set", host.link, "up"],
                         ["-n", host.namespace, "addr", "add", "10.\(octet).\(i).2/30", "dev", peer],
                         ["-n", host.namespace, "link", "set", peer, "up"],
                         ["-n", host.namespace, "link", "set", "lo", "up"]] {
                let result = try await Self.ip(step)
                if result.status != 0 {
                    hosts.append(host)
                    await Self.remove(hosts)
                    throw NetworkHostsError("ip \(step.joined(separator: " ")): \(result.stderr)")
                }
            }
            hosts.append(host)
            for port in ports {
                relays.append(try h.spawn("/usr/bin/env", ["socat", "TCP-LISTEN:\(port),bind=\(host.gateway),fork,reuseaddr", "TCP:127.0.0.1:\(port)"],
                                          stderr: h.folder.appending("relay-\(i)-\(port).log").path))
            }
        }
        self.hosts = hosts
        self.relays = relays
    }

    /// Cuts a host off (its link down) or joins it again.
    func setLink(_ host: Host, up: Bool) async throws {
        try await Self.ip(["link", "set", host.link, up ? "up" : "down"])
    }

    func close() async {
        for relay in relays { relay.signal(SIGTERM) }
        for relay in relays { _ = await relay.exited() }
        await Self.remove(hosts)
    }

    static func remove(_ hosts: [Host]) async {
        for host in hosts {
            _ = try? await ip(["link", "del", host.link])
            _ = try? await ip(["netns", "del", host.namespace])
        }
    }
}

struct NetworkHostsError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
