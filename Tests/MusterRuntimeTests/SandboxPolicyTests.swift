import Foundation
import MusterCore
import Testing
@testable import MusterRuntime

/// The pure part of the sandbox: which paths are writable and the bwrap argv that says so.
@Suite("Sandbox policy")
struct SandboxPolicyTests {
    let repo = "/work/repo"
    var tree: String { repo + "/.muster/worktrees/r1/a" }

    /// The (option, source) pairs of an argv, e.g. ("--bind", "/x").
    func mounts(_ argv: [String]) -> [(String, String)] {
        var out: [(String, String)] = []
        var i = 0
        while i < argv.count {
            if ["--bind", "--ro-bind", "--ro-bind-try", "--tmpfs", "--dev", "--proc"].contains(argv[i]) {
                out.append((argv[i], argv[i + 1]))
                i += argv[i] == "--tmpfs" || argv[i] == "--dev" || argv[i] == "--proc" ? 2 : 3
            } else {
                i += 1
            }
        }
        return out
    }

    @Test("worktree: read-only root, private /tmp, writable tree and outbox, the .git file sealed last, pid namespace")
    func worktreeArgv() {
        let outbox = repo + "/.muster/runs/r1/tasks/a"
        let policy = SandboxPolicy(tree: tree, treeWritable: true, writable: [outbox, repo + "/.muster/muster.db"],
                                   sealed: [tree + "/.git"], visible: [repo, "/root"], directory: tree)
        let argv = policy.arguments(bwrap: "/usr/bin/bwrap", executable: "/bin/sh", arguments: ["sh", "-c", "echo hi"])
        #expect(Array(argv.prefix(4)) == ["/usr/bin/bwrap", "--die-with-parent", "--unshare-pid", "--new-session"])
        #expect(Array(argv.suffix(6)) == ["--chdir", tree, "--", "/bin/sh", "-c", "echo hi"])
        let m = mounts(argv)
        #expect(m.map(\.0) == ["--ro-bind", "--dev", "--proc", "--tmpfs", "--bind", "--bind", "--bind", "--ro-bind"], "\(m)")
        #expect(m.first! == ("--ro-bind", "/"))
        #expect(m.last! == ("--ro-bind", tree + "/.git"), "the .git file is bound over everything else")
        #expect(m.contains { $0 == ("--bind", tree) } && m.contains { $0 == ("--bind", outbox) })
        #expect(!m.contains { $0.1 == repo && $0.0 == "--bind" }, "the checkout is never writable")
    }

    @Test("paths under /tmp stay visible read-only over the private /tmp, outermost only, before any writable bind")
    func visibleUnderTmp() {
        let root = "/tmp/muster-e2e-1"
        let policy = SandboxPolicy(tree: root + "/.muster/worktrees/r/a", treeWritable: true, writable: [],
                                   visible: [root, root + "/home", "/root", "/tmp/other"], directory: root)
        let m = mounts(policy.arguments(bwrap: "bwrap", executable: "/bin/true", arguments: ["true"]))
        let tmpfs = m.firstIndex { $0.0 == "--tmpfs" }!
        #expect(m[tmpfs + 1] == ("--ro-bind", "/tmp/muster-e2e-1") && m[tmpfs + 2] == ("--ro-bind", "/tmp/other"), "\(m)")
        #expect(!m.contains { $0.1 == root + "/home" } && !m.contains { $0.1 == "/root" && $0.0 != "--bind" && $0.0 == "--ro-bind" })
    }

    @Test("owned: the tree read-only, owned paths writable after it, parents before children")
    func ownedArgv() {
        let policy = SandboxPolicy(tree: tree, treeWritable: false, writable: [tree + "/src/a/deep", tree + "/src/a", "/o"],
                                   sealed: [tree + "/.git"], directory: tree)
        let m = mounts(policy.arguments(bwrap: "bwrap", executable: "/bin/true", arguments: ["true"]))
        #expect(m.contains { $0 == ("--ro-bind", tree) } && !m.contains { $0 == ("--bind", tree) })
        let binds = m.filter { $0.0 == "--bind" }.map(\.1)
        #expect(binds == ["/o", tree + "/src/a", tree + "/src/a/deep"], "\(binds)")
    }

    @Test("in place: the checkout writable, its .git and .muster read-only, the outbox writable again after them")
    func inPlaceArgv() {
        let outbox = repo + "/.muster/runs/r/tasks/a"
        let policy = SandboxPolicy(tree: repo, treeWritable: true, protected: [repo + "/.git", repo + "/.muster"],
                                   writable: [outbox], directory: repo)
        let m = mounts(policy.arguments(bwrap: "bwrap", executable: "/bin/true", arguments: ["true"]))
        let order = m.map { "\($0.0) \($0.1)" }
        let protect = order.firstIndex(of: "--ro-bind-try \(repo)/.muster")!
        #expect(order.firstIndex(of: "--bind \(repo)")! < protect && protect < order.firstIndex(of: "--bind \(outbox)")!, "\(order)")
    }

    @Test(arguments: [
        ("src/a/**", "src/a", false), ("docs/a.md", "docs/a.md", true), ("**/*.swift", "", false),
        ("Sources/*/x", "Sources", false), ("./lib/b", "lib/b", true), ("a/{b,c}/d", "a", false), ("x/[ab]", "x", false),
    ])
    func literalPrefixes(glob: String, prefix: String, literal: Bool) {
        let got = SandboxPolicy.literalPrefix(of: glob)
        #expect(got.path == prefix && got.literal == literal, "\(glob) → \(got)")
    }

    @Test("extra writable paths: never the checkout, its .git or anything holding them; the tree and outside paths are fine")
    func refusals() {
        #expect(SandboxPolicy.refusal("/", repository: repo, tree: tree) == "it holds the repository")
        #expect(SandboxPolicy.refusal("/work", repository: repo, tree: tree) == "it holds the repository")
        #expect(SandboxPolicy.refusal(repo + "/.git/hooks", repository: repo, tree: tree) == "it is inside the repository's .git")
        #expect(SandboxPolicy.refusal(repo + "/src", repository: repo, tree: tree) == "it is in the checkout, outside the task's own tree")
        #expect(SandboxPolicy.refusal(tree + "/.git", repository: repo, tree: tree) == "it is the task's .git")
        #expect(SandboxPolicy.refusal(repo + "/.muster/worktrees/r1/b", repository: repo, tree: tree) != nil, "a sibling worktree")
        #expect(SandboxPolicy.refusal(tree + "/build", repository: repo, tree: tree) == nil)
        #expect(SandboxPolicy.refusal("/var/cache/x", repository: repo, tree: tree) == nil)
        #expect(SandboxPolicy.refusal("/work/repository2", repository: repo, tree: tree) == nil, "a sibling folder whose name shares a prefix")
    }
}
