import Foundation

/// Finds and stops agent processes a killed orchestrator left behind, before their tasks run again,
/// so two copies of one task never run at once. Processes are found two ways: the process groups
/// recorded in the Store, and (for a process started just before the crash, before its group was
/// recorded) a scan of /proc for the `MUSTER_RUN`/`MUSTER_STORE` pair every task inherits.
public enum OrphanReaper {
    /// Process groups whose members carry this run's marker in their environment.
    public static func groupsOf(run: String, store: String) -> Set<Int32> {
        let me = getpid()
        let runMarker = "MUSTER_RUN=\(run)", storeMarker = "MUSTER_STORE=\(store)"
        var groups = Set<Int32>()
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return groups }
        for entry in entries {
            guard let pid = Int32(entry), pid != me,
                  let data = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            var sawRun = false, sawStore = false
            for field in data.split(separator: 0) {
                let text = String(decoding: field, as: UTF8.self)
                if text == runMarker { sawRun = true }
                if text == storeMarker { sawStore = true }
            }
            guard sawRun && sawStore else { continue }
            let pgid = getpgid(pid)
            if pgid > 1 && pgid != getpgrp() { groups.insert(pgid) }
        }
        return groups
    }

    /// SIGTERM, up to `grace` for the groups to go, then SIGKILL. Returns how many groups were signalled.
    @discardableResult
    public static func stop(groups: Set<Int32>, grace: Duration) async -> Int {
        let alive = terminate(groups)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, alive.contains(where: ProcessSupervisor.groupAlive) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        killSurvivors(alive)
        return alive.count
    }

    /// `stop` for a thread of its own, outside Swift concurrency (a worker's stop deadline): it
    /// waits for the groups by sleeping the thread.
    @discardableResult
    static func stopBlocking(groups: Set<Int32>, grace: Duration) -> Int {
        let alive = terminate(groups)
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, alive.contains(where: ProcessSupervisor.groupAlive) { usleep(20_000) }
        killSurvivors(alive)
        return alive.count
    }

    /// SIGTERM to the groups still alive; those are returned.
    private static func terminate(_ groups: Set<Int32>) -> Set<Int32> {
        let alive = groups.filter(ProcessSupervisor.groupAlive)
        for pgid in alive { ProcessSupervisor.signalGroup(pgid, SIGTERM) }
        return alive
    }

    /// SIGKILL to those of `groups` that outlived their grace.
    private static func killSurvivors(_ groups: Set<Int32>) {
        for pgid in groups where ProcessSupervisor.groupAlive(pgid) { ProcessSupervisor.signalGroup(pgid, SIGKILL) }
    }
}
