import Foundation
import MusterCore
import MusterStore

/// Small helpers shared by the subcommands.
enum Bench {
    /// The independent shell task `seed` creates: `true`, one group, no needs.
    static func task(_ index: Int) -> PlannedTask {
        PlannedTask(id: "t\(index)", group: "t", agent: "shell", command: Command(argv: ["true"]))
    }

    static func workflow(name: String) -> Workflow { Workflow(name: name, tasks: []) }

    /// Monotonic seconds since `start`.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    static func format(_ seconds: Double) -> String { String(format: "%.4f", seconds) }

    /// Writes ids one per line (the file the bench script concatenates to find double claims).
    static func writeIDs(_ ids: [String], to path: String) throws {
        var text = ids.joined(separator: "\n")
        if !ids.isEmpty { text += "\n" }
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The start gate (`--start-gate`): says this worker is ready, then waits for the script to open it.
    static func waitAtGate(_ gate: String?, holder: String) async throws {
        guard let gate else { return }
        try markReady(gate, holder: holder)
        while !FileManager.default.fileExists(atPath: gate) { try await Task.sleep(for: .milliseconds(2)) }
    }

    /// `waitAtGate` for a worker outside Swift concurrency (the GRDB loop).
    static func waitAtGateBlocking(_ gate: String?, holder: String) throws {
        guard let gate else { return }
        try markReady(gate, holder: holder)
        while !FileManager.default.fileExists(atPath: gate) { usleep(2000) }
    }

    private static func markReady(_ gate: String, holder: String) throws {
        let ready = "\(gate).ready.\(holder)"
        guard FileManager.default.createFile(atPath: ready, contents: nil) else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: ready]) }
    }

    /// One timing line on stderr: wall-clock epochs of the claim loop, so the script can measure
    /// the span of several concurrent workers without counting process start-up.
    static func reportSpan(start: Date, end: Date) {
        let line = String(format: "span start=%.6f end=%.6f\n", start.timeIntervalSince1970, end.timeIntervalSince1970)
        FileHandle.standardError.write(Data(line.utf8))
    }
}
