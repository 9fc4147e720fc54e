import Foundation
import Synchronization
import MusterTestKit
import Testing
@testable import MusterRuntime

/// The live line reader: whole lines to the parser while the process runs, a bounded buffer
/// whatever the line length, and the tail the log keeps past its cap.
@Suite struct LiveLinesTests {
    static func feed(_ chunks: [String], cap: Int = 16) -> [(String, Bool)] {
        var assembler = LineAssembler(cap: cap)
        var lines: [(String, Bool)] = []
        for chunk in chunks {
            Array(chunk.utf8).withUnsafeBytes { bytes in
                assembler.feed(bytes) { lines.append((String(decoding: $0, as: UTF8.self), $1)) }
            }
        }
        assembler.flush { lines.append((String(decoding: $0, as: UTF8.self), $1)) }
        return lines
    }

    @Test func linesSplitAcrossChunksArriveWhole() {
        let lines = Self.feed(["ab", "c\nde\n\nf", "g"])
        #expect(lines.map(\.0) == ["abc", "de", "", "fg"])
        #expect(lines.allSatisfy { !$0.1 })
    }

    @Test func aLongLineKeepsOnlyItsStartAndIsMarkedTruncated() {
        let lines = Self.feed([String(repeating: "x", count: 40), String(repeating: "y", count: 40) + "\nok\n"], cap: 16)
        #expect(lines.count == 2)
        #expect(lines[0] == (String(repeating: "x", count: 16), true))
        #expect(lines[1] == ("ok", false))
    }

    @Test func tailKeepsTheLastBytesInABoundedBuffer() {
        var tail: [UInt8] = []
        for i in 0..<1000 {
            Array(repeating: UInt8(i % 251), count: 300).withUnsafeBytes { OutputCapture.keepTail(&tail, $0, cap: 1024) }
            #expect(tail.count <= 1024 && tail.capacity <= 4096)
        }
        #expect(tail.count == 1024 && tail.last == UInt8(999 % 251))
        Array(repeating: UInt8(7), count: 5000).withUnsafeBytes { OutputCapture.keepTail(&tail, $0, cap: 1024) }
        #expect(tail == Array(repeating: 7, count: 1024))
    }

    /// Through a real process: the handler sees each line as it is printed, before the process exits.
    @Test func aRunningProcessesLinesReachTheHandlerBeforeItExits() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("muster-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let seen = Mutex<[String]>([])
        let exited = Mutex(false)
        let supervisor = ProcessSupervisor { _ in exited.withLock { $0 = true } }
        _ = try supervisor.launch(LaunchRequest(
            key: "k", executable: "/bin/sh", arguments: ["sh", "-c", "echo one; echo two >&2; while [ ! -e release ]; do sleep 0.02; done; printf three"],
            environment: ["PATH": "/usr/bin:/bin"], directory: dir.path, logPath: dir.appendingPathComponent("log").path,
            stdoutPath: dir.appendingPathComponent("out").path,
            onLine: { line, fromStdout, _ in seen.withLock { $0.append((fromStdout ? "out:" : "err:") + String(decoding: line, as: UTF8.self)) } }))
        _ = try await eventually(timeout: 60) { seen.withLock { $0.count } >= 2 }
        #expect(Set(seen.withLock { $0 }) == ["out:one", "err:two"])
        #expect(!exited.withLock { $0 }, "seen while the process still runs")
        FileManager.default.createFile(atPath: dir.appendingPathComponent("release").path, contents: nil)
        #expect(try await eventually(timeout: 60) { exited.withLock { $0 } }, "the process ended once released")
        #expect(seen.withLock { $0.last } == "out:three", "the last line without a newline is flushed at the end")
    }
}
