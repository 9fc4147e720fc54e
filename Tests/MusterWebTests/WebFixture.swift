import Foundation
import Hummingbird
import HummingbirdTesting
import MusterCore
import MusterStore
@testable import MusterWeb

/// A store with one run in flight: `build` running, `<script>alert('id')</script>` running (its id and
/// its output are hostile), `report` waiting for both. Its root is a temp folder, removed by `remove()`.
struct WebFixture {
    static let run = "web-run"
    static let evil = "<script>alert('id')</script>"
    static let holder = "orchestrator@test:1:abc"
    let store: SQLiteStore
    let root: URL

    static func task(_ id: String, group: String, needs: [String] = [], prompt: String? = nil) -> PlannedTask {
        PlannedTask(id: id, group: group, item: nil, agent: "shell", model: nil, prompt: prompt, command: Command(argv: ["true"]),
                    needs: needs, owns: ["out/\(group)/**"], env: [:], timeout: nil, stallTimeout: nil, retries: 0, estimate: nil,
                    kind: .exploration, expands: nil)
    }

    init(tasks extra: Int = 0) async throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("muster-web-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        store = try SQLiteStore(path: root.appendingPathComponent("muster.db").path)
        var tasks = [Self.task("build", group: "build", prompt: "Build <b>it</b> & \"quote\""),
                     Self.task(Self.evil, group: "evil"),
                     Self.task("report", group: "report", needs: ["build", "evil"])]
        tasks += (0..<extra).map { Self.task(String(format: "bulk.%05d", $0), group: "bulk") }
        try await store.createRun(NewRun(id: Self.run, workflow: Workflow(name: "web <test>", tasks: []), specPath: "w.yml",
                                         root: root.path, concurrency: 4, simulate: false, createdAt: Date()), tasks: tasks)
        let claimed = try await store.claim(run: Self.run, holder: Self.holder, limit: 2, leaseSeconds: 600, now: Date())
        try await store.recordProcesses(run: Self.run, holder: Self.holder, claimed.map {
            StartedProcess(task: $0.task.id, pid: 4242, pgid: 4242, host: "test")
        }, now: Date())
        try write(task: Self.evil, "output.log", "compiling\n<script>alert('output')</script>\n<img src=x onerror=alert(2)>\n")
        try write(task: "build", "output.log", "step 1\n")
    }

    var taskFolder: URL { root.appendingPathComponent(".muster/runs/\(Self.run)/tasks") }

    func write(task: String, _ name: String, _ text: String) throws {
        let dir = taskFolder.appendingPathComponent(TaskFiles.component(task))
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try text.write(to: dir.appendingPathComponent(name), atomically: false, encoding: .utf8)
    }

    func append(task: String, _ name: String, _ text: String) throws {
        let url = taskFolder.appendingPathComponent(TaskFiles.component(task)).appendingPathComponent(name)
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(text.utf8))
        try handle.close()
    }

    func finish(_ task: String, _ result: TaskOutcome.Result = .succeeded) async throws {
        _ = try await store.finish(run: Self.run, holder: Self.holder,
                                   [TaskOutcome(task: task, attempt: 1, result: result, summary: "done", usage: TokenUsage(input: 100, output: 20),
                                                costUSD: 0.01)], now: Date())
    }

    func server(_ options: WebOptions = WebOptions()) throws -> WebServer {
        try WebServer(store: store, options: options, streamInterval: .milliseconds(50))
    }

    func remove() { try? FileManager.default.removeItem(at: root) }
}

extension WebServer {
    /// The app over the router alone (no sockets), for HummingbirdTesting's `.router` client.
    var testApplication: some ApplicationProtocol { Application(router: router()) }
}

/// `/runs/ID` with the id as one percent-encoded path component.
func encoded(_ id: String) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-_.~")
    return id.addingPercentEncoding(withAllowedCharacters: allowed)!
}
