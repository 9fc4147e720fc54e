import Foundation
import MusterStore
import MusterTestKit
import Testing

/// The many-hosts run with each worker in a network namespace of its own (`ip netns`, veth pairs):
/// nothing but TCP joins a worker to PostgreSQL and the remote. Where the machine refuses
/// namespaces (no root), each test says what was refused and returns: ManyHostsTests runs the same
/// scenarios as processes on loopback.
@Suite(.enabled(if: ManyHostsFixture.enabled, ManyHostsFixture.skipReason))
struct ManyHostsNamespaceTests {
    /// 28 tasks over 3 workers in 3 namespaces: each succeeds exactly once.
    @Test(.timeLimit(.minutes(6)))
    func threeNamespacedWorkersRunEveryTaskExactlyOnce() async throws {
        if let refused = await NetworkHosts.probe() {
            print("ManyHostsNamespaceTests: \(refused); falling back to processes on loopback (ManyHostsTests)")
            return
        }
        let fleet = try await ManyHostsFixture(spec: ManyHostsTests.spec)
        let network = try await NetworkHosts(count: 3, relaying: fleet.ports, h: fleet.h)
        let coordinator = try fleet.startCoordinator()
        let workers = try network.hosts.enumerated().map { try fleet.startWorker("w\($0.offset)", on: $0.element) }
        let run = try await fleet.runID()
        let status = await coordinator.exited()
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { _ = await worker.exited() }
        await network.close()
        #expect(status == .exited(0), "\(status): \(fleet.log("coordinator.err")) \(fleet.log("w0.err"))")
        let tasks = try await fleet.store.tasks(run: run)
        #expect(tasks.count == 28 && tasks.allSatisfy { $0.state == .succeeded && $0.attempt == 1 },
                "\(tasks.map { "\($0.id) \($0.state) #\($0.attempt) \($0.error ?? "")" })")
        #expect(try await fleet.events(run).filter { $0.kind == "task.succeeded" }.count == 28)
        await fleet.close()
    }

    /// A worker cut off from the network (its link down) past its 2 s lease: another worker takes its
    /// task over and it succeeds once, on attempt 2; when the link comes back the cut-off worker's
    /// late outcome is rejected.
    @Test(.timeLimit(.minutes(6)))
    func aWorkerCutOffPastItsLeaseIsFencedOut() async throws {
        if let refused = await NetworkHosts.probe() {
            print("ManyHostsNamespaceTests: \(refused); falling back to processes on loopback (ManyHostsTests)")
            return
        }
        let fleet = try await ManyHostsFixture(spec: ManyHostsTests.slowSpec)
        let network = try await NetworkHosts(count: 2, relaying: fleet.ports, h: fleet.h)
        let coordinator = try fleet.startCoordinator(lease: "2s")
        let run = try await fleet.runID()
        let a = try fleet.startWorker("a", slots: 2, lease: "2s", on: network.hosts[0])
        let store = fleet.store
        let started = try await eventually(timeout: 60) {
            try await store.tasks(run: run).filter { $0.state == .running && $0.pid != nil }.count == 2
        }
        try #require(started, "worker a did not start both tasks: \(fleet.log("a.err"))")
        try await network.setLink(network.hosts[0], up: false)
        let b = try fleet.startWorker("b", slots: 2, lease: "2s", on: network.hosts[1])
        let done = try await eventually(timeout: 120) { try await store.run(run)?.status.isFinal == true }
        try await network.setLink(network.hosts[0], up: true)
        try #require(done, "the run did not finish without worker a: \(fleet.log("b.err"))")
        let fenced = try await eventually(timeout: 90) { try await fleet.events(run).contains { $0.kind == "task.lease_lost" } }
        #expect(fenced, "worker a's late work was not fenced out: \(fleet.log("a.err"))")
        #expect(await coordinator.exited() == .exited(0), "\(fleet.log("coordinator.err"))")
        for worker in [a, b] { worker.signal(SIGTERM) }
        for worker in [a, b] { _ = await worker.exited() }
        await network.close()
        let tasks = try await store.tasks(run: run)
        #expect(tasks.map(\.state) == [.succeeded, .succeeded] && tasks.allSatisfy { $0.attempt == 2 },
                "\(tasks.map { "\($0.id) \($0.state) #\($0.attempt)" })")
        #expect(try await fleet.events(run).filter { $0.kind == "task.succeeded" }.count == 2)
        await fleet.close()
    }
}
