import ArgumentParser

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
                      SpawnCommand.self, WaitCommand.self, StubModelCommand.self, DoctorCommand.self])
}
