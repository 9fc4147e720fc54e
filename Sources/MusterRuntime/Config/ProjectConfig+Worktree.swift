import Foundation
import MusterCore
import TOMLKit

/// `[worktree]` in muster.toml: how task worktrees are made and recycled, and (under every
/// workflow's own `worktree:`, which wins key by key) what makes them ready to build.
///
/// ```toml
/// [worktree]
/// parallelism = 4          # worktrees made at once (default: the machine's cores, at least 2)
/// pool = 16                # finished worktrees kept for reuse (default 0: off)
/// pool_disk = "4GB"        # disk the pool may use (default: no bound)
/// copy = [".env"]          # as `worktree:` in a spec
/// link = ["node_modules"]
/// setup = ["npm ci --offline"]
/// inputs = ["package-lock.json"]
/// ```
extension ProjectConfig {
    static let worktreeKeys = ["parallelism", "pool", "pool_disk"] + WorktreeSpec.keys

    static func worktreeTable(_ table: TOMLTable, fail: Failure) throws(SpecError) -> (WorktreeSettings, WorktreeSpec?) {
        var settings = WorktreeSettings()
        guard let node = table["worktree"] else { return (settings, nil) }
        guard let body = node.table else {
            throw fail(["worktree"], true, "`worktree` must be a table", "write `[worktree]` with e.g. `pool = 16`")
        }
        var spec = WorktreeSpec()
        var hasSpec = false
        for key in body.keys.sorted() {
            let path = ["worktree", key]
            guard worktreeKeys.contains(key) else {
                let hint = Suggest.nearest(key, among: worktreeKeys).map { "did you mean `\($0)`?" }
                    ?? "known keys: \(worktreeKeys.joined(separator: ", "))"
                throw fail(path, false, "unknown key `\(key)` in [worktree]", hint)
            }
            let value = body[key]!
            switch key {
            case "parallelism":
                guard let number = value.int, (1...256).contains(number) else {
                    throw fail(path, true, "`worktree.parallelism` must be a whole number from 1 to 256",
                               "write e.g. `parallelism = 4` (worktrees made at once)")
                }
                settings.parallelism = number
            case "pool":
                guard let number = value.int, (0...10_000).contains(number) else {
                    throw fail(path, true, "`worktree.pool` must be a whole number from 0 to 10000",
                               "write e.g. `pool = 16` (finished worktrees kept for reuse; 0 turns the pool off)")
                }
                settings.pool = number
            case "pool_disk":
                let bytes = value.string.flatMap(WorktreeSettings.bytes) ?? value.int.flatMap { $0 >= 0 ? Int64($0) : nil }
                guard let bytes, bytes > 0 else {
                    throw fail(path, true, "`worktree.pool_disk` must be a size such as \"4GB\" or \"500MB\"",
                               "write e.g. `pool_disk = \"4GB\"` (disk the pooled worktrees may use together)")
                }
                settings.poolDiskBytes = bytes
            default:
                let entries = try strings(value, path, fail: fail)
                for entry in entries {
                    if key == "setup" {
                        if let problem = IntegrateSpec.problem(entry) {
                            throw fail(path, true, "`worktree.setup` command \(problem)", "write a shell command, e.g. `npm ci --offline`")
                        }
                    } else if let problem = WorktreeSpec.problem(entry) {
                        throw fail(path, true, "`worktree.\(key)` path \"\(entry)\" \(problem)",
                                   "write a path inside the repository, e.g. `.env` or `config/local.*`")
                    }
                }
                hasSpec = true
                switch key {
                case "copy": spec.copy = entries
                case "link": spec.link = entries
                case "inputs": spec.inputs = entries
                default: spec.setup = entries
                }
            }
        }
        return (settings, hasSpec ? spec : nil)
    }

    static func strings(_ value: any TOMLValueConvertible, _ path: [String], fail: Failure) throws(SpecError) -> [String] {
        guard let array = value.array else {
            throw fail(path, true, "`\(path.joined(separator: "."))` must be a list of strings", "write e.g. `\(path.last ?? "copy") = [\".env\"]`")
        }
        var items: [String] = []
        for element in array {
            guard let text = element.string else {
                throw fail(path, true, "`\(path.joined(separator: "."))` must be a list of strings", "quote each entry: `[\".env\"]`")
            }
            items.append(text)
        }
        return items
    }

    /// A workflow's `worktree:` over muster.toml's, key by key (nil when neither has one).
    public func worktreeSpec(under workflow: WorktreeSpec?) -> WorktreeSpec? {
        guard let base = worktreeDefaults else { return workflow }
        guard let workflow else { return base }
        return WorktreeSpec(copy: workflow.copy ?? base.copy, link: workflow.link ?? base.link,
                            setup: workflow.setup ?? base.setup, inputs: workflow.inputs ?? base.inputs)
    }
}
