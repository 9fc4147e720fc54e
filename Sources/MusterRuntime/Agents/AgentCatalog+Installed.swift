import Foundation
import MusterCore

extension AgentCatalog {
    /// One agent a run may use and where its CLI is (`muster agents`).
    public struct Entry: Sendable, Encodable {
        public var name: String
        public var builtin: Bool
        public var base: String?
        public var source: String
        public var output: AgentOutputFormat
        public var model: String?
        public var permissions: String?
        public var executable: String?
        public var path: String?
        public var install: String?

        /// Installed, or runs each task's own command (no CLI of its own).
        public var installed: Bool { executable == nil || path != nil }

        enum CodingKeys: String, CodingKey {
            case name, builtin, base, source, output, model = "default_model", permissions, executable, installed, path, install
        }

        // Absent values are `null` in the JSON, not missing keys.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(builtin, forKey: .builtin)
            try c.encode(base, forKey: .base)
            try c.encode(source, forKey: .source)
            try c.encode(output.rawValue, forKey: .output)
            try c.encode(model, forKey: .model)
            try c.encode(permissions, forKey: .permissions)
            try c.encode(executable, forKey: .executable)
            try c.encode(installed, forKey: .installed)
            try c.encode(path, forKey: .path)
            try c.encode(install, forKey: .install)
        }
    }

    /// Every agent of the catalog, each CLI resolved on PATH once.
    public func entries(root: URL) -> [Entry] {
        let resolver = ExecutableResolver()
        func locate(_ executable: String?) -> String? {
            guard let executable else { return nil }
            return try? resolver.resolve(executable, relativeTo: root.path)
        }
        var out: [Entry] = []
        for name in BuiltinAgents.names.sorted() where profiles[name] == nil {
            let executable = BuiltinAgents.executable(for: name)
            out.append(Entry(name: name, builtin: true, base: nil, source: "built in", output: BuiltinAgents.output(for: name) ?? .text,
                             model: BuiltinAgents.defaultModel(for: name), permissions: BuiltinAgents.defaultPermissions(for: name),
                             executable: executable, path: locate(executable), install: BuiltinAgents.installHint(for: name)))
        }
        for (name, profile) in profiles.sorted(by: { $0.key < $1.key }) {
            out.append(Entry(name: name, builtin: false, base: profile.base, source: profile.source.map { ($0 as NSString).lastPathComponent } ?? "custom",
                             output: profile.base == "sim" ? (profile.output ?? .claudeStreamJSON) : profile.format,
                             model: profile.defaultModel,
                             permissions: profile.permissions ?? profile.base.flatMap(BuiltinAgents.defaultPermissions(for:)),
                             executable: profile.executable, path: locate(profile.executable), install: profile.installHint))
        }
        return out.sorted { $0.name < $1.name }
    }

    /// Refuses a plan whose agents' CLIs are not installed, naming each and how to install it.
    public static func requireInstalled(_ plan: Plan, root: URL) throws(RunRefusal) {
        let used = Dictionary(grouping: plan.tasks, by: \.agent)
        let catalog = AgentCatalog(profiles: plan.workflow.agents ?? [:])
        let entries = Dictionary(uniqueKeysWithValues: catalog.entries(root: root).map { ($0.name, $0) })
        var problems: [String] = []
        for (agent, tasks) in used.sorted(by: { $0.key < $1.key }) {
            guard let entry = entries[agent], !entry.installed, let executable = entry.executable else { continue }
            let ids = tasks.prefix(3).map(\.id).joined(separator: ", ") + (tasks.count > 3 ? ", …" : "")
            problems.append("agent `\(agent)` (task\(tasks.count == 1 ? "" : "s") \(ids)) needs `\(executable)`, which is not installed (not on PATH)"
                            + (entry.install.map { "; install it with `\($0)`" } ?? "; install it or fix the profile's `command`"))
        }
        if !problems.isEmpty {
            throw RunRefusal(problems.joined(separator: "; ") + " (or preview the run with --simulate)")
        }
    }
}
