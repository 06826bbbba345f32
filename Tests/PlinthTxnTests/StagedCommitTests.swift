import Foundation
import Testing
import PlinthStore
import PlinthLMDB
@testable import PlinthTxn
import PlinthEncoding

/// Commits larger than one store transaction (`StagedCommit`, `CommitBarrier`).
@Suite struct StagedCommitTests {
    func count(_ store: any Store, _ prefix: Bytes) throws -> Int {
        let (b, e) = Keyspace.prefixRange(prefix)
        return try store.transact { t throws(StoreError) in try t.getRangeAll(b, e, limit: 1_000_000, snapshot: true).count }
    }

    func read(_ store: any Store, _ key: String) throws -> String? {
        try store.transact { t throws(StoreError) in str(try t.get(b(key), snapshot: true)) }
    }

    /// A READ COMMITTED commit past the one-step size goes in steps: every
    /// write lands (sets, deletes, range clears, atomic operations), the
    /// stage is gone and the barrier clear.
    @Test func largeCommitLandsWhole() throws {
        let f = try TxnFixture()
        try f.seed([("old/1", "x"), ("old/2", "x"), ("gone", "x")] + (0..<10).map { ("keep\($0)", "x") })
        let store = CommitBarrier(f.store)
        let t = Transaction(store: store)
        t.mode = .snapshot
        t.oneStepCommitBytes = 2_000
        t.stagedChunkBytes = 700
        for i in 0..<300 { try t.put(b("row/\(String(format: "%04d", i))"), b("v\(i)"), cid: 0, subid: 1) }
        try t.delete(b("gone"), prior: b("x"), cid: 0, subid: 1)
        try t.clearRange(KeyRange(b("old/"), b("old0")), cid: 0, subid: 1)
        t.atomic(.add, b("n"), [5, 0, 0, 0, 0, 0, 0, 0])
        try t.commit()
        #expect(t.stepsCommitted == 1)
        let rows = try f.store.transact { tr throws(StoreError) in try tr.getRangeAll(b("row/"), b("row0"), limit: 1000, snapshot: true) }
        #expect(rows.count == 300)
        #expect(try read(f.store, "gone") == nil)
        #expect(try read(f.store, "old/1") == nil)
        #expect(try read(f.store, "keep3") == "x")
        #expect(try f.store.transact { tr throws(StoreError) in try tr.get(b("n"), snapshot: true) } == [5, 0, 0, 0, 0, 0, 0, 0])
        #expect(try count(f.store, Keyspace.stagedCommitsPrefix) == 0)
        #expect(try f.store.transact { tr throws(StoreError) in try tr.get(Keyspace.commitBarrierKey, snapshot: true) } == nil)
    }

    /// The barrier costs a read only when the metadata version changed
    /// since this process last found it clear: not per transaction.
    @Test func barrierCheckCostsNoReadWhileNothingChanged() throws {
        let f = try TxnFixture()
        try f.seed([("k", "v")])
        let store = CommitBarrier(f.store)
        func readsOfOneGet() throws -> Int64 {
            let t = try store.beginTransaction()
            _ = try t.get(b("k"), snapshot: true)
            defer { t.cancel() }
            return t.counters.reads
        }
        #expect(try readsOfOneGet() == 2)   // first time: the barrier key too
        #expect(try readsOfOneGet() == 1)
        #expect(try readsOfOneGet() == 1)
        let big = Transaction(store: store)
        big.mode = .snapshot
        big.oneStepCommitBytes = 10
        try big.put(b("k2"), b("v"), cid: 0, subid: 1)
        try big.commit()
        #expect(try readsOfOneGet() == 2)   // the large commit moved the version
        #expect(try readsOfOneGet() == 1)
    }

    /// Below the one-step size nothing changes: one store transaction.
    @Test func smallCommitIsOneStep() throws {
        let f = try TxnFixture()
        let t = Transaction(store: CommitBarrier(f.store))
        t.mode = .snapshot
        for i in 0..<10 { try t.put(b("k\(i)"), b("v"), cid: 0, subid: 1) }
        try t.commit()
        #expect(t.stepsCommitted == 0)
        #expect(try read(f.store, "k9") == "v")
    }

