import Foundation
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing

/// `muster msg` as tasks and scripts use it: exactly-once delivery across many claiming processes,
/// task-to-task hand-offs inside a run, and refusals with clear messages.
@Suite("Messages")
struct MessageTests {
    /// Processes, not threads: every claim and ack is its own `muster` process. The 10,000-message
    /// scale runs in-process in the store conformance suite (`messagesAreDeliveredExactlyOnceToConcurrentClaimers`).
    static let messageCount = 1_000
    static let claimers = 16

    /// A run to address messages in: one do-nothing task, run in place.
    static func makeRun(_ h: TestRepository) async throws -> String {
        try h.write("one.yml", """
            name: inbox
            isolation: none
            tasks:
              lead:
                shell: true
                command: "true"
            """)
        let run = try await h.muster("run", "one.yml", "--json")
        try #require(run.status == 0, "\(run.stderr)")
        return try #require((try run.json() as? [String: Any])?["run"] as? String)
    }

    @Test("16 claim+ack processes over 1,000 messages: each delivered exactly once, none lost", .timeLimit(.minutes(10)))
    func concurrentClaimersGetEveryMessageOnce() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        let runID = try await Self.makeRun(h)
        let storePath = h.path(".muster/muster.db")
        let store = try SQLiteStore(path: storePath)
        for n in 0..<Self.messageCount {
            _ = try await store.sendMessage(run: runID, to: "role:work", body: "job-\(n)", from: "test", now: Date())
        }
        // Each loop claims, acknowledges, then records what it got; it stops only on "no message waiting".
        try h.write("claimer.sh", """
            #!/bin/sh
            M="\(TestRepository.muster)"
            while :; do
              out=$("$M" msg claim --role work --lease 10m --run "\(runID)" --store "\(storePath)" 2>"$1")
              rc=$?
              if [ $rc -ne 0 ]; then
                if [ $rc -eq 1 ] && grep -q "no message waiting" "$1"; then exit 0; fi
                echo "claim exited $rc: $(cat "$1")" >&2; exit 3
              fi
              id=${out%% *}
              "$M" msg ack "$id" --store "\(storePath)" >/dev/null 2>"$1.ack" || { echo "ack $id failed: $(cat "$1.ack")" >&2; exit 4; }
              printf '%s\\n' "$out"
            done
            """)
        let workers = try (0..<Self.claimers).map { index in
            try Command.start("/bin/sh", [h.path("claimer.sh"), h.path("claimer-\(index).last")], in: h.root,
                              stdout: h.path("claimer-\(index).out"), stderr: h.path("claimer-\(index).err"))
        }
        var statuses: [TerminationStatus] = []
        for worker in workers { statuses.append(await worker.exited()) }
        for (index, status) in statuses.enumerated() {
            #expect(status == .exited(0), "claimer \(index) ended \(status): \(h.read("claimer-\(index).err"))")
        }
        let lines = (0..<Self.claimers).flatMap { h.lines("claimer-\($0).out") }
        let bodies = lines.map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) ?? "" }
        let doubles = Dictionary(grouping: bodies, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        #expect(doubles.isEmpty, "\(doubles.count) messages delivered twice, e.g. \(doubles.prefix(5))")
        let expected = Set((0..<Self.messageCount).map { "job-\($0)" })
        #expect(Set(bodies) == expected, "\(expected.subtracting(bodies).count) messages never delivered")
        #expect(lines.count == Self.messageCount, "\(lines.count) deliveries for \(Self.messageCount) messages")

        let stored = try await store.messages(run: runID, recipient: "role:work")
        #expect(stored.count == Self.messageCount)
        #expect(stored.allSatisfy { $0.state == .acked && $0.attempt == 1 }, "a message was not acked, or claimed twice")
        let busy = (0..<Self.claimers).filter { !h.lines("claimer-\($0).out").isEmpty }.count
        #expect(busy > 1, "only \(busy) claimer got any message: the test did not exercise concurrency")

        let list = try #require(try await h.muster("msg", "list", "--run", runID, "--json").json() as? [[String: Any]])
        #expect(list.count == Self.messageCount)
        #expect(list.filter { $0["state"] as? String == "acked" }.count == Self.messageCount)
    }

    @Test("a task messages another inside a run; the recipient defaults to the task itself")
    func tasksMessageEachOther() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        let m = TestRepository.muster
        try h.write("talk.yml", """
            name: talk
            isolation: none
            tasks:
              writer:
                shell: true
                command: '"\(m)" msg send --to reader "schema is ready" && "\(m)" msg send --to role:reviewer "please review"'
              reader:
                needs: [writer]
                owns: [got.txt]
                shell: true
                command: 'out=$("\(m)" msg claim --lease 30s) && "\(m)" msg ack "${out%% *}" && echo "$out" > got.txt'
            """)
        let run = try await h.muster("run", "talk.yml", "--json")
        #expect(run.status == 0, "\(run.stderr) \(run.stdout)")
        let runID = try #require((try run.json() as? [String: Any])?["run"] as? String)
        #expect(h.read("got.txt").hasSuffix(" schema is ready\n"), "reader got: \(h.read("got.txt"))")

        let list = try #require(try await h.muster("msg", "list", "--run", runID, "--json").json() as? [[String: Any]])
        #expect(list.count == 2)
        #expect(list.first?["from"] as? String == "writer" && list.first?["to"] as? String == "reader"
                && list.first?["state"] as? String == "acked", "\(list)")
        // A role's message waits for a claimer outside the run too.
        let claimed = try await h.muster("msg", "claim", "--role", "reviewer", "--run", runID)
        #expect(claimed.status == 0 && claimed.stdout.hasSuffix(" please review\n"), "\(claimed.stdout) \(claimed.stderr)")
        let id = String(claimed.stdout.split(separator: " ").first ?? "")
        // `claim` prints a claim token (ID.ATTEMPT) any process may use; by bare id only the holder can.
        let number = String(id.split(separator: ".").first ?? "")
        #expect(try await h.muster("msg", "ack", number, "--holder", "someone-else").status == 1, "a non-holder acknowledged")
        #expect(try await h.muster("msg", "ack", id).status == 0)
        #expect(try await h.muster("msg", "ack", id).status == 1, "acknowledged twice")
        let empty = try await h.muster("msg", "claim", "--role", "reviewer", "--run", runID)
        #expect(empty.status == 1 && empty.stderr.contains("no message waiting"), "\(empty.stderr)")

        let events = try await SQLiteStore(path: h.path(".muster/muster.db")).events(run: runID, after: 0, limit: 1000)
        #expect(events.filter { $0.kind == "message.sent" }.count == 2)
        #expect(events.filter { $0.kind == "message.acked" }.count == 2)
    }

    @Test("bad input: outside a run, unknown recipient, bad lease, bad id")
    func badInputIsRefused() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        let runID = try await Self.makeRun(h)
        let outside = try await h.muster("msg", "send", "--to", "lead", "hi")
        #expect(outside.status == 2 && outside.stderr.contains("not inside a muster run"), "\(outside.stderr)")
        let claimOutside = try await h.muster("msg", "claim", "--role", "x")
        #expect(claimOutside.status == 2 && claimOutside.stderr.contains("--run"), "\(claimOutside.stderr)")
        let unknown = try await h.muster("msg", "send", "--to", "nobody", "hi", "--run", runID)
        #expect(unknown.status == 2 && unknown.stderr.contains("unknown recipient nobody"), "\(unknown.stderr)")
        let noRun = try await h.muster("msg", "send", "--to", "lead", "hi", "--run", "no-such-run")
        #expect(noRun.status == 2 && noRun.stderr.contains("no run named no-such-run"), "\(noRun.stderr)")
        let noWhom = try await h.muster("msg", "claim", "--run", runID)
        #expect(noWhom.status == 2 && noWhom.stderr.contains("--role"), "\(noWhom.stderr)")
        let lease = try await h.muster("msg", "claim", "--role", "x", "--lease", "soon", "--run", runID)
        #expect(lease.status == 2 && lease.stderr.contains("--lease"), "\(lease.stderr)")
        let badID = try await h.muster("msg", "ack", "abc")
        #expect(badID.status == 2, "\(badID.stderr)")
        let sent = try await h.muster("msg", "send", "--to", "lead", "hi", "--run", runID)
        #expect(sent.status == 0 && sent.stdout == "1\n", "\(sent.stdout) \(sent.stderr)")
    }
}

