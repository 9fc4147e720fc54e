import Foundation
import MusterTestKit
import Testing

/// Every option of `muster run` is checked before anything is recorded (issue 13): a bad one is a
/// single line and exit 2, and the store holds no run afterwards.
@Suite struct RunOptionCheckTests {
    @Test(arguments: [["--conflict-check", "0"], ["--speed", "0", "--simulate"], ["--budget", "0"], ["--lease", "0.5"],
                      ["--stub-script", "stub.yml"], ["--rehearse", "--simulate"], ["--strict", "--allow-overlap"],
                      ["--concurrency", "0"], ["--grace", "soon"]])
    func aBadRunOptionRecordsNothing(_ options: [String]) async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: m\ntasks:\n  a:\n    command: [echo, hi]\n")
        try await h.commitAll()
        // The store exists before (a throttle makes it without a run), so `runs` answers with what it holds.
        #expect(try await h.muster("throttle", "--limit", "k", "--rpm", "600", "--", "true").status == 0)
        let run = try await h.musterArgs(["run", "w.yml"] + options)
        #expect(run.status == 2, "\(options): \(run.status) \(run.stderr)")
        #expect(!run.stderr.isEmpty)
        let runs = try await h.muster("runs", "--json")
        #expect(runs.status == 0, "\(runs.stderr)")
        #expect((try runs.json() as? [Any])?.isEmpty == true, "\(options) recorded a run: \(runs.stdout)")
    }

    @Test func durationsTakeUnits() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: m\ntasks:\n  a:\n    command: [echo, hi]\n")
        try await h.commitAll()
        let run = try await h.muster("run", "w.yml", "--grace", "500ms", "--conflict-check", "2s", "--lease", "1m", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        #expect((try run.json() as? [String: Any])?["status"] as? String == "succeeded")
    }
}
