import PlinthEncoding
import PlinthStore
import PlinthTxn

/// What taking a row's lock found (`lockRow`), as heap's
/// HeapTupleSatisfiesUpdate would say it once the lock is held.
public enum RowLockOutcome: Equatable {
    /// Locked, and the version this transaction sees is the newest.
    case current
    /// Locked; a transaction that committed after this one's snapshot
    /// changed the row, whose newest version now stands for it.
    case updated
    /// Locked, but the row was deleted after this transaction's snapshot.
    case deleted
    /// Locked, but an UPDATE gave the row a new row id: `to`.
    case moved(to: Int64)
    /// A running transaction holds a conflicting lock: wait for it, retry.
    case blocked(LockAttempt)
}

/// Why a row could not be modified, as heap's HeapTupleSatisfiesUpdate says
/// it for the current transaction's own versions — or the row itself.
public enum ModifyOutcome {
    /// Done. Delete: the row as it was (for its index entries); lock: the
    /// row locked; replace: nothing.
    case ok(LoadedRow)
    /// Changed by this command or a later one: `cmax` did it.
    case selfModified(cmax: UInt32)
    /// Written by this very command (inserted, say); for a lock, the row,
    /// so that Postgres can read its xmin (ON CONFLICT).
    case invisible(LoadedRow?)
    /// Gone.
    case notFound
}

// The table access method's work on single rows (tableam.h's tuple_*
// callbacks, without what needs Postgres's headers: the shim turns slots
// into tuples and results into TM_Result).
extension TransactionState {
    /// tuple_insert: stores a tuple under a new row id; returns the id.
    /// `forUpdate`: the new version of a row an UPDATE moved to a new row
    /// id — its uniqueness checks run at once, as heap runs them.
    public func insert(table: Int64, tuple: UnsafeRawBufferPointer, cid: UInt32, subid: UInt32, xid: UInt32,
                       forUpdate: Bool = false) throws(PlinthError) -> Int64 {
        let row = try session.nextRowID(table)
        try storeCall { () throws(StoreError) in
            try Rows.write(txn, db, table, row, tuple, cid: cid, subid: subid, xid: xid)
        }
        noteRows(table, rows: 1, bytes: Int64(tuple.count))
        work.updatedRow = forUpdate ? (table, row) : nil
        return row
    }

    /// Fetches one row by id as `vis` sees it into `buffer`; nil when it
    /// does not exist for that view.
    public func fetch(table: Int64, row: Int64, _ vis: ReadVisibility, into buffer: RowBuffer) throws(PlinthError) -> LoadedRow? {
        let key = db.rowKey(table, row)
        return try storeCall { () throws(StoreError) -> LoadedRow? in
            let value: Bytes?, own: OwnWrite?
            var loadVisibility = vis.anyVersion ? Visibility.all : vis.visibility
            if vis.anyVersion, let v = try txn.buffer.latestVersion(key), v.value != nil, v.cid >= vis.curcid,
               try txn.buffer.latestReplacedAValue(key) {
                // Updated in place by the current command: the old version,
                // which heap would still have at this TID (transition tables
                // fetch it right after the update).
                loadVisibility = .command(vis.curcid)
                (value, own) = try txn.getWithSource(key, loadVisibility)
            } else if vis.anyVersion {
                value = try txn.getAnyVersion(key, skipping: RowFormat.isMoved)
                own = try txn.buffer.latestVersion(key).map { OwnWrite(cid: $0.cid, xid: $0.xid) }
            } else {
                (value, own) = try version(key, vis)
            }
            guard let value, let length = try value.withBytes({ (v) throws(StoreError) in
                try Rows.load(v, txn, db, table, row, loadVisibility, current: vis.readsCurrent(txn), into: buffer)
            }) else { return nil }
            return buffer.row(length: length, rowID: row, own: own)
        }
    }

    /// The stored value of a row key as `vis` sees it (a row, or the marker
    /// an UPDATE that moved the row left), and who wrote it, if this
    /// transaction did.
    private func version(_ key: Bytes, _ vis: ReadVisibility) throws(StoreError) -> (Bytes?, OwnWrite?) {
        guard vis.readsCurrent(txn) else { return try txn.getWithSource(key, vis.visibility) }
        switch try txn.buffer.state(key, .all) {
        case .value(let v, let o): return (v, o)
        case .deleted: return (nil, nil)
        case .unwritten: return (try txn.readCurrent([key])[0], nil)
        }
    }

