import Foundation

/// The metadata steps of worktrees that git makes: `git worktree add --no-checkout` (the admin
/// folder under `.git/worktrees/`, the branch, HEAD; only for a branch that exists already, or a
/// repository `WorktreeAdminFolder` leaves to git) and removal. They read and write every
/// worktree's admin folder, and two at once can see the other's half-made one and fail, so they
/// take turns here; each takes milliseconds. A new worktree on a new branch needs none of them
/// (`WorktreeAdminFolder`), nor does a pool move (`WorktreeAdminFolder+Move`), and checkouts run
/// outside, many at once.
actor WorktreeAdmin {
    /// New worktrees made, by `git worktree add` or written directly (for tests and benchmarks: a pooled worktree makes none).
    private(set) var added = 0
    /// Counts a worktree made without `git worktree add` (`WorktreeAdminFolder`).
    func count() { added += 1 }

    /// An actor lets another call in at each `await`: the turn is held across the git calls by hand.
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    private func take() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }  // handed over by `give`, still busy
    }

    private func give() {
        if waiting.isEmpty { busy = false } else { waiting.removeFirst().resume() }
    }

    /// Registers a worktree at `dir` on `branch` (made from `base` if it does not exist yet) without
    /// checking out its files. Returns whether the branch already existed: its earlier work must then
    /// be kept, not overwritten.
    func register(_ repo: Git, at dir: URL, branch: String, base: String) async throws -> Bool {
        await take()
        defer { give() }
        var lastError = ""
        // Usually the branch is new: make it with the worktree, and look for it only when that fails.
        var existed = false
        for attempt in 0..<5 {
            let arguments = existed ? ["worktree", "add", "--quiet", "--no-checkout", dir.path, branch]
                                    : ["worktree", "add", "--quiet", "--no-checkout", "-b", branch, dir.path, base]
            let result = try await repo.run(arguments, allowFailure: true)
            if result.succeeded {
                added += 1
                return existed
            }
            lastError = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            if !existed, try await repo.branchExists(branch) {
                existed = true
                if !FileManager.default.fileExists(atPath: dir.appendingPathComponent(".git").path) { continue }
            }
            // A half-made worktree (a crash, or another process's git pruning mid-way): clear it, retry.
            if !FileManager.default.fileExists(atPath: dir.appendingPathComponent(".git").path) {
                try? FileManager.default.removeItem(at: dir)
            }
            try await repo.run(["worktree", "prune"], allowFailure: true)
            // Another process's git holding a lock (a ref, packed-refs) lets go within milliseconds.
            if GitRetry.isLockContention(lastError) { try await GitRetry.pause(attempt) }
        }
        throw GitError(command: "worktree add", message: lastError)
    }

    /// Removes a worktree and its admin folder, whatever state it is in (never following a link out of it).
    func remove(_ repo: Git, _ path: String) async {
        await take()
        defer { give() }
        _ = try? await repo.run(["worktree", "remove", "--force", "--force", path], allowFailure: true)
        try? FileManager.default.removeItem(atPath: path)
        _ = try? await repo.run(["worktree", "prune"], allowFailure: true)
    }
}

/// Retrying git calls that lost a race for one of git's lock files to another git process.
enum GitRetry {
    static func isLockContention(_ stderr: String) -> Bool {
        stderr.contains(".lock': File exists") || stderr.contains("Unable to create") && stderr.contains(".lock")
            || stderr.contains("cannot lock ref") || stderr.contains("is locked")
    }

    /// 5, 10, 20, 40 … ms, plus up to as much again at random so racers spread out.
    static func pause(_ attempt: Int) async throws {
        let base = 5 << min(attempt, 6)
        try await Task.sleep(for: .milliseconds(base + Int.random(in: 0...base)))
    }

    /// Runs a git call in one worktree, again after lock contention (up to `attempts` times).
    @discardableResult
    static func run(_ git: Git, _ arguments: [String], attempts: Int = 5) async throws -> CommandRunner.Output {
        var attempt = 0
        while true {
            let result = try await git.run(arguments, allowFailure: true)
            if result.succeeded { return result }
            let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            attempt += 1
            guard attempt < attempts, isLockContention(message) else {
                throw GitError(command: arguments.prefix(3).joined(separator: " "), message: message.isEmpty ? result.status.description : message)
            }
            try await pause(attempt)
        }
    }
}
