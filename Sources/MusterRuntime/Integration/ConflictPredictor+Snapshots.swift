import Foundation

/// Snapshots of live worktrees: each worktree's whole state staged into a private index, and
/// commits of those indexes written without touching any ref.
extension ConflictPredictor {
    // MARK: Snapshots

    package struct Snapshot: Sendable {
        package var worktree: Worktree
        /// The private index holding the worktree's whole state.
        var index: String
        var paths: [String]
        /// That index's entries, when muster could read it (then its tree is built without `write-tree`).
        var entries: [Entry]?
        var changed: [[UInt8]] = []
    }

    /// Stages the worktree's whole state into a copy of its index and lists what differs from its base
    /// (by reading that index against `base` when it can, else with `git diff --cached`).
    package func snapshot(_ worktree: Worktree, index: Int, scratch: Scratch, base: TreeListing?) async throws -> Snapshot {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: worktree.path, isDirectory: &isDir), isDir.boolValue else {
            throw PredictionError("worktree \(worktree.path) does not exist")
        }
        let indexFile = scratch.url.appendingPathComponent("index-\(index)").path
        let git = try Self.snapshotGit(in: worktree.path, index: indexFile)
        if let original = Self.indexPath(of: worktree.path) {
            // A copy keeps the stat cache, so `add -A` only hashes what changed.
            try? FileManager.default.removeItem(atPath: indexFile)
            try FileManager.default.copyItem(atPath: original, toPath: indexFile)
        } else {
            _ = try await git(["read-tree", "HEAD"])
        }
        let pathspecs = ScratchFiles.excludingPathspecs(worktree.scratch ?? [])
        _ = try await git(["add", "-A", "--ignore-errors", "--"] + (pathspecs.isEmpty ? ["."] : pathspecs))
        if let base, let entries = IndexFile.entries(atPath: indexFile, hashLength: base.hashLength) {
            let changed = Self.changedPaths(entries, base.entries)
            return Snapshot(worktree: worktree, index: indexFile, paths: changed.map { String(decoding: $0, as: UTF8.self) }.filter { !$0.hasPrefix(".muster/") },
                            entries: entries, changed: changed)
        }
        let diff = try await git(["diff", "--cached", "--name-only", "-z", "--no-renames", "--no-ext-diff", worktree.baseCommit, "--"])
        let paths = diff.split(separator: "\0").map(String.init)
        return Snapshot(worktree: worktree, index: indexFile, paths: paths.filter { !$0.hasPrefix(".muster/") })
    }

    /// A commit of each snapshot (parent: its worktree's HEAD), without touching any ref: `write-tree`
    /// per snapshot, then every commit object written by one `hash-object`.
    package func commits(_ snapshots: [Snapshot], bases: [String: TreeListing], scratch: Scratch) async throws -> [Result<String, any Error>] {
        guard !snapshots.isEmpty else { return [] }
        let built = await buildTrees(snapshots, bases: bases, scratch: scratch)
        let trees = try await boundedMap(Array(snapshots.enumerated()), limit: concurrency) { slot, snapshot in
            if let tree = built[slot] { return Result<String, any Error>.success(tree) }
            return await attempt { () async throws -> String in
                let git = try Self.snapshotGit(in: snapshot.worktree.path, index: snapshot.index)
                return try await git(["write-tree"]).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        let heads = try await self.heads(of: snapshots.map(\.worktree.path))
        var results = trees
        var files: [(slot: Int, path: String)] = []
        for (slot, snapshot) in snapshots.enumerated() {
            guard case .success(let tree) = trees[slot] else { continue }
            let parent = heads[slot] ?? snapshot.worktree.baseCommit
            let subject = "muster: snapshot of \(snapshot.worktree.task)".replacingOccurrences(of: "\n", with: " ")
            let text = "tree \(tree)\nparent \(parent)\nauthor muster <muster@localhost> 0 +0000\n"
                + "committer muster <muster@localhost> 0 +0000\n\n\(subject)\n"
            let path = scratch.url.appendingPathComponent("commit-\(slot)").path
            do {
                try text.write(toFile: path, atomically: false, encoding: .utf8)
                files.append((slot, path))
            } catch { results[slot] = .failure(error) }
        }
        guard !files.isEmpty else { return results }
        do {
            let output = try await Git(repository).run(["hash-object", "-t", "commit", "-w", "--stdin-paths"],
                                                       stdin: Data(files.map { $0.path + "\n" }.joined().utf8))
            let oids = output.stdout.split(separator: "\n").map(String.init)
            guard oids.count == files.count else { throw PredictionError("git hash-object wrote \(oids.count) of \(files.count) commits") }
            for (file, oid) in zip(files, oids) { results[file.slot] = .success(oid) }
        } catch {
            for file in files { results[file.slot] = .failure(error) }
        }
        return results
    }

    /// Lists each distinct base commit once (nil where git cannot: those worktrees ask `git diff`).
    package func listBases(_ worktrees: [Worktree]) async throws -> [String: TreeListing] {
        let commits = Array(Set(worktrees.map(\.baseCommit))).sorted()
        let listings = try await boundedMap(commits, limit: concurrency) { commit in
            try? await Self.listTree(repository: self.repository, commit: commit)
        }
        var bases: [String: TreeListing] = [:]
        for (commit, listing) in zip(commits, listings) { bases[commit] = listing }
        return bases
    }

    /// Each worktree's HEAD commit, from its `HEAD` file and one `for-each-ref` for all of them (nil: unknown).
    func heads(of worktrees: [String]) async throws -> [String?] {
        var direct: [String?] = []
        var symbolic: [String?] = []
        for worktree in worktrees {
            let head = Self.gitDir(of: worktree).flatMap { try? String(contentsOfFile: $0 + "/HEAD", encoding: .utf8) }?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            if head.hasPrefix("ref: ") {
                direct.append(nil)
                symbolic.append(String(head.dropFirst("ref: ".count)))
            } else {
                direct.append(Self.hexBytes(head.utf8) != nil && !head.isEmpty ? head : nil)
                symbolic.append(nil)
            }
        }
        let refs = Array(Set(symbolic.compactMap { $0 })).sorted()
        var resolved: [String: String] = [:]
        if !refs.isEmpty {
            let output = try await Git(repository).output(["for-each-ref", "--format=%(objectname) %(refname)"] + refs)
            for line in output.split(separator: "\n") {
                let parts = line.split(separator: " ", maxSplits: 1)
                if parts.count == 2 { resolved[String(parts[1])] = String(parts[0]) }
            }
        }
        return zip(direct, symbolic).map { direct, ref in direct ?? ref.flatMap { resolved[$0] } }
    }

    /// The worktree's git folder, found without running git (`.git` is a folder or a `gitdir:` file).
    static func gitDir(of worktree: String) -> String? {
        let dotGit = (worktree as NSString).appendingPathComponent(".git")
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dotGit, isDirectory: &isDir) else { return nil }
        if isDir.boolValue { return dotGit }
        guard let text = try? String(contentsOfFile: dotGit, encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("gitdir:") }) else { return nil }
        let path = line.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespaces)
        return path.hasPrefix("/") ? path : (worktree as NSString).appendingPathComponent(path)
    }

    /// The worktree's index file (nil: it has none yet).
    static func indexPath(of worktree: String) -> String? {
        guard let gitDir = gitDir(of: worktree) else { return nil }
        let index = (gitDir as NSString).appendingPathComponent("index")
        return FileManager.default.fileExists(atPath: index) ? index : nil
    }

    static let snapshotEnvironment: [String: String] = {
        var env = Git.environment
        // Fixed identity and dates: the same state always snapshots to the same commit id.
        for role in ["AUTHOR", "COMMITTER"] {
            env["GIT_\(role)_NAME"] = "muster"
            env["GIT_\(role)_EMAIL"] = "muster@localhost"
            env["GIT_\(role)_DATE"] = "@0 +0000"
        }
        return env
    }()

    /// Runs git in `directory` with `index` as its index file; returns stdout, throws on failure.
    static func snapshotGit(in directory: String, index: String) throws -> @Sendable ([String]) async throws -> String {
        let executable = try Git.resolver.resolve("git", relativeTo: directory)
        var env = snapshotEnvironment
        env["GIT_INDEX_FILE"] = index
        env["GIT_CEILING_DIRECTORIES"] = Git.ceiling(for: directory)
        return { [env] arguments in
            let output = try await CommandRunner.run(executable, ["-c", "core.hooksPath=/dev/null", "-c", "gc.auto=0"] + arguments,
                                                     in: directory, environment: env, pool: .shared)
            guard output.succeeded else {
                let message = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
                throw GitError(command: arguments.prefix(3).joined(separator: " "), message: message.isEmpty ? output.status.description : message)
            }
            return output.stdout
        }
    }
}