/// `examples/refactor-waves.yml`: seed 001's understand → propose → reconcile → update shape.
@Suite("Waves example")
struct WavesExampleTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples/refactor-waves.yml")

    @Test("plans four waves and runs under --simulate: fan-out, fan-in, fan-out again")
    func refactorWavesRunsSimulated() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("refactor-waves.yml", try String(contentsOf: Self.example, encoding: .utf8))
        let plan = try await h.muster("plan", "refactor-waves.yml", "--json")
        #expect(plan.status == 0, "\(plan.stderr)")
        let waves = (try plan.json() as? [String: Any])?["waves"] as? [[String]]
        #expect(waves == [["understand"], ["propose"], ["reconcile"], ["update"]], "\(String(describing: waves))")

        let run = try await h.muster("run", "refactor-waves.yml", "--simulate", "--speed", "6000", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let json = try #require(try run.json() as? [String: Any])
        #expect(json["status"] as? String == "succeeded")
        let runID = try #require(json["run"] as? String)
        let store = try SQLiteStore(path: h.path(".muster/muster.db"))
        let tasks = try await store.tasks(run: runID)
        #expect(tasks.allSatisfy { $0.state == .succeeded }, "\(tasks.map { ($0.id, $0.state) })")
        let children = Dictionary(grouping: tasks.filter { !$0.spec.isExpander }, by: \.group).mapValues(\.count)
        #expect(children == ["understand": 1, "propose": 3, "reconcile": 1, "update": 3], "\(children)")

        // Each wave starts only after the one before it finished.
        let events = try await store.events(run: runID, after: 0, limit: 1000)
        func seq(_ kind: String, _ group: String, last: Bool) -> Int64 {
            let hits = events.filter { $0.kind == kind && ($0.task == group || $0.task?.hasPrefix(group + ".") == true) }.map(\.sequence)
            return (last ? hits.max() : hits.min()) ?? -1
        }
        #expect(seq("task.succeeded", "understand", last: true) < seq("task.started", "propose", last: false))
        #expect(seq("task.succeeded", "propose", last: true) < seq("task.started", "reconcile", last: false))
        #expect(seq("task.succeeded", "reconcile", last: true) < seq("task.started", "update", last: false))
        #expect(seq("task.started", "update", last: false) > 0)
    }
}
