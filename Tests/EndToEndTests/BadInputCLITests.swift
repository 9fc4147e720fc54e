import Foundation
import MusterRuntime
import MusterTestKit
import Testing

/// Bad input everywhere is one clear line and exit status 2, never a crash (issue 11, finding 8).
@Suite struct BadInputCLITests {
    static func oneLine(_ text: String) -> Bool { text.split(separator: "\n").filter { !$0.isEmpty }.count == 1 }

    @Test(arguments: ["minutes: .inf", "minutes: 1e300", "input_tokens: 9223372036854775808", "output_tokens: 9223372036854775807"])
    func overflowingEstimatesAreLocatedErrorsNotCrashes(_ estimate: String) async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: big\ntasks:\n  a:\n    command: [echo]\n    estimate: {\(estimate)}\n")
        let result = try await h.muster("plan", "w.yml")
        #expect(result.status == 2, "plan: \(result.status) \(result.stderr)")
        #expect(result.stderr.hasPrefix("w.yml:5:"), "\(result.stderr)")
        #expect(Self.oneLine(result.stderr), "\(result.stderr)")
    }

    @Test(arguments: [["run", "--no-such-option", "w.yml"], ["frobnicate"], ["resume"], ["status", "--limit", "3"],
                      ["plan"], ["run", "--concurrency", "many", "w.yml"], ["msg", "claim", "--lease"]])
    func everyUsageErrorExitsTwo(_ arguments: [String]) async throws {
        let h = try await TestRepository()
        let result = try await h.musterArgs(arguments)
        #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    @Test(arguments: [["--help"], ["run", "--help"], ["--version"], ["help", "run"]])
    func helpAndVersionExitZero(_ arguments: [String]) async throws {
        let h = try await TestRepository()
        let result = try await h.musterArgs(arguments)
        #expect(result.status == 0, "\(arguments): \(result.status) \(result.stderr)")
    }

    @Test func aSpawnIdThatIsNoBranchNameIsRefusedUpFront() async throws {
        let h = try await TestRepository()
        // No store at all: the id is refused before anything is opened.
        let result = try await h.muster("spawn", "--run", "r", "--parent", "p", "--id", "c.lock", "--", "true")
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("ends in `.lock`"), "\(result.stderr)")
    }

    @Test func aClaimTokenIsAcceptedFromAnyProcess() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: m\ntasks:\n  a:\n    command: [echo]\n")
        #expect(try await h.muster("run", "w.yml").status == 0)
        let run = try #require((try await h.muster("runs", "--json").json() as? [[String: Any]])?.first?["run"] as? String)
        #expect(try await h.muster("msg", "send", "--run", run, "--to", "role:w", "hello").status == 0)
        // Claimed by a subshell (its holder is that shell), acknowledged by another process.
        let claim = try await Command.run("/bin/sh", ["-c", "\"\(TestRepository.muster)\" msg claim --run \(run) --role w"], in: h.root)
        #expect(claim.status == 0, "\(claim.stderr)")
        let token = String(claim.stdout.split(separator: " ").first ?? "")
        #expect(token.contains("."), "claim printed \(claim.stdout)")
        let ack = try await h.muster("msg", "ack", token)
        #expect(ack.status == 0, "ack \(token): \(ack.stderr)")
        #expect(try await h.muster("msg", "ack", token).status == 1, "acknowledged twice")
        let listed = try #require(try await h.muster("msg", "list", "--run", run, "--json").json() as? [[String: Any]])
        #expect(listed.first?["state"] as? String == "acked")
    }

    /// Processes creating the same new store at once: every one of them works (it failed 1 in 75).
    @Test func concurrentFirstOpensOfAStoreNeverFail() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: m\ntasks:\n  a:\n    command: [echo]\n    estimate: {minutes: 0.01}\n")
        for round in 0..<3 {
            let store = h.path("store-\(round)/muster.db")
            let processes = try (0..<16).map { n in
                try Command.start(TestRepository.muster, ["run", "--simulate", "w.yml", "--store", store], in: h.root,
                                  stdout: "/dev/null", stderr: h.path("open-\(round)-\(n).err"))
            }
            for (n, process) in processes.enumerated() {
                let status = await process.exited()
                #expect(status.code == 0, "round \(round), process \(n): \(status) \(h.read("open-\(round)-\(n).err"))")
            }
        }
    }

    @Test func aDamagedStoreIsOneLineAndLeftAlone() async throws {
        let h = try await TestRepository()
        try FileManager.default.createDirectory(atPath: h.path(".muster"), withIntermediateDirectories: true)
        var garbage = [UInt8](repeating: 0, count: 8192)
        for index in garbage.indices { garbage[index] = UInt8(truncatingIfNeeded: index &* 2_654_435_761 >> 7) }
        try Data(garbage).write(to: URL(fileURLWithPath: h.path(".muster/muster.db")))
        try h.write("w.yml", "name: m\ntasks:\n  a:\n    command: [echo]\n")
        try h.write(".gitignore", ".muster/\n")
        try await h.commitAll()
        for arguments in [["status"], ["runs"], ["run", "w.yml"]] {
            let result = try await h.musterArgs(arguments)
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
            #expect(Self.oneLine(result.stderr) && result.stderr.contains(h.path(".muster/muster.db"))
                    && result.stderr.contains("damaged"), "\(arguments): \(result.stderr)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: h.path(".muster/muster.db"))) == Data(garbage), "the damaged store was changed")
    }

    /// A store whose header is fine but whose pages past it are garbage fails on its first query, not at open.
    @Test func aStoreDamagedPastItsHeaderIsOneLine() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: m\ntasks:\n  a:\n    command: [echo]\n")
        try h.write(".gitignore", ".muster/\n")
        try await h.commitAll()
        #expect(try await h.muster("run", "w.yml").status == 0)
        let url = URL(fileURLWithPath: h.path(".muster/muster.db"))
        var bytes = [UInt8](try Data(contentsOf: url))
        for index in 4096..<bytes.count { bytes[index] = UInt8(truncatingIfNeeded: index &* 7919) }
        try Data(bytes).write(to: url)
        for arguments in [["status"], ["runs"]] {
            let result = try await h.musterArgs(arguments)
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
            #expect(Self.oneLine(result.stderr) && result.stderr.contains(h.path(".muster/muster.db")), "\(arguments): \(result.stderr)")
        }
        #expect(try Data(contentsOf: url) == Data(bytes), "the damaged store was changed")
    }

    @Test func anUnreadableStoreIsOneLine() async throws {
        let h = try await TestRepository()
        // Tests run as root, who reads any file: a folder where the store should be cannot be read as one.
        try FileManager.default.createDirectory(atPath: h.path(".muster/muster.db"), withIntermediateDirectories: true)
        let result = try await h.muster("status")
        #expect(result.status == 2, "\(result.status) \(result.stderr)")
        #expect(Self.oneLine(result.stderr) && result.stderr.contains(h.path(".muster/muster.db")), "\(result.stderr)")
    }

    @Test func aReadOnlyStoreIsOneLine() async throws {
        let h = try await TestRepository()
        try h.write("w.yml", "name: m\ntasks:\n  a:\n    command: [echo]\n")
        #expect(try await h.muster("run", "w.yml").status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: h.path(".muster/muster.db")))
        // Root writes through file modes: a read-only bind mount in a mount namespace of its own stops it.
        let folder = h.path(".muster")
        let script = "mount --bind \(folder) \(folder) && mount -o remount,bind,ro \(folder) && exec \"\(TestRepository.muster)\" status"
        let result = try await Command.run("/usr/bin/unshare", ["-m", "sh", "-c", script], in: h.root)
        guard !result.stderr.contains("mount:") && !result.stderr.contains("unshare:") else { return }  // no mount namespaces here
        #expect(result.status == 2, "\(result.status) \(result.stderr)")
        #expect(Self.oneLine(result.stderr) && result.stderr.contains(h.path(".muster/muster.db")), "\(result.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: h.path(".muster/muster.db"))) == before)
    }

    /// 200 mutants of the README's spec (the in-process corpus covers 2,400) through the built binary:
    /// `muster plan` exits 0 or 2, never dies of a signal.
    @Test func planOfMutantsExitsZeroOrTwo() async throws {
        let h = try await TestRepository()
        try FileManager.default.createDirectory(atPath: h.path("Sources/A"), withIntermediateDirectories: true)
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        var mutator = SpecMutator(source: try SpecMutator.readmeSpec(readme: readme), seed: 0x706C_616E)
        for index in 0..<200 {
            let file = h.path("m.yml")
            try Data(mutator.next()).write(to: URL(fileURLWithPath: file))
            let result = try await h.muster("plan", "m.yml")
            #expect(result.status == 0 || result.status == 2, "mutant \(index): status \(result.status) \(result.stderr)\n\(h.read("m.yml"))")
            if result.status == 2 { #expect(Self.oneLine(result.stderr), "mutant \(index): \(result.stderr)") }
        }
    }
}
