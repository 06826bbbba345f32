import CPlinth
import PlinthStore
import PlinthTxn

// The table access method's entry points, called by Sources/CPlinth/tableam.c.
// The shim does everything that touches Postgres structures (slots, tuple
// headers, TIDs); these turn row operations into store operations.

/// Objects handed to C as opaque handles: retained until plinth_swift_release.
class Handle {}

@inline(__always)
func retain(_ h: Handle) -> UnsafeMutableRawPointer { Unmanaged.passRetained(h).toOpaque() }

@inline(__always)
func handle<T: Handle>(_ p: UnsafeMutableRawPointer, as: T.Type) -> T {
    unsafeDowncast(Unmanaged<Handle>.fromOpaque(p).takeUnretainedValue(), to: T.self)
}

@_cdecl("plinth_swift_release")
public func plinthSwiftRelease(_ p: UnsafeMutableRawPointer) {
    Unmanaged<Handle>.fromOpaque(p).release()
}

@_cdecl("plinth_swift_configure")
public func plinthSwiftConfigure(_ c: UnsafePointer<PlinthConfig>) {
    Backend.shared.configure(c.pointee)
}

// MARK: relations

@_cdecl("plinth_swift_relation_lookup")
public func plinthSwiftRelationLookup(_ relfilenode: UInt32, _ id: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in id.pointee = try Relations.lookup(relfilenode) ?? -1 }
}

@_cdecl("plinth_swift_relation_create")
public func plinthSwiftRelationCreate(_ relfilenode: UInt32, _ old: UInt32, _ cid: UInt32, _ subid: UInt32,
                                      _ id: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        id.pointee = try Relations.create(relfilenode, replacing: old, cid: cid, subid: subid)
    }
}