    /// tuple_get_latest_tid: the row id the row has as `vis` sees it,
    /// following the row ids UPDATEs moved it to, as heap follows its
    /// t_ctid chain (WHERE CURRENT OF after the cursor's row was updated).
    public func latestRowID(table: Int64, row: Int64, _ vis: ReadVisibility) throws(PlinthError) -> Int64 {
        var current = row
        for _ in 0..<1000 {
            let key = db.rowKey(table, current)
            let value = try storeCall { () throws(StoreError) in try version(key, vis).0 }
            guard let value, case .moved(let to, _, _)? = value.withUnsafeBytes({ RowFormat.parse($0) }), to >= 0 else {
                break
            }
            current = to
        }
        return current
    }

    /// How an own write of the row stands against command `cid`: nil when
    /// the row may be modified, else the outcome to report.
    private func ownConflict(_ key: Bytes, _ cid: UInt32) throws(PlinthError) -> ModifyOutcome? {
        guard let v = try txn.buffer.ownLatest(key) else { return nil }
        if v.value.map(RowFormat.isMoved) ?? true {
            // Deleted (or updated away) by this transaction.
            return v.cid >= cid ? .selfModified(cmax: v.cid) : .invisible(nil)
        }
        if v.cid >= cid {
            // Updated in place by this command or a later one; or inserted.
            return try txn.buffer.ownReplacedAValue(key) ? .selfModified(cmax: v.cid) : .invisible(nil)
        }
        return nil
    }

    /// tuple_delete (and the old version of an UPDATE that moves the row):
    /// on success the old row is in `buffer`, for its index entries.
    /// `takingBack`: a speculative insertion that lost to a conflicting row
    /// is removed again, though this very command wrote it.
    public func delete(table: Int64, row: Int64, cid: UInt32, subid: UInt32, takingBack: Bool = false,
                       into buffer: RowBuffer) throws(PlinthError) -> ModifyOutcome {
        let key = db.rowKey(table, row)
        if !takingBack, let c = try ownConflict(key, cid) { return c }
        return try storeCall { () throws(StoreError) -> ModifyOutcome in
            guard let old = try txn.get(key, .all), !RowFormat.isMoved(old) else { return .notFound }
            guard let length = try old.withBytes({ (v) throws(StoreError) in
                try Rows.load(v, txn, db, table, row, .all, into: buffer)
            }) else { throw Rows.corrupt(db, table, row) }
            try Rows.delete(txn, db, table, row, value: old, cid: cid, subid: subid)
            noteRows(table, rows: -1, bytes: -Int64(Rows.tupleLength(old)))
            return .ok(buffer.row(length: length, rowID: row, own: nil))
        }
    }

    /// UPDATE that no index notices (the shim checked that no indexed
    /// column changed): the new row replaces the old one under the same row
    /// id, so no index entry is written and no row id allocated.
    public func replace(table: Int64, row: Int64, tuple: UnsafeRawBufferPointer, cid: UInt32, subid: UInt32,
                        xid: UInt32) throws(PlinthError) -> ModifyOutcome {
        let key = db.rowKey(table, row)
        if let c = try ownConflict(key, cid) { return c }
        return try storeCall { () throws(StoreError) -> ModifyOutcome in
            guard let old = try txn.get(key, .all), !RowFormat.isMoved(old) else { return .notFound }
            try Rows.write(txn, db, table, row, tuple, cid: cid, subid: subid, xid: xid, replacing: old)
            noteRows(table, rows: 0, bytes: Int64(tuple.count) - Int64(Rows.tupleLength(old)))
            return .ok(.none)
        }
    }

    /// An UPDATE gave row `row` the new row id `to` (-1: it moved to another
    /// partition, whose table has its own ids): its old key keeps a
    /// mark saying where the row went (RowFormat.moved), which a transaction
    /// waiting to change the row follows — unless the row was inserted by
    /// this transaction, which no other can have seen.
    public func markMoved(table: Int64, row: Int64, to newRow: Int64, cid: UInt32, subid: UInt32,
                          writer: UInt64, keyChanged: Bool) throws(PlinthError) {
        let key = db.rowKey(table, row)
        // A row this transaction inserted needs no mark — unless a mark
        // already leads to it (an earlier UPDATE of this transaction moved a
        // committed row there): a waiter follows the chain to its end.
        guard let first = try txn.buffer.ownFirst(key), !first.fresh || movedTargets.contains(HashedKey(key)) else { return }
        if newRow >= 0 { movedTargets.insert(HashedKey(db.rowKey(table, newRow))) }
        try storeCall { () throws(StoreError) in
            try txn.put(key, RowFormat.movedValue(to: newRow, writer: writer, keyChanged: keyChanged), cid: cid, subid: subid)
        }
        movedDelta[table, default: 0] += 1
        guard newRow >= 0 else { return }   // to another partition: no lock follows
        let from = Keyspace.Live.rowLockPrefix(db: db.id, table: table, row: row)
        let to = Keyspace.Live.rowLockPrefix(db: db.id, table: table, row: newRow)
        if deferred.isPending(key) {
            deferred.moves[HashedKey(from)] = (to, newRow)   // noted when the batch takes the lock
        } else {
            try noteRowMoved(from: from, to: to, toRow: newRow)
        }
    }

