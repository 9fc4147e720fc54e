import Foundation
import MusterStore

/// Bad input to `muster lock`: a path outside the repository, an unusable holder name.
public enum LockError: Error, CustomStringConvertible, Sendable, Equatable {
    case badPath(String)
    case badHolder(String)

    public var description: String {
        switch self {
        case .badPath(let text), .badHolder(let text): text
        }
    }
}

/// Who takes a lock. Inside a muster task it is the task (`task:<run>/<task>`); elsewhere the process
/// that called `muster lock` (`pid:<host>:<ppid>`: the shell or script, since `muster lock` itself exits
/// at once); `--holder NAME` names it explicitly for scripts that acquire and release from different shells.
public struct LockIdentity: Sendable, Equatable {
    public var holder: String
    public var host: String
    public var pid: Int32
    public var run: String?
    public var task: String?

    public init(holder: String, host: String, pid: Int32, run: String? = nil, task: String? = nil) {
        self.holder = holder
        self.host = host
        self.pid = pid
        self.run = run
        self.task = task
    }

    public static func current(environment: [String: String] = ProcessInfo.processInfo.environment,
                               override: String? = nil, host: String = LockIdentity.hostName(),
                               parentPID: Int32 = getppid()) throws -> LockIdentity {
        let inside = TaskEnvironment(environment)
        let run = inside.run, task = inside.task
        let inTask = run != nil && task != nil
        if let override {
            guard !override.isEmpty, !override.contains(where: { $0.isWhitespace || $0.isNewline || $0.asciiValue.map { $0 < 32 } == true })
            else { throw LockError.badHolder("--holder must be a non-empty name without spaces or control characters") }
            return LockIdentity(holder: override, host: host, pid: parentPID, run: inTask ? run : nil, task: inTask ? task : nil)
        }
        if let run, let task {
            return LockIdentity(holder: taskHolder(run: run, task: task), host: host, pid: parentPID, run: run, task: task)
        }
        return LockIdentity(holder: pidHolder(host: host, pid: parentPID), host: host, pid: parentPID)
    }

    public static func taskHolder(run: String, task: String) -> String { "task:\(run)/\(task)" }
    public static func pidHolder(host: String, pid: Int32) -> String { "pid:\(host):\(pid)" }

    /// `gethostname`: fast and stable (no resolver lookups), which is all a holder name needs.
    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }
}

/// Repository-relative lock paths, and the marker file name each maps to.
public enum LockPath {
    /// Turns `input` (relative to `currentDirectory`, or absolute) into a path relative to `root`,
    /// with `.` and `..` resolved. Refuses the root itself, anything outside it and `..` escapes.
    public static func normalize(_ input: String, currentDirectory: URL, root: URL) throws -> String {
        guard !input.isEmpty else { throw LockError.badPath("the lock path is empty") }
        guard !input.contains(where: { $0.asciiValue.map { $0 < 32 || $0 == 127 } == true }) else {
            throw LockError.badPath("the lock path contains control characters")
        }
        let rootPaths = Array(Set([lexical(root.path), lexical(root.resolvingSymlinksInPath().path)]))
        let absolute = input.hasPrefix("/") ? input : currentDirectory.path + "/" + input
        let candidates = [lexical(absolute), lexical(resolvingExistingPrefix(lexical(absolute)))]
        for candidate in candidates {
            for rootPath in rootPaths {
                if candidate == rootPath { throw LockError.badPath("\(input) is the repository itself, not a file in it") }
                let prefix = rootPath == "/" ? "/" : rootPath + "/"
                if candidate.hasPrefix(prefix) { return String(candidate.dropFirst(prefix.count)) }
            }
        }
        throw LockError.badPath("\(input) is outside the repository \(root.path): lock paths must name files inside it")
    }

