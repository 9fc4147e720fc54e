import Foundation
import MusterCore
import MusterStore

/// Decides which sandbox a task gets and wraps its launch in it: works out the writable paths from
/// the task, its agent and the run, creates the folders they name, and turns the request into a
/// `bwrap` invocation (see `SandboxPolicy` for the mounts).
public struct SandboxLaunch: Sendable {
    /// What applied to one task, for the `task.sandbox` event.
    public struct Applied: Sendable, Equatable {
        public var mode: SandboxMode
        public var note: String
    }

    public var report: SandboxReport
    public var repository: String
    public var storePath: String
    /// `.muster/runs/<run>`: per-run agent state goes under `agent-state/`.
    public var runDirectory: String
    /// muster's own environment (trusted, unlike a task's `env`).
    public var environment: [String: String]
    /// The run's custom agent profiles (their state folders and `writable:` paths).
    public var profiles: [String: AgentProfile] = [:]

    public init(report: SandboxReport, repository: String, storePath: String, runDirectory: String, environment: [String: String]) {
        self.report = report
        self.repository = repository
        self.storePath = storePath
        self.runDirectory = runDirectory
        self.environment = environment
    }

    /// The mode a task runs under: what it asked for (default `worktree`), or `none` when there is no sandbox.
    public func mode(for task: PlannedTask, simulated: Bool) -> (SandboxMode, String) {
        let asked = task.sandbox ?? .worktree
        if asked == .none { return (.none, "sandbox: none") }
        if simulated { return (.none, "simulated run") }
        guard report.available else { return (.none, "sandbox unavailable: \(report.reason ?? "unknown")") }
        return (asked, "bubblewrap")
    }

