import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Running a workflow through the library, as the CLI, the MCP server and the web board do: each
/// run carries its own agent profiles, so nothing needs registering and runs in one process never
/// see each other's agents (issue 13).
@Suite struct WorkflowRunnerTests {
    static func spec(_ name: String, says word: String) -> String {
        """
        name: \(name)
        isolation: none
        agents:
          say: {command: [echo, \(word)], output: text}
        tasks:
          t:
            foreach: {items: [a, b, c]}
            agent: say
            prompt: "{{item}}"
        """
    }

    @Test func twoRunsInOneProcessEachStartTheirOwnProfile() async throws {
        let folder = try TemporaryFolder("runner")
        let workspace = Workspace(root: folder.url, isGitRepository: false)
        try Self.spec("first", says: "from-first").write(to: folder.appending("first.yml"), atomically: true, encoding: .utf8)
        try Self.spec("second", says: "from-second").write(to: folder.appending("second.yml"), atomically: true, encoding: .utf8)
        let storePath = folder.appending(".muster/muster.db").path
        try workspace.prepare()
        let store = try SQLiteStore(path: storePath)
        func run(_ file: String) async throws -> RunOutcome {
            try await WorkflowRunner.run(WorkflowRequest(file: folder.appending(file).path), store: store, storePath: storePath,
                                         workspace: workspace) { $0.grace = .milliseconds(500) }
        }
        async let first = run("first.yml")
        async let second = run("second.yml")
        let outcomes = try await [first, second]
        for (outcome, word, other) in [(outcomes[0], "from-first", "from-second"), (outcomes[1], "from-second", "from-first")] {
            #expect(outcome.status == .succeeded, "\(outcome.run): \(outcome.status)")
            let tasks = try await store.tasks(run: outcome.run).filter { !$0.spec.isExpander }
            #expect(tasks.count == 3)
            for task in tasks {
                #expect(task.summary?.contains(word) == true, "\(outcome.run)/\(task.id): \(task.summary ?? task.error ?? "?")")
                #expect(task.summary?.contains(other) != true)
            }
        }
    }

    @Test func theCatalogIsTheRunsOwn() throws {
        let profile = AgentProfile(name: "say", command: ["echo"])
        let catalog = AgentCatalog(profiles: ["say": profile])
        #expect(catalog.names.contains("say") && catalog.names.contains("claude"))
        #expect(throws: Never.self) { try catalog.adapter(named: "say") }
        #expect(throws: AgentError.self) { try AgentCatalog().adapter(named: "say") }
    }

    @Test func badRequestsAreRefusedBeforeAnythingIsRecorded() async throws {
        var request = WorkflowRequest(file: "nowhere.yml")
        request.concurrency = 0
        #expect(throws: RunRefusal.self) { try request.check() }
        request.concurrency = nil
        request.budgetUSD = 0
        #expect(throws: RunRefusal.self) { try request.check() }
    }
}
