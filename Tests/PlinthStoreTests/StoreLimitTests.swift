import Testing
import PlinthStore
import PlinthLMDB

/// FoundationDB's limits, each with its own error.
@Suite struct StoreLimitTests {
    @Test func keyLimit() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        try tr.set(Bytes(repeating: 1, count: StoreLimits.keyBytes), b("ok"))
        expectStoreError(.keyTooLarge) { () throws(StoreError) in try tr.set(Bytes(repeating: 1, count: StoreLimits.keyBytes + 1), b("x")) }
        // Reads of a key no key can be find nothing (FoundationDB: no error).
        #expect(try tr.get(Bytes(repeating: 1, count: StoreLimits.keyBytes + 20), snapshot: false) == nil)
        #expect(try tr.commit() > 0)
    }

    @Test func valueLimit() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        try tr.set(b("big"), Bytes(repeating: 1, count: StoreLimits.valueBytes))
        do {
            try tr.set(b("bigger"), Bytes(repeating: 1, count: StoreLimits.valueBytes + 1))
            Issue.record("value over the limit accepted")
        } catch {
            #expect(error.knownCode == .valueTooLarge)
            #expect(!error.isRetryable)
        }
        #expect(try tr.commit() > 0)
    }

    @Test func transactionSizeLimit() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        let value = Bytes(repeating: 9, count: 90_000)
        for i in 0..<112 { try tr.set(b("chunk\(i)"), value) }   // about 10.1 MB
        do {
            _ = try tr.commit()
            Issue.record("a transaction over 10 MB committed")
        } catch {
            #expect(error.knownCode == .transactionTooLarge)
        }
        // Nothing of it is visible.
        try transact(f.store) { t throws(StoreError) in #expect(try t.get(b("chunk0"), snapshot: false) == nil) }
    }

    @Test func lifetimeLimit() throws {
        let f = try StoreFixture(lifetimeMilliseconds: 200)
        let tr = try f.store.beginTransaction()
        _ = try tr.get(b("a"), snapshot: false)
        try tr.set(b("a"), b("late"))
        usleepMilliseconds(350)
        do {
            _ = try tr.get(b("a"), snapshot: false)
            Issue.record("read after the lifetime succeeded")
        } catch {
            #expect(error.knownCode == .transactionTooOld)
            #expect(error.isRetryable)
        }
        do {
            _ = try tr.commit()
            Issue.record("commit after the lifetime succeeded")
        } catch {
            #expect(error.knownCode == .transactionTooOld)
        }
        // onError resets it; the retry works.
        try tr.onError(StoreError(.transactionTooOld))
        try tr.set(b("a"), b("retried"))
        #expect(try tr.commit() > 0)
    }

    /// A transaction that only reads keeps its snapshot for as long as it
    /// lives (LMDB keeps the pages): pg_dump, a report, a slow cursor. A
    /// write made through it after all is checked at commit as any other.
    @Test func readOnlySnapshotOutlivesTheLifetime() throws {
        let f = try StoreFixture(lifetimeMilliseconds: 200)
        try transact(f.store) { t throws(StoreError) in try t.set(b("a"), b("old")) }
        let tr = try f.store.beginTransaction()
        tr.readOnly()
        #expect(try tr.get(b("a"), snapshot: true) == b("old"))
        try transact(f.store) { t throws(StoreError) in try t.set(b("a"), b("new")) }
        usleepMilliseconds(350)
        #expect(try tr.get(b("a"), snapshot: true) == b("old"))
        #expect(try tr.getRange(.firstGreaterOrEqual(b("a")), .firstGreaterOrEqual(b("b")),
                                options: RangeOptions(limit: 0, mode: .wantAll)).count == 1)
        _ = try tr.get(b("a"), snapshot: false)
        try tr.set(b("a"), b("late"))
        do {
            _ = try tr.commit()
            Issue.record("a write through an expired read-only snapshot committed")
        } catch {
            #expect(error.knownCode == .transactionTooOld)
        }
        // Still read only after a reset, as FoundationDB's option is set again.
        tr.reset()
        _ = try tr.get(b("a"), snapshot: true)
        usleepMilliseconds(350)
        #expect(try tr.get(b("a"), snapshot: true) == b("new"))
        #expect(try tr.commit() == -1)
    }

    @Test func systemKeysAreNotWritable() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        expectStoreError(.keyOutsideLegalRange) { () throws(StoreError) in try tr.set([0xFF, 1], b("x")) }
        expectStoreError(.invertedRange) { () throws(StoreError) in try tr.clearRange(b("b"), b("a")) }
    }
}

func usleepMilliseconds(_ ms: Int) {
    var remaining = ms
    while remaining > 0 {
        let step = min(remaining, 1000)
        _ = usleepWrapper(UInt32(step * 1000))
        remaining -= step
    }
}

#if canImport(Glibc)
import Glibc
func usleepWrapper(_ us: UInt32) -> Int32 { usleep(us) }
#endif