    /// Takes the lock of row `row` in `mode` (UPDATE, DELETE, SELECT FOR
    /// ...; RowLocks.swift) and says how the version this transaction sees
    /// stands against the newest committed one — which, once the lock is
    /// taken, no other transaction can change. A version newer than this
    /// transaction's snapshot is adopted (read from then on), so that
    /// Postgres's EvalPlanQual re-checks it and the update applies to it.
    ///
    /// `deferrable`: the caller would wait for a holder (no NOWAIT, no SKIP
    /// LOCKED), so past a statement's first `DeferredRowLocks.immediate`
    /// locks this one may join a batch (RowLocks.swift).
    public func lockRow(table: Int64, row: Int64, mode: RowLockMode, deferrable: Bool,
                        _ ctx: LockContext) throws(PlinthError) -> RowLockOutcome {
        let key = db.rowKey(table, row)
        let prefix = Keyspace.Live.rowLockPrefix(db: db.id, table: table, row: row)
        let heldBefore = locks.mode(prefix)
        // A foreign key check of a parent pinned for it (`readParentKeys`):
        // locked already, and there with its key; the batch checks that it
        // has not moved since.
        if deferrable, mode == .keyShare, heldBefore != nil, let pinned = txn.pinnedRow(key) {
            if !deferred.isPending(key) {
                deferred.append(.init(prefix: prefix, key: key, table: table, row: row, mode: mode, seen: pinned, ctx: ctx))
                if deferred.count >= DeferredRowLocks.batch, let w = try takeDeferredLocks() { return .blocked(w) }
            }
            return .current
        }
        if deferrable, deferred.statementLocks >= DeferredRowLocks.immediate,
           heldBefore == nil, movedRows[HashedKey(key)] == nil {
            var join = deferred.isPending(key)
            if !join { join = try txn.buffer.ownLatest(key) != nil }
            if !join, let seen = try storeCall({ () throws(StoreError) in try txn.snapshotValue(key) }) {
                deferred.append(.init(prefix: prefix, key: key, table: table, row: row, mode: mode, seen: seen, ctx: ctx))
                join = true
            }
            if join {
                if deferred.count >= DeferredRowLocks.batch, let w = try takeDeferredLocks() { return .blocked(w) }
                return .current
            }
        }
        deferred.statementLocks += 1
        let (subid, waitXid, topXid) = (ctx.subid, ctx.waitXid, ctx.topXid)
        let (attempt, newestRead) = try lock(prefix: prefix, readingRow: key, mode: mode, subid: subid, waitXid: waitXid,
                                             topXid: topXid)
        if case .blocked = attempt { return .blocked(attempt) }
        if let to = movedRows[HashedKey(key)] { return .moved(to: to) }
        // Held since before: the row has not changed since that lock was
        // taken (and checked). Written by this transaction: the same.
        if let h = heldBefore, h >= .share { return .current }
        if try txn.buffer.ownLatest(key) != nil { return .current }
        let (seen, newest) = try storeCall { () throws(StoreError) -> (Bytes?, Bytes?) in
            let newest: Bytes?
            if let n = newestRead { newest = n } else { newest = try txn.readCurrent([key])[0] }
            return (try txn.snapshotValue(key), newest)
        }
        if newest == seen { return .current }
        // FOR KEY SHARE holds across an UPDATE that kept the key columns, as
        // heap's: on the version this transaction sees (and on the row ids
        // the row moved to since, so that their deleters wait for it).
        if mode == .keyShare, seen != nil, let newest {
            let followed = try followKeyShare(table: table, newest, subid: subid, waitXid: waitXid, topXid: topXid)
            if case .current = followed { return .current }
            if case .blocked = followed { return followed }
        }
        return try storeCall { () throws(StoreError) -> RowLockOutcome in
            guard let newest else {
                txn.adoptCurrent(key, nil)
                return .deleted
            }
            switch newest.withUnsafeBytes({ RowFormat.parse($0) }) {
            case .moved(let to, _, _)?:
                txn.adoptCurrent(key, nil)
                movedRows[HashedKey(key)] = to
                return .moved(to: to)
            case .split(let h)?:
                let chunkKeys = (0..<h.chunks).map { db.chunkKey(table, row, $0) }
                for (k, v) in zip(chunkKeys, try txn.readCurrent(chunkKeys, spanLimit: chunkKeys.count + 1)) { txn.adoptCurrent(k, v) }
            case .inline?:
                break
            case .chunk?, nil:
                throw Rows.corrupt(db, table, row)
            }
            txn.adoptCurrent(key, newest)
            // Not in the snapshot at all: found by a read of the newest
            // state (ON CONFLICT's), which is what the caller acts on.
            return seen == nil ? .current : .updated
        }
    }

