import Foundation
import MusterRuntime
import MusterTestKit
import Testing

/// The built `muster serve`, as a user starts it.
@Suite struct ServeCommandTests {
    static var muster: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("muster").path), dir.path != "/" {
            dir = dir.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("muster").path
    }

    @Test(arguments: [["--bind", "0.0.0.0"], ["--allow-control"], ["--token", "short"], ["--bind", "10.0.0.1", "--token", ""]])
    func anExposedBoardIsRefusedWithExit2(arguments: [String]) async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "MUSTER_TOKEN")
        let result = try CommandRunner.runBlocking(Self.muster, ["serve", "--store", fixture.root.appendingPathComponent("muster.db").path] + arguments,
                                                   in: fixture.root.path, environment: environment)
        #expect(result.status.code == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("muster: "))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    /// Starts, answers, and stops on SIGTERM with exit 0 while a browser still holds an event stream.
    @Test func servesAndStopsGracefullyWithAStreamOpen() async throws {
        let fixture = try await WebFixture()
        defer { fixture.remove() }
        let out = fixture.root.appendingPathComponent("serve.out").path
        let pid = try CommandRunner.spawn(Self.muster, ["serve", "--port", "0", "--json", "--store", fixture.root.appendingPathComponent("muster.db").path],
                                          in: fixture.root.path, environment: ProcessInfo.processInfo.environment, stdoutPath: out)
        var port: Int?
        _ = try await eventually(timeout: 30) {
            let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
            port = text.split(separator: "\n").first { $0.contains("\"port\"") }
                .flatMap { Int($0.filter(\.isNumber)) }
            return port != nil
        }
        let live = try #require(port)
        let stream = try RawHTTP.get(port: live, "/runs/web-run/stream")
        #expect(await stream.read { $0.contains("event: board") }.contains("event: board"))
        let api = await (try RawHTTP.get(port: live, "/api/runs", headers: ["Connection: close"])).read { _ in false }
        #expect(api.hasPrefix("HTTP/1.1 200") && api.contains("\"id\":\"web-run\""))
        kill(pid, SIGTERM)
        let status = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: CommandRunner.wait(pid)) }.start()
        }
        #expect(status.code == 0)
    }
}
