import Foundation
import Testing
@testable import MusterCore

/// Spec keys of dynamic workflows, and the glob containment behind "a child owns a subset of its parent".
struct SpawnSpecTests {
    private func covers(_ parents: [String], _ child: String) throws -> Bool {
        Glob.covers(try parents.map { try Glob($0) }, try Glob(child))
    }

    @Test(arguments: [
        (["src/**"], "src/a.swift"), (["src/**"], "src/a/**"), (["src/**"], "src/*/x.swift"), (["src"], "src/a/b"),
        (["src/*.swift"], "src/a.swift"), (["src/*.swift"], "src/*.swift"), (["src/*"], "src/*.swift"),
        (["**"], "anything/at/all"), (["docs/a.md", "src/**"], "docs/a.md"), (["src/**/*.swift"], "src/a/b.swift"),
        (["src/**/*.swift"], "src/**/*.swift"), (["a/**/b"], "a/x/**/b"), (["src/{a,b}"], "src/a"),
    ])
    func childInsideParent(_ parents: [String], _ child: String) throws {
        #expect(try covers(parents, child), "\(child) is inside \(parents)")
    }

    @Test(arguments: [
        (["src/**"], "lib/a"), (["src/**"], "**"), (["src/a"], "src"), (["src/*.swift"], "src/a.md"),
        (["src/*.swift"], "src/**"), (["src/*.swift"], "src/*"), (["src/*"], "lib/a") as ([String], String),
        (["docs/a.md"], "docs/*.md"), (["src/**/*.swift"], "src/**"), ([], "a"), (["a/*/b"], "a/**/b"),
    ])
    func childOutsideParent(_ parents: [String], _ child: String) throws {
        #expect(try !covers(parents, child), "\(child) reaches outside \(parents)")
    }

    @Test
    func dynamicKeysLoad() throws {
        let loaded = try SpecFixture.load("""
            name: dyn
            max_depth: 3
            summary_chars: 500
            tasks:
              planner: {command: [true]}
              collect:
                needs: [planner]
                join: true
                command: [true]
            """)
        #expect(loaded.workflow.maxDepth == 3)
        #expect(loaded.workflow.spawnDepthLimit == 3)
        #expect(loaded.workflow.summaryChars == 500)
        #expect(loaded.workflow.task("collect")?.join == true)
        let plan = try SpecFixture.plan("""
            name: dyn
            tasks:
              planner: {command: [true]}
              collect: {needs: [planner], join: true, command: [true]}
            """)
        #expect(plan.tasks.first { $0.id == "collect" }?.join == true)
        #expect(plan.tasks.first { $0.id == "planner" }?.join == false)
        #expect(try SpecFixture.load("name: x\ntasks:\n  a: {command: [true]}\n").workflow.spawnDepthLimit == 2)
    }

    @Test
    func badDynamicKeysAreRefusedWithLineAndFix() throws {
        let join = try #require(SpecFixture.error("name: x\ntasks:\n  a:\n    join: true\n    command: [true]\n"))
        #expect(join.location.line == 4 && join.message.contains("needs nothing") && join.fix?.contains("needs") == true, "\(join)")
        let notBool = try #require(SpecFixture.error("name: x\ntasks:\n  a: {command: [true]}\n  b:\n    needs: [a]\n    join: always\n    command: [true]\n"))
        #expect(notBool.location.line == 6 && notBool.message.contains("true or false"), "\(notBool)")
        let depth = try #require(SpecFixture.error("name: x\nmax_depth: -1\ntasks:\n  a: {command: [true]}\n"))
        #expect(depth.location.line == 2 && depth.message.contains("max_depth"), "\(depth)")
        let chars = try #require(SpecFixture.error("name: x\nsummary_chars: lots\ntasks:\n  a: {command: [true]}\n"))
        #expect(chars.location.line == 2 && chars.message.contains("summary_chars"), "\(chars)")
    }
}
