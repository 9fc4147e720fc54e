import Foundation
import Testing
@testable import MusterCore

struct GlobTests {
    private func glob(_ pattern: String) -> Glob {
        do { return try Glob(pattern) } catch { fatalError("\(pattern): \(error)") }
    }

    private func overlap(_ a: String, _ b: String) -> Bool {
        let x = glob(a), y = glob(b)
        let result = x.overlaps(y)
        // Overlap is symmetric; check both directions every time.
        #expect(result == y.overlaps(x), "asymmetric overlap: \(a) vs \(b)")
        return result
    }

    @Test
    func normalisesPattern() {
        #expect(glob("./Sources//App/").pattern == "Sources/App/")
        #expect(glob("Sources/./App").pattern == "Sources/App")
        #expect(glob("././a").description == "a")
        #expect(glob("Sources/App/").directoriesOnly)
        #expect(!glob("Sources/App").directoriesOnly)
        #expect(glob("./a//b") == glob("a/b"))
    }

    @Test
    func rejectsInvalidPatterns() {
        #expect(throws: GlobError.empty) { try Glob("") }
        #expect(throws: GlobError.empty) { try Glob("./") }
        #expect(throws: GlobError.absolute("/etc/x")) { try Glob("/etc/x") }
        #expect(throws: GlobError.absolute("~/x")) { try Glob("~/x") }
        #expect(throws: GlobError.leavesRepository("../x")) { try Glob("../x") }
        #expect(throws: GlobError.leavesRepository("a/../../b")) { try Glob("a/../../b") }
        #expect(throws: GlobError.malformed("src/[ab.c", reason: "unclosed \"[\"")) { try Glob("src/[ab.c") }
        #expect(throws: GlobError.malformed("{a,b/x", reason: "unclosed \"{\"")) { try Glob("{a,b/x") }
        #expect(throws: GlobError.malformed("a}", reason: "unmatched \"}\"")) { try Glob("a}") }
        #expect(throws: GlobError.malformed("a\\", reason: "\"\\\" at the end of a segment")) { try Glob("a\\") }
        #expect(throws: GlobError.malformed("[z-a]", reason: "reversed range \"z-a\"")) { try Glob("[z-a]") }
        #expect(GlobError.leavesRepository("../x").description
            == "owns glob \"../x\" leaves the repository: use a path relative to the repository root, without \"..\"")
        #expect((try? Glob("a/..b/c")) != nil)  // only a whole ".." segment leaves the repository
    }

    @Test
    func matchesWildcards() {
        #expect(glob("*.swift").matchesExactly("main.swift"))
        #expect(glob("*.swift").matchesExactly(".swift"))
        #expect(!glob("*.swift").matchesExactly("a/main.swift"))
        #expect(glob("?.c").matchesExactly("a.c"))
        #expect(!glob("?.c").matchesExactly("ab.c"))
        #expect(glob("[ab]*.c").matchesExactly("b1.c"))
        #expect(!glob("[ab]*.c").matchesExactly("c1.c"))
        #expect(glob("[a-c]x").matchesExactly("bx"))
        #expect(glob("[!a-c]x").matchesExactly("dx"))
        #expect(!glob("[^a-c]x").matchesExactly("ax"))
        #expect(glob("[]]").matchesExactly("]"))
        #expect(glob("*.{swift,md}").matchesExactly("README.md"))
        #expect(!glob("*.{swift,md}").matchesExactly("README.txt"))
        #expect(glob("{a*,b?}/x").matchesExactly("bc/x"))
        #expect(glob("{a,{b,c}d}").matchesExactly("cd"))
        #expect(glob("\\*").matchesExactly("*"))
        #expect(!glob("\\*").matchesExactly("x"))
        #expect(glob("a**b").matchesExactly("axyb"))
        #expect(!glob("a**b").matchesExactly("ax/yb"))
        #expect(glob("Sources/App/").matchesExactly("Sources/App"))
        #expect(glob("Sources/App").matchesExactly("Sources/App/"))
    }

    @Test
    func matchesGlobstar() {
        let pattern = glob("Sources/**/x.swift")
        #expect(pattern.matchesExactly("Sources/x.swift"))
        #expect(pattern.matchesExactly("Sources/a/b/x.swift"))
        #expect(!pattern.matchesExactly("Tests/x.swift"))
        #expect(glob("**").matches("any/thing/at/all"))
        #expect(glob("**/*.swift").matchesExactly("a.swift"))
        #expect(glob("**/*.swift").matchesExactly("a/b/c.swift"))
        #expect(glob("x/**").matchesExactly("x"))
    }

    @Test
    func ownsEverythingBeneath() {
        #expect(glob("Sources/App").matches("Sources/App/x.swift"))
        #expect(glob("Sources/App").matches("Sources/App/a/b.c"))
        #expect(!glob("Sources/App").matches("Sources/Apple/x.swift"))
        #expect(!glob("Sources/App").matchesExactly("Sources/App/x.swift"))
        #expect(glob("*.md").matches("README.md"))
        #expect(glob("*.md").matches("README.md/x"))
        #expect(!glob("*.md").matches("docs/a.md"))
        #expect(glob("docs").matches("docs/a.md"))
        #expect(!glob("docs/a.md").matches("docs"))
        #expect(!glob("a").matches(""))
    }

    @Test
    func overlapsWhenSomePathIsShared() {
        #expect(overlap("Sources/**", "Sources/App/*.swift"))
        #expect(overlap("Sources/App", "Sources/App/x.swift"))
        #expect(overlap("Sources/*/A.swift", "Sources/App/*.swift"))
        #expect(overlap("src/[ab]*.c", "src/b?.c"))
        #expect(overlap("{a,b}/x", "b/*"))
        #expect(overlap("**/*.swift", "Tests/T.swift"))
        #expect(overlap("x/**/y", "x/a/b/y/z"))
        #expect(overlap("x/**/y", "x/a/b/z"))  // x/a/b/z owns x/a/b/z/y
        #expect(overlap("**", "a"))
        #expect(overlap("*", "a/b/c"))
        #expect(overlap("[!a]", "[!b]"))
        #expect(overlap("a/*/c/**", "**/b/*"))
        #expect(overlap("Sources/App/", "Sources/App"))
    }

    @Test
    func disjointPatternsDoNotOverlap() {
        #expect(!overlap("*.md", "*.swift"))
        #expect(!overlap("a/*.swift", "b/*.swift"))
        #expect(!overlap("src/[ab]*.c", "src/c*.c"))
        #expect(!overlap("{a,b}/x", "c/*"))
        #expect(!overlap("Sources/App", "Sources/Apple"))
        #expect(!overlap("x/**/y", "y/**"))
        #expect(!overlap("?", "??"))
        #expect(!overlap("[a-m]*", "[n-z]*"))
        #expect(!overlap("[!a]", "a"))
        #expect(!overlap("a/{,}", "a/*"))  // "{,}" matches only the empty name, and names are never empty
        #expect(!overlap("*.{c,h}", "*.{swift,md}"))
    }

    @Test
    func roundTripsThroughCodable() throws {
        let original = [glob("./Sources//**/*.swift"), glob("docs/")]
        let data = try JSONEncoder().encode(original)
        #expect(String(decoding: data, as: UTF8.self) == #"["Sources\/**\/*.swift","docs\/"]"#)
        #expect(try JSONDecoder().decode([Glob].self, from: data) == original)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Glob].self, from: Data(#"["../x"]"#.utf8)) }
        #expect(Set([glob("a//b"), glob("a/b")]).count == 1)
    }

    @Test
    func expandsAgainstATree() throws {
        let fm = FileManager.default
        let root = URL(fileURLWithPath: NSTemporaryDirectory())
            .appendingPathComponent("muster-glob-\(UUID().uuidString)")
        defer { try? fm.removeItem(at: root) }
        for file in ["README.md", "Sources/App/main.swift", "Sources/App/util/Helpers.swift", "Sources/App/notes.md",
                     "Sources/Lib/Lib.swift", "Tests/AppTests/T.swift", ".git/config.swift", ".muster/x.swift",
                     "Outside/secret.swift"] {
            let url = root.appendingPathComponent(file)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x".utf8).write(to: url)
        }
        try fm.createSymbolicLink(at: root.appendingPathComponent("Sources/Link"),
                                  withDestinationURL: root.appendingPathComponent("Outside"))

        func expand(_ pattern: String) throws -> [String] { try GlobExpander.expand(glob(pattern), under: root) }

        #expect(try expand("**/*.swift") == ["Outside/secret.swift", "Sources/App/main.swift",
                                             "Sources/App/util/Helpers.swift", "Sources/Lib/Lib.swift",
                                             "Tests/AppTests/T.swift"])
        #expect(try expand("Sources/App/*.swift") == ["Sources/App/main.swift"])
        #expect(try expand("Sources/App/**") == ["Sources/App", "Sources/App/main.swift", "Sources/App/notes.md",
                                                 "Sources/App/util", "Sources/App/util/Helpers.swift"])
        #expect(try expand("Sources/*/") == ["Sources/App", "Sources/Lib"])  // the symlink is not a directory
        #expect(try expand("Sources/*") == ["Sources/App", "Sources/Lib", "Sources/Link"])
        #expect(try expand("*.md") == ["README.md"])
        #expect(try expand("Sources/App") == ["Sources/App"])
        #expect(try expand("Sources/App/missing.swift") == [])
        #expect(try expand("README.md/") == [])
        #expect(try expand("{Sources,Tests}/*/[mT]*.swift") == ["Sources/App/main.swift", "Tests/AppTests/T.swift"])
        #expect(try expand("Sources/Link/*") == [])
        #expect(try expand("**/.git/**").isEmpty)
        #expect(throws: (any Error).self) { try GlobExpander.expand(glob("*"), under: root.appendingPathComponent("nope")) }
    }
}
