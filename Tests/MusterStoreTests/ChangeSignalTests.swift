import MusterStore
import Testing

/// The wake-up waiters on a store share: no signal lost between two waits, the fallback bounded.
@Suite struct ChangeSignalTests {
    @Test func aSignalBeforeTheWaitIsKeptAndTakenOnce() async {
        let signal = ChangeSignal()
        signal.signal()
        signal.signal()
        #expect(await signal.wait(upTo: .seconds(120)))
        #expect(await signal.wait(upTo: .milliseconds(1)) == false, "two signals before one wait are one wake-up")
    }

    @Test func aWaiterWakesOnASignalFromAnotherTask() async {
        let signal = ChangeSignal()
        async let woke = signal.wait(upTo: .seconds(120))
        // Signal until the waiter took it: whichever comes first, the wait returns true.
        let poke = Task {
            while !Task.isCancelled {
                signal.signal()
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        #expect(await woke)
        poke.cancel()
    }

    @Test func withoutASignalTheWaitEndsAtItsFallback() async {
        #expect(await ChangeSignal().wait(upTo: .milliseconds(1)) == false)
        // The default of a store that cannot tell of changes: never signalled.
        let store = try? SQLiteStoreConformanceTests.freshStore()
        #expect(store?.signalsChanges == false)
    }
}
