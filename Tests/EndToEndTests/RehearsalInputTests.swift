import Foundation
import MusterTestKit
import Testing

/// `muster stub-model` and `run --rehearse` refuse bad input with one line and exit status 2,
/// before anything is recorded; no agent CLI is needed.
@Suite struct RehearsalInputTests {
    @Test func badStubScriptsAndOptionsAreRefused() async throws {
        let h = try await TestRepository()
        defer { RealAgents.cleanup(h) }
        try h.write("bad.yml", "fail: {status: 200, count: 1}\n")
        try h.write("muster.yml", "name: x\ntasks:\n  a: {command: [\"true\"], isolation: none}\n")
        let script = try await h.muster("stub-model", "--script", "bad.yml")
        #expect(script.status == 2 && script.stderr.contains("bad.yml") && script.stderr.contains("fail.status"), "\(script.stderr)")
        let missing = try await h.muster("stub-model", "--script", "nowhere.yml")
        #expect(missing.status == 2 && missing.stderr.contains("nowhere.yml"))
        let port = try await h.muster("stub-model", "--port", "70000")
        #expect(port.status == 2 && port.stderr.contains("70000"))
        let without = try await h.muster("run", "--stub-script", "bad.yml", "muster.yml")
        #expect(without.status == 2 && without.stderr.contains("--rehearse"))
        let both = try await h.muster("run", "--rehearse", "--simulate", "muster.yml")
        #expect(both.status == 2 && both.stderr.contains("pick one"))
        let badRun = try await h.muster("run", "--rehearse", "--stub-script", "bad.yml", "muster.yml")
        #expect(badRun.status == 2 && badRun.stderr.contains("bad.yml"))
        #expect(!FileManager.default.fileExists(atPath: h.path(".muster/muster.db")), "nothing is recorded for refused input")
    }

    @Test func aRehearsedShellTaskRunsAsForReal() async throws {
        let h = try await TestRepository()
        defer { RealAgents.cleanup(h) }
        try h.write("muster.yml", """
            name: shell-rehearsal
            tasks:
              a: {command: ["sh", "-c", "echo ${ANTHROPIC_BASE_URL:-none} > a.txt"], owns: [a.txt]}
            """)
        try await h.commitAll()
        let run = try await h.muster("run", "--rehearse", "--json", "muster.yml")
        #expect(run.status == 0, "\(run.stderr)")
        let object = try #require(try run.json() as? [String: Any])
        #expect((object["counts"] as? [String: Int])?["succeeded"] == 1)
        // A shell task spends no tokens: the stub's variables are not laid over it.
        let id = try #require(object["run"] as? String)
        #expect(try await h.git("show", "muster/\(id)/a:a.txt").stdout == "none\n")
    }
}
