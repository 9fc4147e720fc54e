import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

/// Errors the user can cause or fix; each prints one line and exits non-zero (2: bad input).
enum CLIError: Error, CustomStringConvertible {
    case usage(String)
    case failed(String)

    var description: String {
        switch self {
        case .usage(let text), .failed(let text): text
        }
    }
}

enum ExitCodes {
    static let runFailed: Int32 = 1
    static let badInput: Int32 = 2
    static let interrupted: Int32 = 130
}

/// Runs a command body, turning every error into a clear line on stderr and an exit code:
/// never a stack trace.
func guarded(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as SpecError {
        Terminal.error(error.description)
        throw ExitCode(ExitCodes.badInput)
    } catch let error as CLIError {
        Terminal.error("muster: \(error.description)")
        if case .usage = error { throw ExitCode(ExitCodes.badInput) }
        throw ExitCode(ExitCodes.runFailed)
    } catch let error as RefusedRequest {
        Terminal.error("muster: \(error.description)")
        throw ExitCode(ExitCodes.badInput)
    } catch let error as OrchestratorError {
        Terminal.error("muster: \(error.description)")
        throw ExitCode(ExitCodes.badInput)
    } catch let error as RunRefusal {
        Terminal.error("muster: \(error.description)")
        throw ExitCode(ExitCodes.badInput)
    } catch let error as StoreError {
        Terminal.error("muster: \(error.description)")
        throw ExitCode(ExitCodes.badInput)
    } catch {
        Terminal.error("muster: \(error)")
        throw ExitCode(ExitCodes.runFailed)
    }
}
