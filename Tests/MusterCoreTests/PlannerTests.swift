import Foundation
import Testing
@testable import MusterCore

struct PlannerTests {
    @Test
    func itemsExpandIntoReadableIDs() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, "Sources/App", "x y!"]}
                prompt: "Audit {{item}}"
            """)
        #expect(plan.tasks.map(\.id) == ["scan.a", "scan.Sources-App", "scan.x-y"])
        #expect(plan.tasks.map(\.group) == ["scan", "scan", "scan"])
        #expect(plan.tasks.map(\.prompt) == ["Audit a", "Audit Sources/App", "Audit x y!"])
        #expect(plan.tasks[1].item == .string("Sources/App"))
    }

    @Test
    func collidingSlugsGetANumberSuffix() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              scan:
                foreach: {items: ["Sources/App", "Sources/App/", "Sources-App", a, a]}
            """)
        #expect(plan.tasks.map(\.id) == ["scan.Sources-App", "scan.Sources-App-2", "scan.Sources-App-3", "scan.a", "scan.a-2"])
    }

    @Test
    func itemWithoutUsableCharactersFallsBackToItsIndex() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, "日本", "///"]}
            """)
        #expect(plan.tasks.map(\.id) == ["scan.a", "scan.1", "scan.2"])
    }

    @Test
    func mapItemsRenderTheirFields() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              review:
                foreach:
                  items:
                    - {name: core, path: Sources/Core}
                    - {name: app, path: Sources/App}
                prompt: "Review {{item.name}} in {{ item.path }}"
                env:
                  MODULE: "{{item.name}}"
            """)
        #expect(plan.tasks.map(\.id) == ["review.0", "review.1"])
        #expect(plan.tasks.map(\.prompt) == ["Review core in Sources/Core", "Review app in Sources/App"])
        #expect(plan.tasks.map(\.env) == [["MODULE": "core"], ["MODULE": "app"]])
        #expect(plan.tasks[0].item == .map(["name": "core", "path": "Sources/Core"]))
    }

    @Test
    func mapItemRendersAsSortedJSONForPlainItem() {
        #expect(ItemValue.map(["b": "2", "a": "1"]).text == #"{"a":"1","b":"2"}"#)
        #expect(ItemValue.string("x").text == "x")
    }

    @Test
    func planTimePlaceholdersRenderAndRunTimeOnesStayVerbatim() throws {
        let plan = try SpecFixture.plan("""
            name: audit
            agent: sim
            tasks:
              scan:
                prompt: scan
              report:
                needs: [scan]
                prompt: "{{task.id}} of {{workflow.name}} in run {{run.id}}: {{needs.scan.summaries}} / {{ needs.scan.results }}"
            """)
        let report = try #require(plan.tasks.first { $0.id == "report" })
        #expect(report.prompt == "report of audit in run {{run.id}}: {{needs.scan.summaries}} / {{ needs.scan.results }}")
    }

    @Test
    func taskIDRendersPerFanOutTaskInCommandAndEnv() throws {
        let plan = try SpecFixture.plan("""
            tasks:
              t:
                foreach: {items: [a, b]}
                command: [echo, "{{task.id}}", "{{item}}", "{{run.id}}"]
                env:
                  ME: "{{task.id}}"
            """)
        #expect(plan.tasks.map { $0.command?.argv ?? [] } == [["echo", "t.a", "a", "{{run.id}}"], ["echo", "t.b", "b", "{{run.id}}"]])
        #expect(plan.tasks.map { $0.env["ME"] } == ["t.a", "t.b"])
        #expect(plan.tasks.allSatisfy { $0.agent == "shell" && $0.model == nil })
    }

    @Test
    func plannedTaskCarriesTheSpecSettings() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            model: claude-haiku-4-5
            tasks:
              a:
                prompt: p
                timeout: 20m
                stall_timeout: 90s
                retries: 2
                estimate: {minutes: 3}
                owns: [docs/]
              b:
                prompt: q
                model: claude-sonnet-4-6
                kind: independent
            """)
        let a = plan.tasks[0], b = plan.tasks[1]
        #expect(a.agent == "sim")
        #expect(a.model == "claude-haiku-4-5")
        #expect(b.model == "claude-sonnet-4-6")
        #expect(a.timeout == .seconds(1200))
        #expect(a.stallTimeout == .seconds(90))
        #expect(a.retries == 2)
        #expect(a.estimate == Estimate(minutes: 3))
        #expect(a.owns == ["docs/"])
        #expect(a.kind == .implementation)
        #expect(b.kind == .independent)
    }

    @Test
    func simAgentBillsTheDefaultModelWhenNoneIsNamed() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              a:
                prompt: p
            """)
        #expect(plan.tasks[0].model == "claude-opus-4-8")
    }

    @Test
    func globFansOutOverMatchingFolders() throws {
        let root = try SpecFixture.makeTree(directories: ["Sources/App", "Sources/Core", ".git/Sources"],
                                            files: ["Sources/README.md"])
        defer { try? FileManager.default.removeItem(at: root) }
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              scan:
                foreach: {glob: "Sources/*/"}
                prompt: "Audit {{item}}"
                owns: ["{{item}}/AUDIT.md"]
            """, root: root)
        #expect(plan.tasks.map(\.id) == ["scan.Sources-App", "scan.Sources-Core"])
        #expect(plan.tasks.map(\.item) == [.string("Sources/App"), .string("Sources/Core")])
        #expect(plan.tasks.map(\.prompt) == ["Audit Sources/App", "Audit Sources/Core"])
        #expect(plan.tasks.map(\.owns) == [["Sources/App/AUDIT.md"], ["Sources/Core/AUDIT.md"]])
    }

    @Test
    func globWithoutTrailingSlashAlsoMatchesFiles() throws {
        let root = try SpecFixture.makeTree(directories: ["docs"], files: ["docs/a.md", "docs/b.md", "docs/c.txt"])
        defer { try? FileManager.default.removeItem(at: root) }
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              doc:
                foreach: {glob: "docs/*.md"}
            """, root: root)
        #expect(plan.tasks.map(\.item) == [.string("docs/a.md"), .string("docs/b.md")])
        #expect(plan.tasks.map(\.id) == ["doc.docs-a-md", "doc.docs-b-md"])
    }

    @Test
    func globMatchingNothingIsAnError() throws {
        let root = try SpecFixture.makeTree(directories: ["Sources"])
        defer { try? FileManager.default.removeItem(at: root) }
        let error = try #require(try SpecFixture.planError("""
            agent: sim
            tasks:
              scan:
                foreach: {glob: "Sources/*/"}
                prompt: "Audit {{item}}"
            """, root: root))
        #expect(error.location == MusterCore.SourceLocation(line: 4, column: 21), "\(error)")
        #expect(error.message.contains("`foreach.glob: Sources/*/` matches nothing"), "\(error)")
        #expect(error.fix?.contains("trailing `/` matches folders only") == true)
    }

    @Test
    func malformedGlobIsAnError() throws {
        let error = try #require(try SpecFixture.planError("""
            agent: sim
            tasks:
              scan:
                foreach: {glob: "../*"}
            """))
        #expect(error.location == MusterCore.SourceLocation(line: 4, column: 21), "\(error)")
        #expect(error.message.contains("leaves the repository"), "\(error)")
    }

    static let dynamic = """
        agent: sim
        tasks:
          plan:
            prompt: "List the modules as JSON"
          work:
            foreach: {from: plan}
            prompt: "Refactor {{item}} ({{task.id}}) after {{needs.plan.results}}"
            owns: ["Sources/{{item}}/**"]
            estimate: {minutes: 12}
        """

    @Test
    func foreachFromYieldsOneExpander() throws {
        let plan = try SpecFixture.plan(Self.dynamic)
        #expect(plan.tasks.map(\.id) == ["plan", "work"])
        let work = plan.tasks[1]
        #expect(work.isExpander)
        #expect(!plan.tasks[0].isExpander)
        let expected = try SpecFixture.load(Self.dynamic).workflow.task("work")
        #expect(work.expands == expected)
        // The item is unknown until `plan` has run: keep its placeholder; task.id is known now.
        #expect(work.prompt == "Refactor {{item}} (work) after {{needs.plan.results}}")
        #expect(work.owns == ["Sources/{{item}}/**"])
    }

    @Test
    func foreachFromDependsOnItsSourceImplicitly() throws {
        let plan = try SpecFixture.plan(Self.dynamic)
        #expect(plan.tasks[1].needs == ["plan"])
        #expect(plan.waves == [["plan"], ["work"]])
        #expect(plan.estimate.dynamicGroups == ["work"])
        #expect(plan.estimate.taskCount == 1)
    }

    @Test
    func expandRendersChildrenOfADynamicFanOut() throws {
        let workflow = try SpecFixture.load(Self.dynamic).workflow
        let spec = try #require(workflow.task("work"))
        let children = try Planner.expand(spec, items: [.string("Core"), .string("App")], workflow: workflow)
        #expect(children.map(\.id) == ["work.Core", "work.App"])
        #expect(children.map(\.group) == ["work", "work"])
        #expect(children.map(\.prompt) == ["Refactor Core (work.Core) after {{needs.plan.results}}",
                                           "Refactor App (work.App) after {{needs.plan.results}}"])
        #expect(children.map(\.owns) == [["Sources/Core/**"], ["Sources/App/**"]])
        #expect(children.allSatisfy { !$0.isExpander && $0.needs == ["plan"] })
    }

    @Test
    func expandRefusesAnItemWhoseOwnsLeavesTheRepository() throws {
        let workflow = try SpecFixture.load(Self.dynamic).workflow
        let spec = try #require(workflow.task("work"))
        let error = #expect(throws: SpecError.self) {
            try Planner.expand(spec, items: [.string("ok"), .string("../../etc")], workflow: workflow)
        }
        #expect(error?.message.contains("task `work.etc`") == true, "\(String(describing: error))")
        #expect(error?.message.contains("leaves the repository") == true)
    }

    @Test
    func ownsRenderPerItem() throws {
        let plan = try SpecFixture.plan("""
            agent: sim
            tasks:
              fix:
                foreach: {items: [core, app]}
                owns: ["Sources/{{item}}/**", "./Tests//{{item}}Tests/"]
            """)
        #expect(plan.tasks.map(\.owns) == [["Sources/core/**", "Tests/coreTests/"], ["Sources/app/**", "Tests/appTests/"]])
    }

    @Test
    func itemThatRendersOwnsOutsideTheRepositoryIsRefused() throws {
        let error = try #require(try SpecFixture.planError("""
            agent: sim
            tasks:
              fix:
                foreach: {items: [core, "../x"]}
                owns: ["{{item}}/out"]
            """))
        #expect(error.location == MusterCore.SourceLocation(line: 5, column: 12), "\(error)")
        #expect(error.message.contains("task `fix.x`"), "\(error)")
        #expect(error.message.contains("\"../x/out\" leaves the repository"), "\(error)")
    }

    @Test
    func itemThatRendersAnAbsoluteOwnsIsRefused() throws {
        let error = try #require(try SpecFixture.planError("""
            agent: sim
            tasks:
              fix:
                foreach: {items: [""]}
                owns: "{{item}}/out"
            """))
        #expect(error.message.contains("is absolute"), "\(error)")
    }

    @Test
    func concurrencyDefaultsToTheWorkflowsAndCanBeOverridden() throws {
        let yaml = """
            agent: sim
            concurrency: 3
            tasks:
              a:
                prompt: p
            """
        #expect(try SpecFixture.plan(yaml).concurrency == 3)
        #expect(try SpecFixture.plan(yaml, concurrency: 9).concurrency == 9)
        #expect(try SpecFixture.plan(yaml, concurrency: 0).concurrency == 1)
    }

    @Test
    func tenThousandItemsPlanWithUniqueIDs() throws {
        var yaml = """
            agent: sim
            tasks:
              scan:
                foreach:
                  items:

            """
        for i in 0..<10_000 { yaml += "      - Sources/Module\(i)\n" }
        yaml += "    prompt: \"Audit {{item}}\"\n"
        yaml += "    owns: [\"{{item}}/AUDIT.md\"]\n"
        yaml += "    estimate: {minutes: 1}\n"
        let plan = try SpecFixture.plan(yaml)
        #expect(plan.tasks.count == 10_000)
        #expect(Set(plan.tasks.map(\.id)).count == 10_000)
        #expect(plan.tasks[9_999].id == "scan.Sources-Module9999")
        #expect(plan.estimate.taskCount == 10_000)
    }
}
