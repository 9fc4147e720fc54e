import Foundation
import MusterRuntime

/// One agent CLI put through its paces in a throwaway git repository: the real CLI, started by
/// `muster run` exactly as for real, each task pointed (through its `env:`) at a conversation of
/// a stub held here, so what the stub sent can be compared with what muster recorded.
struct AgentRehearsal {
    let agent: String
    let executable: String
    let muster: String
    let stub: ModelStub
    let root: URL

    static let usage = StubUsage(input: 1234, output: 56, cacheRead: 700, cacheWrite: 300)
    /// aider prints token counts above 999 rounded ("1.2k"), and no cache figures: small exact ones.
    static let aiderUsage = StubUsage(input: 800, output: 60)

    var isClaude: Bool { agent == "claude" }

    func run() async -> AgentDoctor {
        var doctor = AgentDoctor(name: agent, path: executable, version: nil, checks: [])
        do {
            try await prepareRepository()
            doctor.version = await version()
            let probe = try await startup()
            doctor.startupSeconds = probe.seconds
            doctor.peakMemoryMiB = probe.peakMiB
            doctor.checks = try await rehearse()
        } catch {
            doctor.checks.append(DoctorCheck("headless", .failed, "the rehearsal could not run: \(error)"))
        }
        return doctor
    }

    func version() async -> String? {
        guard let out = try? await CommandRunner.run(executable, ["--version"], in: root.path,
                                                     environment: environment([:])), out.succeeded else { return nil }
        let line = SystemChecks.firstLine(out.stdout)
        // "2.1.332 (Claude Code)", "aider 0.86.2": the first word that starts with a digit.
        return line.split(separator: " ").first { $0.first?.isNumber == true }.map(String.init) ?? line
    }

    /// The environment every child gets: muster on PATH (agents call it), the agent's state kept in the scratch folder.
    func environment(_ extra: [String: String]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        let musterDir = (muster as NSString).deletingLastPathComponent
        env["PATH"] = musterDir + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env["NO_COLOR"] = "1"
        env["CLAUDE_CONFIG_DIR"] = root.appendingPathComponent(".doctor-claude").path
        env.removeValue(forKey: "MUSTER_STORE")
        for (k, v) in extra { env[k] = v }
        return env
    }

    @discardableResult
    func git(_ args: [String]) async throws -> String {
        let out = try await CommandRunner.run("/usr/bin/env", ["git"] + args, in: root.path, environment: environment([:]))
        guard out.succeeded else { throw ModelStubError.script("git \(args.joined(separator: " ")): \(out.stderr)") }
        return out.stdout
    }

