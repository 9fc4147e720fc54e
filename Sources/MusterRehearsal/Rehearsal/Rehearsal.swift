import Foundation
import MusterRuntime

/// `muster run --rehearse`: a model stub for the run, and the environment overlay that points
/// every agent task at its own conversation on it (the task's folder and `owns` registered, so
/// the default script writes one small file inside them).
public final class Rehearsal: Sendable {
    public let stub: ModelStub

    public static func start(script: StubScript = StubScript()) async throws -> Rehearsal {
        Rehearsal(stub: try await ModelStub.start(port: 0, script: script))
    }

    init(stub: ModelStub) { self.stub = stub }

    /// For `RunOptions.agentEnvironment`.
    public var overlay: @Sendable (AgentLaunch) -> [String: String] {
        { [stub] launch in
            // One conversation per task, across its attempts: "fail the first N" counts every attempt's requests.
            let key = "\(launch.run)-\(launch.task.id)"
            let url = stub.register(key, StubConversation(task: launch.task.id, directory: launch.directory,
                                                          owns: launch.task.spec.owns))
            return RehearsalEnvironment.overlay(base: launch.base, url: url, model: launch.task.spec.model)
        }
    }

    /// The usage the stub reported, added up over every conversation.
    public var totalUsage: StubUsage { stub.ledger().values.reduce(StubUsage()) { $0 + $1.usage } }

    public func stop() async { await stub.stop() }
}
