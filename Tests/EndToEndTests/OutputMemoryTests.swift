import Foundation
import MusterRuntime
import MusterTestKit
import Testing

/// Issue 11, finding 7: the orchestrator's memory must not grow with its tasks' output. Two tasks
/// print 300 MB each (stdout without a newline, stderr in short lines); the orchestrator's peak
/// resident memory (VmHWM) may grow by less than 32 MiB over the same run printing nothing.
/// (It used to keep about one byte per byte past the log cap.) Memory, not timing, is asserted.
@Suite(.serialized) struct OutputMemoryTests {
    static let megabytes = 300

    /// Peak resident memory of `pid` in KiB, sampled from /proc every 20 ms on a thread of its own
    /// (a busy test pool must not make it miss the run), then reaped once it has exited.
    static func peakKiB(of process: BackgroundProcess) async -> (peak: Int, status: TerminationStatus) {
        let peak: Int = await withCheckedContinuation { continuation in
            Thread {
                var peak = 0
                while true {
                    // A zombie (exited, not yet reaped by us) has no memory lines left.
                    guard let status = try? String(contentsOfFile: "/proc/\(process.pid)/status", encoding: .utf8),
                          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { break }
                    if let kib = Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") {
                        peak = max(peak, kib)
                    }
                    usleep(20_000)
                }
                continuation.resume(returning: peak)
            }.start()
        }
        return (peak, await process.exited())
    }

    static func run(_ h: TestRepository, spec: String) async throws -> Int {
        try h.write("spec.yml", spec)
        let process = try h.start(["run", "spec.yml"])
        let (peak, status) = await peakKiB(of: process)
        #expect(status == .exited(0), "the run failed")
        #expect(peak > 0, "no memory figure was read")
        return peak
    }

    static func spec(_ stdout: String, _ stderr: String) -> String {
        """
        name: output
        concurrency: 2
        isolation: none
        tasks:
          out:
            shell: true
            command: "\(stdout); sleep 2"
          err:
            shell: true
            command: "\(stderr); sleep 2"
        """
    }

    @Test func hundredsOfMegabytesOfOutputDoNotGrowTheOrchestrator() async throws {
        let h = try await TestRepository(git: false)
        defer { try? FileManager.default.removeItem(at: h.root) }
        let bytes = Self.megabytes * 1_000_000
        let quiet = try await Self.run(h, spec: Self.spec("true", "true"))
        let loud = try await Self.run(h, spec: Self.spec("head -c \(bytes) /dev/zero", "yes | head -c \(bytes) >&2"))
        let grownMiB = Double(loud - quiet) / 1024
        print("orchestrator peak: \(quiet / 1024) MiB quiet, \(loud / 1024) MiB with 2 × \(Self.megabytes) MB of output (+\(String(format: "%.1f", grownMiB)) MiB)")
        #expect(grownMiB < 32, "the orchestrator grew by \(grownMiB) MiB for \(2 * Self.megabytes) MB of output")
    }
}
