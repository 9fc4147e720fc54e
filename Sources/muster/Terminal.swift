import Foundation
import MusterCore
import MusterStore

/// Text output: colour only on a terminal and never with NO_COLOR; JSON for scripts.
enum Terminal {
    static let environment = ProcessInfo.processInfo.environment
    static let colorEnabled = isatty(STDOUT_FILENO) == 1 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
    static let stderrIsTerminal = isatty(STDERR_FILENO) == 1

    static func paint(_ text: String, _ code: String) -> String { colorEnabled ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
    static func bold(_ text: String) -> String { paint(text, "1") }
    static func dim(_ text: String) -> String { paint(text, "2") }

    static func state(_ state: TaskState) -> String {
        switch state {
        case .succeeded: paint(state.rawValue, "32")
        case .failed: paint(state.rawValue, "31")
        case .running: paint(state.rawValue, "36")
        case .skipped, .cancelled, .blocked: paint(state.rawValue, "33")
        case .pending, .ready: dim(state.rawValue)
        }
    }

    /// A task's shown state: `denied` (red) for one failed by refused tool calls.
    static func state(_ task: TaskRecord) -> String {
        task.agentFacts?.denied == true && task.state == .failed ? paint(task.shownState, "31") : state(task.state)
    }

    static func status(_ status: RunStatus) -> String {
        switch status {
        case .succeeded: paint(status.rawValue, "32")
        case .failed: paint(status.rawValue, "31")
        case .running: paint(status.rawValue, "36")
        case .cancelled: paint(status.rawValue, "33")
        }
    }

    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// A command's `--json` output: its Codable report, keys sorted.
    static func json<Value: Encodable>(_ value: Value) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(value)) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }

    static func json(_ value: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data()
        print(String(decoding: data, as: UTF8.self))
    }

    static func money(_ value: Double?) -> String {
        guard let value else { return "unknown" }
        return value < 0.01 && value > 0 ? String(format: "$%.4f", value) : String(format: "$%.2f", value)
    }

    static func tokens(_ n: Int) -> String {
        n >= 1_000_000 ? String(format: "%.1fM", Double(n) / 1e6) : n >= 1000 ? String(format: "%.1fk", Double(n) / 1e3) : "\(n)"
    }

    static func padded(_ text: String, _ width: Int) -> String {
        let visible = text.replacingOccurrences(of: "\u{1B}\\[[0-9;]*m", with: "", options: .regularExpression).count
        return text + String(repeating: " ", count: max(0, width - visible))
    }
}
