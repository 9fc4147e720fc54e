import Foundation

extension Integrator {
    /// Fixed identity and dates for dry runs: the same sequence always predicts the same commits.
    static let predictionIdentity: [String: String] = {
        var env: [String: String] = [:]
        for role in ["AUTHOR", "COMMITTER"] {
            env["GIT_\(role)_NAME"] = "muster"
            env["GIT_\(role)_EMAIL"] = "muster@localhost"
            env["GIT_\(role)_DATE"] = "@0 +0000"
        }
        return env
    }()

    /// What stops one step before any merge: already in, or no shared history (skipped, the rest go on).
    enum Precheck { case merge, alreadyIn, unrelated }

    func precheck(_ commit: String, onto current: String, git: Git) async throws -> Precheck {
        if try await git.isAncestor(commit, of: current) { return .alreadyIn }
        let base = try await git.run(["merge-base", current, commit], allowFailure: true)
        return base.succeeded && !base.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? .merge : .unrelated
    }

    static func unrelatedReason(commit: String, branch: String) -> String {
        "its commit \(commit.prefix(12)) shares no history with \(branch): not merged"
    }

    /// Merges `plan` with `merge-tree --write-tree` and `commit-tree`: objects only. With `moveRef`,
    /// the branch follows each clean merge by compare-and-swap; without, nothing moves (a dry run).
    func mergeByPlumbing(_ plan: [(task: IntegrationTask, commit: String)], into report: inout IntegrationReport,
                         git: Git, moveRef: String?, lease: IntegrationLease?) async throws {
        let identity = moveRef == nil ? [] : try await git.identityArguments()
        let environment = moveRef == nil ? Self.predictionIdentity : [:]
        var current = report.startCommit
        for (offset, step) in plan.enumerated() {
            switch try await precheck(step.commit, onto: current, git: git) {
            case .alreadyIn:
                report.alreadyIntegrated.append(step.task.id)
                continue
            case .unrelated:
                report.skipped.append(.init(task: step.task.id, reason: Self.unrelatedReason(commit: step.commit, branch: report.branch)))
                continue
            case .merge: break
            }
            let outcome = try await ConflictPredictor.mergeTree(repository: repository, current, step.commit,
                                                                      environment: git.environment())
            if !outcome.conflicted.isEmpty {
                report.conflict = .init(task: step.task.id, branch: step.task.git?.branch, commit: step.commit, files: outcome.conflicted)
                report.notAttempted = plan[(offset + 1)...].map(\.task.id)
                return
            }
            let merged = try await git.output(identity + ["commit-tree", outcome.tree, "-p", current, "-p", step.commit],
                                              stdin: Data(Self.message(run: report.run, task: step.task).utf8), environment: environment)
            if let moveRef {
                try Self.check(lease)
                try await advance(moveRef, to: merged, from: current, git: git,
                                  reason: "muster integrate \(report.run): \(step.task.id)", branch: report.branch)
            }
            current = merged
            report.endCommit = merged
            report.merged.append(.init(task: step.task.id, branch: step.task.git?.branch, commit: step.commit, mergeCommit: merged))
        }
    }

    /// `update-ref ref new old`, after checking `new` descends from `old`: the branch only ever moves forward.
    func advance(_ ref: String, to new: String, from old: String, git: Git, reason: String, branch: String) async throws {
        guard try await git.isAncestor(old, of: new) else {
            throw GitError(command: "update-ref \(ref)", message: "\(new.prefix(12)) does not descend from \(old.prefix(12)); \(branch) was not moved")
        }
        let result = try await git.run(["update-ref", "-m", reason, ref, new, old], allowFailure: true)
        if !result.succeeded {
            let found = try await git.resolve(ref) ?? "nothing"
            throw IntegrationError.branchMoved(branch: branch, expected: old, found: found)
        }
    }

    /// Merges `plan` in the user's own checkout, which has the branch checked out (`--allow-checked-out`:
    /// asked for explicitly); `git merge` moves the branch itself. Hooks stay off here too.
    func merge(_ plan: [(task: IntegrationTask, commit: String)], into report: inout IntegrationReport, in worktree: Git,
               lease: IntegrationLease?) async throws {
        let identity = try await worktree.identityArguments()
        var current = report.startCommit
        for (offset, step) in plan.enumerated() {
            switch try await precheck(step.commit, onto: current, git: worktree) {
            case .alreadyIn:
                report.alreadyIntegrated.append(step.task.id)
                continue
            case .unrelated:
                report.skipped.append(.init(task: step.task.id, reason: Self.unrelatedReason(commit: step.commit, branch: report.branch)))
                continue
            case .merge: break
            }
            try Self.check(lease)
            let result = try await worktree.run(identity + ["merge", "--no-ff", "--no-edit", "--no-verify", "--no-rerere-autoupdate",
                                                            "-m", Self.message(run: report.run, task: step.task), step.commit], allowFailure: true)
            if !result.succeeded {
                let files = try await worktree.output(["diff", "--name-only", "--diff-filter=U", "-z"])
                    .split(separator: "\0").map(String.init)
                _ = try? await worktree.run(["merge", "--abort"], allowFailure: true)
                guard !files.isEmpty else {
                    let message = (result.stderr + result.stdout).trimmingCharacters(in: .whitespacesAndNewlines)
                    throw GitError(command: "merge \(step.task.id)", message: message.isEmpty ? result.status.description : message)
                }
                report.conflict = .init(task: step.task.id, branch: step.task.git?.branch, commit: step.commit, files: files)
                report.notAttempted = plan[(offset + 1)...].map(\.task.id)
                return
            }
            let merged = try await worktree.revParse("HEAD")
            current = merged
            report.endCommit = merged
            report.merged.append(.init(task: step.task.id, branch: step.task.git?.branch, commit: step.commit, mergeCommit: merged))
        }
    }
}