    /// Whether this transaction reads the row at a version newer than its
    /// statement's snapshot (adopted by an earlier lock: `lockRow`).
    public func readsAdoptedVersion(table: Int64, row: Int64) -> Bool {
        txn.newestStandsForSnapshot && txn.hasAdopted(db.rowKey(table, row))
    }

    /// Whether this transaction holds a lock on the row, of any mode.
    public func holdsLock(table: Int64, row: Int64) -> Bool {
        locks.mode(Keyspace.Live.rowLockPrefix(db: db.id, table: table, row: row)) != nil
    }

    /// FOR KEY SHARE on a row whose newest version is `newest`: follows the
    /// row through UPDATEs that moved it without changing its key columns,
    /// taking the lock on each new row id. `.current`: the lock holds (the
    /// row exists, same key); `.moved`: an UPDATE changed the key (or the
    /// row is gone: `.deleted`) — the caller reports it as for any mode.
    func followKeyShare(table: Int64, _ newest: Bytes, subid: UInt32, waitXid: UInt32,
                                topXid: Int64) throws(PlinthError) -> RowLockOutcome {
        var value: Bytes? = newest
        var hops = 0
        while let v = value, hops < 1000 {
            guard case .moved(let to, _, let keyChanged)? = v.withUnsafeBytes({ RowFormat.parse($0) }) else {
                return .current   // a row: same key as the version seen
            }
            if keyChanged || to < 0 { return .moved(to: to) }
            let attempt = try lock(prefix: Keyspace.Live.rowLockPrefix(db: db.id, table: table, row: to), mode: .keyShare,
                                   subid: subid, waitXid: waitXid, topXid: topXid)
            if case .blocked = attempt { return .blocked(attempt) }
            value = try storeCall { () throws(StoreError) in try txn.readCurrent([db.rowKey(table, to)])[0] }
            hops += 1
        }
        return .deleted
    }

    /// SELECT ... FOR UPDATE/SHARE: the row is read (a read conflict), and
    /// for the exclusive modes marked written (a write conflict), so that a
    /// concurrent writer of it cannot also commit.
    public func lock(table: Int64, row: Int64, cid: UInt32, exclusive: Bool, into buffer: RowBuffer) throws(PlinthError) -> ModifyOutcome {
        let key = db.rowKey(table, row)
        var conflict = try ownConflict(key, cid)
        let latest = try txn.buffer.ownLatest(key)
        let rowValue = latest?.value.map { !RowFormat.isMoved($0) } ?? false
        if case .selfModified? = conflict, rowValue {
            // Updated in place by this command: a lock finds the new version,
            // which this command wrote — as heap's would be, invisible to it
            // (ON CONFLICT DO UPDATE then says "cannot affect row a second time").
            conflict = .invisible(nil)
        }
        if let c = conflict {
            guard case .invisible = c, rowValue else { return c }
        }
        return try storeCall { () throws(StoreError) -> ModifyOutcome in
            let (value, own) = try txn.getWithSource(key, .all)
            guard let value, !RowFormat.isMoved(value) else { return .notFound }
            guard let length = try value.withBytes({ (v) throws(StoreError) in
                try Rows.load(v, txn, db, table, row, .all, into: buffer)
            }) else { throw Rows.corrupt(db, table, row) }
            let loaded = buffer.row(length: length, rowID: row, own: own)
            // Inserted by this very command (ON CONFLICT hitting a row it
            // inserted itself): Postgres reads the row's xmin to say so.
            if conflict != nil { return .invisible(loaded) }
            if exclusive { try txn.addWriteConflict(key) }
            return .ok(loaded)
        }
    }
}
