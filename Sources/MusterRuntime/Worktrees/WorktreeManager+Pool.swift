import Foundation
import MusterStore

/// Making new task worktrees (many at once) and recycling finished ones through the pool.
extension WorktreeManager {
    /// A new worktree on `branch`: its branch made by one `update-ref`, its admin folder written
    /// here (`WorktreeAdminFolder`), then one checkout, beside other worktrees' in full. A branch
    /// that exists already (its worktree cleaned, or a crash mid-creation), or a repository with
    /// per-worktree config, a sparse checkout or shared permissions, takes `git worktree add`, one at a time.
    func create(at dir: URL, run: String, task: TaskRecord, branch: String, base: String) async throws -> Git {
        if let direct, let git = try await createDirectly(at: dir, task: task, branch: branch, base: base, ident: direct.ident) {
            return git
        }
        // An admin folder left "initializing" for this path by a kill -9 mid-way makes `git worktree
        // add` refuse it ("missing but locked"): it goes, with the empty folder it may have made.
        let path = dir.path, common = commonDirectory, name = task.id
        await BlockingPool.shared.run { WorktreeAdminFolder.clearHalfMade(worktree: path, name: name, commonDirectory: common) }
        // No file is written by `--no-checkout`, so no filter can run: the repository's git as it is.
        let existed = try await admin.register(repo, at: dir, branch: branch, base: base)
        let git = try await self.git(worktree: dir.path, expected: nil)
        if let beforeCheckout { await beforeCheckout() }
        // The files, written through this worktree's own index: no lock shared with other checkouts.
        try await GitRetry.run(git, ["reset", "--hard", "--quiet"])
        if existed {
            // The branch outlived its worktree (cleaned, or a crash mid-creation): resume it, never overwrite it.
            try await keepEarlierAttempt(git, run: run, task: task, base: base, branch: branch)
        }
        return git
    }

    /// The fast path of `create`; nil when the branch could not be made new (it exists, or its
    /// lock was taken): `git worktree add` then sorts it out.
    func createDirectly(at dir: URL, task: TaskRecord, branch: String, base: String, ident: String?) async throws -> Git? {
        let ref = "refs/heads/\(branch)"
        // "" as the old value: made only if it does not exist (an existing branch holds earlier work).
        let made = try await repo.run(["update-ref", "-m", "branch: Created from \(base)", ref, base, ""], allowFailure: true)
        guard made.succeeded else { return nil }
        let gitDir: String
        let common = commonDirectory, name = task.id
        do {
            // Files and folders written (and a crash's leftover removed) on the blocking pool, off Swift's two threads.
            gitDir = try await BlockingPool.shared.run {
                // A folder without `.git` at `dir` is a half-made worktree of a crash (muster's own path): cleared.
                var entry = stat()
                if lstat(dir.path, &entry) == 0 { try FileManager.default.removeItem(at: dir) }
                return try WorktreeAdminFolder.write(worktree: dir, commonDirectory: common, name: name,
                                                     branch: branch, commit: base, ident: ident)
            }
        } catch {
            _ = try? await repo.run(["update-ref", "-d", ref, base], allowFailure: true)
            throw error
        }
        await admin.count()
        let git = try await self.git(worktree: dir.path, expected: gitDir)
        if let beforeCheckout { await beforeCheckout() }
        // The files, written through this worktree's own index: no lock shared with other checkouts.
        try await GitRetry.run(git, ["reset", "--hard", "--quiet"])
        return git
    }

