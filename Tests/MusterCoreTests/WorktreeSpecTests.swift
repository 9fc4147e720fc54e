import Foundation
import Testing
@testable import MusterCore

/// `worktree: {copy, link, setup}` in the spec: loaded, refused with line:col.
@Suite("Worktree spec")
struct WorktreeSpecTests {
    @Test("worktree: copy, link and setup are read; single strings are one-element lists")
    func loads() throws {
        let loaded = try SpecFixture.load("""
            name: s
            worktree:
              copy: [.env, "config/local.*"]
              link: node_modules
              setup: ["make deps"]
            tasks:
              a:
                command: [true]
            """)
        #expect(loaded.workflow.worktree == WorktreeSpec(copy: [".env", "config/local.*"], link: ["node_modules"], setup: ["make deps"]))
        #expect(loaded.workflow.worktree?.placed == [".env", "config/local.*", "node_modules"])
    }

    @Test("paths that leave the repository or reach .git are refused at their own line and column")
    func refuses() throws {
        let cases: [(String, String)] = [
            ("copy: [.env, ../up]", "wf.yml:3:16: error: `worktree.copy` path \"../up\" must be a plain relative path"),
            ("link: [/abs]", "wf.yml:3:10: error: `worktree.link` path \"/abs\" is not relative to the repository"),
            ("copy: [.git/config]", "wf.yml:3:10: error: `worktree.copy` path \".git/config\" is inside `.git`"),
            ("copy: [\"a*/b\"]", "wf.yml:3:10: error: `worktree.copy` path \"a*/b\" may have a wildcard in its last part only"),
            ("setup: [\" \"]", "wf.yml:3:11: error: `worktree.setup` command is empty"),
            ("sync: [a]", "wf.yml:3:3:"),
        ]
        for (line, expected) in cases {
            let error = try #require(SpecFixture.error("name: s\nworktree:\n  \(line)\ntasks:\n  a:\n    command: [true]\n"), "\(line)")
            #expect(error.description.hasPrefix(expected), "\(line): \(error)")
        }
    }
}
