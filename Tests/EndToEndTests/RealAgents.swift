import Foundation
import MusterTestKit
import Testing

/// The real agent CLIs for the end-to-end tests: `MUSTER_TEST_CLAUDE` / `MUSTER_TEST_AIDER`
/// (exported by scripts/lib/agent-clis.sh, which scripts/test sources), else `claude` / `aider`
/// on PATH. A test skips (saying why) only when its CLI is missing and `CI` is not set; under CI
/// a missing CLI fails the test.
enum RealAgents {
    static let environment = ProcessInfo.processInfo.environment
    static var inCI: Bool { ["1", "true", "yes"].contains((environment["CI"] ?? "").lowercased()) }

    static func find(_ variable: String, _ name: String) -> String? {
        if let path = environment[variable], !path.isEmpty, access(path, X_OK) == 0 { return path }
        for dir in (environment["PATH"] ?? "").split(separator: ":") {
            let candidate = "\(dir)/\(name)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    static let claude = find("MUSTER_TEST_CLAUDE", "claude")
    static let aider = find("MUSTER_TEST_AIDER", "aider")

    static var claudeRuns: Bool {
        if claude == nil && !inCI { print("skipped: the Claude Code CLI is not installed (scripts/test installs it; or set MUSTER_TEST_CLAUDE)") }
        return claude != nil || inCI
    }

    static var aiderRuns: Bool {
        if aider == nil && !inCI { print("skipped: aider is not installed (scripts/test installs it; or set MUSTER_TEST_AIDER)") }
        return aider != nil || inCI
    }

    /// A folder with `claude`, `aider` and `muster` in it, first on PATH for muster and its agents.
    static let binDirectory: String = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("muster-e2e-agents-\(getpid())").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (name, target) in [("claude", claude), ("aider", aider), ("muster", TestRepository.muster)] {
            guard let target else { continue }
            try? FileManager.default.removeItem(atPath: "\(dir)/\(name)")
            try? FileManager.default.createSymbolicLink(atPath: "\(dir)/\(name)", withDestinationPath: target)
        }
        return dir
    }()

    /// The environment muster runs with: the CLIs first on PATH, their state outside the repository.
    static func env(_ h: TestRepository, _ extra: [String: String] = [:]) -> [String: String] {
        var env = ["PATH": binDirectory + ":" + (environment["PATH"] ?? "/usr/bin:/bin"),
                   "CLAUDE_CONFIG_DIR": h.root.path + "-claude-config"]
        for (k, v) in extra { env[k] = v }
        return env
    }

    static func muster(_ h: TestRepository, _ arguments: [String], env extra: [String: String] = [:]) async throws -> CommandResult {
        try await Command.run(TestRepository.muster, arguments, in: h.root, environment: env(h, extra))
    }

    /// A fresh repository for a test of a real CLI (`cli`: its path, nil when missing; under CI
    /// that fails the test). The caller removes it with `cleanup`.
    static func repository(_ cli: String?, _ name: String) async throws -> TestRepository {
        _ = try #require(cli, "CI=true but \(name) is missing: scripts/test installs it")
        return try await TestRepository()
    }

    /// A rehearsed run as most real-CLI tests start one: `muster.yml` (and the stub's script as
    /// `stub.yml`) written and committed, then `muster run --rehearse … --json muster.yml`.
    struct Rehearsed {
        let result: CommandResult
        let run: String
        let tasks: [String: [String: Any]]
    }

    static func rehearse(_ h: TestRepository, spec: String, stub: String? = nil, env: [String: String] = [:]) async throws -> Rehearsed {
        if let stub { try h.write("stub.yml", stub) }
        try h.write("muster.yml", spec)
        try await h.commitAll()
        let result = try await muster(h, ["run", "--rehearse"] + (stub == nil ? [] : ["--stub-script", "stub.yml"]) + ["--json", "muster.yml"],
                                      env: env)
        let (run, tasks) = try await runJSON(result)
        return Rehearsed(result: result, run: run, tasks: tasks)
    }

    static func runJSON(_ result: CommandResult) async throws -> (run: String, tasks: [String: [String: Any]]) {
        let object = try #require(try? result.json() as? [String: Any], "no JSON: \(result.stdout) \(result.stderr)")
        let run = try #require(object["run"] as? String)
        let list = object["tasks"] as? [[String: Any]] ?? []
        return (run, Dictionary(list.compactMap { t in (t["id"] as? String).map { ($0, t) } }, uniquingKeysWith: { a, _ in a }))
    }

    /// A file as committed on a task's branch.
    static func show(_ h: TestRepository, run: String, task: String, path: String) async -> String? {
        let result = try? await h.git("show", "muster/\(run)/\(task):\(path)")
        return result?.status == 0 ? result?.stdout : nil
    }

    static func events(_ h: TestRepository, run: String) -> String { h.read(".muster/runs/\(run)/events.jsonl") }

    /// Removes the test's repository and the files kept beside it (agent state, stub output).
    static func cleanup(_ h: TestRepository) {
        let parent = h.root.deletingLastPathComponent()
        let name = h.root.lastPathComponent
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: parent.path)) ?? [] where entry.hasPrefix(name) {
            try? FileManager.default.removeItem(at: parent.appendingPathComponent(entry))
        }
    }
}

/// `muster stub-model` as its own process, for tests that watch what reaches it (its request log).
struct StubProcess {
    let process: BackgroundProcess
    let url: String
    let log: String

    static func start(_ h: TestRepository, script: String?) async throws -> StubProcess {
        let out = h.root.path + "-stub.out", log = h.root.path + "-stub.log"
        var args = ["stub-model", "--port", "0"]
        if let script {
            try h.write("stub-script.yml", script)
            args += ["--script", h.path("stub-script.yml")]
        }
        let process = try Command.start(TestRepository.muster, args, in: h.root, environment: ["MUSTER_STUB_LOG": log],
                                        stdout: out, stderr: h.root.path + "-stub.err")
        var url = ""
        let up = try await eventually {
            url = (try? String(contentsOfFile: out, encoding: .utf8))?.split(separator: "\n").first.map(String.init) ?? ""
            return url.hasPrefix("http://127.0.0.1:")
        }
        if !up { process.signal(SIGKILL) }
        try #require(up, "muster stub-model printed no address")
        return StubProcess(process: process, url: url, log: log)
    }

    /// Model requests that reached the stub so far.
    var modelRequests: Int {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
            .filter { $0.contains("\"path\":\"/v1/messages\"") || $0.contains("chat/completions") }.count
    }

    func stop() async {
        process.signal(SIGTERM)
        _ = await process.exited()
    }
}
