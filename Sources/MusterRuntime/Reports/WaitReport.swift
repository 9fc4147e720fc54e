import Foundation
import MusterStore

/// One task `muster wait --json` waited for.
public struct WaitReport: Codable, Sendable {
    public var id, state: String
    @Nullable public var summary: String?
    @Nullable public var resultPath: String?
    @Nullable public var error: String?

    enum CodingKeys: String, CodingKey { case id, state, summary, resultPath = "result_path", error }

    public init(_ task: TaskRecord) {
        id = task.id
        state = task.state.rawValue
        summary = task.summary
        resultPath = task.resultPath
        error = task.error
    }
}

/// One child `muster spawn --json` asked for: its id, and whether an earlier identical one took it in.
public struct SpawnReport: Codable, Sendable {
    public var id: String
    public var folded: Bool

    public init(id: String, folded: Bool) {
        self.id = id
        self.folded = folded
    }
}
