import Foundation
import MusterTestKit
import Testing

/// `muster integrate --check` and the spec's `integrate: {check:}` through the built binary.
@Suite struct MergeQueueTests {
    @Test func theSpecsCheckDropsTheBreakingTaskAndItsDependentAndLeavesTheCheckoutAlone() async throws {
        let h = try await TestRepository()
        try h.write("notes.txt", "start\n")
        try await h.commitAll()
        try h.write("w.yml", """
            name: queue
            concurrency: 2
            integrate: {check: "test ! -f broken || { echo 'found broken' >&2; exit 4; }"}
            tasks:
              good:
                shell: true
                command: "echo good > good.txt"
                owns: [good.txt]
              bad:
                shell: true
                command: "echo x > broken"
                owns: [broken]
              dep:
                needs: [bad]
                shell: true
                command: "echo dep > dep.txt"
                owns: [dep.txt]
              later:
                shell: true
                command: "echo later > later.txt"
                owns: [later.txt]
            """)
        let run = try await h.muster("run", "w.yml", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let id = try #require((try run.json() as? [String: Any])?["run"] as? String)
        // Work in progress in the user's checkout.
        try h.write("notes.txt", "start\nmine, not committed\n")
        let head = try await h.git("rev-parse", "HEAD").stdout

        #expect(try await h.muster("integrate", id, "--check", " ").status == 2)
        #expect(try await h.muster("integrate", id, "--check-batch", "0").status == 2)

        let result = try await h.muster("integrate", id, "--json")
        #expect(result.status == 1, "something was dropped: \(result.stderr)")
        let report = try #require(try result.json() as? [String: Any])
        #expect(report["integrated"] as? [String] == ["good", "later"])
        let dropped = try #require(report["dropped"] as? [[String: Any]])
        #expect(dropped.map { $0["task"] as? String } == ["bad", "dep"])
        #expect((dropped[0]["output"] as? String)?.contains("found broken") == true)
        #expect((dropped[0]["reason"] as? String)?.contains("exit status 4") == true)
        #expect(dropped[1]["because"] as? String == "bad")
        let branch = try #require(report["branch"] as? String)
        let files = try await h.git("ls-tree", "-r", "--name-only", branch).stdout
        #expect(files.contains("good.txt") && files.contains("later.txt") && !files.contains("broken") && !files.contains("dep.txt"))
        // The user's branch and uncommitted work are untouched.
        #expect(try await h.git("rev-parse", "HEAD").stdout == head)
        #expect(h.read("notes.txt") == "start\nmine, not committed\n")
        #expect(!FileManager.default.fileExists(atPath: h.path("broken")))

        // The human report names the dropped task and shows the check's output.
        let human = try await h.muster("integrate", id, "--check", "test ! -f broken || { echo 'still broken'; exit 5; }")
        #expect(human.status == 1)
        #expect(human.stdout.contains("dropped") && human.stdout.contains("still broken"), "\(human.stdout)")
    }
}
