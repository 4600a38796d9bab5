import Dispatch
import EpilogueShared
import Testing

@Suite struct ReadWriteLockedTests {
    /// Two readers inside at once: the first waits, inside, for the second to get in. Under an
    /// exclusive lock the second could not, and the first's wait would time out.
    @Test func readersHoldTheLockAtTheSameTime() {
        let locked = ReadWriteLocked(0)
        let firstIn = DispatchSemaphore(value: 0), secondIn = DispatchSemaphore(value: 0)
        let sawSecond = ReadWriteLocked(false)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            locked.withReadLock { _ in
                firstIn.signal()
                let inTogether = secondIn.wait(timeout: .now() + 10) == .success
                sawSecond.withLock { $0 = inTogether }
            }
        }
        DispatchQueue.global().async(group: group) {
            firstIn.wait()
            locked.withReadLock { _ in _ = secondIn.signal() }
        }
        group.wait()
        #expect(sawSecond.withReadLock { $0 }, "the second reader got in while the first held the lock")
    }

    /// Writers change two fields one after the other; a reader never sees them apart.
    @Test func aReaderNeverSeesAWriteHalfDone() {
        struct Pair { var a = 0, b = 0 }
        let locked = ReadWriteLocked(Pair())
        let torn = ReadWriteLocked(0)
        let group = DispatchGroup()
        for _ in 0..<2 {
            DispatchQueue.global().async(group: group) {
                for _ in 0..<20_000 { locked.withLock { $0.a += 1; $0.b += 1 } }
            }
            DispatchQueue.global().async(group: group) {
                var seen = 0
                for _ in 0..<20_000 where locked.withReadLock({ $0.a != $0.b }) { seen += 1 }
                torn.withLock { $0 += seen }
            }
        }
        group.wait()
        #expect(torn.withReadLock { $0 } == 0)
        #expect(locked.withReadLock { ($0.a, $0.b) } == (40_000, 40_000))
    }

    @Test func typedErrorsPassThrough() {
        struct Refused: Error {}
        let locked = ReadWriteLocked(1)
        #expect(throws: Refused.self) { try locked.withReadLock { _ throws(Refused) in throw Refused() } }
        #expect(throws: Refused.self) { try locked.withLock { _ throws(Refused) in throw Refused() } }
        #expect(locked.withReadLock { $0 } == 1)
    }
}
