import Foundation
import MusterStore

/// The shared remote as one host sees it: a clone kept in a cache folder (fetched, never cloned
/// twice), the refs through which the repository travels between hosts, and pushes that retry.
///
/// On the remote, a run leaves:
/// - `refs/muster/runs/<run>/base`: the commit every task starts from (pushed by `muster run --slots`);
/// - `refs/muster/runs/<run>/<task>/<attempt>`: what each attempt committed, pushed before the
///   Store hears of it, so a dependent on any host can fetch it; never moved, so never contended;
/// - `refs/heads/muster/<run>/<task>`: the task's branch, moved only after the Store accepted the
///   outcome, so a worker whose lease lapsed never overwrites the accepted work (`integrate` fetches these).
public struct RemoteRepository: Sendable {
    public let url: String
    /// The cached clone (a regular clone: task worktrees hang off it).
    public let clone: URL

    public init(url: String, clone: URL) {
        self.url = url
        self.clone = clone
    }

    /// `${MUSTER_CACHE:-~/.cache/muster}/clones/<a name derived from the URL>`.
    public static func cacheFolder(for url: String, cache: URL? = nil) -> URL {
        let environment = ProcessInfo.processInfo.environment
        let root = cache ?? environment["MUSTER_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".cache/muster")
        let readable = url.map { $0.isLetter || $0.isNumber ? $0 : "-" }.suffix(48)
        // A stable hash: the same folder for the same URL in every process.
        return root.appendingPathComponent("clones/\(String(readable))-\(String(StableHash.fnv1a(url), radix: 16))")
    }

    public static func baseRef(run: String) -> String { "refs/muster/runs/\(run)/base" }
    public static func attemptRef(run: String, task: String, attempt: Int) -> String { "refs/muster/runs/\(run)/\(task)/\(attempt)" }

    var git: Git { Git(clone) }

    /// Clones the remote into the cache on first use; afterwards only fetches.
    public func open() async throws {
        if FileManager.default.fileExists(atPath: clone.appendingPathComponent(".git").path) {
            let current = try await git.output(["remote", "get-url", "origin"])
            guard current == url else {
                throw GitError(command: "clone", message: "the cache \(clone.path) is a clone of \(current), not \(url); remove it or pass another --cache")
            }
            try await fetch(["+refs/heads/*:refs/remotes/origin/*"])
            return
        }
        let parent = clone.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        // A half-made clone of an earlier attempt would make `clone` refuse: start over.
        try? FileManager.default.removeItem(at: clone)
        try await Git(parent).run(["clone", "--quiet", url, clone.path])
    }

    /// Fetches `refspecs` from the remote, a few tries apart (a busy daemon drops connections).
    public func fetch(_ refspecs: [String]) async throws {
        try await retrying("fetch") { try await git.run(["fetch", "--quiet", "--no-tags", url] + refspecs) }
    }

    /// Makes sure every commit in `commits` is here, fetching the run's refs once if one is missing.
    public func ensure(_ commits: [String], run: String) async throws {
        var missing: [String] = []
        for commit in Set(commits).sorted() {
            if !(try await has(commit)) { missing.append(commit) }
        }
        guard !missing.isEmpty else { return }
        try await fetch(["+refs/muster/runs/\(run)/*:refs/muster/runs/\(run)/*"])
        for commit in missing {
            if !(try await has(commit)) {
                throw GitError(command: "fetch", message: "commit \(commit) of run \(run) is not on \(url): was the run started with `muster run --slots` from a clone of it?")
            }
        }
    }

    func has(_ commit: String) async throws -> Bool {
        try await git.run(["cat-file", "-e", "\(commit)^{commit}"], allowFailure: true).succeeded
    }

    /// Pushes `commit` to `ref` on the remote (forced: a retried task's branch starts over), retrying.
    public func push(_ commit: String, to ref: String) async throws {
        try await retrying("push") { try await git.run(["push", "--quiet", "--force", url, "\(commit):\(ref)"]) }
    }

    /// Three tries with a short pause between them; the last error is thrown.
    func retrying(_ what: String, _ body: () async throws -> Void) async throws {
        var last: Error?
        for attempt in 0..<3 {
            if attempt > 0 { try await Task.sleep(for: .milliseconds(300 * attempt)) }
            do { try await body(); return } catch { last = error }
        }
        throw last ?? GitError(command: what, message: "failed")
    }
}

extension RemoteRepository {
    /// `integrate --fetch`: the run's task branches from the remote into `repository`'s own branches
    /// (forced: the remote's are the accepted ones). Never the user's branches: only `muster/<run>/*`.
    public static func fetchBranches(run: String, remote: String, into repository: URL) async throws {
        try await RemoteRepository(url: remote, clone: repository).fetch(["+refs/heads/muster/\(run)/*:refs/heads/muster/\(run)/*"])
    }

    /// The URL of `repository`'s `origin`, nil when it has none.
    public static func origin(of repository: URL) async -> String? {
        guard let url = try? await Git(repository).output(["remote", "get-url", "origin"]), !url.isEmpty else { return nil }
        return url
    }
}