    /// SERIALIZABLE keeps one store transaction, and its limit.
    @Test func serializableStillRefusesPastTheLimit() throws {
        let f = try TxnFixture()
        let t = Transaction(store: CommitBarrier(f.store))
        let v = Bytes(repeating: 1, count: 90_000)
        #expect(throws: StoreError(.transactionTooLarge)) {
            for i in 0..<200 { try t.put(b("big\(i)"), v, cid: 0, subid: 1) }
        }
    }

    /// Published but not applied (the committer died after its commit
    /// point): a snapshot taken before the publish reads none of it; a
    /// reader after it waits, finds the barrier stalled, applies the rest
    /// itself, and reads all of it.
    @Test func readerFinishesAStalledCommit() throws {
        let f = try TxnFixture()
        try f.seed([("a", "old"), ("z", "old")])
        let store = CommitBarrier(f.store, stallMilliseconds: 200)
        let before = try store.beginTransaction()
        #expect(str(try before.get(b("a"), snapshot: true)) == "old")
        let id = StagedCommit.newID()
        try StagedCommit.stage(f.store, id: id, chunkBytes: 300, counters: { _ in }) { body throws(StoreError) in
            try body(.set(b("a"), b("new")))
            for i in 0..<50 { try body(.set(b("m\(i)"), b("new"))) }
            try body(.set(b("z"), b("new")))
            try body(.atomic(.add, b("n"), [1, 0, 0, 0, 0, 0, 0, 0]))
        }
        // Staged only: nobody waits, nothing shows.
        #expect(try read(store, "a") == "old")
        _ = try StagedCommit.publish(f.store, id: id, counters: { _ in }) { _ throws(StoreError) in }
        #expect(str(try before.get(b("z"), snapshot: true)) == "old")
        let started = Date()
        let after = try store.beginTransaction()
        #expect(str(try after.get(b("a"), snapshot: true)) == "new")
        #expect(str(try after.get(b("z"), snapshot: true)) == "new")
        #expect(Date().timeIntervalSince(started) >= 0.2)
        // Applying again (the original committer coming back) changes nothing.
        try StagedCommit.apply(f.store, id: id, counters: { _ in })
        #expect(try f.store.transact { tr throws(StoreError) in try tr.get(b("n"), snapshot: true) } == [1, 0, 0, 0, 0, 0, 0, 0])
        #expect(try count(f.store, Keyspace.stagedCommitsPrefix) == 0)
    }

    /// A reader told that the committer's run is gone applies the commit at
    /// once, not after the stall bound; one told nothing waits.
    @Test func readerFinishesACommitOfAGoneCommitterAtOnce() throws {
        let f = try TxnFixture()
        try f.seed([("a", "old")])
        let store = CommitBarrier(f.store, stallMilliseconds: 60_000)
        var asked: [Bytes] = []
        store.committerGone = { id in asked.append(id); return true }
        let id = StagedCommit.newID(owner: Bytes(repeating: 1, count: 16))
        try StagedCommit.stage(f.store, id: id, counters: { _ in }) { body throws(StoreError) in try body(.set(b("a"), b("new"))) }
        _ = try StagedCommit.publish(f.store, id: id, counters: { _ in }) { _ throws(StoreError) in }
        let started = Date()
        let after = try store.beginTransaction()
        #expect(str(try after.get(b("a"), snapshot: true)) == "new")
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(asked == [id])
        #expect(try count(f.store, Keyspace.stagedCommitsPrefix) == 0)
    }

    /// A commit whose checks fail at the commit point leaves nothing: no
    /// row, no stage, no barrier.
    @Test func failedCheckLeavesNothing() throws {
        let f = try TxnFixture()
        try f.seed([("guard", "1")])
        let t = Transaction(store: CommitBarrier(f.store))
        t.mode = .snapshot
        t.oneStepCommitBytes = 100
        for i in 0..<50 { try t.put(b("r\(i)"), b("v"), cid: 0, subid: 1) }
        t.checkAtCommit(b("guard"), expected: b("2"), error: StoreError(.notCommitted, "changed"))
        #expect(throws: StoreError(.notCommitted)) { try t.commit() }
        #expect(try read(f.store, "r0") == nil)
        #expect(try count(f.store, Keyspace.stagedCommitsPrefix) == 0)
        #expect(try f.store.transact { tr throws(StoreError) in try tr.get(Keyspace.commitBarrierKey, snapshot: true) } == nil)
    }

    /// Stages a crash left (never published) are listed by id, ids with
    /// 0x00 bytes included, and swept; a published one is not: it is
    /// applied, whoever finds its barrier.
    @Test func orphanedStagesAreListedAndSwept() throws {
        let f = try TxnFixture()
        let owner: Bytes = [0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 1]
        let ids = [StagedCommit.newID(owner: owner), StagedCommit.newID(owner: owner), StagedCommit.newID()]
        #expect(ids[0].count == 24 && ids[0].prefix(16) == owner[...] && ids[2].count == 16)
        for (n, id) in ids.enumerated() {
            try StagedCommit.stage(f.store, id: id, chunkBytes: 300, counters: { _ in }) { body throws(StoreError) in
                for i in 0..<(20 * (n + 1)) { try body(.set(b("o\(n)-\(i)"), b("v"))) }
                try body(.clearRange(b("p"), b("q")))
            }
        }
        #expect(try Set(StagedCommit.stageIDs(f.store)) == Set(ids))
        #expect(try StagedCommit.stageIDs(f.store, limit: 2).count == 2)
        _ = try StagedCommit.publish(f.store, id: ids[1], counters: { _ in }) { _ throws(StoreError) in }
        #expect(try StagedCommit.sweep(f.store, id: ids[0]))
        #expect(try !StagedCommit.sweep(f.store, id: ids[1]))
        #expect(try Set(StagedCommit.stageIDs(f.store)) == Set([ids[1], ids[2]]))
        #expect(try read(f.store, "o0-0") == nil)
        try StagedCommit.apply(f.store, id: ids[1], counters: { _ in })
        #expect(try read(f.store, "o1-0") == "v")
        #expect(try StagedCommit.stageIDs(f.store) == [ids[2]])
        #expect(try StagedCommit.sweep(f.store, id: ids[2]))
        #expect(try count(f.store, Keyspace.stagedCommitsPrefix) == 0)
        // An id holding 0x00 bytes is read back whole.
        #expect(StagedCommit.stageID(Keyspace.stagedCommitPrefix([1, 0, 2]) + [9], after: Keyspace.stagedCommitsPrefix.count) == [1, 0, 2])
        #expect(StagedCommit.stageID(Keyspace.stagedCommitsPrefix + [0x02], after: Keyspace.stagedCommitsPrefix.count) == nil)
    }

    /// Keys too long to be staged under the prefix travel in the value.
    @Test func longKeysAreStaged() throws {
        let f = try TxnFixture()
        let long = Bytes(repeating: 0x61, count: StoreLimits.keyBytes - 2)
        try f.seed([("x", "1")])
        let t = Transaction(store: CommitBarrier(f.store))
        t.mode = .snapshot
        t.oneStepCommitBytes = 100
        try t.put(long, b("v"), cid: 0, subid: 1)
        try t.delete(b("x"), prior: b("1"), cid: 0, subid: 1)
        try t.commit()
        #expect(t.stepsCommitted == 1)
        #expect(try f.store.transact { tr throws(StoreError) in try tr.get(long, snapshot: true) } == b("v"))
        #expect(try read(f.store, "x") == nil)
    }

    /// A second large commit waits at its commit point for the first's
    /// apply (here: a stalled one, which it finishes), then goes.
    @Test func publishWaitsForAnotherCommit() throws {
        let f = try TxnFixture()
        let first = StagedCommit.newID()
        try StagedCommit.stage(f.store, id: first, counters: { _ in }) { body throws(StoreError) in try body(.set(b("k"), b("first"))) }
        _ = try StagedCommit.publish(f.store, id: first, counters: { _ in }) { _ throws(StoreError) in }
        let t = Transaction(store: CommitBarrier(f.store, stallMilliseconds: 100))
        t.mode = .snapshot
        t.oneStepCommitBytes = 10
        try t.put(b("k"), b("second"), cid: 0, subid: 1)
        try t.commit()
        #expect(try read(f.store, "k") == "second")
        #expect(try count(f.store, Keyspace.stagedCommitsPrefix) == 0)
    }
}
