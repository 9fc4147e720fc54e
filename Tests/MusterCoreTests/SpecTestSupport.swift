import Foundation
import Testing
@testable import MusterCore

/// Shared helpers for the spec, planner and estimate tests.
enum SpecFixture {
    static let file = "wf.yml"

    static func load(_ yaml: String) throws -> LoadedWorkflow {
        try WorkflowLoader.parse(yaml, file: file)
    }

    /// The error the loader reports for `yaml`, or nil when it loads.
    static func error(_ yaml: String) -> SpecError? {
        do {
            _ = try WorkflowLoader.parse(yaml, file: file)
            return nil
        } catch {
            return error
        }
    }

    /// A folder nobody else uses; plans that do not glob only need it to exist.
    static var scratchRoot: URL { URL(fileURLWithPath: NSTemporaryDirectory()) }

    static func plan(_ yaml: String, concurrency: Int? = nil, root: URL = scratchRoot,
                     prices: PriceTable = .defaults) throws -> Plan {
        try Planner.plan(load(yaml), root: root, concurrency: concurrency, prices: prices)
    }

    /// The error planning `yaml` reports (the spec itself must load).
    static func planError(_ yaml: String, root: URL = scratchRoot) throws -> SpecError? {
        let loaded = try load(yaml)
        do {
            _ = try Planner.plan(loaded, root: root)
            return nil
        } catch {
            return error
        }
    }

    /// Makes a fresh temporary directory holding `directories` and `files` (repository-relative).
    static func makeTree(directories: [String], files: [String] = []) throws -> URL {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("muster-core-tests-\(UUID().uuidString)", isDirectory: true)
        for directory in directories {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(directory, isDirectory: true),
                                                    withIntermediateDirectories: true)
        }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        for file in files {
            let url = root.appendingPathComponent(file)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("x\n".utf8).write(to: url)
        }
        return root
    }
}
