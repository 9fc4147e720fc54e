import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

/// `muster lock`: lease-backed locks on repository paths, for the rare shared file several tasks edit in turn.
struct LockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lock", abstract: "Take turns on a shared file: lease-backed locks on repository paths.",
        discussion: """
            Inside a muster task the holder is the task; elsewhere it is the shell or script that runs \
            `muster lock` (its parent process), or --holder NAME. A lock whose lease expired, or whose holder \
            is gone, is taken over. Markers under .muster/locks/ show who holds what; the store is the authority.
            """,
        subcommands: [Acquire.self, Release.self, Renew.self, List.self])

    struct Acquire: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "acquire", abstract: "Lock a path (exit 1 if someone else holds it when the wait ends).")

        @Argument(help: "The file, relative to the current folder or the repository.") var path: String
        @Option(help: "How long the lease lasts unless renewed or released (e.g. 90s, 10m).") var ttl = "10m"
        @Option(help: "Keep trying this long while another holder has it (e.g. 30s); default: give up at once.") var wait: String?
        @Option(help: "Hold it under this name instead of the task or calling process.") var holder: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await guarded {
                let context = try LockContext(global: global, path: path, holder: holder)
                let ttl = try LockContext.seconds(ttl, option: "--ttl", allowZero: false)
                let wait = try wait.map { try LockContext.seconds($0, option: "--wait", allowZero: true) } ?? 0
                guard let manager = try await context.manager(create: true) else { throw CLIError.failed("no muster store at \(global.storePath)") }
                let outcome = try await manager.acquire(context.path, as: context.identity, ttl: ttl, wait: wait)
                switch outcome {
                case .acquired(let record, let takeover, let renewed):
                    if global.json {
                        Terminal.json(LockAcquireReport.acquired(record, takeover: takeover, renewed: renewed))
                        return
                    }
                    if let takeover {
                        print("took over a stale lock from \(takeover.previous.holder): \(takeover.reason)")
                    }
                    print("\(renewed ? "renewed" : "locked") \(Terminal.bold(record.path)) for \(record.holder) until \(LockJSON.clock(record.expiresAt)) (ttl \(Duration.seconds(ttl).humanized))")
                case .held(let current, let liveness):
                    if global.json {
                        Terminal.json(LockAcquireReport.held(context.path, by: current, liveness: liveness))
                    }
                    let waited = wait > 0 ? " after waiting \(Duration.seconds(wait).humanized)" : ""
                    let hint = wait > 0 ? "" : "; wait for it with --wait 30s"
                    throw CLIError.failed("\(context.path) is \(wait > 0 ? "still " : "")locked by \(LockJSON.describe(current))\(waited)\(hint)")
                }
            }
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "release", abstract: "Unlock a path you hold.")

        @Argument(help: "The file, relative to the current folder or the repository.") var path: String
        @Option(help: "The name it was acquired under with --holder.") var holder: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await guarded {
                let context = try LockContext(global: global, path: path, holder: holder)
                guard let manager = try await context.manager(create: false) else { throw CLIError.failed("\(context.path) is not locked") }
                switch try await manager.release(context.path, holder: context.identity.holder) {
                case .released:
                    if global.json { Terminal.json(LockReleaseReport(released: true, path: context.path, holder: context.identity.holder)) }
                    else { print("released \(Terminal.bold(context.path))") }
                case .notHeld(let current):
                    if global.json {
                        Terminal.json(LockReleaseReport(released: false, path: context.path, holder: context.identity.holder,
                                                        heldBy: Nullable(wrappedValue: current.map { LockReport($0) })))
                    }
                    guard let current else { throw CLIError.failed("\(context.path) is not locked") }
                    throw CLIError.failed("\(context.path) is held by \(LockJSON.describe(current)), not by \(context.identity.holder)")
                }
            }
        }
    }

    struct Renew: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "renew", abstract: "Extend the lease of a lock you hold.")

        @Argument(help: "The file, relative to the current folder or the repository.") var path: String
        @Option(help: "The new lease, from now (e.g. 90s, 10m).") var ttl = "10m"
        @Option(help: "The name it was acquired under with --holder.") var holder: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await guarded {
                let context = try LockContext(global: global, path: path, holder: holder)
                let ttl = try LockContext.seconds(ttl, option: "--ttl", allowZero: false)
                guard let manager = try await context.manager(create: false),
                      let outcome = try await manager.renew(context.path, as: context.identity, ttl: ttl) else {
                    throw CLIError.failed("\(context.path) is not held by \(context.identity.holder): acquire it first")
                }
                switch outcome {
                case .acquired(let record, _, _):
                    if global.json {
                        Terminal.json(LockReport(record, renewed: true))
                    } else {
                        print("renewed \(Terminal.bold(record.path)) for \(record.holder) until \(LockJSON.clock(record.expiresAt))")
                    }
                case .held(let current, _):
                    throw CLIError.failed("\(context.path) was taken over by \(LockJSON.describe(current)) after your lease expired")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Show every lock the store holds.")

        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await guarded {
                let storePath = global.storePath
                let statuses: [LockStatus]
                if global.storeIsPostgres || FileManager.default.fileExists(atPath: storePath) {
                    statuses = try await LockContext.manager(storePath: storePath, store: try await global.openStore(create: false),
                                                             markers: LockContext.markers(global)).list()
                } else {
                    statuses = []
                }
                if global.json && statuses.isEmpty { print("[]"); return }
                if global.json {
                    Terminal.json(statuses.map { LockReport($0.record, liveness: $0.liveness, expired: $0.expired) })
                    return
                }
                if statuses.isEmpty { print("no locks"); return }
                let width = min(50, max(4, statuses.map(\.record.path.count).max() ?? 4))
                let holderWidth = min(40, max(6, statuses.map(\.record.holder.count).max() ?? 6))
                print(Terminal.dim(Terminal.padded("PATH", width + 2) + Terminal.padded("HOLDER", holderWidth + 2)
                                   + Terminal.padded("EXPIRES", 10) + "STATE"))
                for status in statuses {
                    let state: String
                    switch (status.expired, status.liveness) {
                    case (true, _): state = Terminal.paint("expired", "33")
                    case (_, .dead(let why)): state = Terminal.paint("stale: \(why)", "33")
                    default: state = Terminal.paint("held", "36")
                    }
                    print(Terminal.padded(status.record.path, width + 2) + Terminal.padded(status.record.holder, holderWidth + 2)
                          + Terminal.padded(LockJSON.clock(status.record.expiresAt), 10) + state)
                }
            }
        }
    }
}