    func prepareRepository() async throws {
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try await git(["init", "-q", "-b", "main"])
        try await git(["config", "user.name", "muster doctor"])
        try await git(["config", "user.email", "doctor@localhost"])
        try "muster doctor's scratch repository\n".write(to: root.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
        try await git(["add", "README.md"])
        try await git(["commit", "-q", "-m", "start"])
    }

    func startup() async throws -> StartupProbe.Measure {
        let key = "doctor-\(agent)-startup"
        let url = stub.register(key, StubConversation(task: "startup", script: StubScript(steps: [.text("ok")])))
        let env = environment(RehearsalEnvironment.overlay(base: agent, url: url))
        let args: [String] = isClaude
            ? ["-p", "--output-format", "stream-json", "--verbose", "--permission-mode", "acceptEdits", "Say ok."]
            : ["--yes-always", "--no-stream", "--no-pretty", "--no-auto-commits", "--no-dirty-commits", "--no-gitignore",
               "--no-check-update", "--analytics-disable", "--chat-history-file", "/dev/null", "--input-history-file", "/dev/null",
               "--message=Say ok."]
        return try await StartupProbe.measure(executable: executable, arguments: args, directory: root.path, environment: env,
                                              stub: stub, key: key)
    }

    /// The tasks, each on a conversation of its own; the checks read from what muster recorded.
    func rehearse() async throws -> [DoctorCheck] {
        let usage = isClaude ? Self.usage : Self.aiderUsage
        var tasks: [(id: String, owns: [String], extraEnv: [String: String], uses: Bool, script: StubScript)] = [
            ("inside", ["inside.txt"], [:], false, StubScript(usage: usage)),
            // claude: outside its folder (the CLI refuses); aider: inside, but outside owns (muster catches it).
            ("outside", ["inside-only.txt"], [:], false,
             StubScript(steps: [.write(isClaude ? "{{dir}}/../muster-doctor-outside.txt" : "not-owned.txt", "outside\n"), .text("done")], usage: usage)),
        ]
        if isClaude {
            tasks.append(("limited", ["limited.txt"], ["CLAUDE_CODE_MAX_RETRIES": "0"], true,
                          StubScript(usage: usage, fail: StubFailure(status: 429, count: 1, retryAfter: 1))))
            tasks.append(("commands", [], [:], false,
                          StubScript(steps: [StubStep(tool: .init(name: "Bash", input: .object([
                              "command": .string("muster msg send --to role:doctor reached"),
                              "description": .string("tell muster")]))), .text("done")], usage: usage)))
        }
        // on_failure: continue: the `outside` task fails by design (denied, or caught), and must not stop
        // the run before `limited` has had its free retry.
        var yaml = "name: doctor-\(agent)\nagent: \(agent)\nconcurrency: 4\non_failure: continue\nlimits:\n  doctor: {requests_per_minute: 6000}\ntasks:\n"
        var keys: [String: String] = [:]
        for task in tasks {
            let key = "doctor-\(agent)-\(task.id)"
            keys[task.id] = key
            let url = stub.register(key, StubConversation(task: task.id, owns: task.owns, script: task.script))
            var env = RehearsalEnvironment.overlay(base: agent, url: url)
            for (k, v) in task.extraEnv { env[k] = v }
            yaml += "  \(task.id):\n    prompt: \"muster doctor: \(task.id)\"\n    timeout: 3m\n"
            yaml += "    owns: [\(task.owns.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
            if task.uses { yaml += "    uses: [doctor]\n" }
            yaml += "    env:\n" + env.sorted { $0.key < $1.key }.map { "      \($0.key): \"\($0.value)\"\n" }.joined()
        }
        try yaml.write(to: root.appendingPathComponent("doctor.yml"), atomically: true, encoding: .utf8)
        let out = try await CommandRunner.run(muster, ["run", "--json", "doctor.yml"], in: root.path, environment: environment([:]))
        guard let object = try? JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any],
              let run = object["run"] as? String, let list = object["tasks"] as? [[String: Any]] else {
            return [DoctorCheck("headless", .failed, "`muster run` gave no result: \(SystemChecks.firstLine(out.stderr))")]
        }
        let byID = Dictionary(list.compactMap { t in (t["id"] as? String).map { ($0, t) } }, uniquingKeysWith: { a, _ in a })
        let events = (try? String(contentsOf: root.appendingPathComponent(".muster/runs/\(run)/events.jsonl"), encoding: .utf8)) ?? ""
        let committed = !((try? await git(["log", "--all", "--format=%H", "--", "inside.txt"])) ?? "").isEmpty
        return DoctorChecks(agent: agent, tasks: byID, events: events, ledger: stub.ledger(), keys: keys, root: root,
                            insideCommitted: committed).all()
    }
}

/// The verdicts, from what `muster run --json` recorded, its event log and the stub's ledger.
struct DoctorChecks {
    let agent: String
    let tasks: [String: [String: Any]]
    let events: String
    let ledger: [String: StubLedgerEntry]
    let keys: [String: String]
    let root: URL
    /// inside.txt is on some branch of the scratch repository.
    let insideCommitted: Bool

    func state(_ id: String) -> String { tasks[id]?["state"] as? String ?? "missing" }
    func error(_ id: String) -> String { (tasks[id]?["error"] as? String).map { ": \($0.prefix(160))" } ?? "" }
    func sent(_ id: String) -> StubLedgerEntry? { keys[id].flatMap { ledger[$0] } }

