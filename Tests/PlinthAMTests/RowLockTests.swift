import Testing
import PlinthAM
import PlinthEncoding
import PlinthStore
import PlinthTxn

/// Row and key locks (RowLocks.swift) between two backends of one server on
/// the embedded store: who waits for whom, what a lock finds once taken,
/// and what is left when a holder ends.
@Suite struct RowLockTests {
    /// Two sessions on one store; `running` says which transactions of
    /// this server Postgres would call in progress.
    final class Pair {
        let a: SessionFixture
        let b = Session()
        var running: Set<UInt32> = []

        init() throws {
            a = try SessionFixture()
            b.configure(a.session.config)
            try b.useStore(of: a.session)
            let isRunning: (UInt32) throws(StoreError) -> Bool = { [unowned self] xid in running.contains(xid) }
            a.session.transactionRunning = isRunning
            b.transactionRunning = isRunning
        }
    }

    static let table: Int64 = 100
    func ctx(_ xid: UInt32, subid: UInt32 = 1) -> LockContext { LockContext(subid: subid, waitXid: xid, topXid: Int64(xid)) }

    func write(_ t: TransactionState, row: Int64, _ data: Bytes, xid: UInt32) throws {
        let tuple = storedTuple(data)
        _ = try tuple.withUnsafeBytes {
            try t.replace(table: Self.table, row: row, tuple: $0, cid: 0, subid: 1, xid: xid)
        }
    }

    /// Inserts row 1 (and more) and commits.
    func seed(_ p: Pair, rows: Int = 1) throws {
        try p.a.inTransaction { t in
            for _ in 0..<rows {
                let tuple = storedTuple([1])
                _ = try tuple.withUnsafeBytes { try t.insert(table: Self.table, tuple: $0, cid: 0, subid: 1, xid: 9) }
            }
        }
    }

    func rowID(_ p: Pair, _ n: Int = 0) throws -> Int64 {
        try p.a.inTransaction { t in
            let scan = try TableScan(p.a.session, table: Self.table, .everyOwnWrite, low: -1, high: -1, reverse: false)
            var row = LoadedRow.none
            var ids: [Int64] = []
            while try scan.next(&row) { ids.append(row.rowID) }
            return ids[n]
        }
    }

