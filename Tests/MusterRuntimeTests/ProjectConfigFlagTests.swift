import Foundation
import MusterCore
import Testing
@testable import MusterRuntime

/// Booleans in muster.toml's agent profiles (`mcp = false`): TOML's own true and false are taken;
/// text, numbers and lists there are refused with the file, line, column and a fix.
@Suite struct ProjectConfigFlagTests {
    static func profile(_ body: String) throws(SpecError) -> AgentProfile? {
        try ProjectConfig.parse("[agents.quiet]\nbase = \"claude\"\n" + body, file: "muster.toml").profiles["quiet"]
    }

    static func error(_ body: String) -> SpecError? {
        do {
            _ = try profile(body)
            return nil
        } catch {
            return error
        }
    }

    @Test func mcpFalseAndTrueAreTOMLBooleans() throws {
        #expect(try Self.profile("mcp = false\n")?.mcp == false)
        #expect(try Self.profile("mcp = true\n")?.mcp == true)
        #expect(try Self.profile("")?.mcp == nil, "left out: the default (on)")
        let inline = try ProjectConfig.parse("[agents]\nquiet = { base = \"claude\", mcp = false }\n", file: "muster.toml")
        #expect(inline.profiles["quiet"]?.mcp == false)
    }

    @Test(arguments: ["mcp = \"false\"", "mcp = 0", "mcp = [false]", "mcp = { on = false }"])
    func anMCPThatIsNotABooleanIsRefusedAtItsLine(_ line: String) throws {
        let error = try #require(Self.error(line + "\n"), "\(line) was accepted")
        #expect(error.file == "muster.toml")
        #expect(error.location.line == 3 && error.location.column == 7, "\(error.description)")
        #expect(error.message == "`mcp` of agent `quiet` must be true or false", "\(error.description)")
        #expect(error.fix?.contains("mcp = false") == true, "\(error.description)")
    }

    @Test func aBooleanWhereTextIsWantedIsRefused() throws {
        let error = try #require(Self.error("model = true\n"))
        #expect(error.message == "`model` of agent `quiet` must be text" && error.location.line == 3, "\(error.description)")
        let list = try #require(Self.error("args = true\n"))
        #expect(list.message.contains("must be a list of text"), "\(list.description)")
    }
}
