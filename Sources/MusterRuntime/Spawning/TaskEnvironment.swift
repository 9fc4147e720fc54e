import Foundation

/// The run and task a process runs inside: every task muster starts gets `MUSTER_RUN` and
/// `MUSTER_TASK_ID`. An empty variable counts as unset (a test or a script clearing them).
public struct TaskEnvironment: Sendable, Equatable {
    public static let runVariable = "MUSTER_RUN"
    public static let taskVariable = "MUSTER_TASK_ID"

    public var run: String?
    public var task: String?

    public init(_ environment: [String: String] = ProcessInfo.processInfo.environment) {
        run = environment[Self.runVariable].flatMap { $0.isEmpty ? nil : $0 }
        task = environment[Self.taskVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The task it runs inside when that task belongs to `run` (a command about another run is not "inside" it).
    public func task(of run: String) -> String? { self.run == run ? task : nil }
}
