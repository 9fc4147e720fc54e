import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Lists the files and directories in a working tree that a glob names.
public enum GlobExpander {
    /// Repository-relative paths under `root` that the pattern matches *exactly* (not the "beneath" rule), sorted.
    /// A pattern ending in "/" matches directories only; results never end with "/".
    /// Never descends into `.git` or `.muster`; does not follow symlinked directories.
    public static func expand(_ glob: Glob, under root: URL) throws -> [String] {
        let rootPath = root.standardizedFileURL.path
        guard kind(of: rootPath) == .directory else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: rootPath])
        }
        var results: [String] = []
        try walk(glob, directory: rootPath, relative: "", state: glob.initialState, into: &results)
        return results.sorted()
    }

    private static let skipped: Set<String> = [".git", ".muster", ".", ".."]

    private static func walk(_ glob: Glob, directory: String, relative: String, state: Glob.State,
                             into results: inout [String]) throws {
        // Literal segments name their entries: stat those instead of listing the directory,
        // which is what starts `Sources/App/**` straight at Sources/App.
        let names = try glob.literalNames(state) ?? FileManager.default.contentsOfDirectory(atPath: directory)
        for name in Set(names) where !skipped.contains(name) {
            let next = glob.advance(state, over: name)
            guard next.contains(true) else { continue }  // no match here or below: prune
            let path = directory + "/" + name
            guard let kind = kind(of: path) else { continue }  // a literal name that does not exist
            let child = relative.isEmpty ? name : relative + "/" + name
            if glob.isAccepting(next) && (kind == .directory || !glob.directoriesOnly) { results.append(child) }
            if kind == .directory && glob.canContinue(next) {
                try walk(glob, directory: path, relative: child, state: next, into: &results)
            }
        }
    }

    private enum Kind { case directory, other }

    /// lstat, so a symlink to a directory counts as a plain entry and is never descended.
    private static func kind(of path: String) -> Kind? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (info.st_mode & S_IFMT) == S_IFDIR ? .directory : .other
    }
}
