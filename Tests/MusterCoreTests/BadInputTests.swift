import Foundation
import Testing
@testable import MusterCore

/// Every mistake names file:line:column and says how to fix it. Line numbers are those of the YAML below.
struct BadInputTests {
    private func error(_ yaml: String, _ comment: Comment? = nil) throws -> SpecError {
        try #require(SpecFixture.error(yaml), comment ?? "the spec should have been refused")
    }

    private func expectAt(_ error: SpecError, _ line: Int, _ column: Int, _ message: String,
                          sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(error.file == "wf.yml", sourceLocation: sourceLocation)
        #expect(error.location == MusterCore.SourceLocation(line: line, column: column), "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.hasPrefix("wf.yml:\(line):\(column): error: "), "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(message), "\(error)", sourceLocation: sourceLocation)
    }

    private func expectFix(_ error: SpecError, _ fix: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) {
        #expect(error.fix?.contains(fix) == true, "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.contains("(fix: "), "\(error)", sourceLocation: sourceLocation)
    }

    @Test
    func descriptionIsOneLineWithFileLineColumnAndFix() {
        let error = SpecError(file: "a.yml", location: .init(line: 3, column: 7), message: "bad", fix: "do this")
        #expect(error.description == "a.yml:3:7: error: bad (fix: do this)")
        let bare = SpecError(file: "a.yml", location: .init(line: 1, column: 1), message: "bad")
        #expect(bare.description == "a.yml:1:1: error: bad")
    }

    @Test
    func malformedYAMLNamesThePosition() throws {
        let e = try error("""
            name: demo
            tasks:
              a:
            \tcommand: [ls]
            """)
        expectAt(e, 4, 1, "malformed YAML")
        expectFix(e, "check indentation and quoting")
    }

    @Test
    func unclosedFlowListIsMalformed() throws {
        let e = try error("""
            name: demo
            tasks:
              a:
                command: [ls, -la
            """)
        #expect(e.message.hasPrefix("malformed YAML"), "\(e)")
        #expect(e.location.line >= 4, "\(e)")
        #expect(e.fix != nil)
    }

    @Test
    func unknownTopLevelKeySuggestsNearest() throws {
        let e = try error("""
            name: demo
            concurency: 4
            tasks:
              a:
                command: [ls]
            """)
        expectAt(e, 2, 1, "unknown key `concurency` in the workflow")
        expectFix(e, "did you mean `concurrency`?")
    }

    @Test
    func unknownTaskKeyComandSuggestsCommand() throws {
        let e = try error("""
            tasks:
              a:
                agent: shell
                comand: [ls]
            """)
        expectAt(e, 4, 5, "unknown key `comand` in task `a`")
        expectFix(e, "did you mean `command`?")
    }

    @Test
    func unknownTaskKeyNeedSuggestsNeeds() throws {
        let e = try error("""
            agent: sim
            tasks:
              a:
                prompt: x
              b:
                prompt: y
                need: [a]
            """)
        expectAt(e, 7, 5, "unknown key `need` in task `b`")
        expectFix(e, "did you mean `needs`?")
    }

    @Test
    func unknownKeyFarFromAnyListsTheKnownKeys() throws {
        let e = try error("""
            tasks:
              a:
                command: [ls]
                zzzzzzzz: 1
            """)
        expectAt(e, 4, 5, "unknown key `zzzzzzzz`")
        expectFix(e, "known keys: prompt, command")
    }

    @Test
    func unknownEstimateKeySuggestsNearest() throws {
        let e = try error("""
            tasks:
              a:
                command: [ls]
                estimate: {minuts: 3}
            """)
        expectAt(e, 4, 16, "unknown key `minuts` in `estimate`")
        expectFix(e, "did you mean `minutes`?")
    }

    @Test
    func cycleIsNamedInOrder() throws {
        let e = try error("""
            agent: sim
            tasks:
              a:
                needs: b
              b:
                needs: c
              c:
                needs: a
            """)
        expectAt(e, 4, 5, "`needs` form a cycle: a → b → c → a")
        expectFix(e, "remove one of these `needs`")
    }

    @Test
    func cycleThroughForeachFromIsFound() throws {
        let e = try error("""
            agent: sim
            tasks:
              a:
                needs: [b]
              b:
                foreach: {from: a}
            """)
        #expect(e.message.contains("cycle: a → b → a"), "\(e)")
        #expect(e.location == MusterCore.SourceLocation(line: 4, column: 5))
    }

