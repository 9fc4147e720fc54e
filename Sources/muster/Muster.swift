import ArgumentParser
import Foundation

@main
struct Muster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muster",
        abstract: "Coordinate many parallel coding agents on one repository.",
        discussion: "Start with `muster init`, then `muster plan muster.yml` and `muster run muster.yml`.",
        version: "0.1.0",
        subcommands: [InitCommand.self, PlanCommand.self, RunCommand.self, StatusCommand.self, RunsCommand.self,
                      LogsCommand.self, ResumeCommand.self, CancelCommand.self, LockCommand.self, ConflictsCommand.self, IntegrateCommand.self,
                      ReviewCommand.self, CleanCommand.self, AgentsCommand.self, CostCommand.self,
                      DashCommand.self, TmuxCommand.self, PsCommand.self, ThrottleCommand.self, MsgCommand.self,
                      SpawnCommand.self, WaitCommand.self, McpCommand.self, StubModelCommand.self, DoctorCommand.self, ServeCommand.self, WorkerCommand.self])

    /// ArgumentParser's own entry point, except that every usage error (an unknown option or
    /// subcommand, a missing or malformed argument, a failed `validate()`) exits 2, muster's status
    /// for bad input, instead of 64 (EX_USAGE). `--help` and `--version` still exit 0.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitCodes.badInput)
            }
            exit(withError: error)
        }
    }
}
