import Foundation
import MusterCore

/// When a pooled worktree may skip `setup:`: the same commands, run on the same inputs. The inputs are
/// the files `worktree.inputs` names (e.g. `package-lock.json`, `Package.resolved`), hashed as they
/// are in the worktree after its reset and copies; without `inputs`, the whole base tree and every
/// copied file count (setup reruns whenever the base moves).
enum SetupCache {
    /// The key of `spec`'s setup in `worktree` (reset to `base`, copies placed): equal keys, same setup result.
    static func key(_ git: Git, spec: WorktreeSpec, ready: WorktreeReady, base: String, worktree: URL) async throws -> String {
        var lines = (spec.setup ?? []).map { "setup \($0.replacingOccurrences(of: "\n", with: "\\n"))" }
        let root = WorktreeReady.real(worktree.path)
        var files: [String] = []
        if let inputs = spec.inputs, !inputs.isEmpty {
            files = inputs.flatMap { ready.matches($0, under: root) }
        } else {
            lines.append("tree " + (try await git.output(["rev-parse", "\(base)^{tree}"])))
            files = (spec.copy ?? []).flatMap { ready.matches($0, under: root) }
        }
        let unique = Array(Set(files)).sorted()
        // Regular files only, inside the worktree: a link could name anything.
        let hashable = unique.filter { path in
            var info = stat()
            return lstat(root + "/" + path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
        }
        var hashes: [String: String] = [:]
        if !hashable.isEmpty {
            let output = try await git.run(["hash-object", "--no-filters", "--stdin-paths"],
                                           stdin: Data((hashable.map { root + "/" + $0 }.joined(separator: "\n") + "\n").utf8)).stdout
            for (path, hash) in zip(hashable, output.split(separator: "\n")) { hashes[path] = String(hash) }
        }
        for path in unique { lines.append("input \(path) \(hashes[path] ?? "-")") }
        return lines.joined(separator: "\n")
    }
}
