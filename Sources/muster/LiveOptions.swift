import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore
import MusterTerminal

/// `muster run` / `muster resume` options for the live views: tmux panes and notifications.
struct LiveOptions: ParsableArguments {
    @Flag(help: "Open a tmux session muster-RUN (dashboard + one pane per running task, kept in step); attach with the command printed.")
    var tmux = false
    @Option(name: .customLong("tmux-socket"), help: ArgumentHelp("With --tmux: the tmux server to use (tmux -L NAME).", valueName: "name"))
    var tmuxSocket: String?
    @Flag(help: "Desktop notification (OSC 9 and OSC 777) and the bell when the run ends, a task stalls or the budget stops it (only on a terminal).")
    var notify = false
    @Option(help: ArgumentHelp("POST a JSON summary to this URL at those moments (10 s timeout, 3 retries).", valueName: "url"))
    var notifyWebhook: String?
    @Option(help: ArgumentHelp("Run this command (split into words, no shell) with the JSON summary on stdin at those moments.", valueName: "command"))
    var notifyCommand: String?

    /// Bad input stops here, before a run is recorded: one line on stderr, exit 2.
    func validate() throws {
        do {
            _ = try settings()
        } catch {
            Terminal.error("muster: \(error)")
            throw ExitCode(ExitCodes.badInput)
        }
    }

    func settings() throws -> LiveSettings {
        var settings = LiveSettings()
        settings.tmux = tmux
        settings.tmuxSocket = tmuxSocket
        settings.notify.desktop = notify && Terminal.stderrIsTerminal
        if let notifyWebhook {
            guard let url = URL(string: notifyWebhook), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
                  url.host != nil else {
                throw CLIError.usage("--notify-webhook needs an http:// or https:// URL, not \(notifyWebhook)")
            }
            settings.notify.webhook = url
        }
        if let notifyCommand {
            guard let words = ShellWords.split(notifyCommand) else {
                throw CLIError.usage("--notify-command has an unclosed quote: \(notifyCommand)")
            }
            guard !words.isEmpty else { throw CLIError.usage("--notify-command is empty") }
            settings.notify.command = words
        }
        if tmuxSocket != nil && !tmux { throw CLIError.usage("--tmux-socket needs --tmux") }
        if tmux && !Tmux.isInstalled { throw CLIError.usage("--tmux: \(TerminalError.tmuxMissing.description)") }
        return settings
    }
}

struct LiveSettings: Sendable {
    var tmux = false
    var tmuxSocket: String?
    var notify = NotifyOptions()
}

/// The live views started around a run: the notifier (which also writes the DONE sentinel) and
/// the tmux session, whose dashboard pane keeps the task panes in step.
final class LiveViews: Sendable {
    let notifier: RunNotifier

    init(notifier: RunNotifier) { self.notifier = notifier }

    static func start(run: String, storePath: String, store: any Store, settings: LiveSettings) async throws -> LiveViews {
        if settings.tmux {
            guard let record = try await store.run(run) else { throw StoreError.unknownRun(run) }
            let session = try TmuxSession.open(record, storePath: storePath, tmux: Tmux(socket: settings.tmuxSocket))
            Terminal.error(Terminal.dim("tmux: the dashboard and task panes are in session \(session); attach with `\(TmuxSession.attachHint(session, socket: settings.tmuxSocket))`"))
        }
        let notifier = RunNotifier(store: store, run: run, options: settings.notify)
        try await notifier.start()
        return LiveViews(notifier: notifier)
    }

    /// After the run: notifications for its end, and `.muster/runs/<run>/DONE`.
    func finish(_ outcome: RunOutcome) async {
        await notifier.finish(elapsed: outcome.elapsed.seconds)
    }

    /// The orchestrator stopped with an error: the run did not end, nothing to announce.
    func abandon() { notifier.cancel() }
}

/// Opens the tmux session of a run (muster tmux, muster run --tmux).
enum TmuxSession {
    static func open(_ record: RunRecord, storePath: String, tmux: Tmux, panesPerWindow: Int = 8) throws -> String {
        guard Tmux.isInstalled else { throw CLIError.usage(TerminalError.tmuxMissing.description) }
        let panes = TmuxPanes(tmux: tmux, run: record.id, root: record.root, panesPerWindow: panesPerWindow)
        var dashboard = [executablePath, "dash", record.id, "--store", storePath, "--panes", "--panes-per-window", "\(panesPerWindow)"]
        if let socket = tmux.socket { dashboard += ["--socket", socket] }
        try panes.ensureSession(dashboard: dashboard)
        return panes.session
    }

    static func attachHint(_ session: String, socket: String?) -> String {
        "tmux " + (socket.map { "-L \($0) " } ?? "") + "attach -t \(session)"
    }

    /// This muster binary, for the dashboard pane.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
