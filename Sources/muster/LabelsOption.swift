import MusterCore

/// `--labels a,b` of `muster worker`, `run` and `resume`: the labels this host claims with; a task
/// with `runs_on` is taken only by a host that has all of its labels.
enum LabelsOption {
    static func parse(_ text: String?) throws -> Set<String> {
        guard let text else { return [] }
        switch Labels.parse(commaSeparated: text) {
        case .success(let labels): return labels
        case .failure(let error): throw CLIError.usage("--labels: \(error.description), separated by commas, e.g. --labels gpu,big")
        }
    }
}
