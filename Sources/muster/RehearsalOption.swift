import Foundation
import MusterRehearsal
import MusterStore

/// `muster run --rehearse [--stub-script FILE]`: the stub for the run, and the note saying so.
enum RehearsalOption {
    static func script(_ path: String) throws -> StubScript {
        do { return try StubScript.load(path: path) } catch let error as ModelStubError { throw CLIError.usage(error.description) }
    }

    static func start(script path: String?, json: Bool) async throws -> Rehearsal {
        let rehearsal = try await Rehearsal.start(script: try path.map(script) ?? StubScript())
        if !json {
            Terminal.error(Terminal.dim("rehearsal: every agent runs its real CLI against muster's model stub at \(rehearsal.stub.baseURL); no model is called, and costs shown are what the stub's token counts would cost"))
        }
        return rehearsal
    }

    static let eventKind = "run.rehearsal"

    /// Recorded with the run, so `muster resume` rehearses it again instead of calling real models.
    static func record(run: String, script: String?, store: any Store) async throws {
        let path = script.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
        try await store.appendEvent(NewEvent(run: run, kind: eventKind,
                                             message: "rehearsal: agents talk to muster's model stub" + (path.map { "; stub script: \($0)" } ?? ""),
                                             at: Date()))
    }

    /// The rehearsal a run was started with (its stub script, if any), or nil for a real run.
    static func recorded(run: String, store: any Store) async throws -> (rehearsed: Bool, script: String?) {
        let events = try await store.events(run: run, after: 0, limit: 50)
        guard let event = events.first(where: { $0.kind == eventKind }) else { return (false, nil) }
        let marker = "; stub script: "
        return (true, event.message.range(of: marker).map { String(event.message[$0.upperBound...]) })
    }
}