    @Test
    func missingDependencySuggestsNearestID() throws {
        let e = try error("""
            agent: sim
            tasks:
              build:
                prompt: x
              test:
                needs: [biuld]
            """)
        expectAt(e, 6, 13, "task `test` needs `biuld`, which is not a task in this workflow")
        expectFix(e, "did you mean `build`?")
    }

    @Test
    func duplicateTaskIDPointsAtSecondOccurrence() throws {
        let e = try error("""
            agent: sim
            tasks:
              a:
                prompt: x
              b:
                prompt: y
              a:
                prompt: z
            """)
        expectAt(e, 7, 3, "duplicate key `a`")
        expectFix(e, "rename or remove one of them")
    }

    @Test
    func emptyForeachItemsIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              scan:
                foreach:
                  items: []
                prompt: "Audit {{item}}"
            """)
        expectAt(e, 5, 14, "`foreach.items` is empty")
        expectFix(e, "list at least one item")
    }

    @Test
    func foreachWithTwoSourcesIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a], glob: "x/*"}
            """)
        expectAt(e, 4, 14, "exactly one of `items`, `glob` or `from`")
    }

    @Test
    func misspelledItemPlaceholderSuggestsItem() throws {
        let e = try error("""
            agent: sim
            tasks:
              scan:
                foreach: {items: [a, b]}
                prompt: "Audit {{itme}}"
            """)
        expectAt(e, 5, 13, "template variable `{{itme}}` in task `scan` does not resolve")
        expectFix(e, "did you mean `{{item}}`?")
    }

    @Test
    func itemPlaceholderWithoutForeachIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              a:
                prompt: "Do {{item}}"
            """)
        expectAt(e, 4, 13, "`{{item}}` in task `a` does not resolve")
        expectFix(e, "needs a `foreach`")
    }

    @Test
    func needsPlaceholderForATaskNotInNeedsIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              x:
                prompt: a
              y:
                prompt: "Rank {{needs.x.summaries}}"
            """)
        expectAt(e, 6, 13, "`{{needs.x.summaries}}` in task `y` does not resolve")
        expectFix(e, "add `x` to this task's `needs`")
    }

    @Test
    func itemFieldMissingFromSomeMapItemIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              m:
                foreach:
                  items:
                    - {name: a, path: x}
                    - {name: b}
                prompt: "{{item.path}}"
            """)
        expectAt(e, 8, 13, "`{{item.path}}` in task `m` does not resolve")
    }

    @Test
    func itemFieldMissingFromTheFirstMapItemIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              m:
                foreach:
                  items:
                    - {name: b}
                    - {name: a, path: x}
                prompt: "{{item.path}}"
            """)
        expectAt(e, 8, 13, "`{{item.path}}` in task `m` does not resolve")
    }

    @Test
    func badPlaceholderInCommandPointsAtTheArgument() throws {
        let e = try error("""
            tasks:
              a:
                command: [echo, "{{task.idd}}"]
            """)
        expectAt(e, 3, 21, "`{{task.idd}}` in task `a` does not resolve")
        expectFix(e, "did you mean `{{task.id}}`?")
    }

    @Test
    func ownsLeavingTheRepositoryIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              a:
                prompt: p
                owns: ["../x"]
            """)
        expectAt(e, 5, 12, "leaves the repository")
        #expect(e.message.contains("use a path relative to the repository root"), "\(e)")
    }

    @Test
    func absoluteOwnsIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              a:
                prompt: p
                owns: /abs
            """)
        expectAt(e, 5, 11, "is absolute")
        #expect(e.message.contains("use a path relative to the repository root"), "\(e)")
    }

    @Test
    func badDurationIsRefusedWithExamples() throws {
        let e = try error("""
            tasks:
              a:
                command: [ls]
                timeout: 5 minutes
            """)
        expectAt(e, 4, 14, "`timeout` must be a positive duration")
        expectFix(e, "`90s`, `20m`, `1h30m`")
    }

    @Test
    func zeroDurationIsRefused() throws {
        let e = try error("""
            tasks:
              a:
                command: [ls]
                stall_timeout: 0s
            """)
        expectAt(e, 4, 20, "`stall_timeout` must be a positive duration")
    }

    @Test
    func badBackoffDurationIsRefused() throws {
        let e = try error("""
            backoff:
              initial: soon
            tasks:
              a:
                command: [ls]
            """)
        expectAt(e, 2, 12, "`backoff.initial` must be a positive duration")
    }

    @Test
    func shellAgentWithoutCommandIsRefused() throws {
        let e = try error("""
            tasks:
              a:
                prompt: hi
            """)
        expectAt(e, 2, 3, "task `a` runs the `shell` agent but has no `command`")
        expectFix(e, "add `command: [...]`")
    }

    @Test
    func promptAndCommandTogetherAreRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              a:
                prompt: hi
                command: [ls]
            """)
        expectAt(e, 5, 5, "task `a` has both `prompt` and `command`")
        expectFix(e, "keep `command` for the shell agent")
    }

    @Test
    func shellTrueWithListCommandIsRefused() throws {
        let e = try error("""
            tasks:
              a:
                command: [ls, -la]
                shell: true
            """)
        expectAt(e, 3, 5, "sets `shell: true` but its `command` is not one string")
        expectFix(e, "single string")
    }

    @Test
    func unclosedQuoteInCommandIsRefused() throws {
        let e = try error("""
            tasks:
              a:
                command: echo "oops
            """)
        expectAt(e, 3, 14, "unclosed quote")
        expectFix(e, "argv list")
    }

    @Test
    func unknownWorkflowAgentSuggestsNearest() throws {
        let e = try error("""
            agent: shel
            tasks:
              a:
                command: [ls]
            """)
        expectAt(e, 1, 8, "unknown agent `shel`")
        expectFix(e, "did you mean `shell`?")
    }

    @Test
    func unknownTaskAgentListsKnownAgents() throws {
        let e = try error("""
            tasks:
              a:
                agent: copilot-xl
                prompt: hi
            """)
        expectAt(e, 3, 12, "unknown agent `copilot-xl`")
        expectFix(e, "known agents: aider, claude, codex, gemini, opencode, shell, sim")
    }

    @Test
    func foreachFromMissingTaskSuggestsNearest() throws {
        let e = try error("""
            agent: sim
            tasks:
              plan:
                prompt: list modules
              work:
                foreach: {from: plna}
                prompt: "Do {{item}}"
            """)
        expectAt(e, 6, 21, "`foreach.from` names `plna`, which is not another task")
        expectFix(e, "did you mean `plan`?")
    }

    @Test
    func foreachFromItselfIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              work:
                foreach: {from: work}
            """)
        expectAt(e, 4, 21, "`foreach.from` names `work`")
    }

    @Test
    func selfNeedIsRefused() throws {
        let e = try error("""
            agent: sim
            tasks:
              a:
                needs: [a]
            """)
        expectAt(e, 4, 13, "task `a` needs itself")
        expectFix(e, "remove it from `needs`")
    }

    @Test
    func emptyFileIsRefused() throws {
        let e = try error("")
        expectAt(e, 1, 1, "the workflow file is empty")
        expectFix(e, "muster init")
    }

    @Test
    func commentOnlyFileIsEmpty() throws {
        let e = try error("# nothing here\n")
        expectAt(e, 1, 1, "the workflow file is empty")
    }

    @Test
    func missingTasksIsRefused() throws {
        let e = try error("""
            name: demo
            agent: sim
            """)
        expectAt(e, 1, 1, "the workflow has no `tasks`")
        expectFix(e, "add a `tasks:` mapping")
    }

    @Test
    func emptyTasksIsRefused() throws {
        let e = try error("""
            name: demo
            tasks: {}
            """)
        expectAt(e, 2, 8, "`tasks` is empty")
        expectFix(e, "add at least one task")
    }

    @Test
    func taskIDThatIsNotASimpleNameIsRefused() throws {
        let e = try error("""
            tasks:
              "my task":
                command: [ls]
            """)
        expectAt(e, 2, 3, "task id `my task` is not a simple name")
        expectFix(e, "letters, digits")
    }

    @Test
    func badOnFailurePolicyIsRefused() throws {
        let e = try error("""
            on_failure: retry
            tasks:
              a:
                command: [ls]
            """)
        expectAt(e, 1, 13, "`on_failure` must be `stop` or `continue`")
    }

    @Test
    func concurrencyBelowOneIsRefused() throws {
        let e = try error("""
            concurrency: 0
            tasks:
              a:
                command: [ls]
            """)
        expectAt(e, 1, 14, "`concurrency` must be at least 1")
    }

    @Test
    func loadingAMissingFileSaysSo() {
        let path = NSTemporaryDirectory() + "/muster-no-such-\(UUID().uuidString).yml"
        let error = #expect(throws: SpecError.self) { try WorkflowLoader.load(path: path) }
        #expect(error?.message == "cannot read the workflow file")
        #expect(error?.file == path)
    }
}
