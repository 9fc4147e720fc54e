import Foundation
import MusterCore
import MusterStore

/// Records a planned run in the Store: after this, every task is durable and the run can be
/// executed, resumed after a crash, or cancelled.
public enum RunFactory {
    public static func newRunID(for workflow: String) -> String {
        var slug = String(workflow.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }.prefix(24))
        while slug.contains("--") { slug = slug.replacingOccurrences(of: "--", with: "-") }
        slug = slug.trimmingCharacters(in: CharacterSet(charactersIn: "-"))
        let suffix = String(format: "%06x", UInt32.random(in: 0..<0x100_0000))
        return (slug.isEmpty ? "run" : slug) + "-" + suffix
    }

    @discardableResult
    public static func create(plan: Plan, specPath: String, workspace: Workspace, store: any Store,
                              concurrency: Int, simulate: Bool, id: String? = nil, now: Date = Date()) async throws -> String {
        let runID = id ?? newRunID(for: plan.workflow.name)
        try await store.createRun(NewRun(id: runID, workflow: plan.workflow, specPath: specPath, root: workspace.root.path,
                                         concurrency: concurrency, simulate: simulate, createdAt: now), tasks: plan.tasks)
        return runID
    }
}
