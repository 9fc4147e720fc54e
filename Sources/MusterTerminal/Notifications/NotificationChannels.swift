import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Terminal notifications: OSC 9 (iTerm2, Windows Terminal, kitty…), OSC 777 (VTE, foot, WezTerm…)
/// and the bell. Written to stderr; the caller only enables them when stderr is a terminal.
public enum DesktopNotification {
    public static func escapeSequences(title: String, body: String) -> String {
        func safe(_ s: String) -> String {
            String(s.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }.map(Character.init)).replacingOccurrences(of: ";", with: ",")
        }
        return "\u{1B}]9;\(safe(title)): \(safe(body))\u{07}" + "\u{1B}]777;notify;\(safe(title));\(safe(body))\u{07}" + "\u{07}"
    }

    public static func send(title: String, body: String, fd: Int32 = STDERR_FILENO) {
        let bytes = Array(escapeSequences(title: title, body: body).utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}

/// POSTs the JSON summary to a URL, with a timeout per attempt and retries with back-off on
/// network errors, 429 and 5xx. Never throws: the outcome is returned for a log line.
public struct WebhookSender: Sendable {
    public var url: URL
    public var timeout: TimeInterval
    public var retries: Int
    public var backoff: TimeInterval

    public init(url: URL, timeout: TimeInterval = 10, retries: Int = 3, backoff: TimeInterval = 0.5) {
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
    }

    public struct Delivery: Sendable, Equatable {
        public var attempts: Int
        public var status: Int?
        public var error: String?
        public var delivered: Bool { status.map { (200..<300).contains($0) } ?? false }
    }

    public func send(_ body: Data) async -> Delivery {
        var request = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("muster", forHTTPHeaderField: "User-Agent")
        request.httpBody = body
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout
        let session = URLSession(configuration: configuration)
        defer { session.finishTasksAndInvalidate() }
        var delivery = Delivery(attempts: 0)
        for attempt in 0...max(0, retries) {
            if attempt > 0 {
                try? await Task.sleep(for: .seconds(backoff * pow(2, Double(attempt - 1))))
            }
            delivery.attempts = attempt + 1
            do {
                let status = try await post(request, session: session)
                delivery.status = status
                delivery.error = nil
                if (200..<300).contains(status) { return delivery }
                if status != 429 && status < 500 { return delivery }  // a client error will not get better
            } catch {
                delivery.status = nil
                delivery.error = "\(error.localizedDescription)"
            }
        }
        return delivery
    }

    func post(_ request: URLRequest, session: URLSession) async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            let task = session.dataTask(with: request) { _, response, error in
                if let error {
                    continuation.resume(throwing: error)
                } else {
                    continuation.resume(returning: (response as? HTTPURLResponse)?.statusCode ?? 0)
                }
            }
            task.resume()
        }
    }
}

/// Runs a command (an argv: no shell) with the JSON summary on stdin and MUSTER_RUN,
/// MUSTER_STATUS, MUSTER_EVENT in its environment; its output goes to stderr. Killed after `timeout`.
public struct CommandNotification: Sendable {
    public var argv: [String]
    public var timeout: TimeInterval

    public init(argv: [String], timeout: TimeInterval = 30) {
        self.argv = argv
        self.timeout = timeout
    }

    /// The exit status, or an error message.
    public func run(_ body: Data, report: RunReport) async -> Result<Int32, CommandError> {
        guard let program = argv.first else { return .failure(CommandError(message: "empty command")) }
        var environment = ProcessInfo.processInfo.environment
        environment["MUSTER_RUN"] = report.run
        environment["MUSTER_STATUS"] = report.status
        environment["MUSTER_EVENT"] = report.event ?? ""
        // stdin from a file, not a pipe: a command that does not read it cannot cause a SIGPIPE here.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("muster-notify-\(UUID().uuidString).json")
        do { try body.write(to: file) } catch {
            return .failure(CommandError(message: "could not write the summary for \(program): \(error.localizedDescription)"))
        }
        defer { try? FileManager.default.removeItem(at: file) }
        guard let pid = Spawn.start(argv, stdin: file.path, stdout: .stderr, stderr: .inherit, environment: environment) else {
            let reason = errno == ENOENT ? "command not found" : String(cString: strerror(errno))
            return .failure(CommandError(message: "\(program): \(reason)"))
        }
        let deadline = ContinuousClock.now + .seconds(timeout)
        while true {
            if let status = Spawn.poll(pid) { return .success(status) }
            if ContinuousClock.now >= deadline {
                kill(pid, SIGKILL)
                _ = Spawn.wait(pid)
                return .failure(CommandError(message: "\(program) took longer than \(Int(timeout)) s and was stopped"))
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    public struct CommandError: Error, Sendable { public var message: String }
}
