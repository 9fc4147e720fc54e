import Foundation

/// `git merge-tree`: the check that turns a candidate pair into a conflict or an overlap.
extension ConflictPredictor {
    // MARK: merge-tree

    public struct MergeOutcome: Sendable, Equatable {
        /// The merged tree (with conflict markers where it conflicted).
        public var tree: String
        /// Conflicted paths; empty when the merge is clean.
        public var conflicted: [String]
    }

    /// `git merge-tree --write-tree` of two commits: writes objects, never touches a ref, index or file.
    /// `environment`: the integrator's (merge drivers off); default: muster's usual git environment.
    public static func mergeTree(repository: String, _ first: String, _ second: String,
                                 environment: [String: String]? = nil) async throws -> MergeOutcome {
        let git = try Git.resolver.resolve("git", relativeTo: repository)
        let output = try await CommandRunner.run(git, ["-c", "gc.auto=0", "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", first, second],
                                                 in: repository, environment: environment ?? Git.environment(in: repository), pool: .shared)
        guard case .exited(let code) = output.status, code == 0 || code == 1 else {
            let message = output.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
            throw GitError(command: "merge-tree", message: message.isEmpty ? output.status.description : message)
        }
        // <tree> NUL <conflicted path> NUL ... NUL (an empty entry ends the list)
        let fields = output.stdout.split(separator: "\0", omittingEmptySubsequences: false)
        let tree = fields.first.map(String.init) ?? ""
        var conflicted: [String] = []
        if code == 1 {
            for field in fields.dropFirst() {
                if field.isEmpty { break }
                let path = String(field)
                if conflicted.last != path && !conflicted.contains(path) { conflicted.append(path) }
            }
            if conflicted.isEmpty { conflicted = ["(unknown: git merge-tree reported a conflict without naming files)"] }
        }
        return MergeOutcome(tree: tree, conflicted: conflicted)
    }
}