    /// `/a/./b/../c/` → `/a/c`; `..` above `/` stays at `/`.
    static func lexical(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Resolves symlinks in the longest prefix that exists (the lock's file need not exist yet).
    static func resolvingExistingPrefix(_ path: String) -> String {
        var existing = URL(fileURLWithPath: path)
        var rest: [String] = []
        while !FileManager.default.fileExists(atPath: existing.path), existing.path != "/" {
            rest.insert(existing.lastPathComponent, at: 0)
            existing = existing.deletingLastPathComponent()
        }
        let resolved = existing.resolvingSymlinksInPath().path
        return rest.isEmpty ? resolved : (resolved == "/" ? "" : resolved) + "/" + rest.joined(separator: "/")
    }

    /// `Sources/App/x.swift` → `Sources%2FApp%2Fx.swift.lock` (`%` itself escaped, so names never collide).
    public static func markerName(for path: String) -> String {
        path.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "/", with: "%2F") + ".lock"
    }

    /// The lock path a marker file name stands for, if it is one.
    public static func path(fromMarker name: String) -> String? {
        guard name.hasSuffix(".lock"), name.count > 5 else { return nil }
        return String(name.dropLast(5)).removingPercentEncoding
    }
}

/// Whether a lock's holder still exists, as far as this host can tell.
public enum HolderLiveness: Sendable, Equatable {
    case alive
    /// The holder is gone; the text says why (`task r1/a is failed`, `pid 123 no longer exists on h`).
    case dead(String)
    /// Another host's process, or a named holder: only the lease can expire it.
    case unknown
}

/// How the manager looks at processes on this host; tests substitute their own.
public struct ProcessProbe: Sendable {
    /// True while the process exists and is not a zombie.
    public var exists: @Sendable (Int32) -> Bool
    /// When the process started, if the platform says (Linux: /proc), to tell a reused pid.
    public var startTime: @Sendable (Int32) -> Date?

    public init(exists: @escaping @Sendable (Int32) -> Bool, startTime: @escaping @Sendable (Int32) -> Date?) {
        self.exists = exists
        self.startTime = startTime
    }

    public static let system = ProcessProbe(exists: ProcessLiveness.isAlive, startTime: { pid in
        // Field 22 of /proc/PID/stat: clock ticks after boot; boot time from /proc/stat's btime.
        guard let fields = ProcStat.fields(pid), let boot = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        guard fields.count > 19, let ticks = Double(fields[19]),
              let line = boot.split(separator: "\n").first(where: { $0.hasPrefix("btime ") }),
              let btime = Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces)) else { return nil }
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard hz > 0 else { return nil }
        return Date(timeIntervalSince1970: btime + ticks / hz)
    })
}

public struct LockTakeover: Sendable, Equatable {
    public var previous: LockRecord
    /// `its lease expired at …` or why its holder is dead.
    public var reason: String
}

public enum LockAcquireOutcome: Sendable, Equatable {
    /// `renewed`: the caller already held it and the lease was extended.
    case acquired(LockRecord, takeover: LockTakeover?, renewed: Bool)
    /// Still held when the wait ran out (at once without a wait).
    case held(by: LockRecord, liveness: HolderLiveness)
}

public enum LockReleaseOutcome: Sendable, Equatable {
    case released(LockRecord?)
    /// The caller did not hold it; `current` is who does, if anyone.
    case notHeld(current: LockRecord?)
}

public struct LockStatus: Sendable, Equatable {
    public var record: LockRecord
    public var expired: Bool
    public var liveness: HolderLiveness
}

/// Lease-backed path locks over the Store, which is the authority (atomic across processes); this adds
/// holder liveness, safe takeover of stale locks, waiting, and the marker files people see under
/// `.muster/locks/`.
public struct LockManager: Sendable {
    public let store: any Store
    /// Where markers go (`<store folder>/locks`); nil writes none.
    public let markerDirectory: URL?
    public var host: String
    public var probe: ProcessProbe
    public var clock: @Sendable () -> Date
    /// Polling while waiting: the first sleep and the cap, each jittered ±50%.
    public var pollInitial = 0.02
    public var pollMax = 0.25

