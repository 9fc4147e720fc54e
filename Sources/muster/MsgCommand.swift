import ArgumentParser
import Foundation
import MusterCore
import MusterRuntime
import MusterStore

/// `muster msg`: messages between the tasks of a run, each delivered to exactly one claimer under a lease.
struct MsgCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msg", abstract: "Send, claim and acknowledge messages between the tasks of a run.",
        discussion: """
            A message goes to a task (its id) or a role (role:NAME). `claim` hands the oldest waiting one to \
            exactly one claimer for --lease; `ack` marks it done. One not acknowledged before its lease ends is \
            delivered again; an acknowledged one never is. Inside a task the run comes from MUSTER_RUN, the \
            sender and default recipient are the task, and the claimer is the task; elsewhere pass --run, and \
            the claimer is the calling shell (or --holder NAME).
            """,
        subcommands: [Send.self, Claim.self, Ack.self, List.self])

    struct Send: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "send", abstract: "Queue a message for a task or a role.")

        @Option(help: ArgumentHelp("A task id of the run, or role:NAME.", valueName: "TASK|role:NAME")) var to: String
        @Argument(help: "The message text.") var body: String
        @Option(help: "The run (default: $MUSTER_RUN).") var run: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await guarded {
                let context = try await MsgContext(global: global, run: run)
                let message = try await context.messaging {
                    try await context.store.sendMessage(run: context.run, to: to, body: body, from: context.task, now: context.store.clock())
                }
                if global.json { Terminal.json(MessageReport(message)) } else { print("\(message.id)") }
            }
        }
    }

    struct Claim: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "claim", abstract: "Take the oldest waiting message (exit 1 when none is waiting).",
            discussion: """
                Prints the claim token, a space and the body. Acknowledge it with `muster msg ack TOKEN` before the lease \
                ends, from any process (the token names this delivery; one from an earlier, lapsed delivery acknowledges nothing).
                """)

        @Option(help: "Claim messages sent to role:R (default: inside a task, the task's own).") var role: String?
        @Option(help: "Claim messages sent to this task (default: inside a task, the task itself).") var task: String?
        @Option(help: "How long the message stays yours unacknowledged (e.g. 60s, 5m).") var lease = "60s"
        @Option(help: "Claim under this name instead of the task or calling process.") var holder: String?
        @Option(help: "The run (default: $MUSTER_RUN).") var run: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await guarded {
                let context = try await MsgContext(global: global, run: run)
                let lease = try LockContext.seconds(lease, option: "--lease", allowZero: false)
                if role != nil && task != nil { throw CLIError.usage("pass --role or --task, not both") }
                let recipient: String
                if let role {
                    let name = role.hasPrefix(MessageError.rolePrefix) ? String(role.dropFirst(MessageError.rolePrefix.count)) : role
                    guard !name.isEmpty else { throw CLIError.usage("--role needs a name") }
                    recipient = MessageError.rolePrefix + name
                } else if let target = task ?? context.task {
                    recipient = target
                } else {
                    throw CLIError.usage("claim for whom? Pass --role NAME or --task ID (inside a task it defaults to the task)")
                }
                try await context.requireRun()
                let holder = try MsgContext.holder(holder)
                guard let message = try await context.store.claimMessage(run: context.run, recipient: recipient, holder: holder,
                                                                         leaseSeconds: lease, now: context.store.clock()) else {
                    if global.json { print("null") }
                    Terminal.error("muster: no message waiting for \(recipient) in run \(context.run)")
                    throw ExitCode(ExitCodes.runFailed)
                }
                if global.json { Terminal.json(MessageReport(message)) } else { print("\(message.claimToken) \(message.body)") }
            }
        }
    }

    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ack", abstract: "Mark a message you claimed as done.")

        @Argument(help: "The claim token `claim` printed (ID.ATTEMPT), or a message id claimed by this holder.") var id: String
        @Option(help: "With a message id: the name it was claimed under with --holder.") var holder: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await guarded {
                if let token = MessageRecord.parseClaimToken(id) {
                    if holder != nil { throw CLIError.usage("a claim token needs no --holder: it names the delivery itself") }
                    let store = try await global.openStore(create: false)
                    let acked = try await store.ackMessage(id: token.id, attempt: token.attempt, now: store.clock())
                    if global.json { Terminal.json(MessageAckReport(acked: acked, id: token.id, token: id)) }
                    guard acked else {
                        throw CLIError.failed("claim token \(id) is not current: message \(token.id) was already acknowledged, or its lease "
                                              + "ran out and it was delivered again (claim it again)")
                    }
                    if !global.json { print("acked \(token.id)") }
                    return
                }
                guard let number = Int64(id), number > 0 else {
                    throw CLIError.usage("\(id) is not a claim token (ID.ATTEMPT, as `muster msg claim` prints) or a message id")
                }
                let store = try await global.openStore(create: false)
                let holder = try MsgContext.holder(holder)
                let acked = try await store.ackMessage(id: number, holder: holder, now: store.clock())
                if global.json { Terminal.json(MessageAckReport(acked: acked, id: number, holder: holder)) }
                guard acked else {
                    throw CLIError.failed("message \(number) is not held by \(holder): it was never claimed by it, its lease ran out "
                                          + "and it went to another claimer, or it was already acknowledged")
                }
                if !global.json { print("acked \(number)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "Show a run's messages, oldest first.")

        @Option(help: ArgumentHelp("Only messages to this task or role:NAME.", valueName: "TASK|role:NAME")) var to: String?
        @Option(help: "The run (default: $MUSTER_RUN).") var run: String?
        @OptionGroup var global: GlobalOptions

        func run() async throws {
            try await guarded {
                let context = try await MsgContext(global: global, run: run)
                try await context.requireRun()
                let messages = try await context.store.messages(run: context.run, recipient: to)
                if global.json { Terminal.json(messages.map(MessageReport.init)); return }
                if messages.isEmpty { print("no messages"); return }
                let width = min(30, max(9, messages.map(\.recipient.count).max() ?? 9))
                print(Terminal.dim(Terminal.padded("ID", 8) + Terminal.padded("STATE", 9) + Terminal.padded("TRIES", 7)
                                   + Terminal.padded("RECIPIENT", width + 2) + "BODY"))
                for message in messages {
                    let firstLine = message.body.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
                    let body = firstLine.count > 60 ? String(firstLine.prefix(59)) + "…" : firstLine
                    print(Terminal.padded("\(message.id)", 8) + Terminal.padded(message.state.rawValue, 9)
                          + Terminal.padded("\(message.attempt)", 7) + Terminal.padded(message.recipient, width + 2) + body)
                }
            }
        }
    }
}

/// The run a `muster msg` subcommand works on, and the task it runs inside, if any.
struct MsgContext {
    let store: any Store
    let run: String
    /// MUSTER_TASK_ID when running inside a task of this run.
    let task: String?

    init(global: GlobalOptions, run option: String?) async throws {
        let environment = TaskEnvironment()
        guard let run = option ?? environment.run else {
            throw CLIError.usage("not inside a muster run: pass --run RUN (see `muster runs`)")
        }
        self.run = run
        task = environment.task(of: run)
        store = try await global.openStore(create: false)
    }

    func requireRun() async throws {
        _ = try await store.requireRun(run)
    }

    /// Refused messages are bad input (exit 2), with the store's explanation.
    func messaging<T>(_ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let error as MessageError { throw CLIError.usage(error.description) }
    }

    /// The same identity `muster lock` uses: the task inside a run, else the calling shell, or --holder.
    static func holder(_ override: String?) throws -> String {
        do { return try LockIdentity.current(override: override).holder } catch let error as LockError {
            throw CLIError.usage(error.description)
        }
    }
}
