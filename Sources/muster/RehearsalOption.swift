import Foundation
import MusterRehearsal

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
}