    public init(store: any Store, markerDirectory: URL?, host: String = LockIdentity.hostName(),
                probe: ProcessProbe = .system, clock: (@Sendable () -> Date)? = nil) {
        self.store = store
        self.markerDirectory = markerDirectory
        self.host = host
        self.probe = probe
        self.clock = clock ?? store.clock
    }

    // MARK: Liveness

    public func liveness(of record: LockRecord) async throws -> HolderLiveness {
        if record.holder.hasPrefix("task:") {
            var run = record.run, task = record.task
            if run == nil || task == nil {
                let rest = record.holder.dropFirst(5)
                guard let slash = rest.firstIndex(of: "/") else { return .unknown }
                run = String(rest[..<slash])
                task = String(rest[rest.index(after: slash)...])
            }
            guard let run, let task else { return .unknown }
            guard let state = try await store.task(run: run, id: task)?.state else {
                return .dead("task \(run)/\(task) is not in the store")
            }
            return state == .running ? .alive : .dead("task \(run)/\(task) is \(state.rawValue)")
        }
        if record.holder.hasPrefix("pid:") {
            // pid:<host>:<pid>; the host may itself hold colons, the pid is after the last one.
            let rest = record.holder.dropFirst(4)
            guard let colon = rest.lastIndex(of: ":"), let pid = Int32(rest[rest.index(after: colon)...]) else { return .unknown }
            let holderHost = String(rest[..<colon])
            guard holderHost == host else { return .unknown }
            guard probe.exists(pid) else { return .dead("pid \(pid) no longer exists on \(holderHost)") }
            // The pid was reused: a process that started after the lock was taken cannot be its holder.
            if let started = probe.startTime(pid), started > record.acquiredAt.addingTimeInterval(2) {
                return .dead("pid \(pid) on \(holderHost) is a newer process than the lock's holder")
            }
            return .alive
        }
        return .unknown
    }

    // MARK: Acquire, renew, release

    /// Takes `path` for `identity`, taking over a lock whose lease expired (the store does) or whose
    /// holder is dead (only if that holder still holds it), polling up to `wait` seconds.
    public func acquire(_ path: String, as identity: LockIdentity, ttl: Double, wait: Double = 0) async throws -> LockAcquireOutcome {
        let deadline = clock().addingTimeInterval(max(0, wait))
        let heldBefore = try await store.locks().first { $0.path == path }
        var delay = pollInitial
        while true {
            let now = clock()
            var result = try await store.acquireLock(request(path, identity, ttl: ttl), now: now)
            var deadReason: String?
            if case .heldBy(let current) = result, case .dead(let why) = try await liveness(of: current) {
                deadReason = why
                // Atomic in the store: replaces only if that same holder still holds it.
                result = try await store.acquireLock(request(path, identity, ttl: ttl, replacing: current.holder), now: clock())
            }
            switch result {
            case .acquired(let previous):
                let acquiredAt = heldBefore?.holder == identity.holder && previous == nil ? heldBefore!.acquiredAt : now
                let record = LockRecord(path: path, holder: identity.holder, host: identity.host, pid: identity.pid,
                                        run: identity.run, task: identity.task, acquiredAt: acquiredAt,
                                        expiresAt: now.addingTimeInterval(ttl))
                writeMarker(record)
                let takeover = previous.map { previous in
                    LockTakeover(previous: previous, reason: previous.expiresAt <= now || deadReason == nil
                                 ? "its lease expired at \(Self.iso(previous.expiresAt))" : deadReason!)
                }
                return .acquired(record, takeover: takeover, renewed: heldBefore?.holder == identity.holder && previous == nil)
            case .heldBy(let current):
                let remaining = deadline.timeIntervalSince(clock())
                if remaining <= 0 {
                    if let deadReason { return .held(by: current, liveness: .dead(deadReason)) }
                    return .held(by: current, liveness: try await liveness(of: current))
                }
                let jittered = delay * Double.random(in: 0.5...1.5)
                try await Task.sleep(for: .seconds(min(jittered, remaining)))
                delay = min(delay * 1.5, pollMax)
            }
        }
    }

