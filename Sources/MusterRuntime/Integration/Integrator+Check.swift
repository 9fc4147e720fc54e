import Foundation

extension Integrator {
    /// The merge queue: merges `plan` by plumbing as `mergeByPlumbing` does, but runs `command` on
    /// each candidate integration commit (or on the last of a batch of `batch` merges) before the
    /// branch moves there. A merge that fails the check is dropped, with every task that needs it;
    /// a failing batch is bisected until the breaking merge is found. The check first runs at the
    /// start commit: if that fails already, nothing can be told apart and integration stops (throws).
    /// `createRef`: create the branch at the start once the start passed. `needs`: group → groups it needs.
    func mergeChecked(_ plan: [(task: IntegrationTask, commit: String)], into report: inout IntegrationReport, git: Git,
                      command: String, batch: Int, moveRef: String?, createRef: Bool, needs: [String: Set<String>],
                      lease: IntegrationLease?) async throws {
        guard !plan.isEmpty else {
            if createRef, let moveRef {
                try Self.check(lease)
                try await git.run(["update-ref", "-m", "muster integrate \(report.run): start at base", moveRef, report.startCommit, ""])
            }
            return
        }
        let folder = try await CheckFolder.make(repository: git)
        defer { folder.remove() }
        let start = try await folder.check(command, at: report.startCommit, run: report.run)
        report.checksRun += 1
        guard start.passed else { throw IntegrationError.checkFailsAtStart(commit: report.startCommit, output: start.tail) }
        if createRef, let moveRef {
            try Self.check(lease)
            try await git.run(["update-ref", "-m", "muster integrate \(report.run): start at base", moveRef, report.startCommit, ""])
        }
        let queue = CheckQueue(integrator: self, git: git, folder: folder, command: command, moveRef: moveRef, lease: lease,
                               identity: moveRef == nil ? [] : try await git.identityArguments(),
                               environment: moveRef == nil ? Self.predictionIdentity : [:],
                               plan: plan.map { CheckQueue.Step(task: $0.task, commit: $0.commit) }, needs: needs)
        var current = report.startCommit
        var index = 0
        var stopped = false
        while index < plan.count && !stopped {
            let steps = Array(queue.plan[index..<min(index + batch, plan.count)])
            index += batch
            stopped = try await queue.settle(steps, current: &current, report: &report)
        }
        if stopped {
            let done = Set(report.merged.map(\.task) + report.alreadyIntegrated + report.skipped.map(\.task) + report.dropped.map(\.task)
                           + [report.conflict?.task].compactMap { $0 })
            report.notAttempted = plan.map(\.task.id).filter { !done.contains($0) }
        }
    }
}

/// The state of one checked integration: what is merged, dropped and still to come.
struct CheckQueue {
    struct Step: Sendable {
        var task: IntegrationTask
        var commit: String
    }

    let integrator: Integrator
    let git: Git
    let folder: CheckFolder
    let command: String
    let moveRef: String?
    let lease: IntegrationLease?
    let identity: [String]
    let environment: [String: String]
    let plan: [Step]
    let needs: [String: Set<String>]

    /// Merges `steps` onto `current` one after another and checks the last merge; on success the
    /// branch moves there, on failure a single merge is dropped and a batch is split in two.
    /// Returns true when a conflict stopped integration (recorded in `report.conflict`).
    func settle(_ steps: [Step], current: inout String, report: inout IntegrationReport) async throws -> Bool {
        let settled = Set(report.dropped.map(\.task) + report.alreadyIntegrated + report.skipped.map(\.task))
        let live = steps.filter { !settled.contains($0.task.id) }
        var chain: [(step: Step, merge: String)] = []
        var tip = current
        var conflict: (offset: Int, files: [String])?
        for (offset, step) in live.enumerated() {
            switch try await integrator.precheck(step.commit, onto: tip, git: git) {
            case .alreadyIn:
                report.alreadyIntegrated.append(step.task.id)
                continue
            case .unrelated:
                report.skipped.append(.init(task: step.task.id, reason: Integrator.unrelatedReason(commit: step.commit, branch: report.branch)))
                continue
            case .merge: break
            }
            let outcome = try await ConflictPredictor.mergeTree(repository: integrator.repository, tip, step.commit,
                                                                environment: git.environment())
            if !outcome.conflicted.isEmpty {
                conflict = (offset, outcome.conflicted)
                break
            }
            let merged = try await git.output(identity + ["commit-tree", outcome.tree, "-p", tip, "-p", step.commit],
                                              stdin: Data(Integrator.message(run: report.run, task: step.task).utf8), environment: environment)
            chain.append((step, merged))
            tip = merged
        }
        if !chain.isEmpty {
            let outcome = try await folder.check(command, at: tip, run: report.run)
            report.checksRun += 1
            if outcome.passed {
                if let moveRef {
                    try Integrator.check(lease)
                    try await integrator.advance(moveRef, to: tip, from: current, git: git,
                                                 reason: "muster integrate \(report.run): \(chain.map(\.step.task.id).joined(separator: ", "))",
                                                 branch: report.branch)
                }
                for link in chain {
                    report.merged.append(.init(task: link.step.task.id, branch: link.step.task.git?.branch, commit: link.step.commit,
                                               mergeCommit: link.merge))
                }
                current = tip
                report.endCommit = tip
            } else if chain.count == 1 {
                drop(chain[0].step, outcome: outcome, report: &report)
            } else {
                let steps = chain.map(\.step)
                let half = steps.count / 2
                if try await settle(Array(steps[..<half]), current: &current, report: &report) { return true }
                if try await settle(Array(steps[half...]), current: &current, report: &report) { return true }
            }
        }
        guard let conflict else { return false }
        if current == tip {
            let step = live[conflict.offset]
            report.conflict = .init(task: step.task.id, branch: step.task.git?.branch, commit: step.commit, files: conflict.files)
            return true
        }
        // The branch ended elsewhere than the merge that conflicted (something before it was dropped): try again from there.
        return try await settle(Array(live[conflict.offset...]), current: &current, report: &report)
    }

    /// Drops `step` (its merge broke the check) and every task still to come that needs it.
    func drop(_ step: Step, outcome: CheckFolder.Outcome, report: inout IntegrationReport) {
        report.dropped.append(.init(task: step.task.id, reason: "merging it breaks the check (\(outcome.status))", because: nil,
                                    output: outcome.tail))
        let settled = Set(report.merged.map(\.task) + report.dropped.map(\.task) + report.alreadyIntegrated)
        for other in plan where !settled.contains(other.task.id) && other.task.group != step.task.group
            && depends(other.task.group, on: step.task.group) {
            report.dropped.append(.init(task: other.task.id, reason: "it needs \(step.task.id), whose merge breaks the check",
                                        because: step.task.id, output: nil))
        }
    }

    /// Whether `group` needs `target`, directly or through other groups.
    func depends(_ group: String, on target: String) -> Bool {
        var seen: Set<String> = [group]
        var frontier = [group]
        while let next = frontier.popLast() {
            for need in needs[next] ?? [] {
                if need == target { return true }
                if seen.insert(need).inserted { frontier.append(need) }
            }
        }
        return false
    }
}
