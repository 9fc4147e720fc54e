import Foundation
import MusterCore
import MusterRuntime

/// `muster doctor`: the system checks, then each installed agent CLI rehearsed against the
/// model stub in a scratch repository (removed after).
public enum Doctor {
    /// Agents muster can rehearse today (the stub speaks their APIs); others only get their version.
    static let rehearsed: Set<String> = ["claude", "aider"]

    public static func run(storePath: String, muster: String, agents only: [String]? = nil) async -> DoctorReport {
        let checks = await SystemChecks.all(storePath: storePath)
        var agents: [AgentDoctor] = []
        let resolver = ExecutableResolver()
        let stub: ModelStub
        do {
            stub = try await ModelStub.start()
        } catch {
            return DoctorReport(checks: checks + [DoctorCheck("model stub", .failed, "\(error)")], agents: [])
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("muster-doctor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        for name in BuiltinAgents.clis where only == nil || only!.contains(name) {
            guard let path = try? resolver.resolve(name, relativeTo: "/") else { continue }
            guard rehearsed.contains(name) else {
                let version = try? await CommandRunner.run(path, ["--version"], in: scratch.deletingLastPathComponent().path)
                agents.append(AgentDoctor(name: name, path: path, version: version.map { SystemChecks.firstLine($0.stdout) },
                                          checks: [DoctorCheck("rehearsal", .skipped, "the model stub does not speak \(name)'s API yet")]))
                continue
            }
            let rehearsal = AgentRehearsal(agent: name, executable: path, muster: muster, stub: stub,
                                           root: scratch.appendingPathComponent(name))
            agents.append(await rehearsal.run())
        }
        await stub.stop()
        return DoctorReport(checks: checks, agents: agents)
    }
}
