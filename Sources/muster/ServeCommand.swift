import ArgumentParser
import Foundation
import MusterWeb

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the web board (runs, run boards, task pages, live over SSE) and Prometheus /metrics.",
        discussion: "Loopback only unless --bind names another address, which needs --token. With a token every request needs it: open the one-time login link printed at start, or send `Authorization: Bearer TOKEN`. Read-only unless --allow-control.")

    @Option(help: "The port (0: any free port).") var port = 7777
    @Option(help: ArgumentHelp("The address to listen on; anything but loopback needs --token.", valueName: "address")) var bind = "127.0.0.1"
    @Option(help: ArgumentHelp("Require this token (at least 16 characters; default $MUSTER_TOKEN).", valueName: "token")) var token: String?
    @Flag(help: "Add cancel run / retry failed tasks buttons (needs --token; CSRF-protected).") var allowControl = false
    @Flag(help: "Per-task series on /metrics (one series per task of running runs: high cardinality).") var perTaskMetrics = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let token = token ?? ProcessInfo.processInfo.environment["MUSTER_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            let options = WebOptions(bind: bind, port: port, token: token, allowControl: allowControl, perTaskMetrics: perTaskMetrics)
            do { try options.validate() } catch { throw CLIError.usage("\(error)") }
            let server = try WebServer(store: try await global.openStore(create: false), options: options)
            let json = global.json
            try await server.run { port in
                if json { Terminal.json(["url": server.url(port: port), "port": port]) } else {
                    print("muster serve: \(server.url(port: port))  (metrics at /metrics; Ctrl-C stops)")
                }
                fflush(nil)  // the port line reaches a pipe at once (scripts wait for it)
            }
        }
    }
}
