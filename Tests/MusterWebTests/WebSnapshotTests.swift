import Foundation
import Hummingbird
import HummingbirdTesting
import MusterCore
import MusterStore
import MusterTestKit
import Testing
@testable import MusterWeb

/// The run board is one shared snapshot per run, rebuilt once per change, and a big run's page
/// collapses long waves.
@Suite struct WebSnapshotTests {
    /// `maxAge` out of the way: only a change to the run may rebuild.
    func snapshots(_ server: WebServer) -> BoardSnapshots {
        BoardSnapshots(reader: server.reader, control: nil, checkEvery: .milliseconds(10), maxAge: .seconds(3600))
    }

    func readTogether(_ snapshots: BoardSnapshots, _ n: Int) async throws -> Set<Int> {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<n { group.addTask { try #require(try await snapshots.current(WebFixture.run)).version } }
            return try await group.reduce(into: Set<Int>()) { $0.insert($1) }
        }
    }

    @Test func manyReadersShareOneRebuildPerChange() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let snapshots = snapshots(try fixture.server())
        #expect(try await readTogether(snapshots, 20) == [1])
        #expect(await snapshots.rebuilds == 1)
        #expect(try await readTogether(snapshots, 20) == [1], "nothing changed: the same snapshot")
        #expect(await snapshots.rebuilds == 1)

        try await fixture.finish("build")
        #expect(try await eventually(timeout: 30) { try await snapshots.current(WebFixture.run)?.version == 2 })
        #expect(try await readTogether(snapshots, 20) == [2])
        #expect(await snapshots.rebuilds == 2, "one rebuild for the change, however many readers")
        let board = try #require(try await snapshots.current(WebFixture.run)).board
        #expect(board.tasks.first { $0.id == "build" }?.state == "succeeded")
        #expect(try await snapshots.current("nope") == nil)
    }

    @Test func aBigWaveIsCollapsedUnlessAllIsAsked() async throws {
        let fixture = try await WebFixture(tasks: 250)
        defer { fixture.remove() }
        try await fixture.server().testApplication.test(.router) { client in
            try await client.execute(uri: "/runs/web-run", method: .get) { response in
                let body = String(buffer: response.body)
                #expect(body.components(separatedBy: "<tr id=\"t-").count - 1 == BoardPage.rowsPerWave + 1, "100 in wave 1, report in wave 2")
                #expect(body.contains("id=\"t-build\" data-state=\"running\""), "running tasks come first")
                #expect(body.contains("<tr class=\"more\"><td colspan=\"6\">152 more: 152 ready · <a href=\"/runs/web-run?all=1\">show all 253 tasks</a>"))
            }
            try await client.execute(uri: "/runs/web-run?all=1", method: .get) { response in
                let body = String(buffer: response.body)
                #expect(body.components(separatedBy: "<tr id=\"t-").count - 1 == 253)
                #expect(!body.contains("class=\"more\""))
                #expect(body.contains("data-stream=\"/runs/web-run/stream?all=1\""))
            }
            try await client.execute(uri: "/api/runs/web-run", method: .get) { response in
                let board = try Responses.decoder.decode(RunBoard.self, from: response.body)
                #expect(board.tasks.count == 253)
            }
        }
    }
}

/// `/metrics` reuses the task aggregates only while nothing changed.
@Suite struct MetricsRefreshTests {
    @Test func aScrapeAfterAChangeSeesIt() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let metrics = try fixture.server().metrics
        let before = try await metrics.render()
        #expect(before.contains(#"muster_tasks{run="web-run",state="succeeded"} 0"#))
        _ = try await metrics.render()  // aggregates reused: nothing changed
        try await fixture.finish("build")
        let after = try await metrics.render()
        #expect(after.contains(#"muster_tasks{run="web-run",state="succeeded"} 1"#))
        #expect(after.contains(#"muster_tokens_total{agent="shell",model="default",type="input"} 100"#))
    }
}
