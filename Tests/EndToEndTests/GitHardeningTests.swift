import Foundation
import MusterRuntime
import MusterTestKit
import Testing

/// Shell tasks playing hostile agents against muster's own git (issue 11, findings 1–3): with no
/// sandbox in the way, muster's git must still never walk up, run a hook, honour a replace, trust a
/// moved branch or the shared exclude file, and integrate must not race.
@Suite struct GitHardeningTests {
    /// Every workflow here is built by this one function: a top-level line (e.g. `sandbox: none`, so
    /// the tasks' writes reach git and these checks stay the ones under test) goes in here.
    /// `sandbox: none`: these fixes must hold where no sandbox is possible (the sandbox would refuse
    /// most of these writes when they are made; `SandboxTests` covers that).
    static func workflow(_ name: String, concurrency: Int = 2, tasks: String) -> String {
        "name: \(name)\nconcurrency: \(concurrency)\non_failure: continue\nsandbox: none\ntasks:\n" + tasks
    }

    /// `muster run w.yml --json`: what it printed and the run's id.
    static func runSpec(_ h: TestRepository) async throws -> (result: CommandResult, id: String) {
        let result = try await h.muster("run", "w.yml", "--json")
        return (result, try #require((try result.json() as? [String: Any])?["run"] as? String, "\(result.stdout) \(result.stderr)"))
    }

    static func tasks(_ h: TestRepository, _ run: String) async throws -> [String: [String: Any]] {
        let status = try #require(try await h.muster("status", run, "--json").json() as? [String: Any])
        let list = try #require(status["tasks"] as? [[String: Any]])
        return Dictionary(uniqueKeysWithValues: list.map { ($0["id"] as! String, $0) })
    }

    /// One shell task `t` owning mine.txt, run after the user's state is taken: what `muster run`
    /// printed, the run id, the task's status and that state.
    static func runShellTask(_ h: TestRepository, _ name: String, command: String, retries: Int) async throws
        -> (result: CommandResult, id: String, task: [String: Any], before: [String]) {
        try h.write("w.yml", workflow(name, tasks: """
              t:
                shell: true
                command: "\(command)"
                owns: [mine.txt]
                retries: \(retries)
            """))
        let before = try await userState(h)
        let (result, id) = try await runSpec(h)
        return (result, id, try #require(try await tasks(h, id)["t"]), before)
    }

    /// The user's side of the repository: their branch, its history and their uncommitted work.
    static func userState(_ h: TestRepository) async throws -> [String] {
        [try await h.git("rev-parse", "HEAD").stdout, try await h.git("symbolic-ref", "HEAD").stdout,
         try await h.git("log", "--format=%H %s", "main").stdout, try await h.git("status", "--porcelain", "--untracked-files=all").stdout,
         h.read("tracked.txt"), h.read("untracked.txt")]
    }

    static func userRepository() async throws -> TestRepository {
        let h = try await TestRepository()
        try h.write("tracked.txt", "committed\n")
        try await h.commitAll("user's commit")
        try h.write("tracked.txt", "committed\nuncommitted edit\n")
        try h.write("untracked.txt", "the user's untracked file\n")
        return h
    }

    static let damages: [(String, String)] = [
        ("removed", "rm .git"),
        ("repointed at the user's repository", "echo gitdir: $MUSTER_ROOT/.git > .git"),
        ("replaced by a repository", "rm .git && git init -q . && git add -A"),
    ]

    /// Finding 1: `rm .git` (or a repointed or replaced one) in the worktree; muster's commit must not
    /// walk up (or over) to the user's checkout, and a retry must not run in it again.
    @Test(arguments: damages.map(\.0))
    func aDamagedWorktreeLinkFailsTheTaskAndLeavesTheUserAlone(_ damage: String) async throws {
        let command = try #require(Self.damages.first { $0.0 == damage }?.1)
        let h = try await Self.userRepository()
        let (run, id, task, before) = try await Self.runShellTask(h, "rmgit", command: "echo mine > mine.txt && \(command)", retries: 2)
        #expect(run.status == 1, "\(run.stderr)")
        #expect(task["state"] as? String == "failed")
        #expect((task["error"] as? String)?.hasPrefix("worktree damaged") == true, "\(task["error"] ?? "-")")
        await #expect(try Self.userState(h) == before, "the user's branch and uncommitted work are untouched")
        #expect(try await h.git("ls-tree", "-r", "--name-only", "main").stdout == "tracked.txt\n")
        #expect(task["attempt"] as? Int == 1, "a damaged worktree is not retried")
        let clean = try await h.muster("clean", id)
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/worktrees/\(id)/t")))
        await #expect(try Self.userState(h) == before, "cleaning up the damaged worktree left the user's work alone")
    }

    /// A task points its worktree's HEAD at the user's branch (and fails once, so its retry keeps what
    /// it left): muster's commits and resets go to the task's own branch, never through that HEAD.
    @Test func aWorktreeHeadPointedAtTheUsersBranchMovesNothingOfTheirs() async throws {
        let h = try await Self.userRepository()
        let once = FileManager.default.temporaryDirectory.appendingPathComponent("muster-once-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: once) }
        let command = "git symbolic-ref HEAD refs/heads/main && echo mine > mine.txt && if [ -e \(once) ]; then true; else touch \(once); exit 1; fi"
        let (run, id, task, before) = try await Self.runShellTask(h, "head", command: command, retries: 1)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(task["state"] as? String == "succeeded" && task["attempt"] as? Int == 2, "\(task)")
        await #expect(try Self.userState(h) == before, "the user's branch, history and work never moved")
        #expect(try await h.git("show", "muster/\(id)/t:mine.txt").stdout == "mine\n")
        #expect(try await h.git("show", "refs/muster/attempts/\(id)/t/1:mine.txt").stdout == "mine\n", "the first attempt's work was kept")
    }

    /// Finding 3: hooks written into the shared `.git/hooks` never run as muster (run, merge of needs, integrate).
    @Test func hooksAnAgentWritesNeverRun() async throws {
        let h = try await TestRepository()
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("muster-hook-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let hooks = ["post-merge", "pre-commit", "post-commit", "post-checkout", "pre-merge-commit", "commit-msg", "reference-transaction", "post-rewrite"]
        let write = hooks.map { "printf '#!/bin/sh\\necho $0 >> \(marker)\\n' > \"$H/\($0)\" && chmod +x \"$H/\($0)\"" }.joined(separator: " && ")
        try h.write("w.yml", Self.workflow("hooks", tasks: """
              hooker:
                shell: true
                command: |
                  H="$(git rev-parse --git-common-dir)/hooks"; mkdir -p "$H"
                  \(write)
                  echo h > hooker.txt
                owns: [hooker.txt]
              after:
                needs: [hooker]
                shell: true
                command: "echo a > after.txt"
                owns: [after.txt]
              sibling:
                needs: [hooker]
                shell: true
                command: "echo s > sibling.txt"
                owns: [sibling.txt]
            """))
        let (run, id) = try await Self.runSpec(h)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: h.path(".git/hooks/post-merge")), "the hostile task did write its hooks")
        #expect(!FileManager.default.fileExists(atPath: marker), "a hook ran during the run: \(h.read(marker))")
        let integrate = try await h.muster("integrate", id, "--json")
        #expect(integrate.status == 0, "\(integrate.stderr)")
        let report = try #require(try integrate.json() as? [String: Any])
        #expect(Set(report["integrated"] as? [String] ?? []) == ["hooker", "after", "sibling"])
        #expect(!FileManager.default.fileExists(atPath: marker), "a hook ran during integrate: \((try? String(contentsOfFile: marker, encoding: .utf8)) ?? "")")
    }

    /// Finding 3: `git replace` of the base commit must not hide a path from the ownership check.
    @Test func replacingTheBaseCommitDoesNotHideAWrite() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", Self.workflow("replace", tasks: """
              t:
                shell: true
                command: |
                  echo bad > other.txt
                  git add other.txt
                  fake=$(git commit-tree "$(git write-tree)" -m fake)
                  git replace "$(git rev-parse HEAD)" "$fake"
                  echo ok > mine.txt
                owns: [mine.txt]
            """))
        let (_, id) = try await Self.runSpec(h)
        #expect(try await h.git("for-each-ref", "refs/replace/").stdout.isEmpty == false, "the hostile task did replace the base")
        let task = try await #require(try Self.tasks(h, id)["t"])
        #expect(task["state"] as? String == "failed", "\(task)")
        let review = try #require(try await h.muster("review", id, "t", "--json").json() as? [String: Any])
        #expect((review["violations"] as? [String]) == ["other.txt"], "\(review["violations"] ?? "-")")
    }

    /// Finding 3: a task moves a finished sibling's branch forward with extra files; integrate refuses that branch.
    @Test func integrateRefusesABranchMovedAfterItsTaskEnded() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", Self.workflow("moved", tasks: """
              a:
                shell: true
                command: "echo a > a.txt"
                owns: [a.txt]
              b:
                needs: [a]
                shell: true
                command: |
                  A=refs/heads/muster/$MUSTER_RUN/a
                  R="$MUSTER_ROOT"
                  H=$(git -C "$R" rev-parse $A)
                  export GIT_INDEX_FILE="$PWD/../evil-index-$$"
                  git -C "$R" read-tree $H
                  B=$(echo evil | git -C "$R" hash-object -w --stdin)
                  git -C "$R" update-index --add --cacheinfo 100644,$B,evil.txt
                  N=$(git -C "$R" commit-tree $(git -C "$R" write-tree) -p $H -m evil)
                  git -C "$R" update-ref $A $N
                  rm -f "$GIT_INDEX_FILE"; unset GIT_INDEX_FILE
                  echo b > b.txt
                owns: [b.txt]
              c:
                shell: true
                command: "echo c > c.txt"
                owns: [c.txt]
            """))
        let (run, id) = try await Self.runSpec(h)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try await h.git("cat-file", "-e", "muster/\(id)/a:evil.txt").status == 0, "the hostile task did move a's branch")
        let integrate = try await h.muster("integrate", id, "--json")
        #expect(integrate.status == 0, "\(integrate.stderr)")
        let report = try #require(try integrate.json() as? [String: Any])
        let refused = try #require(report["refused"] as? [[String: Any]])
        #expect(refused.map { $0["task"] as? String } == ["a"])
        #expect((refused.first?["reason"] as? String)?.contains("was moved after the task ended") == true)
        #expect(Set(report["integrated"] as? [String] ?? []) == ["b", "c"], "the rest go on")
        #expect(try await h.git("cat-file", "-e", "muster/\(id)/integrated:evil.txt").status != 0, "the moved branch's file is not integrated")
    }

    /// Finding 3: `*` appended to the shared `.git/info/exclude` must not hide later tasks' new files.
    @Test func aSharedExcludeOfEverythingHidesNothing() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", Self.workflow("exclude", tasks: """
              x:
                shell: true
                command: "echo '*' >> \\"$(git rev-parse --git-common-dir)/info/exclude\\" && echo x > x.txt"
                owns: [x.txt]
              y:
                needs: [x]
                shell: true
                command: "echo y > y.txt && echo stray > stray.txt"
                owns: [y.txt]
              z:
                needs: [x]
                shell: true
                command: "mkdir -p deep && echo z > deep/z.txt"
                owns: ["deep/**"]
            """))
        let (_, id) = try await Self.runSpec(h)
        #expect(h.read(".git/info/exclude").contains("*"), "the hostile task did write the exclude")
        let tasks = try await Self.tasks(h, id)
        #expect(tasks["y"]?["state"] as? String == "failed")
        let review = try #require(try await h.muster("review", id, "y", "--json").json() as? [String: Any])
        #expect((review["violations"] as? [String]) == ["stray.txt"], "\(review["violations"] ?? "-")")
        #expect(tasks["z"]?["state"] as? String == "succeeded", "\(tasks["z"] ?? [:])")
        #expect(try await h.git("show", "muster/\(id)/z:deep/z.txt").stdout == "z\n")
    }

    /// Finding 2: three `muster integrate RUN` at once: exactly one integrates; the user's branch never moves.
    @Test func concurrentIntegratesNeverRace() async throws {
        let h = try await Self.userRepository()
        let items = (1...30).map(String.init).joined(separator: ", ")
        try h.write("w.yml", Self.workflow("many", concurrency: 8, tasks: """
              t:
                foreach: {items: [\(items)]}
                shell: true
                command: "echo {{item}} > f{{item}}.txt"
                owns: ["f{{item}}.txt"]
            """))
        let (run, id) = try await Self.runSpec(h)
        #expect(run.status == 0, "\(run.stderr)")
        let before = try await Self.userState(h)
        let waits = [false, true, false]
        var started: [(BackgroundProcess, String, String)] = []
        for (n, wait) in waits.enumerated() {
            let out = h.path(".muster/integrate-\(n).out"), err = h.path(".muster/integrate-\(n).err")
            let arguments = ["integrate", id, "--json"] + (wait ? ["--wait", "5m"] : [])
            started.append((try Command.start(TestRepository.muster, arguments, in: h.root, stdout: out, stderr: err), out, err))
        }
        var integrated: [[String]] = []
        var refusals = 0
        for (process, out, err) in started {
            let status = await process.exited()
            let stdout = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            let stderr = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
            let json = (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any]
            if status.code == 2 {
                refusals += 1
                #expect(stderr.contains("is being integrated by pid"), "\(stderr)")
                #expect(json?["busy"] as? Bool == true)
            } else {
                #expect(status.code == 0, "\(stderr)")
                integrated.append(json?["integrated"] as? [String] ?? [])
            }
        }
        #expect(integrated.filter { !$0.isEmpty }.count == 1, "exactly one integrate merges: \(integrated.map(\.count)), \(refusals) refused")
        #expect(integrated.flatMap { $0 }.count == 30)
        #expect(refusals + integrated.count == 3)
        let merges = try await h.git("rev-list", "--merges", "--count", "main..muster/\(id)/integrated").stdout
        #expect(merges.trimmingCharacters(in: .whitespacesAndNewlines) == "30")
        #expect(try await h.git("rev-list", "--first-parent", "--count", "main..muster/\(id)/integrated").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines) == "30", "one straight line of merges")
        await #expect(try Self.userState(h) == before, "the user's checked-out branch and work never moved")
        #expect(try await h.git("worktree", "list", "--porcelain").stdout.components(separatedBy: "worktree ").count - 1 == 31, "no integration worktree left")
    }
}
