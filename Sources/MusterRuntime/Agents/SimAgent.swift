import Foundation
import MusterCore

/// A simulated agent: a real process that sleeps for the task's estimate (divided by the
/// simulation speed) and reports the estimated tokens in Claude Code's stream-json result form,
/// so `--simulate` previews wall-clock and cost through the same path as a real agent.
public struct SimAgent: AgentAdapter {
    public let name = "sim"
    public let spendsTokens = true

    public func invocation(for task: PlannedTask, prompt: String?, context: AgentContext) throws -> AgentInvocation {
        let seconds = (task.estimate?.minutes ?? 0) * 60 / max(context.simulationSpeed, 0.000_001)
        let result: [String: Any] = [
            "type": "result", "subtype": "success", "is_error": false,
            "duration_ms": Int(seconds * 1000),
            "result": "simulated \(task.id)" + (task.item.map { " for \($0.text)" } ?? ""),
            "model": task.model ?? "",
            "usage": ["input_tokens": task.estimate?.inputTokens ?? 0, "output_tokens": task.estimate?.outputTokens ?? 0],
        ]
        let line = String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self)
        // A shell that runs sleep, then prints one line: two small processes, a few ms of CPU in all.
        return AgentInvocation(executable: "/bin/sh",
                               arguments: ["sh", "-c", "sleep \"$1\" && printf '%s\\n' \"$2\"", "muster-sim",
                                           String(format: "%.3f", seconds), line])
    }

    public func report(stdout: String, status: TerminationStatus, task: PlannedTask) -> AgentReport {
        for line in stdout.split(separator: "\n").reversed() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["type"] as? String == "result" else { continue }
            let usage = object["usage"] as? [String: Any]
            return AgentReport(
                result: object["result"] as? String ?? "",
                usage: usage.map { TokenUsage(input: $0["input_tokens"] as? Int ?? 0, output: $0["output_tokens"] as? Int ?? 0) },
                costUSD: nil, model: (object["model"] as? String).flatMap { $0.isEmpty ? nil : $0 },
                isError: object["is_error"] as? Bool ?? !status.succeeded)
        }
        return AgentReport(result: stdout, usage: nil, isError: true)
    }
}
