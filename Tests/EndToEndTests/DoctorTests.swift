import Foundation
import MusterTestKit
import Testing

/// `muster doctor` with the real Claude Code CLI on PATH: the system checks and the claude
/// rehearsal, as JSON. Every check is expected to pass (denials noticed, muster's commands allowed).
@Suite(.serialized) struct DoctorTests {
    @Test(.enabled(if: RealAgents.claudeRuns, "the Claude Code CLI is not installed"))
    func doctorRehearsesClaude() async throws {
        _ = try #require(RealAgents.claude, "CI=true but the Claude Code CLI is missing")
        let h = try await TestRepository()
        defer { RealAgents.cleanup(h) }
        let result = try await RealAgents.muster(h, ["doctor", "--json", "--agent", "claude"])
        let report = try #require(try? result.json() as? [String: Any], "no JSON: \(result.stdout) \(result.stderr)")
        let checks = report["checks"] as? [[String: Any]] ?? []
        #expect(checks.first { $0["name"] as? String == "git" }?["status"] as? String == "passed")
        #expect(checks.first { $0["name"] as? String == "store" }?["status"] as? String == "passed")
        let claude = try #require((report["agents"] as? [[String: Any]])?.first { $0["name"] as? String == "claude" })
        #expect(claude["version"] as? String == "2.1.332")
        #expect((claude["startup_seconds"] as? Double ?? 0) > 0)
        #expect((claude["peak_memory_mib"] as? Double ?? 0) > 10)
        let verdicts = Dictionary((claude["checks"] as? [[String: Any]] ?? []).compactMap { c in
            (c["name"] as? String).map { ($0, (c["status"] as? String ?? "", c["detail"] as? String ?? "")) }
        }, uniquingKeysWith: { a, _ in a })
        for name in ["headless", "writes_inside", "usage", "rate_limit", "outside_write", "muster_commands"] {
            #expect(verdicts[name]?.0 == "passed", "\(name): \(verdicts[name]?.1 ?? "missing")")
        }
        #expect(result.status == ((report["ok"] as? Bool) == true ? 0 : 1))
        let text = try await RealAgents.muster(h, ["doctor", "--agent", "none"])
        #expect(text.stdout.contains("git") && text.stdout.contains("no agent CLI"))
    }
}
