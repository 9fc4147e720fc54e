import Foundation

/// Where the test runner's build put `muster` and `muster-bench` (the same products folder).
public enum BuiltBinaries {
    public static let directory: URL = {
        if let override = ProcessInfo.processInfo.environment["MUSTER_BIN_DIR"] { return URL(fileURLWithPath: override) }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // On Linux the runner is `…/debug/musterPackageTests.xctest`; on macOS a bundle inside it.
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("muster").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir
    }()

    public static var muster: String { directory.appendingPathComponent("muster").path }
    public static var bench: String { directory.appendingPathComponent("muster-bench").path }
}
