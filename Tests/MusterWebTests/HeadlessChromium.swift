import Foundation
import MusterRuntime

/// Headless Chromium driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: commands
/// on fd 3, replies on fd 4, each a JSON object ended by NUL), so a test can watch a page change
/// without reloading it, and take screenshots. Reads happen on a thread of their own.
final class HeadlessChromium: @unchecked Sendable {
    let pid: pid_t
    let commands: Int32
    let replies: Int32
    let profile: URL
    private var nextID = 0
    private var pending = Data()
    var session: String?

    /// The browser's path, or nil when it is not installed.
    static var executable: String? {
        ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    init(executable: String) throws {
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("muster-chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: profile, withIntermediateDirectories: true)
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else { throw POSIXError(.EIO) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
        let devNull = Glibc.open("/dev/null", O_WRONLY)
        posix_spawn_file_actions_adddup2(&actions, devNull, 1)
        posix_spawn_file_actions_adddup2(&actions, devNull, 2)
        let arguments = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                         "--remote-debugging-pipe", "--user-data-dir=\(profile.path)", "about:blank"]
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        Glibc.close(toBrowser[0])
        Glibc.close(fromBrowser[1])
        Glibc.close(devNull)
        guard status == 0 else { throw POSIXError(.ENOENT) }
        self.pid = pid
        commands = toBrowser[1]
        replies = fromBrowser[0]
    }

    /// Opens `url` in a new tab and attaches to it.
    func open(_ url: String) async throws {
        let created = try await send("Target.createTarget", ["url": url], session: false)
        guard let target = created["targetId"] as? String else { throw POSIXError(.EPROTO) }
        let attached = try await send("Target.attachToTarget", ["targetId": target, "flatten": true], session: false)
        session = attached["sessionId"] as? String
    }

    /// A JavaScript expression's value in the page.
    func evaluate(_ expression: String) async throws -> Any? {
        let reply = try await send("Runtime.evaluate", ["expression": expression, "returnByValue": true])
        return (reply["result"] as? [String: Any])?["value"]
    }

    /// A PNG of the page at a phone's width.
    func screenshot(width: Int, height: Int) async throws -> Data {
        _ = try await send("Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 2, "mobile": true])
        let shot = try await send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": false])
        guard let base64 = shot["data"] as? String, let png = Data(base64Encoded: base64) else { throw POSIXError(.EPROTO) }
        return png
    }

    /// Sends one command and waits (on a thread of its own) for its reply, skipping events.
    func send(_ method: String, _ params: [String: Any] = [:], session useSession: Bool = true) async throws -> [String: Any] {
        nextID += 1
        var message: [String: Any] = ["id": nextID, "method": method, "params": params]
        if useSession, let session { message["sessionId"] = session }
        var data = try JSONSerialization.data(withJSONObject: message)
        data.append(0)
        let written = data.withUnsafeBytes { write(commands, $0.baseAddress, $0.count) }
        guard written == data.count else { throw POSIXError(.EPIPE) }
        let id = nextID
        return try await withCheckedThrowingContinuation { continuation in
            Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                let deadline = Date().addingTimeInterval(60)
                while Date() < deadline {
                    while let end = pending.firstIndex(of: 0) {
                        let chunk = pending[pending.startIndex..<end]
                        pending = Data(pending[pending.index(after: end)...])
                        if let object = try? JSONSerialization.jsonObject(with: chunk) as? [String: Any], object["id"] as? Int == id {
                            if let error = object["error"] { return continuation.resume(throwing: CDPError(message: "\(method): \(error)")) }
                            return continuation.resume(returning: object["result"] as? [String: Any] ?? [:])
                        }
                    }
                    var pfd = pollfd(fd: replies, events: Int16(POLLIN), revents: 0)
                    guard poll(&pfd, 1, 200) >= 0 else { break }
                    if pfd.revents == 0 { continue }
                    let n = read(replies, &buffer, buffer.count)
                    if n <= 0 { break }
                    pending.append(contentsOf: buffer[0..<n])
                }
                continuation.resume(throwing: CDPError(message: "\(method): no reply from the browser"))
            }.start()
        }
    }

    func close() async {
        _ = try? await send("Browser.close", [:], session: false)
        Glibc.close(commands)
        Glibc.close(replies)
        let pid = pid
        await withCheckedContinuation { continuation in
            Thread {
                // Browser.close ends it and its helpers; a browser that hangs is killed after 10 s.
                var status: Int32 = 0
                let deadline = Date().addingTimeInterval(10)
                while waitpid(pid, &status, WNOHANG) == 0 {
                    if Date() >= deadline { kill(pid, SIGKILL); _ = CommandRunner.wait(pid); break }
                    usleep(50_000)
                }
                continuation.resume()
            }.start()
        }
        try? FileManager.default.removeItem(at: profile)
    }

    struct CDPError: Error, CustomStringConvertible { var message: String; var description: String { message } }
}
