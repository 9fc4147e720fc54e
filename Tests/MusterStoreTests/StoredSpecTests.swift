import Foundation
import MusterCore
import Testing
@testable import MusterStore

/// The form a store keeps a task's spec in: defaults left out, every field back on decoding, and
/// specs stored in full by earlier versions still read.
@Suite struct StoredSpecTests {
    static let plain = PlannedTask(id: "t1", group: "t", agent: "shell", command: Command(argv: ["true"]))

    /// Every field away from its default, so each one must be written.
    static var full: PlannedTask {
        var task = PlannedTask(id: "a", group: "g", item: .string("x"), agent: "claude", model: "m", prompt: "p",
                               command: Command(argv: ["sh", "-c", "x"], viaShell: true), needs: ["n"], owns: ["o/**"],
                               env: ["K": "V"], timeout: .seconds(5), stallTimeout: .seconds(3), retries: 2,
                               estimate: Estimate(minutes: 1), kind: .implementation, after: ["b"], isolation: .none,
                               uses: ["api"], parent: "lead", depth: 1, join: true)
        task.modelIsDefault = true
        task.allowDenials = true
        task.mcp = false
        task.sandbox = SandboxMode.none
        task.writable = ["/tmp/w"]
        task.runsOn = ["gpu"]
        return task
    }

    @Test func theStoredFormLeavesDefaultsOutAndDecodesBackEqual() throws {
        let stored = try StoredSpec.encode(Self.plain)
        #expect(stored == #"{"agent":"shell","command":{"argv":["true"],"viaShell":false},"group":"t","id":"t1"}"#)
        #expect(try StoredSpec.decode(stored, task: "t1") == Self.plain)
        let full = try StoredSpec.encode(Self.full)
        #expect(try StoredSpec.decode(full, task: "a") == Self.full)
        let everyField = try Self.keys(String(decoding: JSONEncoder().encode(Self.full), as: UTF8.self))
        #expect(try Self.keys(full) == everyField, "a field away from its default was left out")
    }

    static func keys(_ json: String) throws -> Set<String> {
        Set(try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]).keys)
    }

    /// What `--json` and every other encoder writes keeps every field.
    @Test func otherEncodingsKeepEveryField() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let text = String(decoding: try encoder.encode(Self.plain), as: UTF8.self)
        for field in [#""needs":[]"#, #""mcp":true"#, #""retries":0"#, #""kind":"exploration""#, #""isolation":"worktree""#] {
            #expect(text.contains(field), "\(field) missing from \(text)")
        }
    }

    /// A spec as muster stored it before the stored form left defaults out.
    @Test func aSpecStoredInFullStillDecodes() throws {
        let old = """
            {"after":[],"agent":"shell","allowDenials":false,"command":{"argv":["true"],"viaShell":false},"depth":0,"env":{},\
            "group":"t","id":"t1","isolation":"worktree","join":false,"kind":"exploration","mcp":true,"modelIsDefault":false,\
            "needs":[],"owns":[],"retries":0,"runsOn":[],"uses":[],"writable":[]}
            """
        #expect(try StoredSpec.decode(old, task: "t1") == Self.plain)
    }
}
