import Foundation
import Testing
@testable import MusterCore

/// `limits:`, `resources:` and `uses:`: what loads, and every mistake named at its file:line:column with a fix.
struct LimitSpecTests {
    private func error(_ yaml: String, limits: [String: LimitSpec] = [:]) throws -> SpecError {
        do {
            _ = try WorkflowLoader.parse(yaml, file: "wf.yml", limits: limits)
        } catch {
            return error
        }
        Issue.record("the spec should have been refused")
        throw SpecError(file: "", location: .init(line: 0, column: 0), message: "loaded")
    }

    private func expectAt(_ error: SpecError, _ line: Int, _ column: Int, _ message: String, fix: String,
                          sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(error.description.hasPrefix("wf.yml:\(line):\(column): error: "), "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(message), "\(error)", sourceLocation: sourceLocation)
        #expect(error.fix?.contains(fix) == true, "\(error)", sourceLocation: sourceLocation)
    }

    @Test func limitsResourcesAndUsesLoad() throws {
        let loaded = try WorkflowLoader.parse("""
            name: limited
            limits:
              anthropic: {requests_per_minute: 50, tokens_per_minute: 200000, concurrent: 8, burst: 2s}
            resources:
              postgres: 20
            tasks:
              scan:
                foreach: {items: [a, b]}
                command: [echo, "{{item}}"]
                uses: [postgres, anthropic, postgres]
              report:
                command: [echo]
                uses: anthropic
            """, file: "wf.yml")
        let limits = try #require(loaded.workflow.limits)
        #expect(limits["anthropic"] == LimitSpec(requestsPerMinute: 50, tokensPerMinute: 200_000, concurrent: 8, burstSeconds: 2))
        #expect(limits["postgres"] == LimitSpec.resource(20))
        #expect(loaded.workflow.task("report")?.uses == ["anthropic"])
        // Expanded tasks inherit `uses`, sorted and without repeats: the order every task acquires in.
        let plan = try Planner.plan(loaded, root: SpecFixture.scratchRoot)
        #expect(plan.tasks.map(\.uses) == [["anthropic", "postgres"], ["anthropic", "postgres"], ["anthropic"]])
    }

    @Test func limitsOfMusterTomlAreMergedUnderTheSpecs() throws {
        let toml = ["anthropic": LimitSpec(requestsPerMinute: 10), "pool": LimitSpec.resource(2)]
        let loaded = try WorkflowLoader.parse("""
            name: merged
            limits:
              anthropic: {requests_per_minute: 99}
            tasks:
              a:
                command: [echo]
                uses: [anthropic, pool]
            """, file: "wf.yml", limits: toml)
        #expect(loaded.workflow.limits == ["anthropic": LimitSpec(requestsPerMinute: 99), "pool": .resource(2)], "the spec wins key by key")
        let none = try WorkflowLoader.parse("name: n\ntasks:\n  a:\n    command: [echo]\n", file: "wf.yml")
        #expect(none.workflow.limits == nil)
    }

    @Test func storedWorkflowsAndTasksWithoutLimitsStillDecode() throws {
        // Runs recorded before `limits`/`uses` existed have neither key in their JSON.
        let workflow = try JSONDecoder().decode(Workflow.self, from: Data("""
            {"name":"old","agent":"shell","concurrency":2,"onFailure":"stop","backoff":{"initial":[1,0],"max":[60,0]},
             "tasks":[{"id":"a","needs":[],"owns":[],"env":{},"retries":0}]}
            """.utf8))
        #expect(workflow.limits == nil && workflow.tasks[0].uses == nil)
        let task = try JSONDecoder().decode(PlannedTask.self, from: Data("""
            {"id":"a","group":"a","agent":"shell","needs":[],"owns":[],"env":{},"retries":0,"kind":"exploration"}
            """.utf8))
        #expect(task.uses == [])
    }

    @Test func unknownKeyInALimitSuggestsTheNearest() throws {
        let e = try error("""
            name: bad
            limits:
              anthropic: {request_per_minute: 50}
            tasks:
              a: {command: [echo]}
            """)
        expectAt(e, 3, 15, "unknown key `request_per_minute` in limit `anthropic`", fix: "did you mean `requests_per_minute`?")
    }

    @Test func zeroOrNegativeFiguresAreRefused() throws {
        let zero = try error("""
            name: bad
            limits:
              anthropic:
                requests_per_minute: 0
            tasks:
              a: {command: [echo]}
            """)
        expectAt(zero, 4, 26, "`limits.anthropic.requests_per_minute` must be more than 0, not 0", fix: "positive whole number")
        let negative = try error("""
            name: bad
            resources:
              postgres: -3
            tasks:
              a: {command: [echo]}
            """)
        expectAt(negative, 3, 13, "`resources.postgres` must be more than 0, not -3", fix: "positive whole number")
        let burst = try error("""
            name: bad
            limits:
              api: {concurrent: 2, burst: 0s}
            tasks:
              a: {command: [echo]}
            """)
        expectAt(burst, 3, 31, "`limits.api.burst` must be a positive duration", fix: "`90s`")
    }

    @Test func nonIntegerFiguresAreRefused() throws {
        let fraction = try error("""
            name: bad
            limits:
              api: {tokens_per_minute: 1.5}
            tasks:
              a: {command: [echo]}
            """)
        expectAt(fraction, 3, 28, "`limits.api.tokens_per_minute` must be a whole number, not `1.5`", fix: "e.g. `50`")
        let text = try error("""
            name: bad
            resources:
              postgres: twenty
            tasks:
              a: {command: [echo]}
            """)
        expectAt(text, 3, 13, "`resources.postgres` must be a whole number, not `twenty`", fix: "e.g. `50`")
        let mapping = try error("""
            name: bad
            resources:
              postgres: {concurrent: 20}
            tasks:
              a: {command: [echo]}
            """)
        expectAt(mapping, 3, 13, "resource `postgres` must be a number of slots", fix: "`postgres: 20`")
    }

    @Test func aLimitWithoutFiguresIsRefused() throws {
        let e = try error("""
            name: bad
            limits:
              api: {burst: 2s}
            tasks:
              a: {command: [echo]}
            """)
        expectAt(e, 3, 3, "limit `api` sets no figure", fix: "requests_per_minute, tokens_per_minute or concurrent")
    }

    @Test func aKeyBothLimitAndResourceIsRefusedWhereItRepeats() throws {
        let e = try error("""
            name: bad
            limits:
              postgres: {concurrent: 5}
            resources:
              postgres: 20
            tasks:
              a: {command: [echo]}
            """)
        expectAt(e, 5, 3, "`postgres` is both under `limits` and under `resources`", fix: "keep one")
    }

    @Test func usesNamingAnUndeclaredKeySuggestsTheNearest() throws {
        let e = try error("""
            name: bad
            limits:
              anthropic: {requests_per_minute: 50}
            tasks:
              a:
                command: [echo]
                uses: [anthropic, anthropc]
            """)
        expectAt(e, 7, 23, "task `a` uses `anthropc`, which is not declared under `limits` or `resources`", fix: "did you mean `anthropic`?")
        let undeclared = try error("""
            name: bad
            tasks:
              a:
                command: [echo]
                uses: [postgres]
            """)
        expectAt(undeclared, 5, 12, "task `a` uses `postgres`", fix: "`resources: {postgres: 4}`")
        // A key muster.toml declares is known to the spec.
        _ = try WorkflowLoader.parse("name: ok\ntasks:\n  a:\n    command: [echo]\n    uses: [postgres]\n", file: "wf.yml",
                                     limits: ["postgres": .resource(3)])
    }

    @Test func aLimitKeyMustBeASimpleName() throws {
        let e = try error("""
            name: bad
            limits:
              "my api": {concurrent: 1}
            tasks:
              a: {command: [echo]}
            """)
        expectAt(e, 3, 3, "limit key `my api` is not a simple name", fix: "letters, digits")
    }
}
