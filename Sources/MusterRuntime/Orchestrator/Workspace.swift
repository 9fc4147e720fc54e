import Foundation

/// Where muster keeps its state for one repository: `<root>/.muster/` (see DESIGN.md "State on disk").
public struct Workspace: Sendable {
    public var root: URL
    public var isGitRepository: Bool

    public var stateDirectory: URL { root.appendingPathComponent(".muster") }
    public var defaultStorePath: String { stateDirectory.appendingPathComponent("muster.db").path }
    public func runDirectory(_ run: String) -> URL { stateDirectory.appendingPathComponent("runs/\(run)") }
    public func taskDirectory(run: String, task: String) -> URL { runDirectory(run).appendingPathComponent("tasks/\(task)") }

    public init(root: URL, isGitRepository: Bool) {
        self.root = root
        self.isGitRepository = isGitRepository
    }

    /// The enclosing git repository's top folder, else `directory` itself.
    public static func locate(from directory: URL) -> Workspace {
        var candidate = directory.standardizedFileURL
        while true {
            if FileManager.default.fileExists(atPath: candidate.appendingPathComponent(".git").path) {
                return Workspace(root: candidate, isGitRepository: true)
            }
            let parent = candidate.deletingLastPathComponent()
            if parent.path == candidate.path { return Workspace(root: directory.standardizedFileURL, isGitRepository: false) }
            candidate = parent
        }
    }

    /// Creates `.muster/` and keeps it out of `git status` through `.git/info/exclude`,
    /// never through the user's own `.gitignore`.
    public func prepare() throws {
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        guard isGitRepository else { return }
        let gitDir = root.appendingPathComponent(".git")
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: gitDir.path, isDirectory: &isDir), isDir.boolValue else { return }
        let exclude = gitDir.appendingPathComponent("info/exclude")
        let existing = (try? String(contentsOf: exclude, encoding: .utf8)) ?? ""
        guard !existing.split(separator: "\n").contains(where: { $0.trimmingCharacters(in: .whitespaces) == ".muster/" }) else { return }
        try FileManager.default.createDirectory(at: exclude.deletingLastPathComponent(), withIntermediateDirectories: true)
        let line = (existing.isEmpty || existing.hasSuffix("\n") ? "" : "\n") + ".muster/\n"
        try (existing + line).write(to: exclude, atomically: true, encoding: .utf8)
    }
}