    @Test func conflictingModesWaitCompatibleOnesDoNot() throws {
        let p = try Pair()
        try seed(p)
        let row = try rowID(p)
        let ta = try p.a.session.transaction()
        let tb = try p.b.transaction()
        p.running = [100, 200]
        #expect(try ta.lockRow(table: Self.table, row: row, mode: .keyShare, deferrable: false, ctx(100)) == .current)
        // FOR NO KEY UPDATE does not conflict with FOR KEY SHARE...
        #expect(try tb.lockRow(table: Self.table, row: row, mode: .noKeyUpdate, deferrable: false, ctx(200)) == .current)
        // ...FOR UPDATE does, with the first holder found.
        let holder = LockHolder(server: try p.a.session.server(), incarnation: 0, xid: 100)
        #expect(try tb.lockRow(table: Self.table, row: row, mode: .update, deferrable: false, ctx(200))
                == .blocked(.blocked(holder, waitXid: 100, local: true)))
        // The holder ends: the lock is free.
        p.a.session.abort()
        p.running = [200]
        #expect(try tb.lockRow(table: Self.table, row: row, mode: .update, deferrable: false, ctx(200)) == .current)
        p.b.abort()
    }

    /// ROLLBACK TO SAVEPOINT gives back what the subtransactions from it on
    /// took — a lock strengthened there goes back to its earlier mode — and
    /// nothing else, also a lock the parent took after a child ended.
    @Test func rollbackToSavepointGivesBackItsLocksOnly() throws {
        let p = try Pair()
        try seed(p, rows: 4)
        let rows = try (0..<4).map { try rowID(p, $0) }
        p.running = [100, 200]
        let ta = try p.a.session.transaction()
        func lock(_ row: Int64, _ mode: RowLockMode, subid: UInt32) throws {
            #expect(try ta.lockRow(table: Self.table, row: row, mode: mode, deferrable: false, ctx(100, subid: subid)) == .current)
        }
        try lock(rows[0], .keyShare, subid: 1)
        try lock(rows[2], .update, subid: 3)
        try lock(rows[0], .update, subid: 3)
        // Subtransaction 3 ended (RELEASE); its parent 2 locks after it.
        try lock(rows[1], .update, subid: 2)
        try lock(rows[3], .update, subid: 2)
        func free(_ row: Int64, _ mode: RowLockMode) throws -> Bool {
            let tb = try p.b.transaction()
            defer { p.b.abort() }
            return try tb.lockRow(table: Self.table, row: row, mode: mode, deferrable: false, ctx(200)) == .current
        }
        // A later subtransaction rolled back took nothing.
        try ta.releaseLocks(subid: 4)
        #expect(try !free(rows[0], .noKeyUpdate) && !free(rows[3], .update))
        try ta.releaseLocks(subid: 3)
        #expect(try free(rows[2], .update))
        #expect(try free(rows[0], .noKeyUpdate) && !free(rows[0], .update))   // FOR KEY SHARE again
        #expect(try !free(rows[1], .update) && !free(rows[3], .update))
        try ta.releaseLocks(subid: 2)
        #expect(try free(rows[1], .update) && free(rows[3], .update))
        #expect(try !free(rows[0], .update))
        p.a.session.abort()
    }

    @Test func keyShareHoldsOnAVersionUpdatedInPlace() throws {
        let p = try Pair()
        try seed(p)
        let row = try rowID(p)
        p.running = [100, 200]
        // A: FOR KEY SHARE (a foreign key check), its snapshot taken.
        let ta = try p.a.session.transaction()
        ta.txn.mode = .snapshot
        #expect(try ta.lockRow(table: Self.table, row: row, mode: .keyShare, deferrable: false, ctx(100)) == .current)
        // B updates a non-key column in place and commits.
        try p.b.transaction().txn.mode = .snapshot
        let tb = try p.b.transaction()
        #expect(try tb.lockRow(table: Self.table, row: row, mode: .noKeyUpdate, deferrable: false, ctx(200)) == .current)
        try write(tb, row: row, [5], xid: 200)
        try p.b.commit()
        p.running = [100]
        // A checks again: its lock still holds, on the version it sees.
        #expect(try ta.lockRow(table: Self.table, row: row, mode: .keyShare, deferrable: false, ctx(100)) == .current)
        p.a.session.abort()
    }

    @Test func aHolderThatEndedWithoutReleasingHoldsNothing() throws {
        let p = try Pair()
        try seed(p)
        let row = try rowID(p)
        let ta = try p.a.session.transaction()
        p.running = [100, 200]
        #expect(try ta.lockRow(table: Self.table, row: row, mode: .update, deferrable: false, ctx(100)) == .current)
        // Killed: its lock key stays in the store, but Postgres knows it ended.
        p.running = [200]
        let tb = try p.b.transaction()
        #expect(try tb.lockRow(table: Self.table, row: row, mode: .update, deferrable: false, ctx(200)) == .current)
        p.b.abort()
        p.a.session.abort()
    }

    @Test func aLockTakenAfterACommitSeesTheNewestVersion() throws {
        let p = try Pair()
        try seed(p)
        let row = try rowID(p)
        p.running = [100, 200]
        // B reads the row (its snapshot), then A changes it and commits.
        let tb = try p.b.transaction()
        let key = tb.db.rowKey(Self.table, row)
        let before = try tb.txn.snapshotValue(key)
        let ta = try p.a.session.transaction()
        #expect(try ta.lockRow(table: Self.table, row: row, mode: .noKeyUpdate, deferrable: false, ctx(100)) == .current)
        try write(ta, row: row, [2], xid: 100)
        try p.a.session.commit()
        p.running = [200]
        #expect(try tb.lockRow(table: Self.table, row: row, mode: .noKeyUpdate, deferrable: false, ctx(200)) == .updated)
        // From now on B reads the newest version.
        #expect(try tb.txn.snapshotValue(key) != before)
        // Taken again: held, nothing to check.
        #expect(try tb.lockRow(table: Self.table, row: row, mode: .noKeyUpdate, deferrable: false, ctx(200)) == .current)
        p.b.abort()
    }

    @Test func aDeletedOrMovedRowIsReportedSo() throws {
        let p = try Pair()
        try seed(p, rows: 2)
        let (r1, r2) = (try rowID(p, 0), try rowID(p, 1))
        p.running = [100, 200]
        let tb = try p.b.transaction()
        _ = try tb.txn.snapshotValue(tb.db.rowKey(Self.table, r1))
        _ = try tb.txn.snapshotValue(tb.db.rowKey(Self.table, r2))
        try p.a.inTransaction { ta in
            let buffer = RowBuffer()
            _ = try ta.delete(table: Self.table, row: r1, cid: 0, subid: 1, into: buffer)
            _ = try ta.delete(table: Self.table, row: r2, cid: 0, subid: 1, into: buffer)
            try ta.markMoved(table: Self.table, row: r2, to: 999, cid: 0, subid: 1, writer: 100, keyChanged: true)
        }
        #expect(try tb.lockRow(table: Self.table, row: r1, mode: .update, deferrable: false, ctx(200)) == .deleted)
        #expect(try tb.lockRow(table: Self.table, row: r2, mode: .update, deferrable: false, ctx(200)) == .moved(to: 999))
        // Asked again (EvalPlanQual follows the move): the same answer.
        #expect(try tb.lockRow(table: Self.table, row: r2, mode: .update, deferrable: false, ctx(200)) == .moved(to: 999))
        p.b.abort()
    }

    @Test func batchedLocksFailARowChangedSinceTheSnapshot() throws {
        let p = try Pair()
        try seed(p, rows: 100)
        let rows = try (0..<100).map { try rowID(p, $0) }
        p.running = [100, 200]
        let tb = try p.b.transaction()
        // Past the first 64, B's locks wait in a batch, assumed unchanged.
        for r in rows.prefix(90) {
            #expect(try tb.lockRow(table: Self.table, row: r, mode: .noKeyUpdate, deferrable: true, ctx(200)) == .current)
        }
        // A changes one of the batched rows and commits.
        try p.a.inTransaction { ta in
            #expect(try ta.lockRow(table: Self.table, row: rows[80], mode: .noKeyUpdate, deferrable: false, ctx(100)) == .current)
            try write(ta, row: rows[80], [3], xid: 100)
        }
        p.running = [200]
        #expect(throws: PlinthError.self) { _ = try tb.takeDeferredLocks() }
        p.b.abort()
        // Unchanged rows: the batch is taken.
        let tb2 = try p.b.transaction()
        for r in rows { _ = try tb2.lockRow(table: Self.table, row: r, mode: .noKeyUpdate, deferrable: true, ctx(201)) }
        #expect(try tb2.takeDeferredLocks() == nil)
        p.b.abort()
    }

    @Test func aSecondInserterOfAKeyWaitsThenFindsIt() throws {
        let p = try Pair()
        let d = IndexDescriptor(index: 7, table: Self.table, columns: [IndexKey.Column(descending: false, nullsFirst: false)],
                                unique: true, nullsNotDistinct: false, oid: 5000)
        let columns = IndexKey.encode([.int(42)], d.columns)
        let tuple: Bytes = [0, 0, 0, 0, 0, 0, 16, 0] + Bytes(repeating: 0, count: 8)
        func insert(_ t: TransactionState, row: Int64, _ c: LockContext) throws -> UniqueOutcome {
            try tuple.withUnsafeBytes {
                try t.insertEntry(d, columns: columns, hasNull: false, row: row, tuple: $0, check: .yes, depth: 0,
                                  building: false, cid: 0, lockContext: c)
            }.checks
        }
        p.running = [100, 200]
        let ta = try p.a.session.transaction()
        let tb = try p.b.transaction()
        // A's statement ends: its check takes the key's lock.
        _ = try insert(ta, row: 1, ctx(100))
        #expect(try ta.statementEvent(.executorFinishing(depth: -1), ctx(100)).violation == nil)
        // B's check waits for A.
        _ = try insert(tb, row: 2, ctx(200))
        guard case .wait(.blocked(let h, _, _)) = try tb.statementEvent(.executorFinishing(depth: -1), ctx(200)) else {
            Issue.record("B's check did not wait for A")
            return
        }
        #expect(h.xid == 100)
        // A commits: B finds A's key.
        try p.a.session.commit()
        p.running = [200]
        #expect(try tb.statementEvent(.executorFinishing(depth: -1), ctx(200)).violation != nil)
        p.b.abort()
    }

    /// Two servers on one store (liveness.c): a lock held by a server whose
    /// heartbeat stopped is freed once a waiter declares that run dead; the
    /// run, if it was only stalled, learns so at its next beat and commits
    /// nothing meanwhile.
    @Test func aServerDeclaredDeadLosesItsLocksAndCommitsNothing() throws {
        let a = try SessionFixture()
        var ca = a.session.config
        ca.incarnation = 5
        a.session.configure(ca)
        let b = Session()
        var cb = ca
        cb.serverIDPath = a.path + "/other_server_id"
        cb.serverHome = "other:" + a.path
        cb.incarnation = 7
        b.configure(cb)
        try b.useStore(of: a.session)
        a.session.transactionRunning = { _ in true }
        b.transactionRunning = { _ in true }
        try a.inTransaction { t in
            let tuple = storedTuple([1])
            _ = try tuple.withUnsafeBytes { try t.insert(table: Self.table, tuple: $0, cid: 0, subid: 1, xid: 9) }
        }
        let row = try a.inTransaction { t in
            let scan = try TableScan(a.session, table: Self.table, .everyOwnWrite, low: -1, high: -1, reverse: false)
            var r = LoadedRow.none
            #expect(try scan.next(&r))
            return r.rowID
        }
        #expect(try a.session.beat())
        #expect(try a.session.beat())
        let ta = try a.session.transaction()
        #expect(try ta.lockRow(table: Self.table, row: row, mode: .update, deferrable: false, ctx(100)) == .current)

        // Databases are the servers' own until the schema is shared: the
        // other server takes the lock by its key.
        let tb = try b.transaction()
        let prefix = Keyspace.Live.rowLockPrefix(db: ta.db.id, table: Self.table, row: row)
        let holder = LockHolder(server: try a.session.server(), incarnation: 5, xid: 100)
        #expect(try tb.lock(prefix: prefix, mode: .update, subid: 1, waitXid: 200, topXid: 200)
                == .blocked(holder, waitXid: 100, local: false))
        let (running, beat) = try b.holderRunning(holder)
        #expect(running && beat == 2)
        // No beat for plinth.server_timeout: the waiter declares it dead.
        try b.declareDead(server: holder.server, incarnation: 5)
        #expect(try b.holderRunning(holder) == (false, 0))
        #expect(try tb.lock(prefix: prefix, mode: .update, subid: 1, waitXid: 200, topXid: 200) == .acquired)
        b.abort()

        // The stalled server: its next beat says it must restart, and a
        // commit holding locks is refused (57P02) unless a beat is recent.
        #expect(try a.session.beat() == false)
        a.session.livenessRecent = { false }
        #expect { try a.session.commit() } throws: { e in (e as? PlinthError)?.sqlstate == .crashShutdown }
        // A new backend of that run cannot record it again.
        let again = Session()
        again.configure(ca)
        try again.useStore(of: a.session)
        #expect { try again.recordIncarnation() } throws: { e in (e as? PlinthError)?.sqlstate == .crashShutdown }
        // The restarted server (a new run) records itself and beats.
        var restarted = ca
        restarted.incarnation = 6
        let c = Session()
        c.configure(restarted)
        try c.useStore(of: a.session)
        #expect(try c.beat())
    }
}
