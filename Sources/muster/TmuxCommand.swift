import ArgumentParser
import Foundation
import MusterSystem
import MusterStore
import MusterTerminal

struct TmuxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tmux",
        abstract: "Open (or attach to) tmux session muster-RUN: the dashboard, and one pane per running task following its log.",
        discussion: """
            A task's pane opens when it starts and closes a few seconds after it ends; muster's windows \
            re-tile, and tasks that do not fit go to extra windows. The dashboard pane keeps the panes in \
            step. muster never touches your other windows, never moves the focus, and never types into \
            an agent's pane. With -d (or without a terminal) the session is left detached: attach later, \
            over SSH too.
            """)

    @Argument(help: "The run id (default: the newest run).") var run: String?
    @Option(help: ArgumentHelp("The tmux server to use (tmux -L NAME; default: the usual one).", valueName: "name")) var socket: String?
    @Flag(name: [.short, .customLong("detach")], help: "Create the session without attaching to it.") var detach = false
    @Option(help: "Task panes per window before another window opens.") var panesPerWindow = 8
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            guard panesPerWindow >= 2 else { throw CLIError.usage("--panes-per-window must be at least 2") }
            let store = try await global.openStore(create: false)
            let record = try await global.resolveRun(run, in: store)
            let tmux = Tmux(socket: socket)
            let session = try TmuxSession.open(record, storePath: global.storePath, tmux: tmux, panesPerWindow: panesPerWindow)
            let hint = TmuxSession.attachHint(session, socket: socket)
            if global.json {
                Terminal.json(CommandJSON.Tmux(run: record.id, session: session, socket: socket, attach: hint))
                return
            }
            guard !detach && TerminalScreen.isTerminal else {
                print("tmux session \(session) is ready; attach with `\(hint)`")
                return
            }
            let inside = ProcessInfo.processInfo.environment["TMUX"].map { !$0.isEmpty } ?? false
            let argv = tmux.attachArguments(session: session, insideTmux: inside && socket == nil)
            CStrings.with(argv) { _ = execvp("tmux", $0) }
            throw CLIError.failed("could not run tmux: \(String(cString: strerror(errno)))")
        }
    }
}
