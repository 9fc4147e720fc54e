import Foundation
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterRuntime

/// Taking a worktree from the pool reads one record, not all of them: names sort by age and carry
/// a mark of their setup commands, so a pool of 1,000 costs one listing and one read per task.
@Suite struct WorktreePoolTakeTests {
    @Test func namesSortByAgeAndMarkTheirSetupCommands() {
        let early = Date(timeIntervalSince1970: 1_700_000_000), late = early.addingTimeInterval(0.000_01)
        #expect(WorktreePool.newName(setup: nil, at: late) > WorktreePool.newName(setup: nil, at: early))
        #expect(WorktreePool.newName(setup: ["z"], at: late) > WorktreePool.newName(setup: ["a"], at: early), "age first, setup second")
        #expect(WorktreePool.setupMark(nil) == "00000000" && WorktreePool.setupMark([]) == "00000000")
        #expect(WorktreePool.setupMark(["npm ci"]) == WorktreePool.setupMark(["npm ci"]))
        #expect(WorktreePool.setupMark(["npm ci"]) != WorktreePool.setupMark(["npm install"]))
        #expect(WorktreePool.setupMark(["a", "b"]) != WorktreePool.setupMark(["a b"]), "commands are kept apart")
        #expect(WorktreePool.newName(setup: ["x"], at: early).range(of: #"^p-[0-9a-f]{13}-[0-9a-f]{8}-[0-9a-f]{8}$"#, options: .regularExpression) != nil)
    }

    @Test func aTakerGetsTheNewestWithItsOwnSetupFirstAndEachOnlyOnce() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("muster-pool-take-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let pool = WorktreePool(workspace: Workspace(root: root, isGitRepository: true), settings: WorktreeSettings(parallelism: 2, pool: 8))
        try FileManager.default.createDirectory(at: pool.folder, withIntermediateDirectories: true)
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        let build = WorktreePool.SetupRecord(commands: ["make deps"], key: "k", products: ["deps/"])
        func record(_ setup: WorktreePool.SetupRecord?, at date: Date) throws -> String {
            let name = WorktreePool.newName(setup: setup?.commands, at: date)
            try pool.write(.init(name: name, gitDir: "/nowhere/\(name)", setup: setup, bytes: nil, pooledAt: date))
            return name
        }
        let oldWithSetup = try record(build, at: t0)
        let withSetup = try record(build, at: t0.addingTimeInterval(1))
        let newest = try record(nil, at: t0.addingTimeInterval(2))
        // A record damaged on disk (its worktree must go, never be reused).
        let damaged = WorktreePool.newName(setup: nil, at: t0.addingTimeInterval(-1))
        try Data("{not json".utf8).write(to: pool.folder.appendingPathComponent(damaged + ".json"))

        func takenName(_ commands: [String]) -> String? {
            switch pool.take(preferringSetup: commands) {
            case .entry(let entry)?: entry.name
            case .unreadable(let name)?: "unreadable " + name
            case nil: nil
            }
        }
        #expect(takenName(["make deps"]) == withSetup)
        #expect(takenName(["make deps"]) == oldWithSetup)
        #expect(takenName(["make deps"]) == newest, "none with its setup left: the newest of the rest")
        #expect(takenName([]) == "unreadable " + damaged)
        #expect(takenName([]) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: pool.folder.path).isEmpty, "records and claim marks are all gone")
    }

    @Test func aPooledWorktreeWhoseRecordIsUnreadableIsRemovedNotReused() async throws {
        let f = try await GitFixture.make()
        let workspace = Workspace(root: f.root, isGitRepository: true)
        let m = try await WorktreeManager.make(workspace: workspace, settings: WorktreeSettings(parallelism: 2, pool: 4))
        let a = try WorktreeCreationTests.state(try await m.prepare(run: f.run, base: f.base, task: try WorktreeCreationTests.task("a"), needed: []))
        #expect(await m.release(a))
        let name = try #require(WorktreePool.names(in: WorktreePool.folder(of: workspace)).first)
        let pooled = WorktreePool.folder(of: workspace).appendingPathComponent(name).path
        try Data("garbage".utf8).write(to: WorktreePool.folder(of: workspace).appendingPathComponent(name + ".json"))
        let b = try WorktreeCreationTests.state(try await m.prepare(run: f.run, base: f.base, task: try WorktreeCreationTests.task("b"), needed: []))
        #expect(await m.worktreesAdded == 2, "b got a new worktree")
        #expect(!FileManager.default.fileExists(atPath: pooled))
        #expect(WorktreeCreationTests.adminFolders(f) == [(try #require(b.gitDir) as NSString).lastPathComponent])
    }
}
