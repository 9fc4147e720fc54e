import Foundation
import MusterCore
import Testing
@testable import MusterRuntime

/// The spawn.json format: what it accepts, and a clear refusal for everything else.
struct SpawnFileTests {
    func parse(_ json: String) throws(SpawnRequestError) -> [SpawnRequest] { try SpawnFile.parse(Data(json.utf8)) }

    func refusal(_ json: String) -> String? {
        do { _ = try parse(json); return nil } catch { return error.description }
    }

    @Test
    func readsEveryKey() throws {
        let requests = try parse("""
            [{"id": "a1", "prompt": "fix a", "agent": "claude", "model": "claude-sonnet-4-5", "owns": ["src/a/**"],
              "needs": ["scan"], "env": {"X": "1"}, "retries": 2, "timeout": "10m",
              "estimate": {"minutes": 3, "input_tokens": 1000, "output_tokens": 200}},
             {"command": "make 'a b'"}, {"command": "make a && make b", "shell": true}, {"command": ["ls", "-l"], "owns": "docs"}]
            """)
        #expect(requests.count == 4)
        #expect(requests[0] == SpawnRequest(id: "a1", prompt: "fix a", agent: "claude", model: "claude-sonnet-4-5", owns: ["src/a/**"],
                                            needs: ["scan"], env: ["X": "1"], retries: 2, timeout: .seconds(600),
                                            estimate: Estimate(minutes: 3, inputTokens: 1000, outputTokens: 200)))
        #expect(requests[1].command == Command(argv: ["make", "a b"]))
        #expect(requests[2].command == Command(argv: ["make a && make b"], viaShell: true))
        #expect(requests[3].command == Command(argv: ["ls", "-l"]) && requests[3].owns == ["docs"])
    }

    @Test(arguments: [
        ("{\"prompt\": \"x\"}", "must hold a JSON list"),
        ("[{\"prompt\": \"x\", \"own\": [\"a\"]}]", "unknown key `own`; did you mean `owns`?"),
        ("[1]", "entry 1 is not an object"),
        ("[{\"prompt\": 3}]", "`prompt` must be text"),
        ("[{\"command\": []}]", "non-empty argv"),
        ("[{\"command\": \"a 'b\"}]", "unclosed quote"),
        ("[{\"retries\": -1}]", "`retries` must be a whole number"),
        ("[{\"timeout\": \"soon\"}]", "`timeout` must be a duration"),
        ("[{\"estimate\": {\"hours\": 1}}]", "`estimate` takes minutes"),
        ("[{\"prompt\": \"x\"}, {\"prompt\": \"y\", \"env\": {\"A\": 1}}]", "entry 2: `env` must map names to text"),
        ("[{\"prompt\": \"x\"", "not valid JSON"),
    ])
    func refusesMalformedEntries(_ json: String, _ expected: String) {
        let message = refusal(json)
        #expect(message?.contains(expected) == true, "\(String(describing: message))")
    }

    @Test
    func refusesOversizeFilesAndTooManyEntries() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("spawnfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let big = folder.appendingPathComponent("spawn.json")
        try Data(("[{\"prompt\": \"" + String(repeating: "x", count: SpawnFile.maxBytes) + "\"}]").utf8).write(to: big)
        #expect(throws: SpawnRequestError.self) { try SpawnFile.read(path: big.path) }
        do { _ = try SpawnFile.read(path: big.path) } catch { #expect(error.description.contains("over the"), "\(error)") }
        let many = "[" + Array(repeating: "{\"prompt\": \"x\"}", count: SpawnFile.maxEntries + 1).joined(separator: ",") + "]"
        #expect(refusal(many)?.contains("over the limit of \(SpawnFile.maxEntries)") == true)
    }

    @Test
    func childInheritsParentAgentModelAndIsolation() throws {
        let parent = PlannedTask(id: "p", group: "p", agent: "claude", model: "claude-opus-4-8", prompt: "plan", owns: ["src/**"],
                                 isolation: .none)
        let child = try SpawnRequest(prompt: "do a", owns: ["src/a"], needs: ["q"]).plannedTask(parent: parent)
        #expect(child.agent == "claude" && child.model == "claude-opus-4-8" && child.isolation == .none)
        #expect(child.after == ["q"] && child.needs.isEmpty && child.kind == .implementation && child.id.isEmpty)
        let shell = SpawnRequest(agent: "shell")
        #expect(throws: SpawnRequestError.self) { try shell.plannedTask(parent: parent) }
        #expect(throws: SpawnRequestError.self) { try SpawnRequest(id: "../x", prompt: "y").plannedTask(parent: parent) }
    }

    @Test
    func childUsesTheParentsLimitsUnlessItNamesDeclaredOnes() throws {
        let parent = PlannedTask(id: "p", group: "p", agent: "claude", prompt: "plan", uses: ["anthropic"])
        let declared: Set<String> = ["anthropic", "postgres"]
        #expect(try SpawnRequest(prompt: "a").plannedTask(parent: parent, limits: declared).uses == ["anthropic"])
        #expect(try SpawnRequest(prompt: "a", uses: ["postgres", "anthropic"]).plannedTask(parent: parent, limits: declared).uses
                == ["anthropic", "postgres"])
        #expect(try SpawnRequest(prompt: "a", uses: []).plannedTask(parent: parent, limits: declared).uses.isEmpty)
        do {
            _ = try SpawnRequest(prompt: "a", uses: ["postgress"]).plannedTask(parent: parent, limits: declared)
            Issue.record("an undeclared limit key was accepted")
        } catch {
            #expect(error.description.contains("did you mean postgres?"), "\(error)")
        }
        #expect(try SpawnFile.parse(Data(#"[{"prompt": "x", "uses": ["postgres"]}]"#.utf8))[0].uses == ["postgres"])
    }
}
