import Foundation
import MCP
import MusterCore
import MusterRuntime
import MusterStore

/// `lock`/`unlock`/`locks` (through `LockManager`, as `muster lock`) and `send`/`claim`/`ack` (the Store's
/// exactly-once messages, as `muster msg`). The holder is the task inside a run, else the MCP client process.
enum CoordinationTools {
    static func lockContext(_ context: MCPContext, path input: String) throws -> (path: String, identity: LockIdentity, manager: LockManager) {
        let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        do {
            let path = try LockPath.normalize(input, currentDirectory: cwd, root: Workspace.locate(from: cwd).root)
            let identity = try LockIdentity.current()
            let markers = URL(fileURLWithPath: context.storePath).deletingLastPathComponent().appendingPathComponent("locks")
            return (path, identity, LockManager(store: try context.openStore(), markerDirectory: markers))
        } catch let error as LockError {
            throw RefusedRequest(error.description)
        }
    }

    static func object(_ record: LockRecord) -> Value {
        ["path": .string(record.path), "holder": .string(record.holder), "host": .string(record.host), "pid": .int(Int(record.pid)),
         "task": .optional(record.task), "expires": .string(LockManager.iso(record.expiresAt))]
    }

    static let lock = MusterTool(
        "lock", "Lock a repository path for a while (a lease; lock again to renew). acquired: false names the holder.",
        fields: ["path": Schema.text("The file, relative to the repository."),
                 "ttl_seconds": Schema.number("How long the lease lasts unless renewed or released (default 600)."),
                 "wait_seconds": Schema.number("Keep trying this long while another holder has it (default 0).")],
        required: ["path"]
    ) { arguments, context in
        let ttl = try arguments.number("ttl_seconds") ?? 600
        guard ttl > 0 else { throw RefusedRequest("lock: `ttl_seconds` must be more than zero") }
        let wait = try arguments.number("wait_seconds") ?? 0
        let (path, identity, manager) = try lockContext(context, path: arguments.requiredText("path"))
        switch try await manager.acquire(path, as: identity, ttl: ttl, wait: wait) {
        case .acquired(let record, let takeover, let renewed):
            return ["acquired": true, "renewed": .bool(renewed), "lock": object(record),
                    "took_over_from": .optional(takeover?.previous.holder)]
        case .held(let current, _):
            return ["acquired": false, "path": .string(path), "held_by": object(current)]
        }
    }

    static let unlock = MusterTool(
        "unlock", "Release a lock this task (or client) holds.",
        fields: ["path": Schema.text("The file, relative to the repository.")], required: ["path"]
    ) { arguments, context in
        let (path, identity, manager) = try lockContext(context, path: arguments.requiredText("path"))
        switch try await manager.release(path, holder: identity.holder) {
        case .released: return ["released": true, "path": .string(path)]
        case .notHeld(let current): return ["released": false, "path": .string(path), "held_by": current.map(object) ?? .null]
        }
    }

    static let locks = MusterTool("locks", "Every lock: path, holder, expiry, and whether it expired.") { _, context in
        let markers = URL(fileURLWithPath: context.storePath).deletingLastPathComponent().appendingPathComponent("locks")
        let manager = LockManager(store: try context.openStore(), markerDirectory: markers)
        return .array(try await manager.list().map { status in
            guard case .object(var fields) = object(status.record) else { return .null }
            fields["expired"] = .bool(status.expired)
            return .object(fields)
        })
    }

    static func message(_ record: MessageRecord) -> Value {
        ["id": .int(Int(record.id)), "token": .string(record.claimToken), "from": .optional(record.sender),
         "to": .string(record.recipient), "body": .string(record.body), "attempt": .int(record.attempt)]
    }

    static func requireRun(_ tool: String, _ arguments: ToolArguments, _ context: MCPContext) throws -> String {
        guard let run = try arguments.text("run") ?? context.environment.run else {
            throw RefusedRequest("\(tool): name the `run` (outside a run there is no default)")
        }
        return run
    }

    static let send = MusterTool(
        "send", "Send a message to a task of the run (its id) or a role (role:NAME); delivered exactly once.",
        fields: ["to": Schema.text("A task id, or role:NAME."), "body": Schema.text("The message (at most 64 KiB)."),
                 "run": Schema.text("The run (default: this task's run).")],
        required: ["to", "body"]
    ) { arguments, context in
        let run = try requireRun("send", arguments, context)
        let store = try context.openStore()
        _ = try await store.requireRun(run)
        let record = try await store.sendMessage(run: run, to: arguments.requiredText("to"), body: arguments.requiredText("body"),
                                                 from: context.environment.task(of: run), now: store.clock())
        return ["sent": true, "id": .int(Int(record.id)), "to": .string(record.recipient)]
    }

    static let claim = MusterTool(
        "claim", "Claim the next message for this task (or a role): returns it with its token for `ack`, or null when none waits.",
        fields: ["role": Schema.text("Claim for a role instead of this task."), "task": Schema.text("Claim for this task id."),
                 "lease_seconds": Schema.number("Deliver it again if not acked within this long (default 300)."),
                 "run": Schema.text("The run (default: this task's run).")]
    ) { arguments, context in
        let run = try requireRun("claim", arguments, context)
        let role = try arguments.text("role"), task = try arguments.text("task")
        if role != nil && task != nil { throw RefusedRequest("claim: give `role` or `task`, not both") }
        let recipient: String
        if let role {
            let name = role.hasPrefix(MessageError.rolePrefix) ? String(role.dropFirst(MessageError.rolePrefix.count)) : role
            guard !name.isEmpty else { throw RefusedRequest("claim: `role` needs a name") }
            recipient = MessageError.rolePrefix + name
        } else if let target = task ?? context.environment.task(of: run) {
            recipient = target
        } else {
            throw RefusedRequest("claim for whom? Give `role` or `task` (inside a task it defaults to the task)")
        }
        let lease = try arguments.number("lease_seconds") ?? 300
        guard lease > 0 else { throw RefusedRequest("claim: `lease_seconds` must be more than zero") }
        let store = try context.openStore()
        _ = try await store.requireRun(run)
        let holder = try LockIdentity.current().holder
        guard let record = try await store.claimMessage(run: run, recipient: recipient, holder: holder, leaseSeconds: lease, now: store.clock()) else {
            return ["message": .null]
        }
        return ["message": message(record)]
    }

    static let ack = MusterTool(
        "ack", "Mark a claimed message done, by the token `claim` returned.",
        fields: ["token": Schema.text("The claim token (ID.ATTEMPT).")], required: ["token"]
    ) { arguments, context in
        let text = try arguments.requiredText("token")
        guard let token = MessageRecord.parseClaimToken(text) else {
            throw RefusedRequest("ack: `token` \(text) is not a claim token (ID.ATTEMPT, as `claim` returns)")
        }
        let store = try context.openStore()
        let acked = try await store.ackMessage(id: token.id, attempt: token.attempt, now: store.clock())
        guard acked else {
            throw RefusedRequest("ack: claim token \(text) is not current: message \(token.id) was already acknowledged, or its lease "
                                 + "ran out and it was delivered again (claim it again)")
        }
        return ["acked": true, "id": .int(Int(token.id))]
    }
}
