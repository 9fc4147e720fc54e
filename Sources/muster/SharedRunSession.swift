import ArgumentParser
import Foundation
import MusterRuntime
import MusterStore

/// `muster run --slots N`: the run is left unheld for `muster worker`s on any host; this process
/// publishes its base to the shared remote, coordinates it (`Coordinator`) and, with N > 0, runs N
/// tasks here as one more worker.
enum SharedRunSession {
    static func execute(run: String, slots: Int, remote: String?, store: any Store, global: GlobalOptions,
                        workspace: Workspace, options: RunOptions, reopen: Bool = false) async throws {
        guard let record = try await store.run(run) else { throw CLIError.usage(StoreError.unknownRun(run).description) }
        let usesGit = record.baseCommit != nil && !record.simulate
        var url = remote
        if url == nil { url = await RemoteRepository.origin(of: workspace.root) }
        if usesGit {
            guard let url else {
                throw CLIError.usage("--slots shares the run with other hosts through a git remote: add an `origin` or pass --remote URL")
            }
            try await Coordinator.publishBase(run: run, base: record.baseCommit!, repository: workspace.root, remote: url)
        }
        if !global.json {
            Terminal.error(Terminal.dim("run \(run): recorded for workers (`muster worker --repo \(url ?? "URL") --store \(global.storeDescription)`)"
                                        + (slots > 0 ? "; \(slots) slots here too" : "; no tasks run here")))
        }
        var coordinator = Coordinator(store: store, run: run)
        coordinator.leaseSeconds = options.leaseSeconds
        coordinator.reopen = reopen
        let live = !global.json && Terminal.stderrIsTerminal
        if live { coordinator.progress = { ProgressLine.draw($0) } }
        let localStop = WorkerStop()
        var local: Task<Void, Never>?
        if slots > 0 {
            var here = options
            here.concurrency = slots
            here.worker = WorkerRole(remote: RemoteRepository(url: url ?? workspace.root.path, clone: workspace.root), stop: localStop)
            let storePath = global.storePath
            local = Task {
                do {
                    _ = try await WorkflowRunner.execute(run: run, store: store, storePath: storePath, workspace: workspace, options: here)
                } catch {
                    Terminal.error("muster: local slots stopped: \(error)")
                }
            }
        }
        let outcome = try await coordinator.execute()
        if outcome.status == .running {
            // Interrupted: the local slots hand their tasks back to the workers at once.
            localStop.request()
            localStop.request()
        }
        await local?.value
        if live { ProgressLine.clear() }
        let tasks = try await store.tasks(run: run)
        if global.json {
            Terminal.json(RunReport(outcome, tasks: tasks))
        } else {
            print(RunSummary.text(outcome, tasks: tasks, simulate: options.simulate, speed: options.simulationSpeed))
        }
        switch outcome.status {
        case .succeeded: return
        case .cancelled, .running: throw ExitCode(ExitCodes.interrupted)
        default: throw ExitCode(ExitCodes.runFailed)
        }
    }
}
