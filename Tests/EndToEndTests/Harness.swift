import Foundation

/// Drives the built `muster` binary as a user would, in a temp git repository.
struct Harness {
    let root: URL

    /// The folder the test runner was built into holds `muster` and `muster-bench` too.
    static let binDirectory: URL = {
        if let override = ProcessInfo.processInfo.environment["MUSTER_BIN_DIR"] { return URL(fileURLWithPath: override) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On Linux the runner is `…/debug/musterPackageTests.xctest`; on macOS a bundle inside it.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("muster").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }()

    static var muster: String { binDirectory.appendingPathComponent("muster").path }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
    }

    init(git: Bool = true) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("muster-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        if git {
            _ = try Self.exec("/usr/bin/env", ["git", "init", "-q", "-b", "main", root.path], in: root)
            try self.git("config", "user.name", "Test")
            try self.git("config", "user.email", "test@example.com")
            try self.git("commit", "-q", "--allow-empty", "-m", "start")
        }
    }

    @discardableResult
    func git(_ arguments: String...) throws -> Result {
        try Self.exec("/usr/bin/env", ["git"] + arguments, in: root)
    }

    /// Commits everything in the repository (task worktrees start from HEAD).
    func commitAll(_ message: String = "fixture") throws {
        try git("add", "-A")
        try git("commit", "-q", "--allow-empty", "-m", message)
    }

    func write(_ name: String, _ text: String) throws {
        let url = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }

    func read(_ name: String) -> String { (try? String(contentsOfFile: path(name), encoding: .utf8)) ?? "" }

    func lines(_ name: String) -> [String] { read(name).split(separator: "\n").map(String.init) }

    @discardableResult
    func muster(_ arguments: String...) throws -> Result { try Self.exec(Self.muster, arguments, in: root) }

    func musterArgs(_ arguments: [String]) throws -> Result { try Self.exec(Self.muster, arguments, in: root) }

    /// Starts muster without waiting (to interrupt or kill it).
    func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.muster)
        process.arguments = arguments
        process.currentDirectoryURL = root
        // Its own /dev/null: Foundation's Process closes the handles it is given, and closing the
        // shared FileHandle.nullDevice twice closes whatever descriptor took its number meanwhile.
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        return process
    }

    static func exec(_ executable: String, _ arguments: [String], in directory: URL, environment: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        var env = ProcessInfo.processInfo.environment
        env["NO_COLOR"] = "1"
        env.removeValue(forKey: "MUSTER_STORE")
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Read both pipes while the process runs so a full pipe never blocks it.
        let errData = Mutexed(Data())
        let reader = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        while !errData.done { usleep(1000) }
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData.value, as: UTF8.self))
    }

    /// Waits until `condition` holds, polling; fails after `timeout`.
    static func eventually(timeout: Double = 20, _ condition: () throws -> Bool) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return false
    }
}

/// A value set once from another thread (test plumbing only).
final class Mutexed<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    private var isSet = false
    init(_ value: T) { stored = value }
    func set(_ value: T) { lock.lock(); stored = value; isSet = true; lock.unlock() }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return isSet }
}
