import Foundation

/// A private folder outside the repository holding one commit's files, where the integration check
/// runs. It has no `.git` and is no registered worktree: the check cannot reach the repository, the
/// user's checkout or any task's worktree through git, and nothing is left in `.git/worktrees`. A
/// private index file lets each later commit be written over the last one (`read-tree --reset -u`),
/// so only files that differ are rewritten and build products the check left behind stay warm.
struct CheckFolder: Sendable {
    let root: URL
    let git: Git
    var files: URL { root.appendingPathComponent("tree") }
    var index: String { root.appendingPathComponent("index").path }

    struct Outcome: Sendable {
        var passed: Bool
        var status: String
        var tail: String
    }

    /// Lines and characters kept of a failing check's output.
    static let tailLines = 40
    static let tailCharacters = 4000

    static func make(repository: Git) async throws -> CheckFolder {
        let common = try await repository.commonDirectory()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("muster-check-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("tree"), withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        // Filters and merge drivers off here too: writing files must run nothing the repository names.
        let git = try await Git(gitDirectory: common, workTree: root.appendingPathComponent("tree").path).withoutDrivers()
        return CheckFolder(root: root, git: git)
    }

    /// Makes the folder hold exactly `commit`'s tracked files (files the check created stay).
    func show(_ commit: String) async throws {
        let environment = ["GIT_INDEX_FILE": index]
        if try await git.run(["read-tree", "--reset", "-u", commit], allowFailure: true, environment: environment).succeeded { return }
        // Something the check left in the way (an untracked file where a tracked one now goes): start afresh.
        try? FileManager.default.removeItem(at: files)
        try? FileManager.default.removeItem(atPath: index)
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try await git.run(["read-tree", "--reset", "-u", commit], environment: environment)
    }

    /// Runs `command` with `sh -c` in the folder holding `commit`; stderr goes with stdout, in order.
    func check(_ command: String, at commit: String, run: String) async throws -> Outcome {
        try await show(commit)
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GIT_") }
        environment["MUSTER_RUN"] = run
        environment["MUSTER_INTEGRATE_COMMIT"] = commit
        let output = try await CommandRunner.run("/bin/sh", ["-c", "exec 2>&1\n" + command], in: files.path, environment: environment)
        return Outcome(passed: output.succeeded, status: output.status.description, tail: Self.tail(output.stdout + output.stderr))
    }

    static func tail(_ text: String) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var kept = lines.suffix(tailLines).joined(separator: "\n")
        if kept.count > tailCharacters { kept = "…" + kept.suffix(tailCharacters) }
        return kept.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }
}