    /// A pooled worktree moved to `dir` and made fresh on a new `branch` at `base`, with what its
    /// setup made when the setup commands are the same (the caller checks the inputs); nil when the
    /// pool has none that can be trusted.
    func fromPool(at dir: URL, branch: String, base: String) async -> (git: Git, setup: WorktreePool.SetupRecord?)? {
        guard let pool else { return nil }
        let commands = ready?.spec.setup ?? []
        // Listing and reading records are file I/O: on the blocking pool, one record read per take.
        while let taken = await BlockingPool.shared.run({ pool.take(preferringSetup: commands) }) {
            guard case .entry(let entry) = taken else {
                if case .unreadable(let name) = taken { await admin.remove(repo, pool.folder.appendingPathComponent(name).path) }
                continue
            }
            let source = pool.folder.appendingPathComponent(entry.name).path
            var at = source
            do {
                let destination = dir.path, gitDir = entry.gitDir, common = commonDirectory
                try await BlockingPool.shared.run {
                    // Its `.git` must still be the link made for it, and its admin folder name it back.
                    _ = try WorktreeLink.gitDirectory(of: source, commonDirectory: common, expected: gitDir)
                    try WorktreeAdminFolder.move(worktree: source, admin: gitDir, to: destination)
                }
                at = dir.path
                let git = try await self.git(worktree: dir.path, expected: entry.gitDir)
                let kept = !commands.isEmpty && entry.setup?.commands == commands ? entry.setup : nil
                try await WorktreePool.recycle(git, branch: branch, base: base, keep: kept?.products ?? [])
                return (git, kept)
            } catch {
                // Damaged, or it would not come clean: never reused, removed (with the branch made for it).
                await admin.remove(repo, at)
                _ = try? await repo.run(["update-ref", "-d", "refs/heads/\(branch)", base], allowFailure: true)
            }
        }
        return nil
    }

    /// Copies, links and runs setup in a task's worktree; with a pool, skips setup when the worktree
    /// came from the pool with the same commands and inputs, and records what setup made.
    func makeReady(_ ready: WorktreeReady, git: Git, at dir: URL, reused: WorktreePool.SetupRecord?, log: URL) async throws {
        guard let pool, let commands = ready.spec.setup, !commands.isEmpty else {
            try await ready.apply(to: dir, log: log)
            return
        }
        try ready.place(in: dir)
        let key = try await SetupCache.key(git, spec: ready.spec, ready: ready, base: "HEAD", worktree: dir)
        if let reused, reused.key == key {
            pool.remember(reused, for: dir.path)
            try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? PlainFile.write("setup skipped: this worktree came from the pool with the same setup commands and inputs\n", to: log.path)
            return
        }
        if let reused, !reused.products.isEmpty {
            // Made from other inputs: gone before setup runs again.
            try await git.run(["clean", "-ffdqx"])
            try ready.place(in: dir)
        }
        let before = try await WorktreePool.untracked(git)
        try await ready.runSetup(in: dir, log: log)
        let after = try await WorktreePool.untracked(git)
        pool.remember(.init(commands: commands, key: key, products: after.subtracting(before).sorted()), for: dir.path)
    }

    /// Keeps a finished task's worktree in the pool when there is room (by count and disk); true when
    /// it went there. A worktree whose `.git` link cannot be trusted stays where it is.
    public func release(_ state: TaskGitState) async -> Bool {
        guard let pool, let worktree = state.worktree, let gitDir = state.gitDir else { return false }
        let record = pool.setupRecord(for: worktree)
        // Files are hashed here (a refresh), so git's filters are kept out: the driver lookup.
        guard let git = try? await self.git(worktree: worktree, expected: gitDir) else { return false }
        let bytes = pool.settings.poolDiskBytes == nil ? nil : await WorktreePool.diskUse(worktree)
        guard pool.reserve(bytes: bytes) else { return false }
        defer { pool.unreserve() }
        do {
            // Detached: the task's branch is then checked out nowhere (free to merge, delete, check out).
            try await git.run(["update-ref", "--no-deref", "HEAD", state.headCommit ?? state.baseCommit])
            // A checkout leaves its files "racily clean" (written in the same second as the index),
            // so the next reset would hash every one of them. Refreshed now, after the task, the
            // index vouches for them, and the next task's reset costs only the files that differ.
            _ = try await git.run(WorktreePool.strictStat + ["update-index", "-q", "--refresh"], allowFailure: true)
            let name = WorktreePool.newName(setup: record?.commands, at: Date())
            let destination = pool.folder.appendingPathComponent(name).path
            try await BlockingPool.shared.run { try WorktreeAdminFolder.move(worktree: worktree, admin: gitDir, to: destination) }
            try pool.write(.init(name: name, gitDir: gitDir, setup: record, bytes: bytes, pooledAt: Date()))
            return true
        } catch {
            return false
        }
    }
}
