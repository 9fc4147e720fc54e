import Foundation
import MusterRuntime
import MusterStore
import MusterTestKit
import Testing

/// Dynamic workflows as tasks drive them: `muster spawn`, `$MUSTER_OUTBOX/spawn.json`, `muster wait`
/// and `join`, with the Store's rules refusing what would break ownership, depth or the DAG.
@Suite("Spawning")
struct SpawnTests {
    static func tasks(_ h: TestRepository, _ run: String) async throws -> [[String: Any]] {
        let status = try await h.muster("status", run, "--json")
        try #require(status.status == 0, "\(status.stderr)")
        return try #require((try status.json() as? [String: Any])?["tasks"] as? [[String: Any]])
    }

    static func runID(_ result: CommandResult) async throws -> String {
        try #require((try result.json() as? [String: Any])?["run"] as? String, "\(result.stdout)\n\(result.stderr)")
    }

    static func output(_ h: TestRepository, _ run: String, _ task: String) -> String {
        h.read(".muster/runs/\(run)/tasks/\(task)/output.log")
    }

    @Test("muster spawn: children inside the parent's owns run on their own branches; outside, unknown or ancestor needs are refused; duplicates fold")
    func spawnRulesAndFolding() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("src/a/keep.txt", "a\n")
        try h.write("spawn.yml", """
            name: spawning
            tasks:
              planner:
                owns: ["src/**"]
                env: {M: "\(TestRepository.muster)"}
                shell: true
                command: |
                  "$M" spawn --owns 'src/a/**' -- sh -c 'echo child > src/a/out.txt'; echo "first=$?"
                  "$M" spawn --owns 'src/a/**' -- sh -c 'echo child > src/a/out.txt'; echo "again=$?"
                  "$M" spawn --owns 'lib/**' -- true; echo "outside=$?"
                  "$M" spawn --needs nowhere -- true; echo "unknown=$?"
                  "$M" spawn --needs planner -- true; echo "ancestor=$?"
                  "$M" spawn --agent nosuch --prompt hi; echo "agent=$?"
            """)
        try await h.commitAll()
        let run = try await h.muster("run", "spawn.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let runID = try await Self.runID(run)
        let log = Self.output(h, runID, "planner")
        for line in ["first=0", "again=0", "outside=2", "unknown=2", "ancestor=2", "agent=2"] {
            #expect(log.contains(line), "\(line) in:\n\(log)")
        }
        #expect(log.contains("folded into it"), "\(log)")
        #expect(log.contains("not inside its parent's owns"), "\(log)")
        #expect(log.contains("not a task of this run"), "\(log)")
        #expect(log.contains("its own ancestor"), "\(log)")
        #expect(log.contains("unknown agent `nosuch`"), "\(log)")
        let tasks = try await Self.tasks(h, runID)
        #expect(tasks.map { $0["id"] as? String } == ["planner", "planner.1"], "\(tasks)")
        #expect(tasks.allSatisfy { $0["state"] as? String == "succeeded" }, "\(tasks)")
        #expect(tasks.last?["parent"] as? String == "planner" && tasks.last?["depth"] as? Int == 1, "\(tasks)")
        let child = try await h.git("show", "muster/\(runID)/planner.1:src/a/out.txt")
        #expect(child.stdout == "child\n", "the child's work is on its own branch: \(child.stderr)")
    }

