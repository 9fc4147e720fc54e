import Yams

/// `sandbox:` and `writable:`, at workflow level and per task; a task's `runs_on:`.
extension NodeReader {
    func sandbox(_ node: Node) throws(SpecError) -> SandboxMode {
        let text = try string(node, "`sandbox`")
        guard let mode = SandboxMode(rawValue: text) else {
            let names = SandboxMode.allCases.map(\.rawValue)
            let hint = Suggest.nearest(text, among: names).map { "did you mean `\($0)`?" } ?? "one of: \(names.joined(separator: ", "))"
            throw fail(node, "`sandbox` must be `worktree`, `owned` or `none`, got `\(text)`", fix: hint)
        }
        return mode
    }

    /// Paths the task may also write inside its sandbox: each checked by `WritablePath`.
    mutating func writable(_ node: Node, path: String) throws(SpecError) -> [String] {
        let paths = try strings(node, "`writable`", path: path)
        for (index, entry) in paths.enumerated() {
            if let problem = WritablePath.problem(entry) {
                let at: Node
                if case .sequence(let sequence) = node, index < sequence.count { at = sequence[index] } else { at = node }
                throw fail(at, "`writable` path \"\(entry)\" \(problem)",
                           fix: "write a folder inside the repository, an absolute path or `~/…`")
            }
        }
        return paths
    }

    /// `runs_on: [gpu, big]`: labels, each checked by `Labels`; repeats are folded, order kept.
    mutating func runsOn(_ node: Node, path: String) throws(SpecError) -> [String] {
        let names = try strings(node, "`runs_on`", path: path)
        var out: [String] = []
        for (index, name) in names.enumerated() {
            if let problem = Labels.problem(name) {
                let at: Node
                if case .sequence(let sequence) = node, index < sequence.count { at = sequence[index] } else { at = node }
                throw fail(at, "`runs_on` label `\(name)` \(problem)",
                           fix: "name labels with \(Labels.rule), e.g. `runs_on: [gpu]`; a worker takes the task with `--labels gpu`")
            }
            if !out.contains(name) { out.append(name) }
        }
        return out
    }
}
