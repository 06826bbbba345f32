import Testing
import PlinthStore
import PlinthLMDB

/// Serializability exactly as FoundationDB: read conflicts against writes
/// committed after the read version, phantoms included; blind writes and
/// snapshot reads never conflict.
@Suite struct StoreConflictTests {
    private func expectConflict(_ tr: any StoreTransaction, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try tr.commit()
            Issue.record("expected a conflict", sourceLocation: sourceLocation)
        } catch {
            #expect(error.knownCode == .notCommitted, sourceLocation: sourceLocation)
            #expect(error.isRetryable, sourceLocation: sourceLocation)
        }
    }

    @Test func readWriteConflict() throws {
        let f = try StoreFixture()
        try transact(f.store) { tr throws(StoreError) in try tr.set(b("x"), b("0")) }
        let t1 = try f.store.beginTransaction()
        _ = try t1.get(b("x"), snapshot: false)
        try transact(f.store) { tr throws(StoreError) in try tr.set(b("x"), b("1")) }
        try t1.set(b("y"), b("depends on x"))
        expectConflict(t1)
    }

    @Test func writeSkewMustConflict() throws {
        // Two doctors on call: each checks that the other is on call, then
        // leaves. Under snapshot isolation both succeed; serializable must not.
        let f = try StoreFixture()
        try transact(f.store) { tr throws(StoreError) in
            try tr.set(b("oncall/alice"), b("1"))
            try tr.set(b("oncall/bob"), b("1"))
        }
        let a = try f.store.beginTransaction()
        let bTr = try f.store.beginTransaction()
        #expect(try readAll(a, b("oncall/"), b("oncall0")).count == 2)
        #expect(try readAll(bTr, b("oncall/"), b("oncall0")).count == 2)
        try a.clear(b("oncall/alice"))
        try bTr.clear(b("oncall/bob"))
        #expect(try a.commit() > 0)
        expectConflict(bTr)
    }

    @Test func phantomInsertConflictsWithRangeRead() throws {
        let f = try StoreFixture()
        let reader = try f.store.beginTransaction()
        let seen = try readAll(reader, b("t/"), b("t0"))
        #expect(seen.isEmpty)
        try transact(f.store) { tr throws(StoreError) in try tr.set(b("t/new"), b("row")) }
        try reader.set(b("count"), b("\(seen.count)"))
        expectConflict(reader)
    }

    @Test func limitedRangeReadOnlyConflictsOverWhatItRead() throws {
        let f = try StoreFixture()
        try transact(f.store) { tr throws(StoreError) in
            for i in 0..<10 { try tr.set(b("q\(i)"), b("v")) }
        }
        let t1 = try f.store.beginTransaction()
        let r = try t1.getRange(.firstGreaterOrEqual(b("q")), .firstGreaterOrEqual(b("r")), options: RangeOptions(limit: 3))
        #expect(r.count == 3 && r.more)
        // A write past what was read (q9) does not conflict.
        try transact(f.store) { tr throws(StoreError) in try tr.set(b("q9"), b("changed")) }
        try t1.set(b("out"), b("x"))
        #expect(try t1.commit() > 0)
    }

    @Test func blindWritesNeverConflict() throws {
        let f = try StoreFixture()
        let t1 = try f.store.beginTransaction()
        let t2 = try f.store.beginTransaction()
        _ = try t1.getReadVersion()
        _ = try t2.getReadVersion()
        try t1.set(b("same"), b("1"))
        try t2.set(b("same"), b("2"))
        #expect(try t2.commit() > 0)
        #expect(try t1.commit() > 0)
        try transact(f.store) { tr throws(StoreError) in #expect(s(try tr.get(b("same"), snapshot: false)) == "1") }
    }

    @Test func snapshotReadsAddNoConflict() throws {
        let f = try StoreFixture()
        let t1 = try f.store.beginTransaction()
        _ = try t1.get(b("k"), snapshot: true)
        _ = try t1.getRange(.firstGreaterOrEqual(b("a")), .firstGreaterOrEqual(b("z")), options: RangeOptions(snapshot: true))
        try transact(f.store) { tr throws(StoreError) in try tr.set(b("k"), b("x")) }
        try t1.set(b("other"), b("y"))
        #expect(try t1.commit() > 0)
    }

    @Test func atomicOpsAddNoReadConflict() throws {
        let f = try StoreFixture()
        let t1 = try f.store.beginTransaction()
        let t2 = try f.store.beginTransaction()
        _ = try t1.getReadVersion(); _ = try t2.getReadVersion()
        try t1.atomicOp(.add, b("counter"), [1])
        try t2.atomicOp(.add, b("counter"), [1])
        #expect(try t1.commit() > 0)
        #expect(try t2.commit() > 0)
        try transact(f.store) { tr throws(StoreError) in #expect(try tr.get(b("counter"), snapshot: false) == [2]) }
    }

    @Test func clearRangeConflictsWithReaders() throws {
        let f = try StoreFixture()
        try transact(f.store) { tr throws(StoreError) in try tr.set(b("m5"), b("v")) }
        let t1 = try f.store.beginTransaction()
        _ = try t1.get(b("m5"), snapshot: false)
        try transact(f.store) { tr throws(StoreError) in try tr.clearRange(b("m"), b("n")) }
        try t1.set(b("z"), b("w"))
        expectConflict(t1)
    }

    @Test func explicitConflictRanges() throws {
        let f = try StoreFixture()
        let t1 = try f.store.beginTransaction()
        try t1.addReadConflictRange(b("lock/"), b("lock0"))
        try t1.set(b("a"), b("1"))
        try transact(f.store) { tr throws(StoreError) in try tr.addWriteConflictRange(b("lock/x"), b("lock/y")) }
        expectConflict(t1)
        // A write-conflict range alone is a "write": it makes the commit real.
        let t2 = try f.store.beginTransaction()
        try t2.addWriteConflictRange(b("w"), keyAfter(b("w")))
        #expect(try t2.commit() > 0)
    }

    @Test func aLaterTransactionSeesConflictOnlyCommits() throws {
        // A commit that only added write-conflict ranges (SELECT ... FOR UPDATE
        // and nothing else) still takes a version every later reader is past.
        let f = try StoreFixture()
        try transact(f.store) { tr throws(StoreError) in try tr.set(b("locked"), b("v")) }
        try transact(f.store) { tr throws(StoreError) in
            _ = try tr.get(b("locked"), snapshot: false)
            try tr.addWriteConflictRange(b("locked"), keyAfter(b("locked")))
        }
        let t = try f.store.beginTransaction()
        _ = try t.get(b("locked"), snapshot: false)
        try t.set(b("locked"), b("w"))
        #expect(try t.commit() > 0)
    }

    @Test func ownWritesDoNotConflictWithThemselves() throws {
        let f = try StoreFixture()
        let t1 = try f.store.beginTransaction()
        _ = try t1.get(b("self"), snapshot: false)
        try t1.set(b("self"), b("1"))
        #expect(try t1.commit() > 0)
    }

    @Test func conflictsAcrossProcessesHandles() throws {
        // A second environment handle on the same directory stands for another process.
        let f = try StoreFixture()
        let other = try f.reopen()
        let t1 = try f.store.beginTransaction()
        _ = try t1.get(b("shared"), snapshot: false)
        try transact(other) { tr throws(StoreError) in try tr.set(b("shared"), b("theirs")) }
        try t1.set(b("shared"), b("mine"))
        expectConflict(t1)
    }

    @Test func historyIsPrunedByAge() throws {
        let f = try StoreFixture(lifetimeMilliseconds: 100)
        // An old reader that outlives the retention fails as too old, not silently.
        let old = try f.store.beginTransaction()
        _ = try old.get(b("p"), snapshot: false)
        for i in 0..<10 {
            try transact(f.store) { tr throws(StoreError) in try tr.set(b("p\(i)"), b("v")) }
        }
        usleepMilliseconds(5200)   // retention: max(lifetime, 5 s) + 1 s
        for i in 0..<200 {
            try transact(f.store) { tr throws(StoreError) in try tr.set(b("later\(i)"), b("v")) }
        }
        do {
            try old.set(b("x"), b("y"))
            _ = try old.commit()
            Issue.record("an old transaction committed after its history was pruned")
        } catch {
            #expect(error.knownCode == .transactionTooOld)
        }
    }
}
