import Foundation
import Testing
@testable import MusterCore

/// A seeded fuzz corpus (issue 11, item 7): 2,400 mutations of the README's example spec, each
/// loaded and planned in-process. None may crash or hang, and every refusal is a SpecError naming
/// file:line:column.
struct SpecFuzzTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md")

    @Test func theReadmeSpecItselfPlans() throws {
        let root = try SpecFixture.makeTree(directories: ["Sources/A", "Sources/B"])
        defer { try? FileManager.default.removeItem(at: root) }
        let plan = try SpecFixture.plan(try SpecMutator.readmeSpec(readme: Self.readme), root: root)
        #expect(plan.tasks.count == 3)
    }

    @Test func mutantsOfTheReadmeSpecNeverCrashAndFailOnlyWithALocation() throws {
        let root = try SpecFixture.makeTree(directories: ["Sources/A", "Sources/B"])
        defer { try? FileManager.default.removeItem(at: root) }
        var mutator = SpecMutator(source: try SpecMutator.readmeSpec(readme: Self.readme), seed: 0x6D75_7374_6572)
        var planned = 0, refused = 0
        for index in 0..<2_400 {
            let text = String(decoding: mutator.next(), as: UTF8.self)
            do {
                _ = try Planner.plan(try WorkflowLoader.parse(text, file: "wf.yml"), root: root)
                planned += 1
            } catch {
                refused += 1
                let prefix = "wf.yml:\(error.location.line):\(error.location.column): error: "
                #expect(error.location.line >= 1 && error.location.column >= 1, "mutant \(index): \(error)")
                #expect(error.description.hasPrefix(prefix) && !error.message.isEmpty, "mutant \(index): \(error)")
                #expect(!error.description.contains("\n"), "mutant \(index): more than one line: \(error)")
            }
        }
        // Both outcomes must be exercised, or the corpus tests nothing.
        #expect(planned > 100 && refused > 100, "planned \(planned), refused \(refused)")
    }

    @Test(arguments: [
        ("estimate: {minutes: .inf}", "`estimate.minutes` is too large"),
        ("estimate: {minutes: 1e300}", "`estimate.minutes` is too large"),
        ("estimate: {minutes: .nan}", "`estimate.minutes` must be a number"),
        ("estimate: {input_tokens: 9223372036854775807}", "`estimate.input_tokens` is too large"),
        ("estimate: {input_tokens: 9223372036854775808}", "`estimate.input_tokens` is too large"),
        ("estimate: {output_tokens: 18446744073709551616}", "`estimate.output_tokens` is too large"),
        ("retries: 9223372036854775807", "`retries` is too large"),
    ])
    func overflowingNumbersAreErrorsWithALocation(_ line: String, _ message: String) throws {
        let yaml = """
            name: big
            tasks:
              a:
                command: [echo]
                \(line)
            """
        let error = try #require(SpecFixture.error(yaml))
        #expect(error.location.line == 5, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    @Test func hugeBudgetAndConcurrencyAreRefused() throws {
        let budget = try #require(SpecFixture.error("name: b\nbudget: {usd: 1e300}\ntasks:\n  a:\n    command: [echo]\n"))
        #expect(budget.location.line == 2 && budget.message.contains("too large"), "\(budget)")
        let slots = try #require(SpecFixture.error("name: b\nconcurrency: 9223372036854775807\ntasks:\n  a:\n    command: [echo]\n"))
        #expect(slots.location.line == 2 && slots.message.contains("too large"), "\(slots)")
    }
}
