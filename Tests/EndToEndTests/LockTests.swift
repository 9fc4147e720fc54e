import Foundation
import MusterRuntime
import MusterTestKit
import Testing

/// `muster lock` through the binary: exclusivity between many processes, listing, markers, takeover, bad paths.
@Suite struct LockTests {
    /// Not inside a muster task, whatever runs these tests: the holder must be the calling process.
    static let outsideTask = ["MUSTER_RUN": "", "MUSTER_TASK_ID": ""]

    func lock(_ h: TestRepository, _ arguments: [String], in folder: String = "") async throws -> CommandResult {
        try await Command.run(TestRepository.muster, ["lock"] + arguments, in: folder.isEmpty ? h.root : h.root.appendingPathComponent(folder),
                         environment: Self.outsideTask)
    }

    @Test("16 processes take turns on one file", .timeLimit(.minutes(10)))
    func sixteenProcessesAreExclusive() async throws {
        let h = try await TestRepository()
        let processes = 16, rounds = 3
        let script = """
            for i in $(seq \(rounds)); do
              "$MUSTER" lock acquire shared.txt --wait 480s >/dev/null || { echo "acquire failed" >&2; exit 1; }
              echo "start $$" >> log.txt
              sleep 0.02
              echo "end $$" >> log.txt
              "$MUSTER" lock release shared.txt >/dev/null || { echo "release failed" >&2; exit 1; }
            done
            exit 0
            """
        var env = ["MUSTER": TestRepository.muster, "NO_COLOR": "1"]
        // Not inside a muster task, whatever runs these tests: the holder must be the calling process.
        for name in ["MUSTER_STORE", "MUSTER_RUN", "MUSTER_TASK_ID"] { env[name] = "" }
        let launched = try (0..<processes).map { index in
            try Command.start("/bin/sh", ["-c", script], in: h.root, environment: env, stderr: h.path("worker-\(index).err"))
        }
        for (index, process) in launched.enumerated() {
            let status = await process.exited()
            #expect(status == .exited(0), "a worker failed: \(h.read("worker-\(index).err"))")
        }

        let lines = h.lines("log.txt")
        #expect(lines.count == processes * rounds * 2, "\(lines.count) lines")
        var starts: [String: Int] = [:]
        for index in stride(from: 0, to: lines.count - 1, by: 2) {
            let start = lines[index], end = lines[index + 1]
            #expect(start.hasPrefix("start "), "line \(index + 1) is \(start)")
            #expect(end == "end " + start.dropFirst(6), "line \(index + 2) is \(end) after \(start): two holders at once")
            starts[start, default: 0] += 1
        }
        #expect(starts.count == processes && starts.values.allSatisfy { $0 == rounds }, "\(starts)")

        let listed = try await lock(h, ["list", "--json"])
        #expect(listed.status == 0)
        #expect((try listed.json() as? [Any])?.isEmpty == true, "locks left: \(listed.stdout)")
        let markers = (try? FileManager.default.contentsOfDirectory(atPath: h.path(".muster/locks"))) ?? []
        #expect(markers.isEmpty, "markers left: \(markers)")
    }