    /// Rewrites `request` to run inside the sandbox for `mode` (worktree or owned). `tree` is the
    /// task's worktree, or the repository itself (`inPlace`). Returns the description for the event log.
    public func wrap(_ request: inout LaunchRequest, task: PlannedTask, mode: SandboxMode, tree: String, inPlace: Bool,
                     outbox: String) throws -> String {
        guard let bwrap = report.path, mode != .none else { return "none" }
        let fm = FileManager.default
        var writable = [outbox]
        var notes: [String] = []
        // The agent's own state: a per-run folder its variable points at, or its folder under $HOME.
        let profile = profiles[task.agent]
        let base = profile?.base ?? task.agent
        let home = environment["HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        for folder in BuiltinAgents.stateFolders(for: base) {
            let path: String
            if let variable = folder.variable {
                if let own = environment[variable], own.hasPrefix("/") {
                    path = own
                } else {
                    path = runDirectory + "/agent-state/" + folder.path
                }
                request.environment[variable] = path
            } else {
                guard let home else { continue }
                path = home + "/" + folder.path
            }
            try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
            writable.append(path)
        }
        if !inPlace, let scratch = try gitScratch(&request, task: task, agent: base, tree: tree) { writable.append(scratch) }
        // Extra `writable:` paths of the spec and the profile, checked against the checkout again
        // now that the paths are absolute.
        for entry in task.writable + (profile?.writable ?? []) {
            let path: String
            if entry.hasPrefix("/") {
                path = Self.normalized(entry)
            } else if entry.hasPrefix("~/") {
                guard let home else { notes.append("\(entry) skipped: no HOME"); continue }
                path = Self.normalized(home + "/" + entry.dropFirst(2))
            } else {
                path = Self.normalized(tree + "/" + entry)
            }
            if let why = SandboxPolicy.refusal(path, repository: repository, tree: tree) {
                notes.append("writable \(entry) refused: \(why)")
                continue
            }
            if !fm.fileExists(atPath: path) { try fm.createDirectory(atPath: path, withIntermediateDirectories: true) }
            writable.append(path)
        }
        // muster's own commands inside the task (spawn, wait, msg, lock, throttle) write the store.
        for suffix in ["", "-wal", "-shm"] where fm.fileExists(atPath: storePath + suffix) { writable.append(storePath + suffix) }
        let locks = (storePath as NSString).deletingLastPathComponent + "/locks"
        if fm.fileExists(atPath: storePath) {
            try? fm.createDirectory(atPath: locks, withIntermediateDirectories: true)
            if fm.fileExists(atPath: locks) { writable.append(locks) }
        }
        var treeWritable = true
        if mode == .owned {
            let owned = try ownedPaths(task.owns, tree: tree)
            if owned.contains(tree) {
                notes.append("an owns glob starts with a wildcard: the whole tree is writable")
            } else {
                treeWritable = false
                writable += owned
                notes.append("writable: " + (owned.isEmpty ? "nothing in the tree" : owned.map { String($0.dropFirst(tree.count + 1)) }.joined(separator: ", ")))
            }
        }
        var sealed: [String] = []
        var protected: [String] = []
        if inPlace {
            protected = [repository + "/.git", repository + "/.muster"]
            notes.insert("in place: the checkout is writable, its .git and .muster are not", at: 0)
        } else if fm.fileExists(atPath: tree + "/.git") {
            sealed.append(tree + "/.git")
        }
        // The task's PATH folders under /tmp stay visible too (the rest of / already is), so a tool the
        // user put there still runs; /tmp itself stays private.
        let searchPath = (request.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            .filter { $0.hasPrefix("/tmp/") && $0 != "/tmp/" && fm.fileExists(atPath: $0) }
        let visible = [repository, home, (request.executable as NSString).deletingLastPathComponent, request.directory,
                       (storePath as NSString).deletingLastPathComponent].compactMap { $0 } + searchPath
        let policy = SandboxPolicy(tree: tree, treeWritable: treeWritable, protected: protected, writable: writable,
                                   sealed: sealed, visible: visible, directory: request.directory)
        if let tmp = request.environment["TMPDIR"], SandboxPolicy.isUnderTmp(tmp), tmp != "/tmp" { request.environment["TMPDIR"] = "/tmp" }
        request.arguments = policy.arguments(bwrap: bwrap, executable: request.executable, arguments: request.arguments)
        request.executable = bwrap
        request.sandboxed = true
        return ([mode.rawValue] + notes).joined(separator: "; ")
    }

    /// The writable paths of `owned`: each glob's literal folder prefix (created when missing), an
    /// existing literal file itself, or a missing literal file's folder. `tree` itself when a glob
    /// starts with a wildcard.
    func ownedPaths(_ owns: [String], tree: String) throws -> [String] {
        let fm = FileManager.default
        var out: [String] = []
        for glob in owns {
            let (prefix, literal) = SandboxPolicy.literalPrefix(of: glob)
            if prefix.isEmpty { return [tree] }
            let path = tree + "/" + prefix
            var isDirectory: ObjCBool = false
            if fm.fileExists(atPath: path, isDirectory: &isDirectory) {
                out.append(path)
            } else if literal {
                let parent = (path as NSString).deletingLastPathComponent
                try fm.createDirectory(atPath: parent, withIntermediateDirectories: true)
                out.append(parent)
            } else {
                try fm.createDirectory(atPath: path, withIntermediateDirectories: true)
                out.append(path)
            }
        }
        return out
    }

    static func normalized(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }
}

extension SandboxLaunch {
    /// The sandbox of one run: probes bubblewrap (once per process) and, when no sandbox is possible
    /// but a task would want one, says so once, on stderr and in the event log.
    static func prepare(for run: RunRecord, orchestrator o: Orchestrator) async throws -> SandboxLaunch {
        let report = await SandboxProbe.current()
        let workflow = run.workflow
        let wanted = !run.simulate && (workflow.sandbox ?? .worktree) != SandboxMode.none
            || workflow.tasks.contains { ($0.sandbox ?? .none) != SandboxMode.none }
        if !report.available && wanted && !run.simulate {
            let message = "sandbox unavailable: \(report.reason ?? "unknown"); falling back to diff checks"
            FileHandle.standardError.write(Data("muster: warning: \(message)\n".utf8))
            try await o.store.appendEvent(NewEvent(run: run.id, kind: "run.sandbox", message: message, at: o.clock()))
        }
        var launch = SandboxLaunch(report: report, repository: o.workspace.root.path, storePath: o.storePath,
                                   runDirectory: o.workspace.runDirectory(run.id).path, environment: ProcessInfo.processInfo.environment)
        launch.profiles = run.agents.profiles
        return launch
    }

    /// Wraps `request` in the task's sandbox when one applies; returns what applied, for the event log.
    func apply(_ request: inout LaunchRequest, task: PlannedTask, simulated: Bool, outbox: String, inPlace: Bool) throws -> String {
        let (mode, why) = self.mode(for: task, simulated: simulated)
        guard mode != SandboxMode.none else { return "none (\(why))" }
        return try wrap(&request, task: task, mode: mode, tree: request.directory, inPlace: inPlace, outbox: outbox)
    }
}
