import Foundation
import MusterRuntime

/// Starts an agent CLI once, straight (not through muster), against a stub conversation: how
/// long until its first request reaches the model API, and its peak resident memory (ru_maxrss).
enum StartupProbe {
    struct Measure {
        var seconds: Double?
        var peakMiB: Double?
        var status: Int32
    }

    static func measure(executable: String, arguments: [String], directory: String, environment: [String: String],
                        stub: ModelStub, key: String) async throws -> Measure {
        let started = Date().timeIntervalSince1970
        let log = (directory as NSString).appendingPathComponent(".muster-doctor-startup.log")
        let pid = try CommandRunner.spawn(executable, arguments, in: directory, environment: environment,
                                          stdoutPath: log, stderrPath: log)
        let (status, maxrss) = await waitWithUsage(pid)
        let first = stub.ledger()[key]?.firstRequestAt
        try? FileManager.default.removeItem(atPath: log)
        return Measure(seconds: first.map { $0 - started }, peakMiB: Double(maxrss) / 1024, status: status)
    }

    /// wait4 on a thread of its own: (exit status or 128+signal, ru_maxrss in KiB).
    static func waitWithUsage(_ pid: pid_t) async -> (Int32, Int) {
        await withCheckedContinuation { continuation in
            Thread {
                var status: Int32 = 0
                var usage = rusage()
                while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
                let signal = status & 0x7f
                continuation.resume(returning: (signal == 0 ? (status >> 8) & 0xff : 128 + signal, usage.ru_maxrss))
            }.start()
        }
    }
}