    /// Extends the lease of a lock `identity` holds; refuses one it does not hold.
    public func renew(_ path: String, as identity: LockIdentity, ttl: Double) async throws -> LockAcquireOutcome? {
        guard let current = try await store.locks().first(where: { $0.path == path }), current.holder == identity.holder else {
            return nil
        }
        let now = clock()
        switch try await store.acquireLock(request(path, identity, ttl: ttl), now: now) {
        case .acquired:
            var record = current
            record.expiresAt = now.addingTimeInterval(ttl)
            record.pid = identity.pid
            record.host = identity.host
            writeMarker(record)
            return .acquired(record, takeover: nil, renewed: true)
        case .heldBy(let other):
            // Its lease lapsed and someone else took it in between.
            return .held(by: other, liveness: try await liveness(of: other))
        }
    }

    public func release(_ path: String, holder: String) async throws -> LockReleaseOutcome {
        let before = try await store.locks().first { $0.path == path }
        // Remove our own marker first: once the store lets go, a successor may write its marker at once.
        removeMarker(path, ifHeldBy: holder)
        if try await store.releaseLock(path: path, holder: holder) { return .released(before) }
        return .notHeld(current: try await store.locks().first { $0.path == path })
    }

    /// The store's view, with each holder's liveness; removes markers of locks the store no longer has.
    public func list() async throws -> [LockStatus] {
        let listedAt = clock()
        let readAt = Date()
        let records = try await store.locks()
        var statuses: [LockStatus] = []
        for record in records {
            statuses.append(LockStatus(record: record, expired: record.expiresAt <= listedAt, liveness: try await liveness(of: record)))
        }
        pruneMarkers(keeping: Set(records.map(\.path)), olderThan: readAt.addingTimeInterval(-2))
        return statuses
    }

    func request(_ path: String, _ identity: LockIdentity, ttl: Double, replacing: String? = nil) -> LockRequest {
        LockRequest(path: path, holder: identity.holder, host: identity.host, pid: identity.pid, run: identity.run,
                    task: identity.task, ttl: ttl, replacing: replacing)
    }

    // MARK: Markers

    public func markerURL(for path: String) -> URL? {
        markerDirectory?.appendingPathComponent(LockPath.markerName(for: path))
    }

    /// One JSON line for people (and `cat`); the store stays the authority.
    public static func markerLine(_ record: LockRecord) -> String {
        var object: [String: Any] = [
            "path": record.path, "holder": record.holder, "pid": Int(record.pid), "host": record.host,
            "acquired": iso(record.acquiredAt), "expires": iso(record.expiresAt),
        ]
        if let run = record.run { object["run"] = run }
        if let task = record.task { object["task"] = task }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    func writeMarker(_ record: LockRecord) {
        guard let directory = markerDirectory, let url = markerURL(for: record.path) else { return }
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try? Data(Self.markerLine(record).utf8).write(to: url, options: .atomic)
    }

    func removeMarker(_ path: String, ifHeldBy holder: String) {
        guard let url = markerURL(for: path), let data = FileManager.default.contents(atPath: url.path) else { return }
        let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        // An unreadable marker is nobody's: remove it too.
        if object == nil || object?["holder"] as? String == holder { try? FileManager.default.removeItem(at: url) }
    }

    /// Markers written before `cutoff` for paths the store does not hold; a newer one may belong to a
    /// lock taken after the store was read.
    func pruneMarkers(keeping paths: Set<String>, olderThan cutoff: Date) {
        guard let directory = markerDirectory,
              let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names {
            guard let path = LockPath.path(fromMarker: name), !paths.contains(path) else { continue }
            let url = directory.appendingPathComponent(name)
            let modified = (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate]) as? Date
            if let modified, modified < cutoff { try? FileManager.default.removeItem(at: url) }
        }
    }

    public static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: date)
    }
}
