import Foundation
import Testing
@testable import MusterCore

struct WorkflowLoaderTests {
    static let fullSpec = """
        name: audit
        agent: sim
        model: claude-sonnet-4-6
        concurrency: 8
        on_failure: continue
        backoff:
          initial: 2s
          max: 5m
        tasks:
          list:
            agent: shell
            command: [ls, -la, "my dir"]
            timeout: 90s
          build:
            agent: shell
            command: make "release build" 'x y' plain
            needs: list
            env:
              MODE: fast
              LEVEL: "3"
          sh:
            agent: shell
            command: "ls | wc -l > count.txt"
            shell: true
            needs: [list, build]
            stall_timeout: 250ms
          scan:
            foreach:
              items: [a, "Sources/App", 42]
            prompt: "Scan {{item}}"
            model: claude-haiku-4-5
            owns: ["{{item}}/AUDIT.md"]
            timeout: 20m
            stall_timeout: 1h30m
            retries: 3
            estimate: {minutes: 4.5, input_tokens: 2000, output_tokens: 500}
            kind: independent
          modules:
            foreach:
              items:
                - {name: core, path: Sources/Core}
                - {name: app, path: Sources/App}
            prompt: "Review {{item.name}} at {{item.path}}"
            owns: "{{item.path}}/REVIEW.md"
          dirs:
            foreach: {glob: "Sources/*/"}
            prompt: "Look at {{item}}"
          plan:
            prompt: List the modules as a JSON array
          work:
            foreach: {from: plan}
            prompt: "Do {{item}}"
        """

    private func full() throws -> Workflow { try SpecFixture.load(Self.fullSpec).workflow }

    private func task(_ id: String) throws -> TaskSpec {
        try #require(try full().task(id), "no task \(id)")
    }

    @Test
    func readsWorkflowLevelSettings() throws {
        let workflow = try full()
        #expect(workflow.name == "audit")
        #expect(workflow.agent == "sim")
        #expect(workflow.model == "claude-sonnet-4-6")
        #expect(workflow.concurrency == 8)
        #expect(workflow.onFailure == .continue)
        #expect(workflow.backoff == Backoff(initial: .seconds(2), max: .seconds(300)))
    }

    @Test
    func taskOrderFollowsTheFile() throws {
        #expect(try full().tasks.map(\.id) == ["list", "build", "sh", "scan", "modules", "dirs", "plan", "work"])
    }

    @Test
    func commandAsListKeepsEachArgument() throws {
        let list = try task("list")
        #expect(list.agent == "shell")
        #expect(list.command == Command(argv: ["ls", "-la", "my dir"], viaShell: false))
        #expect(list.timeout == .seconds(90))
    }

    @Test
    func commandAsStringIsSplitRespectingQuotes() throws {
        let build = try task("build")
        #expect(build.command == Command(argv: ["make", "release build", "x y", "plain"], viaShell: false))
    }

    @Test
    func needsAsSingleStringIsAOneElementList() throws {
        #expect(try task("build").needs == ["list"])
        #expect(try task("sh").needs == ["list", "build"])
    }

    @Test
    func envIsReadAsText() throws {
        #expect(try task("build").env == ["MODE": "fast", "LEVEL": "3"])
    }

    @Test
    func shellTrueKeepsTheCommandAsOneString() throws {
        let sh = try task("sh")
        #expect(sh.command == Command(argv: ["ls | wc -l > count.txt"], viaShell: true))
        #expect(sh.stallTimeout == .milliseconds(250))
    }

    @Test
    func readsEveryKeyOfAFanOutTask() throws {
        let scan = try task("scan")
        #expect(scan.foreach == .items([.string("a"), .string("Sources/App"), .string("42")]))
        #expect(scan.prompt == "Scan {{item}}")
        #expect(scan.model == "claude-haiku-4-5")
        #expect(scan.agent == nil)
        #expect(scan.owns == ["{{item}}/AUDIT.md"])
        #expect(scan.timeout == .seconds(1200))
        #expect(scan.stallTimeout == .seconds(5400))
        #expect(scan.retries == 3)
        #expect(scan.estimate == Estimate(minutes: 4.5, inputTokens: 2000, outputTokens: 500))
        #expect(scan.kind == .independent)
        #expect(scan.effectiveKind == .independent)
    }

    @Test
    func foreachItemsMayBeMaps() throws {
        let modules = try task("modules")
        #expect(modules.foreach == .items([
            .map(["name": "core", "path": "Sources/Core"]),
            .map(["name": "app", "path": "Sources/App"]),
        ]))
        #expect(modules.owns == ["{{item.path}}/REVIEW.md"])
        #expect(modules.kind == nil)
        #expect(modules.effectiveKind == .implementation)
    }

    @Test
    func foreachGlobAndFrom() throws {
        #expect(try task("dirs").foreach == .glob("Sources/*/"))
        #expect(try task("work").foreach == .from("plan"))
        #expect(try task("dirs").effectiveKind == .exploration)
    }

    @Test
    func omittedTaskKeysTakeDefaults() throws {
        let plan = try task("plan")
        #expect(plan.needs.isEmpty)
        #expect(plan.owns.isEmpty)
        #expect(plan.env.isEmpty)
        #expect(plan.retries == 0)
        #expect(plan.timeout == nil)
        #expect(plan.stallTimeout == nil)
        #expect(plan.estimate == nil)
        #expect(plan.command == nil)
        #expect(plan.foreach == nil)
    }

    @Test
    func omittedWorkflowKeysTakeDefaults() throws {
        let workflow = try SpecFixture.load("""
            tasks:
              a:
                command: [true]
            """).workflow
        #expect(workflow.name == "workflow")
        #expect(workflow.agent == "shell")
        #expect(workflow.model == nil)
        #expect(workflow.concurrency == 4)
        #expect(workflow.onFailure == .stop)
        #expect(workflow.backoff == Backoff())
    }

    @Test
    func recordsWhereEachTaskIsWritten() throws {
        let loaded = try SpecFixture.load(Self.fullSpec)
        #expect(loaded.file == "wf.yml")
        #expect(loaded.location("tasks.list") == MusterCore.SourceLocation(line: 10, column: 3))
        #expect(loaded.location("tasks.build.needs") == MusterCore.SourceLocation(line: 17, column: 5))
        // An unrecorded path falls back to its nearest recorded parent.
        #expect(loaded.location("tasks.list.nothing.here") == MusterCore.SourceLocation(line: 10, column: 3))
    }

    @Test
    func durationsAcceptPlainSeconds() throws {
        let workflow = try SpecFixture.load("""
            tasks:
              a:
                command: [true]
                timeout: 90
                stall_timeout: 1.5
            """).workflow
        #expect(workflow.tasks[0].timeout == .seconds(90))
        #expect(workflow.tasks[0].stallTimeout == .milliseconds(1500))
    }
}

struct ShellCommandTests {
    @Test
    func shellTrueCommandIsHandedToTheShellAsWritten() throws {
        let workflow = try SpecFixture.load("""
            tasks:
              a:
                command: "make test # don't cache"
                shell: true
            """).workflow
        #expect(workflow.tasks[0].command == Command(argv: ["make test # don't cache"], viaShell: true))
    }

    @Test
    func shellFalseKeepsWordSplitting() throws {
        let workflow = try SpecFixture.load("""
            tasks:
              a:
                command: "echo 'a b' c"
                shell: false
            """).workflow
        #expect(workflow.tasks[0].command == Command(argv: ["echo", "a b", "c"], viaShell: false))
    }
}