/// What every lock subcommand resolves first: the repository-relative path and who is asking.
struct LockContext {
    let global: GlobalOptions
    let path: String
    let identity: LockIdentity

    init(global: GlobalOptions, path input: String, holder: String?) throws {
        self.global = global
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        do {
            path = try LockPath.normalize(input, currentDirectory: cwd, root: global.workspace.root)
            identity = try LockIdentity.current(override: holder)
        } catch let error as LockError {
            throw CLIError.usage(error.description)
        }
    }

    /// Nil when there is no store yet and `create` is false (then nothing is locked).
    func manager(create: Bool) async throws -> LockManager? {
        let storePath = global.storePath
        let postgres = global.storeIsPostgres
        if !create && !postgres && !FileManager.default.fileExists(atPath: storePath) { return nil }
        let workspace = global.workspace
        // Keep a fresh .muster/ out of `git status`; never inside a task's worktree (its store is elsewhere).
        if create && storePath == workspace.defaultStorePath { try workspace.prepare() }
        return Self.manager(storePath: storePath, store: try await global.openStore(create: create), markers: Self.markers(global))
    }

    /// A database has no folder to keep markers beside: theirs go in the repository's .muster/locks/.
    static func markers(_ global: GlobalOptions) -> URL? {
        guard global.storeIsPostgres else { return nil }
        return URL(fileURLWithPath: global.workspace.defaultStorePath).deletingLastPathComponent().appendingPathComponent("locks")
    }

    /// Markers live beside the store they mirror: `<repository>/.muster/locks/` for the default store.
    static func manager(storePath: String, store: any Store, markers: URL? = nil) -> LockManager {
        let markers = markers ?? URL(fileURLWithPath: storePath).deletingLastPathComponent().appendingPathComponent("locks")
        return LockManager(store: store, markerDirectory: markers)
    }

    static func seconds(_ text: String, option: String, allowZero: Bool) throws -> Double {
        guard let duration = Duration.parseSpec(text), allowZero || duration.seconds > 0 else {
            throw CLIError.usage("\(option) \(text) is not a duration like 30s, 10m or 1h\(allowZero ? "" : " (and more than zero)")")
        }
        return duration.seconds
    }
}

enum LockJSON {
    static func describe(_ record: LockRecord) -> String {
        "\(record.holder) (pid \(record.pid) on \(record.host)) until \(clock(record.expiresAt))"
    }

    static func clock(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm:ss"
        return formatter.string(from: date)
    }
}