@_cdecl("plinth_swift_relation_forget")
public func plinthSwiftRelationForget(_ relfilenode: UInt32, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try Relations.forget(relfilenode, cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_relation_move")
public func plinthSwiftRelationMove(_ old: UInt32, _ new: UInt32, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try Relations.move(old, to: new, cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_relation_truncate")
public func plinthSwiftRelationTruncate(_ table: Int64, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try Relations.truncate(table, cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_relation_stats")
public func plinthSwiftRelationStats(_ table: Int64, _ withRowIDLimit: Bool,
                                     _ out: UnsafeMutablePointer<PlinthRelStats>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let b = Backend.shared
        let (rows, bytes) = try b.statistics(table)
        out.pointee = PlinthRelStats(rows: Double(rows), bytes: Double(bytes),
                                     row_id_limit: withRowIDLimit ? try b.rowIDLimit(table) : 0)
    }
}

@_cdecl("plinth_swift_database_drop")
public func plinthSwiftDatabaseDrop(_ oid: UInt32, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try Backend.shared.dropDatabase(oid, cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_claim_server_identity")
public func plinthSwiftClaimServerIdentity() -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try Backend.shared.claimServerIdentity() }
}

// MARK: rows

@_cdecl("plinth_swift_insert")
public func plinthSwiftInsert(_ table: Int64, _ tuple: UnsafeRawPointer, _ len: Int, _ cid: UInt32, _ subid: UInt32,
                              _ xid: UInt32, _ rowID: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let b = Backend.shared
        let txn = try b.transaction()
        let db = try b.db()
        let row = try b.nextRowID(table)
        try storeCall { () throws(StoreError) in
            try Rows.write(txn, db, table, row, UnsafeRawBufferPointer(start: tuple, count: len), cid: cid, subid: subid, xid: xid)
        }
        b.noteRows(table, rows: 1, bytes: Int64(len))
        rowID.pointee = row
    }
}

/// Buffers for rows handed to C outside scans (fetch by row id, the old row
/// of a delete).
final class Fetcher: Handle {
    let buffer = RowBuffer()
}

@_cdecl("plinth_swift_fetcher_new")
public func plinthSwiftFetcherNew() -> UnsafeMutableRawPointer { retain(Fetcher()) }

/// Fetches one row by id as `vis` sees it; *found is false when it does not
/// exist for that view.
@_cdecl("plinth_swift_fetch")
public func plinthSwiftFetch(_ table: Int64, _ row: Int64, _ vis: PlinthVisibility, _ fetcher: UnsafeMutableRawPointer,
                             _ found: UnsafeMutablePointer<Bool>, _ out: UnsafeMutablePointer<PlinthRow>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let f = handle(fetcher, as: Fetcher.self)
        let (_, txn, db, key) = try rowAccess(table, row)
        let visibility = Visibility(vis)
        try storeCall { () throws(StoreError) in
            let value: Bytes?, own: OwnWrite?
            var loadVisibility = vis.any_version ? Visibility.all : visibility
            if vis.any_version, let v = txn.buffer.latestVersion(key), v.value != nil, v.cid >= vis.curcid,
               txn.buffer.latestReplacedAValue(key) {
                // Updated in place by the current command: the old version,
                // which heap would still have at this TID (transition tables
                // fetch it right after the update).
                loadVisibility = .command(vis.curcid)
                (value, own) = try txn.getWithSource(key, loadVisibility)
            } else if vis.any_version {
                value = try txn.getAnyVersion(key)
                own = txn.buffer.latestVersion(key).map { OwnWrite(cid: $0.cid, xid: $0.xid) }
            } else {
                (value, own) = try txn.getWithSource(key, visibility)
            }
            guard let value, let len = try value.withBytes({ (v) throws(StoreError) in
                try Rows.load(v, txn, db, table, row, loadVisibility, into: f.buffer)
            }) else {
                found.pointee = false
                return
            }
            found.pointee = true
            out.pointee = f.buffer.row(length: len, rowID: row, own: own)
        }
    }
}

/// Reads these rows now, in one round trip: the index scan prefetches the
/// rows of a batch of index entries before fetching them one by one.
@_cdecl("plinth_swift_prefetch")
public func plinthSwiftPrefetch(_ table: Int64, _ rows: UnsafePointer<Int64>, _ n: Int) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let b = Backend.shared
        let db = try b.db()
        let txn = try b.transaction()
        let keys = (0..<n).map { db.rowKey(table, rows[$0]) }
        try storeCall { () throws(StoreError) in try txn.prefetch(keys) }
    }
}

/// What an operation on one row needs: the backend, its store
/// transaction, the database's keyspace and the row's key.
private func rowAccess(_ table: Int64, _ row: Int64) throws(PlinthError) -> (Backend, Transaction, Keyspace.Database, Bytes) {
    let b = Backend.shared
    let txn = try b.transaction()
    let db = try b.db()
    return (b, txn, db, db.rowKey(table, row))
}

/// How an own write of the row stands against command `cid`: nil when the
/// row may be modified, else the result to report (heap's
/// HeapTupleSatisfiesUpdate for the current transaction's own versions).
private func ownConflict(_ txn: Transaction, _ key: Bytes, _ cid: UInt32) -> PlinthModify? {
    guard let v = txn.buffer.latestVersion(key) else { return nil }
    var m = PlinthModify()
    if v.value == nil {
        // Deleted (or updated away) by this transaction.
        m.result = v.cid >= cid ? PLINTH_MODIFY_SELF_MODIFIED : PLINTH_MODIFY_INVISIBLE
        m.cmax = v.cid
        return m
    }
    if v.cid >= cid {
        // Updated in place by this command or a later one; or inserted.
        if txn.buffer.latestReplacedAValue(key) {
            m.result = PLINTH_MODIFY_SELF_MODIFIED
            m.cmax = v.cid
        } else {
            m.result = PLINTH_MODIFY_INVISIBLE
        }
        return m
    }
    return nil
}

/// The row an UPDATE or DELETE changes, as every own write shows it; nil
/// (and NOT_FOUND reported) when it is gone.
private func rowToModify(_ txn: Transaction, _ key: Bytes, _ out: UnsafeMutablePointer<PlinthModify>) throws(StoreError) -> Bytes? {
    guard let old = try txn.get(key, .all) else {
        out.pointee = PlinthModify(result: PLINTH_MODIFY_NOT_FOUND, cmax: 0, old: PlinthRow())
        return nil
    }
    return old
}

/// Deletes a row (DELETE, and the old version of an UPDATE). On success the
/// old row is in the fetcher, for the shim to remove its index entries.
@_cdecl("plinth_swift_delete")
public func plinthSwiftDelete(_ table: Int64, _ row: Int64, _ cid: UInt32, _ subid: UInt32,
                              _ fetcher: UnsafeMutableRawPointer, _ out: UnsafeMutablePointer<PlinthModify>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let f = handle(fetcher, as: Fetcher.self)
        let (b, txn, db, key) = try rowAccess(table, row)
        if let c = ownConflict(txn, key, cid) { out.pointee = c; return }
        try storeCall { () throws(StoreError) in
            guard let old = try rowToModify(txn, key, out) else { return }
            guard let len = try old.withBytes({ (v) throws(StoreError) in
                try Rows.load(v, txn, db, table, row, .all, into: f.buffer)
            }) else { throw Rows.corrupt(table, row) }
            try Rows.delete(txn, db, table, row, value: old, cid: cid, subid: subid)
            b.noteRows(table, rows: -1, bytes: -Int64(Rows.tupleLength(old)))
            out.pointee = PlinthModify(result: PLINTH_MODIFY_OK, cmax: 0, old: f.buffer.row(length: len, rowID: row, own: nil))
        }
    }
}

