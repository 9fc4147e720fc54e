import Foundation
import MusterTestKit
import Testing

/// Worktree per task, ownership at plan time and on every diff, review and clean, in real git repositories.
@Suite struct GitIsolationTests {
    static func runID(_ result: CommandResult) async throws -> String {
        try #require((try result.json() as? [String: Any])?["run"] as? String)
    }

    static func tasks(_ h: TestRepository, _ run: String) async throws -> [String: [String: Any]] {
        let status = try #require(try await h.muster("status", run, "--json").json() as? [String: Any])
        let list = try #require(status["tasks"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as! String, $0) })
    }

    /// Seed 000's experiment 2: two tasks both editing one file in parallel.
    @Test func twoTasksEditingOneFileAreSerializedByThePlan() async throws {
        let h = try await TestRepository()
        try h.write("notes.txt", "start\n")
        try await h.commitAll()
        try h.write("w.yml", """
            name: exp2
            concurrency: 2
            tasks:
              first:
                shell: true
                command: "echo first >> notes.txt"
                owns: [notes.txt]
              second:
                shell: true
                command: "echo second >> notes.txt"
                owns: ["*.txt"]
            """)
        let plan = try #require(try await h.muster("plan", "w.yml", "--json").json() as? [String: Any])
        #expect((plan["ownership_collisions"] as? [[String: Any]])?.count == 1)
        #expect((plan["waves"] as? [[String]]) == [["first"], ["second"]], "the plan must order the pair")
        #expect(try await h.muster("plan", "w.yml", "--strict").status == 2)

        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let id = try await Self.runID(run)
        // The second task started from the first's branch: its branch holds both lines, no conflict later.
        let content = try await h.git("show", "muster/\(id)/second:notes.txt").stdout
        #expect(content == "start\nfirst\nsecond\n")
        #expect(h.read("notes.txt") == "start\n", "the user's checkout is never touched")
    }

    @Test func forcedOverlapBlocksTheFanInAndNamesTheFile() async throws {
        let h = try await TestRepository()
        try h.write("shared.txt", "a\nb\nc\n")
        try await h.commitAll()
        try h.write("w.yml", """
            name: clash
            concurrency: 2
            tasks:
              left:
                shell: true
                command: "sed -i 's/^b$/LEFT/' shared.txt"
                owns: [shared.txt]
              right:
                shell: true
                command: "sed -i 's/^b$/RIGHT/' shared.txt"
                owns: [shared.txt]
              join:
                needs: [left, right]
                command: ["cat", "shared.txt"]
            """)
        let run = try await h.muster("run", "w.yml", "--allow-overlap", "--json")
        #expect(run.status == 1)
        let tasks = try await Self.tasks(h, try Self.runID(run))
        #expect(tasks["left"]?["state"] as? String == "succeeded")
        #expect(tasks["right"]?["state"] as? String == "succeeded")
        #expect(tasks["join"]?["state"] as? String == "blocked")
        #expect((tasks["join"]?["error"] as? String)?.contains("shared.txt") == true, "the report names the file")
    }

    static let violations: [(String, String, [String])] = [
        ("write outside", "echo x > other.txt", ["other.txt"]),
        ("delete outside", "git rm -q --cached keep.txt && rm keep.txt", ["keep.txt"]),
        ("modify outside", "echo more >> keep.txt", ["keep.txt"]),
        ("rename out of owns", "git mv mine/a.txt elsewhere.txt", ["elsewhere.txt"]),
        ("rename into owns", "git mv keep.txt mine/keep.txt", ["keep.txt"]),
        ("hidden file", "echo x > .secret", [".secret"]),
        ("nested folder", "mkdir -p deep/er && echo x > deep/er/f.txt", ["deep/er/f.txt"]),
    ]