    @Test("max_depth bounds delegation: the third level is refused and the task that asked keeps running")
    func depthIsBounded() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        // Each level spawns one child that owns a narrower folder and runs this script again.
        try h.write("spawner.sh", """
            out=$("\(TestRepository.muster)" spawn --owns "$1/d/**" -- sh spawner.sh "$1/d" 2>&1)
            echo "at $1: rc=$? $out"
            """)
        try h.write("deep.yml", """
            name: deep
            max_depth: 2
            tasks:
              root:
                owns: ["src/**"]
                command: [sh, spawner.sh, src]
            """)
        try await h.commitAll()
        let run = try await h.muster("run", "deep.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let runID = try await Self.runID(run)
        let tasks = try await Self.tasks(h, runID)
        #expect(tasks.map { $0["depth"] as? Int } == [0, 1, 2], "\(tasks)")
        #expect(tasks.allSatisfy { $0["state"] as? String == "succeeded" }, "\(tasks)")
        let deepest = Self.output(h, runID, try #require(tasks.last?["id"] as? String))
        #expect(deepest.contains("rc=2") && deepest.contains("beyond max_depth 2"), "\(deepest)")
    }

    @Test("spawn.json in the outbox: children are added when the task exits, duplicates fold, a join task fans in over all of them")
    func outboxAndJoin() async throws {
        let h = try await TestRepository()
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("outbox.yml", """
            name: outbox
            isolation: none
            tasks:
              planner:
                owns: ["notes/**"]
                shell: true
                command: |
                  cat > "$MUSTER_OUTBOX/spawn.json" <<'JSON'
                  [{"id": "alpha", "command": ["echo", "alpha done"], "owns": ["notes/a.md"]},
                   {"command": "echo beta done"},
                   {"command": "echo beta done"},
                   {"command": ["sh", "-c", "echo gamma done"], "needs": ["alpha"]}]
                  JSON
                  echo planned
              broken:
                shell: true
                command: |
                  echo '{"not": "a list"}' > "$MUSTER_OUTBOX/spawn.json"
              collect:
                needs: [planner]
                join: true
                command: [echo, "{{needs.planner.summaries}}"]
            """)
        try await h.commitAll()
        let run = try await h.muster("run", "outbox.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let runID = try await Self.runID(run)
        let tasks = try await Self.tasks(h, runID)
        let ids = tasks.compactMap { $0["id"] as? String }
        #expect(Set(ids) == ["planner", "broken", "collect", "alpha", "planner.1", "planner.2"], "\(ids)")
        #expect(tasks.allSatisfy { $0["state"] as? String == "succeeded" }, "\(tasks)")
        let collect = Self.output(h, runID, "collect")
        for section in ["### planner (succeeded)", "### alpha (succeeded)", "alpha done", "beta done", "gamma done"] {
            #expect(collect.contains(section), "\(section) in:\n\(collect)")
        }
        let broken = try #require(tasks.first { $0["id"] as? String == "broken" })
        #expect((broken["error"] as? String)?.contains("must hold a JSON list") == true, "\(broken)")
    }

    @Test("muster wait at concurrency 1: the waiting parent lends its slot, so its children run and it reads their results")
    func waitLendsTheSlot() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("wait.yml", """
            name: waiting
            concurrency: 1
            isolation: none
            tasks:
              parent:
                env: {M: "\(TestRepository.muster)"}
                shell: true
                command: |
                  "$M" spawn -- echo one >/dev/null
                  "$M" spawn -- echo two >/dev/null
                  "$M" wait || exit 9
                  "$M" wait parent; echo "self=$?"
            """)
        let background = try h.start(["run", "wait.yml", "--json"])
        let status = await background.exited()
        #expect(status == .exited(0), "\(status)")
        let runs = try await h.muster("runs", "--json")
        let runID = try #require(((try runs.json() as? [[String: Any]])?.first)?["run"] as? String, "\(runs.stdout)")
        let log = Self.output(h, runID, "parent")
        #expect(log.contains("parent.1") && log.contains("succeeded") && log.contains("one"), "\(log)")
        #expect(log.contains("parent.2") && log.contains("two"), "\(log)")
        #expect(log.contains("self=2") && log.contains("cannot wait for itself"), "\(log)")
    }

    @Test("summary_chars: each child's result is cut to the budget in {{needs.X.summaries}}, with the path of the full result")
    func summariesStayWithinBudget() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let long = String(repeating: "x", count: 300)
        try h.write("fanin.yml", """
            name: fanin
            summary_chars: 40
            isolation: none
            tasks:
              map:
                foreach: {items: [a, b, c]}
                command: [echo, "{{item}}\(long)"]
              reduce:
                needs: [map]
                command: [echo, "{{needs.map.summaries}}"]
              full:
                needs: [map]
                command: [echo, "{{needs.map.results}}"]
            """)
        let run = try await h.muster("run", "fanin.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let runID = try await Self.runID(run)
        let reduce = Self.output(h, runID, "reduce")
        let bodies = reduce.split(separator: "\n").filter { $0.hasPrefix("a") || $0.hasPrefix("b") || $0.hasPrefix("c") }
        #expect(bodies.count == 3, "\(reduce)")
        #expect(bodies.allSatisfy { $0.count == 40 + " …[cut]".count && $0.hasSuffix(" …[cut]") }, "\(bodies)")
        #expect(reduce.components(separatedBy: "(full result: .muster/runs/\(runID)/tasks/map.").count == 4, "\(reduce)")
        let full = Self.output(h, runID, "full")
        #expect(full.contains("a\(long)") && full.contains("c\(long)"), "\(full)")
    }

    @Test("spawn and wait outside a run are refused with a clear message")
    func outsideARun() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let spawn = try await h.muster("spawn", "--prompt", "hello")
        #expect(spawn.status == 2 && spawn.stderr.contains("from inside a task"), "\(spawn.stderr)")
        let wait = try await h.muster("wait")
        #expect(wait.status == 2 && wait.stderr.contains("not inside a muster run"), "\(wait.stderr)")
    }

    @Test("300 spawned sim agents at concurrency 100 fan in: each runs once, the join task sees all 300", .timeLimit(.minutes(10)))
    func threeHundredSpawnedTasksFanIn() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        try h.write("scale.yml", """
            name: scale
            concurrency: 100
            isolation: none
            tasks:
              fanout:
                shell: true
                command: |
                  i=0; printf '[' > "$MUSTER_OUTBOX/spawn.json"
                  while [ $i -lt 300 ]; do
                    [ $i -gt 0 ] && printf ',' >> "$MUSTER_OUTBOX/spawn.json"
                    printf '{"agent": "sim", "prompt": "part %d", "estimate": {"minutes": 0.005}}' $i >> "$MUSTER_OUTBOX/spawn.json"
                    i=$((i+1))
                  done
                  printf ']' >> "$MUSTER_OUTBOX/spawn.json"
              reduce:
                needs: [fanout]
                join: true
                shell: true
                command: printf '%s\\n' '{{needs.fanout.summaries}}' | grep -c '^### '
            """)
        let background = try h.start(["run", "scale.yml", "--json"])
        let status = await background.exited()
        #expect(status == .exited(0), "\(status)")
        let runs = try await h.muster("runs", "--json")
        let runID = try #require(((try runs.json() as? [[String: Any]])?.first)?["run"] as? String, "\(runs.stdout)")
        let tasks = try await Self.tasks(h, runID)
        let children = tasks.filter { $0["parent"] as? String == "fanout" }
        #expect(children.count == 300)
        #expect(children.allSatisfy { $0["state"] as? String == "succeeded" && $0["attempt"] as? Int == 1 }, "every child ran exactly once")
        #expect(Set(children.compactMap { $0["id"] as? String }).count == 300)
        let reduce = Self.output(h, runID, "reduce").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(reduce == "301", "the reduce saw \(reduce) sections (fanout + 300 children)")
    }
}