/// UPDATE that no index notices (the shim checked that no indexed column
/// changed): the new row replaces the old one under the same row id, so no
/// index entry is written and no row id allocated.
@_cdecl("plinth_swift_replace")
public func plinthSwiftReplace(_ table: Int64, _ row: Int64, _ tuple: UnsafeRawPointer, _ len: Int, _ cid: UInt32,
                               _ subid: UInt32, _ xid: UInt32, _ out: UnsafeMutablePointer<PlinthModify>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let (b, txn, db, key) = try rowAccess(table, row)
        if let c = ownConflict(txn, key, cid) { out.pointee = c; return }
        try storeCall { () throws(StoreError) in
            guard let old = try rowToModify(txn, key, out) else { return }
            try Rows.write(txn, db, table, row, UnsafeRawBufferPointer(start: tuple, count: len), cid: cid, subid: subid,
                           xid: xid, replacing: old)
            b.noteRows(table, rows: 0, bytes: Int64(len) - Int64(Rows.tupleLength(old)))
            out.pointee = PlinthModify(result: PLINTH_MODIFY_OK, cmax: 0, old: PlinthRow())
        }
    }
}

/// SELECT ... FOR UPDATE/SHARE: the row is read (a read conflict), and for
/// the exclusive modes marked written (a write conflict), so that a
/// concurrent writer of it cannot also commit.
@_cdecl("plinth_swift_lock")
public func plinthSwiftLock(_ table: Int64, _ row: Int64, _ cid: UInt32, _ exclusive: Bool,
                            _ fetcher: UnsafeMutableRawPointer, _ out: UnsafeMutablePointer<PlinthModify>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let f = handle(fetcher, as: Fetcher.self)
        let (_, txn, db, key) = try rowAccess(table, row)
        var conflict = ownConflict(txn, key, cid)
        if conflict?.result == PLINTH_MODIFY_SELF_MODIFIED, txn.buffer.latestVersion(key)?.value != nil {
            // Updated in place by this command: a lock finds the new version,
            // which this command wrote — as heap's would be, invisible to it
            // (ON CONFLICT DO UPDATE then says "cannot affect row a second time").
            conflict?.result = PLINTH_MODIFY_INVISIBLE
        }
        if let c = conflict, c.result != PLINTH_MODIFY_INVISIBLE || txn.buffer.latestVersion(key)?.value == nil {
            out.pointee = c
            return
        }
        try storeCall { () throws(StoreError) in
            let (value, own) = try txn.getWithSource(key, .all)
            guard let value else {
                out.pointee = PlinthModify(result: PLINTH_MODIFY_NOT_FOUND, cmax: 0, old: PlinthRow())
                return
            }
            guard let len = try value.withBytes({ (v) throws(StoreError) in
                try Rows.load(v, txn, db, table, row, .all, into: f.buffer)
            }) else { throw Rows.corrupt(table, row) }
            let loaded = f.buffer.row(length: len, rowID: row, own: own)
            if var c = conflict {
                // Inserted by this very command (ON CONFLICT hitting a row it
                // inserted itself): Postgres reads the row's xmin to say so.
                c.old = loaded
                out.pointee = c
                return
            }
            if exclusive { try txn.addWriteConflict(key) }
            out.pointee = PlinthModify(result: PLINTH_MODIFY_OK, cmax: 0, old: loaded)
        }
    }
}

// MARK: scans

