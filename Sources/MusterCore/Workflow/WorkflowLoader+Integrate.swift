import Yams

/// `integrate: {check: "swift build", batch: 4}`.
extension NodeReader {
    mutating func integrate(_ node: Node) throws(SpecError) -> IntegrateSpec {
        guard case .mapping = node else {
            throw fail(node, "`integrate` must be a mapping", fix: "write e.g. `integrate: {check: \"swift build\"}`")
        }
        var spec = IntegrateSpec()
        for (key, keyNode, value) in try pairs(node, what: "`integrate`", allowed: IntegrateSpec.keys) {
            record("integrate.\(key)", keyNode)
            switch key {
            case "check":
                let command = try string(value, "`integrate.check`")
                if let problem = IntegrateSpec.problem(command) {
                    throw fail(value, "`integrate.check` \(problem)", fix: "write the command that must pass after each merge, e.g. `swift build`")
                }
                spec.check = command
            default:
                spec.batch = try int(value, "`integrate.batch`", min: 1, max: IntegrateSpec.maxBatch)
            }
        }
        return spec
    }
}
