import Testing
import PlinthStore
import PlinthLMDB

/// FoundationDB's limits, each with its own error.
@Suite struct StoreLimitTests {
    @Test func keyLimit() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        try tr.set(Bytes(repeating: 1, count: StoreLimits.keyBytes), b("ok"))
        #expect(throws: StoreError.self) { try tr.set(Bytes(repeating: 1, count: StoreLimits.keyBytes + 1), b("x")) }
        do { try tr.set(Bytes(repeating: 1, count: StoreLimits.keyBytes + 1), b("x")) } catch {
            #expect(error.knownCode == .keyTooLarge)
        }
        do { _ = try tr.get(Bytes(repeating: 1, count: StoreLimits.keyBytes + 1), snapshot: false) } catch {
            #expect(error.knownCode == .keyTooLarge)
        }
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

    @Test func systemKeysAreNotWritable() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        do { try tr.set([0xFF, 1], b("x")) } catch { #expect(error.knownCode == .keyOutsideLegalRange) }
        do { try tr.clearRange(b("b"), b("a")) } catch { #expect(error.knownCode == .invertedRange) }
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
        defer { LMDBFaults.inject = nil }
        LMDBFaults.inject = { op in op == .commit ? 5 /* EIO */ : 0 }
        let tr = try f.store.beginTransaction()
        try tr.set(b("k"), b("v"))
        do {
            _ = try tr.commit()
            Issue.record("commit succeeded despite the injected failure")
        } catch {
            #expect(error.knownCode == .storeIOError)
        }
        LMDBFaults.inject = nil
        try transact(f.store) { t throws(StoreError) in
            #expect(try t.get(b("k"), snapshot: false) == nil)
            try t.set(b("k2"), b("v2"))
        }
        try transact(f.store) { t throws(StoreError) in #expect(s(try t.get(b("k2"), snapshot: false)) == "v2") }
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