/// Anything that hands rows to the shim one by one. A class, not a
/// protocol: casting a handle to a protocol looks up the conformance at run
/// time, on every row.
class RowSource: Handle {
    func next(_ out: inout PlinthRow) throws(StoreError) -> Bool { false }
}

/// A scan of a table's rows (or of a range of row ids), in row id order.
final class TableScan: RowSource {
    let txn: Transaction
    let db: Keyspace.Database
    let table: Int64
    let vis: Visibility
    let prefixLength: Int
    let it: ScanIterator
    let buffer = RowBuffer()

    init(table: Int64, vis: Visibility, low: Int64, high: Int64, reverse: Bool) throws(PlinthError) {
        let b = Backend.shared
        txn = try b.transaction()
        db = try b.db()
        self.table = table
        self.vis = vis
        let prefix = db.rowPrefix(table)
        prefixLength = prefix.count
        var high = high
        if let bound = try b.scanRowIDBound(table), high < 0 || bound < high { high = bound }
        let range: KeyRange
        if low >= 0 || high >= 0 {
            range = KeyRange(low >= 0 ? db.rowKey(prefix: prefix, low) : prefix + [0],
                             high >= 0 ? db.rowKey(prefix: prefix, high) : prefix + [0xFF])
        } else {
            let (lo, hi) = Keyspace.prefixRange(prefix)
            range = KeyRange(lo, hi)
        }
        it = txn.scan(range, vis, reverse: reverse)
    }

    private enum Step {
        case row(Int64, Int, OwnWrite?)
        case split(Int64, Bytes, OwnWrite?)
        case corrupt(Int64)
        case skip
    }

    override func next(_ out: inout PlinthRow) throws(StoreError) -> Bool {
        while true {
            let step = try it.next { (key, value, cid) -> Step in
                guard let row = Keyspace.rowID(fromKey: key, prefixLength: prefixLength), let tag = value.first else {
                    return .skip
                }
                switch tag {
                case RowFormat.inline:
                    guard value.count >= RowFormat.inlineHeaderBytes else { return .corrupt(row) }
                    return .row(row, buffer.fill(UnsafeRawBufferPointer(rebasing: value[RowFormat.inlineHeaderBytes...]),
                                                 xmin: RowFormat.inlineXmin(value)), cid)
                case RowFormat.split: return .split(row, Bytes(value), cid)
                default: return .skip
                }
            }
            guard let step else { return false }
            switch step {
            case .row(let row, let len, let cid):
                out = buffer.row(length: len, rowID: row, own: cid)
                return true
            case .split(let row, let header, let cid):
                let len = try header.withBytes { (h) throws(StoreError) in
                    try Rows.load(h, txn, db, table, row, vis, into: buffer)
                }
                guard let len else { throw Rows.corrupt(table, row) }
                out = buffer.row(length: len, rowID: row, own: cid)
                return true
            case .corrupt(let row):
                throw Rows.corrupt(table, row)
            case .skip:
                continue
            }
        }
    }
}

/// low/high: row id bounds [low, high) or -1 for none.
@_cdecl("plinth_swift_scan_begin")
public func plinthSwiftScanBegin(_ table: Int64, _ vis: PlinthVisibility, _ low: Int64, _ high: Int64, _ reverse: Bool,
                                 _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        if Backend.shared.isParallelWorker {
            throw PlinthError(sqlstate: .featureNotSupported, message: "Plinth tables cannot be read by parallel workers",
                              detail: nil, hint: nil)
        }
        out.pointee = retain(try TableScan(table: table, vis: Visibility(vis), low: low, high: high, reverse: reverse))
    }
}

/// Rows given by id (a bitmap scan's exact page), read in one round trip.
final class RowListScan: RowSource {
    let txn: Transaction
    let db: Keyspace.Database
    let table: Int64
    let vis: Visibility
    let rows: [Int64]
    var values: [Bytes?] = []
    var i = 0
    let buffer = RowBuffer()

    init(table: Int64, vis: Visibility, rows: [Int64]) throws(PlinthError) {
        let b = Backend.shared
        let t = try b.transaction()
        let d = try b.db()
        let keys = rows.map { d.rowKey(table, $0) }
        values = try storeCall { () throws(StoreError) in
            // Pages come one by one; the bitmap's index scans said which
            // rows follow: read ahead of this page in one round trip.
            if let first = rows.first, !t.isCached(keys[0]) {
                let ahead = b.bitmapRows.ahead(table: table, from: first, count: BitmapRows.readAhead)
                if ahead.count > rows.count { try t.prefetch(ahead.map { d.rowKey(table, $0) }) }
            }
            return try t.getMany(keys, vis)
        }
        txn = t
        db = d
        self.table = table
        self.vis = vis
        self.rows = rows
    }

