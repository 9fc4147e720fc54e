import MusterCore
import MusterStore

/// A run no worker may join is claimed by its own orchestrator alone: a task whose `runs_on` needs
/// a label that orchestrator lacks would wait forever. Refused before anything is recorded.
public enum LabelCheck {
    /// The refusal for the first task (in plan order) that `labels` cannot take, if any. A
    /// `foreach: from` stand-in is judged by the tasks it becomes.
    public static func refusal(plan: Plan, labels: Set<String>, file: String) -> RunRefusal? {
        for task in plan.tasks {
            let required = task.runsOn + (task.expands?.runsOn ?? [])
            let missing = Labels.missing(required, have: labels)
            if !missing.isEmpty { return refusal(task: task.id, missing: missing, in: file) }
        }
        return nil
    }

    /// The same for a recorded run being resumed here: every task but the succeeded ones (a resume
    /// puts failed, skipped and cancelled tasks back in line).
    public static func refusal(tasks: [TaskRecord], labels: Set<String>, run: String) -> RunRefusal? {
        for task in tasks where task.state != .succeeded {
            let required = task.spec.runsOn + (task.spec.expands?.runsOn ?? [])
            let missing = Labels.missing(required, have: labels)
            if !missing.isEmpty { return refusal(task: task.id, missing: missing, in: "run \(run)") }
        }
        return nil
    }

    static func refusal(task: String, missing: [String], in place: String) -> RunRefusal {
        let names = Array(Set(missing)).sorted().joined(separator: ",")
        return RunRefusal("""
            \(place): task \(task) has `runs_on` label\(Set(missing).count == 1 ? "" : "s") \(names) that this run lacks, so it would \
            never start: add `--labels \(names)` to run it here, or share the run with workers that have \(Set(missing).count == 1 ? "it" : "them") \
            (`muster run --slots 0`, then `muster worker --labels \(names)`)
            """)
    }
}
