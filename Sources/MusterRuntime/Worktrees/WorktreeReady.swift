import Foundation
import MusterCore

/// Makes a fresh task worktree ready to build (`worktree:` in the spec): copies untracked files of
/// the user's checkout into it, links shared folders to the checkout's, and runs setup commands.
/// Copied and linked paths are the task's scratch: never committed, never counted against `owns`
/// (excluded by pathspec in that worktree only, never through the shared `.git/info/exclude`).
/// Nothing is written outside the worktree: a source reached through a symlinked folder that leaves
/// the checkout, or a destination whose folder leaves the worktree, is refused, and an existing
/// (tracked) file is never overwritten.
struct WorktreeReady: Sendable {
    let spec: WorktreeSpec
    let checkout: URL

    struct SetupFailure: Error, Sendable {
        var message: String
    }

    /// Copies, links, then runs setup in `worktree`, its log written to `log`. Throws `SetupFailure` when a command fails.
    func apply(to worktree: URL, log: URL) async throws {
        try place(in: worktree)
        try await runSetup(in: worktree, log: log)
    }

    /// Copies and links (`copy:`, `link:`) into `worktree`.
    func place(in worktree: URL) throws {
        let checkoutReal = Self.real(checkout.path)
        let worktreeReal = Self.real(worktree.path)
        for pattern in spec.copy ?? [] {
            for relative in matches(pattern, under: checkoutReal) {
                try place(relative, in: worktreeReal) { source, destination in
                    var info = stat()
                    guard lstat(source, &info) == 0 else { return }
                    let type = info.st_mode & S_IFMT
                    // Regular files and folders only: a symlink would be followed to wherever it points.
                    guard type == S_IFREG || type == S_IFDIR else { return }
                    try FileManager.default.copyItem(atPath: source, toPath: destination)
                }
            }
        }
        for path in spec.link ?? [] {
            try place(path, in: worktreeReal) { source, destination in
                guard FileManager.default.fileExists(atPath: source) else { return }
                try FileManager.default.createSymbolicLink(atPath: destination, withDestinationPath: source)
            }
        }
    }

    /// Runs `setup:` in `worktree`, its log written to `log`. Throws `SetupFailure` when a command fails.
    func runSetup(in worktree: URL, log: URL) async throws {
        guard let setup = spec.setup, !setup.isEmpty else { return }
        try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
        var text = ""
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("GIT_") }
        environment["MUSTER_WORKTREE"] = worktree.path
        for command in setup {
            let output = try await CommandRunner.run("/bin/sh", ["-c", "exec 2>&1\n" + command], in: worktree.path, environment: environment)
            text += "$ \(command)\n" + output.stdout + output.stderr + "[\(output.status.description)]\n"
            try? Data(text.utf8).write(to: log)
            if !output.succeeded {
                throw SetupFailure(message: "setup failed: `\(command)` ended with \(output.status.description) (log: \(log.path))\n"
                                   + CheckFolder.tail(output.stdout + output.stderr))
            }
        }
    }

    /// The checkout's paths a `copy:` pattern names (a wildcard in the last part only), relative to the checkout.
    func matches(_ pattern: String, under root: String) -> [String] {
        let parts = pattern.split(separator: "/").map(String.init)
        let folder = parts.dropLast().joined(separator: "/")
        let last = parts.last ?? ""
        let directory = folder.isEmpty ? root : root + "/" + folder
        // The folder must really be inside the checkout (no symlinked folder leading out of it).
        guard Self.inside(Self.real(directory), root) else { return [] }
        guard last.contains(where: { "*?[".contains($0) }) else { return [pattern] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { fnmatch(last, $0, 0) == 0 }.sorted().map { folder.isEmpty ? $0 : folder + "/" + $0 }
    }

    /// Calls `make(source, destination)` for `relative`, once its destination folder is known to be
    /// inside the worktree and nothing is there yet.
    func place(_ relative: String, in worktree: String, _ make: (String, String) throws -> Void) throws {
        let destination = worktree + "/" + relative
        let parent = (destination as NSString).deletingLastPathComponent
        var info = stat()
        if lstat(destination, &info) == 0 { return }  // a tracked file (or one from before) wins
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        guard Self.inside(Self.real(parent), worktree) else { return }
        let source = Self.real(checkout.path) + "/" + relative
        guard Self.inside(Self.real((source as NSString).deletingLastPathComponent), Self.real(checkout.path)) else { return }
        try make(source, destination)
    }

    static func real(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    static func inside(_ path: String, _ root: String) -> Bool {
        path == root || path.hasPrefix(root.hasSuffix("/") ? root : root + "/")
    }
}