    @Test(arguments: violations.map(\.0))
    func writesOutsideOwnsAreCaughtEveryTime(_ name: String) async throws {
        let (_, command, expected) = Self.violations.first { $0.0 == name }!
        let h = try await TestRepository()
        try h.write("keep.txt", "keep\n")
        try h.write("mine/a.txt", "a\n")
        try await h.commitAll()
        try h.write("w.yml", """
            name: v
            sandbox: none  # the diff check itself (a sandbox refuses git mv/rm: the shared .git is read-only)
            tasks:
              t:
                shell: true
                command: "echo ok >> mine/a.txt; \(command)"
                owns: ["mine/**"]
            """)
        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 1)
        let id = try await Self.runID(run)
        let task = try await #require(try Self.tasks(h, id)["t"])
        #expect(task["state"] as? String == "failed")
        let review = try #require(try await h.muster("review", id, "t", "--json").json() as? [String: Any])
        #expect(review["ownership"] as? String == "violation")
        #expect(Set(review["violations"] as? [String] ?? []) == Set(expected), "\(review["violations"] ?? "?")")
        #expect(try await h.git("rev-parse", "--verify", "-q", "muster/\(id)/t").status == 0, "the branch is kept for review")
    }

    @Test func aTaskWithoutOwnsMayChangeNothing() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: n\ntasks:\n  t:\n    shell: true\n    command: \"echo x > x.txt\"\n")
        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 1)
        let task = try await #require(try Self.tasks(h, try Self.runID(run))["t"])
        #expect((task["error"] as? String)?.contains("it owns nothing") == true)
    }

    @Test func inPlaceTasksAreCheckedByComparingTheTree() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", """
            name: inplace
            isolation: none
            concurrency: 1
            on_failure: continue
            tasks:
              good:
                shell: true
                command: "echo x > allowed.txt"
                owns: [allowed.txt]
              bad:
                shell: true
                command: "echo x > forbidden.txt"
                owns: [allowed2.txt]
            """)
        let run = try await h.muster("run", "w.yml", "--json")
        let tasks = try await Self.tasks(h, try Self.runID(run))
        #expect(tasks["good"]?["state"] as? String == "succeeded")
        #expect(tasks["bad"]?["state"] as? String == "failed")
        #expect((tasks["bad"]?["error"] as? String)?.contains("forbidden.txt") == true)
        #expect(h.read("allowed.txt") == "x\n", "in place means the repository itself")
    }

    @Test func outsideGitTheErrorOffersIsolationNone() async throws {
        let h = try await TestRepository(git: false)
        try h.write("w.yml", "name: x\ntasks:\n  a:\n    command: [\"true\"]\n")
        let run = try await h.muster("run", "w.yml")
        #expect(run.status == 2)
        #expect(run.stderr.contains("not a git repository") && run.stderr.contains("isolation: none"))
        try h.write("w2.yml", "name: x\nisolation: none\ntasks:\n  a:\n    command: [\"true\"]\n")
        #expect(try await h.muster("run", "w2.yml").status == 0)
    }

    @Test func uncommittedChangesAreNotGivenToTasksAndAWarningSaysSo() async throws {
        let h = try await TestRepository()
        try h.write("data.txt", "committed\n")
        try await h.commitAll()
        try h.write("data.txt", "dirty\n")
        try h.write("w.yml", "name: d\ntasks:\n  read:\n    command: [\"cat\", \"data.txt\"]\n")
        let run = try await h.muster("run", "w.yml")
        #expect(run.status == 0)
        #expect(run.stderr.contains("uncommitted changes"))
        let id = try #require((try await h.muster("runs", "--json").json() as? [[String: Any]])?.first?["run"] as? String)
        #expect(try await h.muster("logs", id, "read").stdout == "committed\n")
        #expect(h.read("data.txt") == "dirty\n", "the user's uncommitted work is untouched")
    }

    @Test func baseOptionPicksAnotherBranch() async throws {
        let h = try await TestRepository()
        try h.write("v.txt", "main\n")
        try await h.commitAll()
        try await h.git("checkout", "-q", "-b", "feature")
        try h.write("v.txt", "feature\n")
        try await h.commitAll()
        try await h.git("checkout", "-q", "main")
        try h.write("w.yml", "name: b\ntasks:\n  read:\n    command: [\"cat\", \"v.txt\"]\n")
        let run = try await h.muster("run", "w.yml", "--base", "feature", "--json")
        #expect(run.status == 0)
        #expect(try await h.muster("logs", try Self.runID(run), "read").stdout == "feature\n")
        #expect(try await h.muster("run", "w.yml", "--base", "nope").status == 2)
    }

    @Test func retryStartsCleanAndKeepsTheEarlierAttempt() async throws {
        let h = try await TestRepository()
        let marker = h.path("tried")
        try h.write("w.yml", """
            name: r
            sandbox: none  # the first attempt leaves a marker in the checkout
            backoff: {initial: 10ms, max: 20ms}
            tasks:
              t:
                shell: true
                command: "echo attempt >> out.txt; if [ ! -e \(marker) ]; then touch \(marker); exit 1; fi"
                owns: [out.txt]
                retries: 1
            """)
        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let id = try await Self.runID(run)
        #expect(try await h.git("show", "muster/\(id)/t:out.txt").stdout == "attempt\n", "the retry started from the base")
        let kept = try await h.git("for-each-ref", "--format=%(refname)", "refs/muster/attempts/\(id)/t/").stdout
        #expect(!kept.isEmpty, "the first attempt's work is kept under refs/muster/attempts")
    }

    @Test func cleanRemovesWorktreesButKeepsUnintegratedWork() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", """
            name: c
            tasks:
              writes:
                shell: true
                command: "echo x > w.txt"
                owns: [w.txt]
              reads:
                command: ["true"]
            """)
        let run = try await h.muster("run", "w.yml", "--json")
        let id = try await Self.runID(run)
        let clean = try #require(try await h.muster("clean", id, "--json").json() as? [String: Any])
        #expect((clean["removed_worktrees"] as? [String])?.count == 2)
        #expect(clean["kept_branches"] as? [String] == ["muster/\(id)/writes"])
        #expect(clean["deleted_branches"] as? [String] == ["muster/\(id)/reads"], "a branch without changes holds no work")
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/worktrees/\(id)")))
        let forced = try #require(try await h.muster("clean", id, "--force", "--json").json() as? [String: Any])
        #expect(forced["deleted_branches"] as? [String] == ["muster/\(id)/writes"])
    }

    @Test func aTaskThatOwnsFilesAndChangesNothingIsFlagged() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: u\ntasks:\n  idle:\n    command: [\"true\"]\n    owns: [\"out.txt\"]\n")
        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 0)
        let id = try await Self.runID(run)
        let task = try await #require(try Self.tasks(h, id)["idle"])
        #expect((task["error"] as? String)?.hasPrefix("warning: it owns out.txt but changed nothing") == true)
        #expect(h.read(".muster/runs/\(id)/events.jsonl").contains("task.unchanged"))
        #expect(try await h.muster("run", "w.yml").stdout.contains("warning"))
    }

    @Test func concurrentInPlaceTasksDoNotBlameEachOther() async throws {
        let h = try await TestRepository()
        let names = (1...6).map { "f\($0)" }
        // Each task waits until all six have started, so they surely run at the same time.
        let started = try TemporaryFolder("started")
        try h.write("w.yml", """
            name: peers
            isolation: none
            concurrency: 6
            sandbox: none  # the start gate is in the host's /tmp, which a sandbox replaces with a private one
            tasks:
              write:
                foreach: {items: [\(names.joined(separator: ", "))]}
                shell: true
                command: "touch \(started.path)/{{item}}; while [ $(ls \(started.path) | wc -l) -lt 6 ]; do sleep 0.05; done; echo x > {{item}}.txt"
                owns: ["{{item}}.txt"]
            """)
        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 0, "\(run.stdout.prefix(2000))")
        let tasks = try await Self.tasks(h, try Self.runID(run))
        #expect(tasks.values.allSatisfy { $0["state"] as? String == "succeeded" })
    }

    /// Experiment 2 forced: parallel tasks with overlapping `owns` edit one line; the conflict is
    /// predicted from their live, uncommitted worktrees during the run, before any integration.
    @Test func forcedOverlapIsPredictedBeforeIntegration() async throws {
        let h = try await TestRepository()
        try h.write("config.txt", "mode = a\n")
        try await h.commitAll()
        // The tasks keep running until the test has seen the prediction (the gate is outside the repository).
        let gate = try TemporaryFolder("gate")
        try h.write("w.yml", """
            name: forced
            concurrency: 2
            sandbox: none  # the gate is in the host's /tmp, which a sandbox replaces with a private one
            tasks:
              fast:
                shell: true
                command: "echo 'mode = fast' > config.txt; while [ ! -f \(gate.path)/open ]; do sleep 0.05; done"
                owns: [config.txt]
              safe:
                shell: true
                command: "echo 'mode = safe' > config.txt; while [ ! -f \(gate.path)/open ]; do sleep 0.05; done"
                owns: [config.txt]
            """)
        let process = try h.spawn(TestRepository.muster, ["run", "w.yml", "--allow-overlap", "--conflict-check", "0.3", "--json"],
                                  stdout: gate.appending("stdout").path, stderr: gate.appending("stderr").path)
        func predicted() -> Bool {
            guard let folder = try? FileManager.default.contentsOfDirectory(atPath: h.path(".muster/runs")).first else { return false }
            return h.read(".muster/runs/\(folder)/events.jsonl").contains("conflict.predicted")
        }
        #expect(try await eventually(timeout: 60) { predicted() }, "no conflict predicted during the run")
        try "".write(to: gate.appending("open"), atomically: true, encoding: .utf8)
        let status = await process.exited()
        let run = CommandResult(status: status.code, stdout: (try? String(contentsOf: gate.appending("stdout"), encoding: .utf8)) ?? "",
                                stderr: (try? String(contentsOf: gate.appending("stderr"), encoding: .utf8)) ?? "")
        #expect(run.status == 0, "\(run.stderr)")
        let id = try await Self.runID(run)
        let events = h.lines(".muster/runs/\(id)/events.jsonl")
        let predicted = try #require(events.first { $0.contains("conflict.predicted") }, "no conflict predicted during the run")
        #expect(predicted.contains("config.txt"))
        let firstEnd = try #require(events.firstIndex { $0.contains("task.succeeded") })
        #expect(events.firstIndex(of: predicted)! < firstEnd, "predicted while both tasks were still running")

        let conflicts = try #require(try await h.muster("conflicts", id, "--json").json() as? [String: Any])
        #expect(conflicts["run"] as? String == id)
        let dry = try await h.muster("integrate", id, "--dry-run", "--json")
        #expect(dry.status == 1, "the dry run must predict the stop")
        #expect(dry.stdout.contains("config.txt"))
        #expect(try await h.git("rev-parse", "--verify", "-q", "muster/\(id)/integrated").status != 0, "a dry run moves no branch")
    }
}
