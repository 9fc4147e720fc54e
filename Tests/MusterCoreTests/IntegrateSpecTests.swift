import Foundation
import Testing
@testable import MusterCore

/// `integrate: {check: …, batch: N}` in the spec: loaded, refused with line:col.
@Suite("Integrate spec")
struct IntegrateSpecTests {
    @Test("integrate: check and batch are read; a spec without one has none")
    func loads() throws {
        let loaded = try SpecFixture.load("name: s\nintegrate: {check: \"swift build\", batch: 4}\ntasks:\n  a:\n    command: [true]\n")
        #expect(loaded.workflow.integrate == IntegrateSpec(check: "swift build", batch: 4))
        let plain = try SpecFixture.load("name: s\ntasks:\n  a:\n    command: [true]\n")
        #expect(plain.workflow.integrate == nil)
    }

    @Test("a bad integrate: is refused at its line and column")
    func refuses() throws {
        let empty = try #require(SpecFixture.error("name: s\nintegrate:\n  check: \"  \"\ntasks:\n  a:\n    command: [true]\n"))
        #expect(empty.description.hasPrefix("wf.yml:3:10: error: `integrate.check` is empty"), "\(empty)")
        let batch = try #require(SpecFixture.error("name: s\nintegrate:\n  check: make\n  batch: 0\ntasks:\n  a:\n    command: [true]\n"))
        #expect(batch.description.hasPrefix("wf.yml:4:10: error: `integrate.batch` must be at least 1"), "\(batch)")
        let unknown = try #require(SpecFixture.error("name: s\nintegrate:\n  chek: make\ntasks:\n  a:\n    command: [true]\n"))
        #expect(unknown.description.hasPrefix("wf.yml:3:3:"), "\(unknown)")
        #expect(unknown.description.contains("chek"), "\(unknown)")
        let list = try #require(SpecFixture.error("name: s\nintegrate: [make]\ntasks:\n  a:\n    command: [true]\n"))
        #expect(list.description.hasPrefix("wf.yml:2:12: error: `integrate` must be a mapping"), "\(list)")
    }
}
