import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

struct ReviewCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "review", abstract: "Show what a task changed, and whether it stayed within its owns.")

    @Argument(help: "The run id.") var run: String
    @Argument(help: "The task id.") var task: String
    @Flag(help: "Show old and new side by side in two columns.") var sideBySide = false
    @Option(help: "Width of the side-by-side view (default: the terminal's, or 160).") var width: Int?
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        try await guarded {
            let store = try await global.openStore(create: false)
            let runRecord = try await store.requireRun(run)
            guard let record = try await store.task(run: run, id: task) else { throw StoreError.unknownTask(run: run, task: task) }
            guard let git = record.git else {
                throw CLIError.usage("task \(task) has no recorded changes: it has not finished, or the run did not use git")
            }
            let repo = Git(URL(fileURLWithPath: runRecord.root))
            let head = git.headCommit ?? git.baseCommit
            let verdict = git.violations.isEmpty ? "ok" : "violation"
            if global.json {
                let diff = try await repo.output(["diff", git.baseCommit, head])
                Terminal.json(CommandJSON.Review(
                    run: run, task: task, state: record.state.rawValue, branch: git.branch, baseCommit: git.baseCommit,
                    headCommit: git.headCommit, owns: record.spec.owns, changedPaths: git.changedPaths, violations: git.violations,
                    ownership: verdict, diff: diff))
                return
            }
            print("\(Terminal.bold("\(run) / \(task)"))  \(Terminal.state(record.state))  branch \(git.branch ?? "(in place)")")
            print("owns: \(record.spec.owns.isEmpty ? "(nothing: it may change no file)" : record.spec.owns.joined(separator: ", "))")
            if git.changedPaths.isEmpty {
                print("ownership: ok — it changed nothing")
                return
            }
            let outside = Set(git.violations)
            print(git.violations.isEmpty ? "ownership: \(Terminal.paint("ok", "32")) — every changed file is within its owns"
                                         : "ownership: \(Terminal.paint("violation", "31")) — \(git.violations.count) changed files are outside its owns")
            for path in git.changedPaths {
                print("  \(outside.contains(path) ? Terminal.paint("✗", "31") : Terminal.paint("✓", "32")) \(path)")
            }
            print("")
            if sideBySide {
                let diff = try await repo.output(["diff", "--no-color", git.baseCommit, head])
                let columns = width ?? Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 160
                print(SideBySide.render(diff, width: max(40, columns)))
            } else {
                print(try await repo.output(["diff", Terminal.colorEnabled ? "--color=always" : "--no-color", git.baseCommit, head]))
            }
        }
    }
}

/// Renders a unified diff as two columns: the old text on the left, the new on the right.
enum SideBySide {
    static func render(_ diff: String, width: Int) -> String {
        let column = (width - 3) / 2
        var out: [String] = []
        var removed: [String] = [], added: [String] = []
        func cell(_ text: String) -> String {
            let clipped = text.count > column ? String(text.prefix(column - 1)) + "…" : text
            return clipped + String(repeating: " ", count: max(0, column - clipped.count))
        }
        func flush() {
            for i in 0..<max(removed.count, added.count) {
                let left = i < removed.count ? Terminal.paint(cell(removed[i]), "31") : cell("")
                let right = i < added.count ? Terminal.paint(added[i], "32") : ""
                let marker = i < removed.count && i < added.count ? "|" : i < removed.count ? "<" : ">"
                out.append("\(left) \(marker) \(right)")
            }
            removed = []
            added = []
        }
        for line in diff.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("diff --git") {
                flush()
                out.append(Terminal.bold(String(line.dropFirst("diff --git ".count))))
            } else if line.hasPrefix("---") || line.hasPrefix("+++") || line.hasPrefix("index ") || line.hasPrefix("new file")
                        || line.hasPrefix("deleted file") || line.hasPrefix("similarity") || line.hasPrefix("rename ") {
                continue
            } else if line.hasPrefix("@@") {
                flush()
                out.append(Terminal.dim(line))
            } else if line.hasPrefix("-") {
                removed.append(String(line.dropFirst()))
            } else if line.hasPrefix("+") {
                added.append(String(line.dropFirst()))
            } else {
                flush()
                let text = line.hasPrefix(" ") ? String(line.dropFirst()) : line
                out.append("\(cell(text))   \(text)")
            }
        }
        flush()
        return out.joined(separator: "\n")
    }
}