/// Failures of the engine's file system reach the caller as errors and leave
/// the store as it was.
@Suite(.serialized) struct StoreFaultTests {
    @Test func failedCommitLeavesNothingBehind() throws {
        let f = try StoreFixture()
        f.store.faults = LMDBFaults { op in op == .commit ? 5 /* EIO */ : 0 }
        let tr = try f.store.beginTransaction()
        try tr.set(b("k"), b("v"))
        do {
            _ = try tr.commit()
            Issue.record("commit succeeded despite the injected failure")
        } catch {
            #expect(error.knownCode == .storeIOError)
        }
        f.store.faults = LMDBFaults()
        try transact(f.store) { t throws(StoreError) in
            #expect(try t.get(b("k"), snapshot: false) == nil)
            try t.set(b("k2"), b("v2"))
        }
        try transact(f.store) { t throws(StoreError) in #expect(s(try t.get(b("k2"), snapshot: false)) == "v2") }
    }

    /// A process killed between a commit's history and its data (here: the
    /// data commit fails after the history committed) must not leave a
    /// conflict at a version the data never reached: a transaction that
    /// read just below it would conflict at every retry while nothing else
    /// commits (a backend looping in onError forever).
    @Test func historyOfACommitThatNeverLandedConflictsWithNothing() throws {
        let f = try StoreFixture()
        try transact(f.store) { t throws(StoreError) in
            try t.set(b("k"), b("0"))
            try t.set(b("kept"), b("0"))
        }
        // Read at the store's last version V-1.
        let reader = try f.store.beginTransaction()
        #expect(s(try reader.get(b("k"), snapshot: false)) == "0")
        // A writer of k dies between its history commit (at V) and its data commit.
        f.store.faults = LMDBFaults { op in op == .dataCommit ? 5 /* EIO */ : 0 }
        let dying = try f.store.beginTransaction()
        try dying.set(b("k"), b("never"))
        #expect(throws: StoreError.self) { _ = try dying.commit() }
        f.store.faults = LMDBFaults()
        // The reader commits: nothing was written after its read.
        try reader.set(b("out"), b("1"))
        var attempts = 0
        while true {
            attempts += 1
            do {
                _ = try reader.commit()
                break
            } catch {
                if attempts >= 3 { Issue.record("conflict after \(attempts) attempts: \(error)"); break }
                try reader.onError(error)
                #expect(s(try reader.get(b("k"), snapshot: false)) == "0")
                try reader.set(b("out"), b("1"))
            }
        }
        #expect(attempts == 1)
        // A real write of k before the crash still conflicts with an older reader.
        let old = try f.store.beginTransaction()
        _ = try old.get(b("kept"), snapshot: false)
        try transact(f.store) { t throws(StoreError) in try t.set(b("kept"), b("1")) }
        f.store.faults = LMDBFaults { op in op == .dataCommit ? 5 : 0 }
        let dying2 = try f.store.beginTransaction()
        try dying2.set(b("kept"), b("never"))
        #expect(throws: StoreError.self) { _ = try dying2.commit() }
        f.store.faults = LMDBFaults()
        try old.set(b("out2"), b("1"))
        #expect(throws: StoreError.self) { _ = try old.commit() }
    }

    @Test func fullStoreIsItsOwnError() throws {
        let f = try StoreFixture(mapSizeBytes: 4 << 20)
        do {
            for i in 0..<100 {
                try transact(f.store) { t throws(StoreError) in
                    for j in 0..<40 { try t.set(b("fill\(i)/\(j)"), Bytes(repeating: 1, count: 5000)) }
                }
            }
            Issue.record("a 4 MB store took 20 MB")
        } catch {
            #expect(error.knownCode == .storeFull)
        }
    }
}

/// Retry loops and backoffs answer interrupts and give up in bounded time
/// (`StoreInterrupts`, `Store.transact`).
@Suite(.serialized) struct StoreWaitTests {
    @Test func retryLoopGivesUpAfterItsLimit() throws {
        let f = try StoreFixture()
        let start = monotonicMilliseconds()
        var attempts = 0
        do {
            try f.store.transact(limitMilliseconds: 200) { _ throws(StoreError) in
                attempts += 1
                throw StoreError(.notCommitted)
            }
            Issue.record("a transaction that always conflicts committed")
        } catch {
            #expect(error.knownCode == .notCommitted)
            #expect(error.message.contains("gave up after \(attempts) attempts"))
        }
        #expect(attempts > 1)
        #expect(monotonicMilliseconds() - start < 5_000)
    }

    @Test func backoffStopsOnInterrupt() throws {
        let f = try StoreFixture()
        let start = monotonicMilliseconds()
        var attempts = 0
        TestInterrupts.install()
        defer { TestInterrupts.thread = nil }
        do {
            try f.store.transact(limitMilliseconds: 600_000) { _ throws(StoreError) in
                attempts += 1
                // Cancel arrives while the loop backs off for the 5th time.
                if attempts == 5 { TestInterrupts.thread = pthread_self() }
                throw StoreError(.notCommitted)
            }
            Issue.record("a transaction that always conflicts committed")
        } catch {
            #expect(error.knownCode == .interrupted)
        }
        #expect(attempts == 5)
        #expect(monotonicMilliseconds() - start < 5_000)
    }
}

/// An interrupt for one thread only: other tests run in parallel, and the
/// poll is process-wide.
enum TestInterrupts {
    nonisolated(unsafe) static var thread: pthread_t?
    private static let installed: Void = {
        StoreInterrupts.poll = {
            guard let t = TestInterrupts.thread else { return false }
            return pthread_equal(t, pthread_self()) != 0
        }
    }()
    static func install() { _ = installed }
}
