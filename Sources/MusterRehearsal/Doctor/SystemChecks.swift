import Foundation
import MusterRuntime
import MusterStore

/// git, tmux, bubblewrap and the store.
enum SystemChecks {
    static func all(storePath: String) async -> [DoctorCheck] {
        [await git(), await tmux(), await sandbox(), store(path: storePath)]
    }

    static func output(_ executable: String, _ arguments: [String]) async -> CommandRunner.Output? {
        guard let path = try? ExecutableResolver().resolve(executable, relativeTo: "/") else { return nil }
        return try? await CommandRunner.run(path, arguments, in: NSTemporaryDirectory())
    }

    static func firstLine(_ text: String) -> String {
        text.split(separator: "\n").first.map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
    }

    static func git() async -> DoctorCheck {
        guard let out = await output("git", ["--version"]), out.succeeded else {
            return DoctorCheck("git", .failed, "git is not installed: apt-get install git")
        }
        return DoctorCheck("git", .passed, firstLine(out.stdout))
    }

    static func tmux() async -> DoctorCheck {
        guard let out = await output("tmux", ["-V"]), out.succeeded else {
            return DoctorCheck("tmux", .warning, "tmux is not installed (only `muster tmux` and `run --tmux` need it): apt-get install tmux")
        }
        return DoctorCheck("tmux", .passed, firstLine(out.stdout))
    }

    /// Whether bubblewrap can make a sandbox here. One small function, to be replaced by the
    /// runtime's own sandbox probe.
    static func sandbox() async -> DoctorCheck {
        guard let out = await output("bwrap", ["--ro-bind", "/", "/", "true"]) else {
            return DoctorCheck("bubblewrap", .warning, "bwrap is not installed: tasks run without a sandbox (apt-get install bubblewrap)")
        }
        guard out.succeeded else {
            return DoctorCheck("bubblewrap", .warning, "`bwrap --ro-bind / / true` failed: \(firstLine(out.stderr)); tasks run without a sandbox")
        }
        return DoctorCheck("bubblewrap", .passed, "`bwrap --ro-bind / / true` works")
    }

    /// Opens the store (or, when there is none yet, a throwaway one beside where it would be) and checks it can be written.
    static func store(path: String) -> DoctorCheck {
        let fm = FileManager.default
        let folder = (path as NSString).deletingLastPathComponent
        if fm.fileExists(atPath: path) {
            do {
                _ = try SQLiteStore(path: path)
            } catch {
                return DoctorCheck("store", .failed, "\(path) does not open: \(error)")
            }
            guard access(path, W_OK) == 0, access(folder, W_OK) == 0 else {
                return DoctorCheck("store", .failed, "\(path) opens but is not writable (check its owner and permissions)")
            }
            return DoctorCheck("store", .passed, "\(path) opens and is writable")
        }
        let scratch = fm.temporaryDirectory.appendingPathComponent("muster-doctor-\(UUID().uuidString).db").path
        defer { for suffix in ["", "-wal", "-shm"] { try? fm.removeItem(atPath: scratch + suffix) } }
        do {
            _ = try SQLiteStore(path: scratch)
        } catch {
            return DoctorCheck("store", .failed, "SQLite does not work here: \(error) (apt-get install libsqlite3-0)")
        }
        return DoctorCheck("store", .passed, "no store yet at \(path); SQLite works (the first `muster run` creates it)")
    }
}
