import Foundation
import MusterStore

/// Copies a run's event log from the Store to `events.jsonl`, one JSON object per line, so people
/// can `tail -f` it and scripts can read it without a database driver.
struct EventMirror {
    let fd: Int32
    var cursor: Int64 = 0

    init(path: String) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError.io("cannot write \(path)", errno) }
        // A resumed run appends: skip what an earlier orchestrator already mirrored.
        if let existing = try? String(contentsOfFile: path, encoding: .utf8),
           let last = existing.split(separator: "\n").last,
           let object = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any],
           let seq = object["seq"] as? Int64 ?? (object["seq"] as? Int).map(Int64.init) {
            cursor = seq
        }
    }

    mutating func mirror(_ store: any Store, run: String) async throws {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        while true {
            let batch = try await store.events(run: run, after: cursor, limit: 1000)
            guard !batch.isEmpty else { return }
            var text = ""
            for event in batch {
                var object: [String: Any] = ["seq": event.sequence, "at": formatter.string(from: event.at), "kind": event.kind,
                                             "message": event.message]
                if let task = event.task { object["task"] = task }
                let line = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                text += String(decoding: line, as: UTF8.self) + "\n"
            }
            text.utf8CString.withUnsafeBytes { writeAll(fd, UnsafeRawBufferPointer(rebasing: $0.dropLast())) }
            cursor = batch.last!.sequence
        }
    }

    func close() { _ = Foundation.close(fd) }
}
