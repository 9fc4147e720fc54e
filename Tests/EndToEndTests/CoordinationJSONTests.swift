import Foundation
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing

/// The `--json` of `muster wait`, `spawn`, `msg` and `lock` decodes into the library's report types
/// (`MusterRuntime/Reports/`), the keys readers rely on present even when null.
@Suite("Coordination JSON")
struct CoordinationJSONTests {
    static func decode<T: Decodable>(_ type: T.Type, _ result: CommandResult) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(result.stdout.utf8))
    }

    static func keys(_ result: CommandResult) throws -> Set<String> {
        Set(try #require(try result.json() as? [String: Any]).keys)
    }

    @Test("msg send, claim, ack and list --json decode as MessageReport and MessageAckReport")
    func messages() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        let runID = try await MessageTests.makeRun(h)
        let sent = try await h.muster("msg", "send", "--to", "role:work", "hello", "--run", runID, "--json")
        try #require(sent.status == 0, "\(sent.stderr)")
        let message = try Self.decode(MessageReport.self, sent)
        #expect(message.to == "role:work" && message.body == "hello" && message.state == "waiting" && message.run == runID)
        #expect(message.holder == nil && message.leaseExpires == nil)
        #expect(try Self.keys(sent).isSuperset(of: ["holder", "lease_expires", "from"]), "null keys are present")
        let claimed = try await h.muster("msg", "claim", "--role", "work", "--holder", "me", "--run", runID, "--json")
        try #require(claimed.status == 0, "\(claimed.stderr)")
        let delivery = try Self.decode(MessageReport.self, claimed)
        #expect(delivery.id == message.id && delivery.holder == "me" && delivery.attempt == 1 && delivery.leaseExpires != nil)
        let acked = try await h.muster("msg", "ack", delivery.token, "--json")
        let ack = try Self.decode(MessageAckReport.self, acked)
        #expect(ack.acked && ack.id == message.id && ack.token == delivery.token && ack.holder == nil)
        let list = try Self.decode([MessageReport].self, try await h.muster("msg", "list", "--run", runID, "--json"))
        #expect(list.map(\.state) == ["acked"])
    }

    @Test("lock acquire, renew, list and release --json decode as the lock reports, a held lock's holder liveness included")
    func locks() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        let acquired = try await h.muster("lock", "acquire", "a.txt", "--holder", "one", "--ttl", "5m", "--json")
        try #require(acquired.status == 0, "\(acquired.stderr)")
        let taken = try Self.decode(LockAcquireReport.self, acquired)
        #expect(taken.acquired && taken.path == "a.txt" && taken.holder == "one" && taken.renewed == false)
        #expect(taken.tookOver?.wrappedValue == nil)
        let acquiredObject = try #require(try acquired.json() as? [String: Any])
        #expect(acquiredObject["took_over"] is NSNull, "took_over is there, null")
        let held = try await h.muster("lock", "acquire", "a.txt", "--holder", "two", "--json")
        #expect(held.status != 0)
        let refusal = try Self.decode(LockAcquireReport.self, held)
        #expect(!refusal.acquired && refusal.heldBy?.holder == "one")
        #expect(refusal.heldBy?.holderAlive?.wrappedValue == nil)
        let heldObject = try #require(try held.json() as? [String: Any])
        let heldBy = try #require(heldObject["held_by"] as? [String: Any])
        #expect(heldBy["holder_alive"] is NSNull, "a named holder's liveness cannot be told: null, \(heldBy)")
        let renewed = try Self.decode(LockReport.self, try await h.muster("lock", "renew", "a.txt", "--holder", "one", "--json"))
        #expect(renewed.renewed == true && renewed.holder == "one" && renewed.holderAlive == nil)
        let listed = try Self.decode([LockReport].self, try await h.muster("lock", "list", "--json"))
        #expect(listed.map(\.path) == ["a.txt"] && listed.first?.expired == false)
        let notMine = try Self.decode(LockReleaseReport.self, try await h.muster("lock", "release", "a.txt", "--holder", "two", "--json"))
        #expect(!notMine.released && notMine.heldBy?.wrappedValue?.holder == "one")
        let released = try await h.muster("lock", "release", "a.txt", "--holder", "one", "--json")
        let release = try Self.decode(LockReleaseReport.self, released)
        #expect(release.released && release.holder == "one" && release.heldBy == nil)
        #expect(try Self.keys(released) == ["released", "path", "holder"])
    }

    @Test("spawn and wait --json inside a task decode as SpawnReport and WaitReport")
    func spawnAndWait() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("fan.yml", """
            name: fan
            tasks:
              lead:
                owns: ["out/**"]
                env: {M: "\(TestRepository.muster)"}
                shell: true
                command: |
                  "$M" spawn --owns 'out/a.txt' --json -- sh -c 'mkdir -p out; echo done-a > out/a.txt; echo done-a' > "$MUSTER_OUTBOX/spawned.json"
                  "$M" wait --json > "$MUSTER_OUTBOX/waited.json"
            """)
        try await h.commitAll()
        let run = try await h.muster("run", "fan.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let runID = try await SpawnTests.runID(run)
        let folder = ".muster/runs/\(runID)/tasks/lead/"
        let spawned = try JSONDecoder().decode([SpawnReport].self, from: Data(h.read(folder + "spawned.json").utf8))
        #expect(spawned.map(\.id) == ["lead.1"] && spawned.allSatisfy { !$0.folded })
        let waited = try JSONDecoder().decode([WaitReport].self, from: Data(h.read(folder + "waited.json").utf8))
        #expect(waited.map(\.id) == ["lead.1"] && waited.first?.state == "succeeded")
        let child = try #require(waited.first)
        #expect(child.summary == "done-a" && child.error == nil && child.resultPath != nil,
                "\(child.summary ?? "nil") \(child.error ?? "nil") \(child.resultPath ?? "nil")")
    }
}