    func all() -> [DoctorCheck] {
        var checks = [headless(), inside(), outside(), usage()]
        if agent == "claude" {
            checks += [rateLimit(), commands()]
        } else {
            checks.append(DoctorCheck("rate_limit", .skipped, "\(agent) retries 429s itself (litellm) and then exits 0; not rehearsed"))
            checks.append(DoctorCheck("muster_commands", .skipped, "\(agent) has no shell tool headless"))
        }
        return checks
    }

    func headless() -> DoctorCheck {
        guard let entry = sent("inside"), entry.answers > 0 else {
            return DoctorCheck("headless", .failed, "the CLI never reached the model stub (task \(state("inside"))\(error("inside")))")
        }
        let exit = tasks["inside"]?["exit_code"] as? Int
        return exit == nil
            ? DoctorCheck("headless", .failed, "the CLI did not exit by itself (task \(state("inside"))\(error("inside")))")
            : DoctorCheck("headless", .passed, "started, asked the model \(entry.answers)×, exited \(exit!) without a terminal")
    }

    func inside() -> DoctorCheck {
        let branchHasFile = insideCommitted
        if state("inside") == "succeeded" && branchHasFile {
            return DoctorCheck("writes_inside", .passed, "wrote inside.txt in its worktree; committed on its branch")
        }
        return DoctorCheck("writes_inside", .failed, "task inside \(state("inside"))\(error("inside")); inside.txt committed: \(branchHasFile)")
    }

    func outside() -> DoctorCheck {
        let escaped = FileManager.default.enumerator(atPath: root.path)?.contains { ($0 as? String)?.hasSuffix("muster-doctor-outside.txt") == true } ?? false
        if agent == "claude" {
            if escaped { return DoctorCheck("outside_write", .failed, "a write outside the worktree went through") }
            let denied = state("outside") != "succeeded"
            return DoctorCheck("outside_write", denied ? .passed : .warning,
                               denied ? "refused by the CLI; task \(state("outside"))\(error("outside"))"
                                      : "refused by the CLI, but the task was recorded as succeeded (the denial was not noticed)")
        }
        let caught = state("outside") == "failed" && (tasks["outside"]?["error"] as? String ?? "").contains("not-owned.txt")
        return caught ? DoctorCheck("outside_write", .passed, "caught by muster's ownership check\(error("outside"))")
                      : DoctorCheck("outside_write", .failed, "a write outside owns was not caught: task \(state("outside"))\(error("outside"))")
    }

    func usage() -> DoctorCheck {
        guard let entry = sent("inside"), let tokens = tasks["inside"]?["tokens"] as? [String: Int] else {
            return DoctorCheck("usage", .failed, "no usage parsed for task inside")
        }
        let parsed = StubUsage(input: tokens["input"] ?? -1, output: tokens["output"] ?? -1,
                               cacheRead: tokens["cache_read"] ?? -1, cacheWrite: tokens["cache_write"] ?? -1)
        let text = "sent \(entry.usage.input) in / \(entry.usage.output) out / \(entry.usage.cacheRead) cache read / \(entry.usage.cacheWrite) cache write"
        return parsed == entry.usage ? DoctorCheck("usage", .passed, text + "; parsed the same")
            : DoctorCheck("usage", .failed, text + "; parsed \(parsed.input) / \(parsed.output) / \(parsed.cacheRead) / \(parsed.cacheWrite)")
    }

    func rateLimit() -> DoctorCheck {
        let cooled = events.contains("limit.cooldown")
        if cooled && state("limited") == "succeeded" {
            return DoctorCheck("rate_limit", .passed, "a 429 started the shared cool-down; the task was retried and succeeded")
        }
        return DoctorCheck("rate_limit", .failed, "a 429 did not become a shared cool-down (cool-down logged: \(cooled); task \(state("limited"))\(error("limited")))")
    }

    func commands() -> DoctorCheck {
        if events.contains("message.sent") {
            return DoctorCheck("muster_commands", .passed, "ran `muster msg send` through its Bash tool")
        }
        return DoctorCheck("muster_commands", .failed,
                           "`muster msg send` through its Bash tool did not reach muster (denied? allow it with allowed_tools: [\"Bash(muster:*)\"]); task \(state("commands"))")
    }
}
