#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Swift strings as the NULL-terminated array of C strings that `execve`, `posix_spawn` and
/// friends take for `argv` and `envp`. The copies live only for the call.
public enum CStrings {
    public typealias Array = [UnsafeMutablePointer<CChar>?]

    /// Calls `body` with C copies of `strings` and a final NULL, freed when it returns.
    public static func with<R>(_ strings: [String], _ body: (Array) throws -> R) rethrows -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return try body(pointers)
    }

    /// `argv` and `envp` (`NAME=value` lines) for one spawn.
    public static func with<R>(arguments: [String], environment: [String: String], _ body: (_ argv: Array, _ envp: Array) throws -> R) rethrows -> R {
        try with(arguments) { argv in
            try with(lines(environment)) { envp in try body(argv, envp) }
        }
    }

    /// An environment as `envp` holds it: `NAME=value` strings.
    public static func lines(_ environment: [String: String]) -> [String] { environment.map { "\($0.key)=\($0.value)" } }
}
