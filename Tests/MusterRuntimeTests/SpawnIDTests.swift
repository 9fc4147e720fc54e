import Foundation
import Testing
@testable import MusterRuntime

/// A child's id names its branch (`muster/RUN/ID`): anything git refuses as a ref component is
/// refused up front, before the store is touched (issue 11, finding 8).
struct SpawnIDTests {
    @Test(arguments: ["c.lock", "a..b", "x@{y", "-x", ".x", "a/b", "a b", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b",
                      "a\tb", "a\u{7F}b", "a\nb", "trailing.", "", String(repeating: "x", count: 129), "née"])
    func idsGitRefusesAreRefused(_ id: String) {
        #expect(throws: SpawnRequestError.self, "\(id.debugDescription)") { try SpawnRequest.checkID(id) }
    }

    @Test(arguments: ["child", "lint-a", "a.b", "_x", "Parent.3", "c.locks", "a_b-c.d"])
    func simpleIdsAreAccepted(_ id: String) throws {
        try SpawnRequest.checkID(id)
    }

    @Test func everyRefusedIdIsAlsoRefusedByGit() throws {
        // The rule is git's: where ours accepts, `git check-ref-format` must accept too.
        for id in ["child", "lint-a", "a.b", "_x", "c.locks"] {
            let result = try CommandRunner.runBlocking("/usr/bin/env", ["git", "check-ref-format", "refs/heads/muster/r/\(id)"],
                                                      in: "/", environment: ProcessInfo.processInfo.environment)
            #expect(result.status.succeeded, "git refuses \(id)")
        }
        let lock = try CommandRunner.runBlocking("/usr/bin/env", ["git", "check-ref-format", "refs/heads/muster/r/c.lock"],
                                                in: "/", environment: ProcessInfo.processInfo.environment)
        #expect(!lock.status.succeeded, "git accepts c.lock")
    }
}