    @Test func acquireListReleaseWithMarkersAndJSON() async throws {
        let h = try await TestRepository()
        try h.write("dir/a.txt", "a\n")
        #expect(try await lock(h, ["list", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "no store yet: no locks")

        // A path relative to the current folder names the repository path.
        let acquired = try await lock(h, ["acquire", "a.txt", "--ttl", "5m", "--json"], in: "dir")
        #expect(acquired.status == 0, "stderr: \(acquired.stderr)")
        let object = try #require(try acquired.json() as? [String: Any])
        #expect(object["path"] as? String == "dir/a.txt")
        #expect(object["acquired"] as? Bool == true)
        let me = (object["holder"] as? String) ?? ""
        #expect(me.hasPrefix("pid:") && me.hasSuffix(":\(getpid())"), "the holder is the calling process: \(me)")

        let marker = h.read(".muster/locks/dir%2Fa.txt.lock")
        #expect(marker.hasSuffix("\n") && marker.split(separator: "\n").count == 1, "one JSON line: \(marker)")
        let markerObject = try #require(try JSONSerialization.jsonObject(with: Data(marker.utf8)) as? [String: Any])
        for key in ["path", "holder", "pid", "host", "acquired", "expires"] { #expect(markerObject[key] != nil, "marker lacks \(key)") }
        #expect(markerObject["holder"] as? String == me)

        _ = try await lock(h, ["acquire", "b.txt", "--holder", "deploy-script"])
        let listed = try await lock(h, ["list", "--json"])
        #expect(listed.status == 0)
        let locks = try #require(try listed.json() as? [[String: Any]])
        #expect(locks.map { $0["path"] as? String } == ["b.txt", "dir/a.txt"])
        #expect(locks.map { $0["holder"] as? String } == ["deploy-script", me])
        #expect(locks.allSatisfy { $0["expired"] as? Bool == false && $0["expires"] is String && $0["acquired"] is String })
        #expect(locks[1]["holder_alive"] as? Bool == true)
        #expect(locks[0]["holder_alive"] is NSNull, "a named holder's liveness is unknown")
        let text = try await lock(h, ["list"])
        #expect(text.stdout.contains("dir/a.txt") && text.stdout.contains("deploy-script"))

        // Someone else: refused at once with who holds it, and cannot release it.
        let busy = try await lock(h, ["acquire", "dir/a.txt", "--holder", "other"])
        #expect(busy.status == 1)
        #expect(busy.stderr.contains("locked by \(me)"), "\(busy.stderr)")
        let waited = try await lock(h, ["acquire", "dir/a.txt", "--holder", "other", "--wait", "300ms"])
        #expect(waited.status == 1)
        #expect(waited.stderr.contains("still locked"), "\(waited.stderr)")
        let stolen = try await lock(h, ["release", "dir/a.txt", "--holder", "other"])
        #expect(stolen.status == 1)
        #expect(stolen.stderr.contains("held by \(me)"), "\(stolen.stderr)")

        #expect(try await lock(h, ["renew", "dir/a.txt", "--ttl", "20m"]).status == 0)
        #expect(try await lock(h, ["release", "a.txt"], in: "dir").status == 0)
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/locks/dir%2Fa.txt.lock")))
        #expect(try await lock(h, ["release", "dir/a.txt"]).status == 1, "released twice")
        #expect(try await lock(h, ["release", "b.txt", "--holder", "deploy-script"]).status == 0)
        #expect(try await lock(h, ["list", "--json"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]")
        let gitStatus = try await Command.run("/usr/bin/env", ["git", "status", "--porcelain"], in: h.root)
        #expect(!gitStatus.stdout.contains(".muster"), ".muster must stay out of git status")
    }

    @Test func staleLocksAreTakenOver() async throws {
        let h = try await TestRepository()
        // The shell that took it exits: its lock is stale at once.
        let gone = try await Command.run("/bin/sh", ["-c", "\"$0\" lock acquire manifest.json --ttl 10m >/dev/null; exit $?", TestRepository.muster],
                                    in: h.root, environment: Self.outsideTask)
        #expect(gone.status == 0, "\(gone.stderr)")
        let dead = try await lock(h, ["acquire", "manifest.json", "--holder", "next"])
        #expect(dead.status == 0, "\(dead.stderr)")
        #expect(dead.stdout.contains("took over a stale lock from pid:"), "\(dead.stdout)")
        #expect(dead.stdout.contains("no longer exists"), "\(dead.stdout)")

        // A lease that ran out: taken over even though its named holder might live.
        #expect(try await lock(h, ["acquire", "short.txt", "--holder", "a", "--ttl", "1s"]).status == 0)
        // Asked again until the lease has run out: a refusal changes nothing.
        var expired = try await lock(h, ["acquire", "short.txt", "--holder", "b", "--json"])
        #expect(try await eventually(timeout: 30) {
            if expired.status != 0 { expired = try await lock(h, ["acquire", "short.txt", "--holder", "b", "--json"]) }
            return expired.status == 0
        })
        #expect(expired.status == 0, "\(expired.stderr)")
        let object = try #require(try expired.json() as? [String: Any])
        let tookOver = try #require(object["took_over"] as? [String: Any])
        #expect(tookOver["holder"] as? String == "a")
        #expect((tookOver["reason"] as? String)?.contains("lease expired") == true)
    }

    @Test func pathsOutsideTheRepositoryAreRefused() async throws {
        let h = try await TestRepository()
        try h.write("sub/keep.txt", "x\n")
        for (path, folder) in [("../outside.txt", ""), ("/etc/passwd", ""), ("../../x", "sub"), ("sub/../../x", ""), (".", "")] {
            let result = try await lock(h, ["acquire", path], in: folder)
            #expect(result.status == 2, "\(path): exit \(result.status)")
            let line = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(line.hasPrefix("muster: ") && !line.contains("\n"), "one clear line: \(result.stderr)")
        }
        let outside = try await lock(h, ["acquire", "../outside.txt"])
        #expect(outside.stderr.contains("outside the repository"), "\(outside.stderr)")
        #expect(try await lock(h, ["acquire", "x", "--ttl", "soon"]).status == 2)
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/locks")), "nothing written for bad input")
    }
}
