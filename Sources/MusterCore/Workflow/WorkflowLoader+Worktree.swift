import Yams

/// `worktree: {copy: [.env], link: [node_modules], setup: ["npm ci --offline"]}`.
extension NodeReader {
    mutating func worktree(_ node: Node) throws(SpecError) -> WorktreeSpec {
        guard case .mapping = node else {
            throw fail(node, "`worktree` must be a mapping", fix: "write e.g. `worktree: {copy: [.env], link: [node_modules], setup: [\"make deps\"]}`")
        }
        var spec = WorktreeSpec()
        for (key, keyNode, value) in try pairs(node, what: "`worktree`", allowed: WorktreeSpec.keys) {
            record("worktree.\(key)", keyNode)
            let entries = try strings(value, "`worktree.\(key)`", path: "worktree.\(key)")
            for (index, entry) in entries.enumerated() {
                let at: Node
                if case .sequence(let sequence) = value, index < sequence.count { at = sequence[index] } else { at = value }
                if key == "setup" {
                    if let problem = IntegrateSpec.problem(entry) {
                        throw fail(at, "`worktree.setup` command \(problem)", fix: "write a shell command, e.g. `npm ci --offline`")
                    }
                } else if let problem = WorktreeSpec.problem(entry) {
                    throw fail(at, "`worktree.\(key)` path \"\(entry)\" \(problem)", fix: "write a path inside the repository, e.g. `.env` or `config/local.*`")
                }
            }
            switch key {
            case "copy": spec.copy = entries
            case "link": spec.link = entries
            case "inputs": spec.inputs = entries
            default: spec.setup = entries
            }
        }
        return spec
    }
}
