import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

struct LogsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logs", abstract: "Print a task's output (stdout and stderr as they came).")

    @Argument(help: "The run id.") var run: String
    @Argument(help: "The task id (see `muster status RUN`).") var task: String
    @Flag(name: .shortAndLong, help: "Keep printing new output until the task finishes.") var follow = false
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            guard let record = try await store.task(run: run, id: task) else { throw StoreError.unknownTask(run: run, task: task) }
            let workspace = global.workspace
            let path = workspace.taskDirectory(run: run, task: task).appendingPathComponent("output.log").path
            // A task a worker ran on another host keeps its log there (the store holds its summary).
            if let host = record.host, host != ProcessInfo.processInfo.hostName, !FileManager.default.fileExists(atPath: path) {
                throw CLIError.failed("the log of task \(task) is on \(host), the host that ran it (in its worker's clone, "
                                      + ".muster/runs/\(run)/tasks/\(task)/output.log): run `muster logs \(run) \(task)` there; "
                                      + "`muster status \(run) --json` has its summary and error from anywhere")
            }
            if global.json {
                let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                Terminal.json(CommandJSON.Logs(run: run, task: task, state: record.state.rawValue, path: path, output: text))
                return
            }
            var offset: UInt64 = 0
            while true {
                offset = Self.copy(path, from: offset)
                guard follow else { return }
                if try await store.task(run: run, id: task)?.state.isFinal != false {
                    _ = Self.copy(path, from: offset)
                    return
                }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// Writes the file from `offset` to stdout; returns the new offset.
    static func copy(_ path: String, from offset: UInt64) -> UInt64 {
        guard let handle = FileHandle(forReadingAtPath: path) else { return offset }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = handle.readDataToEndOfFile()
        FileHandle.standardOutput.write(data)
        return offset + UInt64(data.count)
    }
}