    override func next(_ out: inout PlinthRow) throws(StoreError) -> Bool {
        while i < rows.count {
            defer { i += 1 }
            guard let v = values[i] else { continue }
            let row = rows[i]
            let len = try v.withBytes { (b) throws(StoreError) in try Rows.load(b, txn, db, table, row, vis, into: buffer) }
            guard let len else { continue }
            let own: OwnWrite? = { if case .value(_, let o) = txn.buffer.state(db.rowKey(table, row), vis) { return o }; return nil }()
            out = buffer.row(length: len, rowID: row, own: own)
            return true
        }
        return false
    }
}

@_cdecl("plinth_swift_rows_begin")
public func plinthSwiftRowsBegin(_ table: Int64, _ vis: PlinthVisibility, _ rows: UnsafePointer<Int64>, _ n: Int,
                                 _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee = retain(try RowListScan(table: table, vis: Visibility(vis), rows: Array(UnsafeBufferPointer(start: rows, count: n))))
    }
}

@_cdecl("plinth_swift_scan_next")
public func plinthSwiftScanNext(_ scan: UnsafeMutableRawPointer, _ found: UnsafeMutablePointer<Bool>,
                                _ out: UnsafeMutablePointer<PlinthRow>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let s = handle(scan, as: RowSource.self)
        var row = PlinthRow()
        found.pointee = try storeCall { () throws(StoreError) in try s.next(&row) }
        out.pointee = row
    }
}

// MARK: transactions

@_cdecl("plinth_swift_xact_event")
public func plinthSwiftXactEvent(_ event: PlinthXactEvent) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let b = Backend.shared
        switch event {
        case PLINTH_XACT_PRE_COMMIT:
            try b.commit()
        case PLINTH_XACT_PRE_PREPARE:
            if b.hasTransaction {
                throw PlinthError(sqlstate: .featureNotSupported,
                                  message: "PREPARE TRANSACTION is not supported for transactions that use Plinth tables",
                                  detail: "The store commits a transaction in one step; it cannot hold it prepared.",
                                  hint: "Commit the transaction instead.")
            }
        case PLINTH_XACT_COMMIT, PLINTH_XACT_ABORT:
            b.abort()   // nothing left after a commit; after an error, drop the store transaction
        default:
            break
        }
    }
}

@_cdecl("plinth_swift_subxact_event")
public func plinthSwiftSubxactEvent(_ event: PlinthSubXactEvent, _ subid: UInt32, _ parent: UInt32) {
    let b = Backend.shared
    guard b.hasTransaction, let t = try? b.transaction() else { return }
    switch event {
    case PLINTH_SUBXACT_ABORT: t.rollback(subid: subid)
    case PLINTH_SUBXACT_COMMIT: t.release(subid: subid, to: parent)
    default: break
    }
}

@_cdecl("plinth_swift_set_parallel_worker")
public func plinthSwiftSetParallelWorker(_ yes: Bool) {
    Backend.shared.isParallelWorker = yes
}

// MARK: counters

@_cdecl("plinth_swift_counters")
public func plinthSwiftCounters(_ session: UnsafeMutablePointer<PlinthCounters>, _ statement: UnsafeMutablePointer<PlinthCounters>) {
    let b = Backend.shared
    session.pointee = PlinthCounters(b.counters)
    statement.pointee = PlinthCounters(b.lastStatement)
}

@_cdecl("plinth_swift_statement_start")
public func plinthSwiftStatementStart() { Backend.shared.statementStart = Backend.shared.counters }

@_cdecl("plinth_swift_statement_end")
public func plinthSwiftStatementEnd() { Backend.shared.statementEnded() }

extension PlinthCounters {
    init(_ c: StoreCounters) {
        self.init(reads: c.reads, range_reads: c.rangeReads, round_trips: c.roundTrips, bytes_read: c.bytesRead,
                  bytes_written: c.bytesWritten, commits: c.commits, conflicts: c.conflicts)
    }
}
