import Foundation
import Testing
@testable import MusterCore

/// `runs_on:` in the spec: labels a claimer must all have, kept sorted on every task a spec task
/// becomes (foreach items, a `foreach: from` fan-out); a bad label refused at its line and column.
@Suite("runs_on spec")
struct RunsOnSpecTests {
    @Test("runs_on reaches every planned task, sorted and without repeats; tasks without it need no label")
    func runsOnIsPlanned() throws {
        let plan = try SpecFixture.plan("""
            name: s
            tasks:
              train:
                runs_on: [gpu, big, gpu]
                command: [true]
              shard:
                foreach: {items: [a, b]}
                runs_on: gpu-2.x_y
                command: [echo, "{{item}}"]
              list:
                command: [echo, "[]"]
              fan:
                foreach: {from: list}
                runs_on: [arm64]
                command: [echo, "{{item}}"]
              plain:
                command: [true]
            """)
        let byID = Dictionary(uniqueKeysWithValues: plan.tasks.map { ($0.id, $0) })
        #expect(byID["train"]?.runsOn == ["big", "gpu"])
        #expect(plan.tasks.filter { $0.group == "shard" }.map(\.runsOn) == [["gpu-2.x_y"], ["gpu-2.x_y"]])
        #expect(byID["plain"]?.runsOn == [] && byID["list"]?.runsOn == [])
        // The stand-in expands on any claimer; the tasks it becomes carry the labels.
        let fan = try #require(byID["fan"])
        #expect(fan.runsOn == [] && fan.expands?.runsOn == ["arm64"])
        let expanded = try Planner.expand(try #require(fan.expands), items: [.string("x")], workflow: plan.workflow)
        #expect(expanded.map(\.runsOn) == [["arm64"]])
    }

    @Test("a stored task without runs_on (an older run) decodes with none")
    func olderSpecsDecode() throws {
        let task = PlannedTask(id: "a", group: "a", agent: "shell", command: Command(argv: ["true"]))
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(task)) as! [String: Any]
        json.removeValue(forKey: "runsOn")
        let decoded = try JSONDecoder().decode(PlannedTask.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(decoded.runsOn == [])
    }

    @Test(arguments: [
        ("[gpu, \"has space\"]", 4, 20, "`runs_on` label `has space` contains ` `"),
        ("[\"gpu/1\"]", 4, 15, "`runs_on` label `gpu/1` contains `/`"),
        ("[\"\"]", 4, 15, "`runs_on` label `` is empty"),
        ("[\"é\"]", 4, 15, "contains `é`"),
        ("[\"\(String(repeating: "a", count: 65))\"]", 4, 15, "is longer than 64 characters"),
    ])
    func badLabelsAreRefusedAtTheirLine(value: String, line: Int, column: Int, message: String) throws {
        let yaml = "name: s\ntasks:\n  a:\n    runs_on: \(value)\n    command: [true]\n"
        let error = try #require(SpecFixture.error(yaml), "\(value) was accepted")
        #expect(error.location == SourceLocation(line: line, column: column), "\(error)")
        #expect(error.description.hasPrefix("wf.yml:\(line):\(column): error: "), "\(error)")
        #expect(error.message.contains(message), "\(error)")
        #expect(error.fix?.contains("--labels gpu") == true, "\(error)")
    }

    @Test("runs_on must be a list of text, and its key is spelled out when mistyped")
    func wrongShapes() throws {
        let mapping = try #require(SpecFixture.error("name: s\ntasks:\n  a:\n    runs_on: {gpu: true}\n    command: [true]\n"))
        #expect(mapping.location.line == 4 && mapping.message.contains("`runs_on` must be a list of text"), "\(mapping)")
        let typo = try #require(SpecFixture.error("name: s\ntasks:\n  a:\n    run_on: [gpu]\n    command: [true]\n"))
        #expect(typo.message.contains("unknown key `run_on`") && typo.fix == "did you mean `runs_on`?", "\(typo)")
    }

    @Test("command-line labels: comma-separated, each checked")
    func commaSeparated() throws {
        #expect(try Labels.parse(commaSeparated: "gpu, big,gpu").get() == ["gpu", "big"])
        guard case .failure(let error) = Labels.parse(commaSeparated: "gpu,,big") else { Issue.record("an empty label was accepted"); return }
        #expect(error.description.contains("is empty"), "\(error)")
        guard case .failure(let bad) = Labels.parse(commaSeparated: "gpu;rm") else { Issue.record("`;` was accepted"); return }
        #expect(bad.description == "'gpu;rm' is not a label: it contains `;` (use letters, digits, `-`, `_` and `.`)", "\(bad)")
    }
}
