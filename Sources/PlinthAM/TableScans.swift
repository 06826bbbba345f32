import PlinthEncoding
import PlinthStore
import PlinthTxn

/// Anything that hands rows to the shim one by one. A class, not a
/// protocol: casting a handle to a protocol looks up the conformance at run
/// time, on every row.
public class RowSource {
    public func next(_ out: inout LoadedRow) throws(PlinthError) -> Bool { false }
}

/// A scan of a table's rows (or of a range of row ids), in row id order.
public final class TableScan: RowSource {
    let t: TransactionState
    let table: Int64
    let vis: Visibility
    /// Reads the newest committed rows, not the snapshot's (`readsCurrent`).
    let current: Bool
    let prefixLength: Int
    let it: ScanIterator
    let buffer = RowBuffer()

    /// low/high: row id bounds [low, high), or -1 for none.
    public init(_ session: Session, table: Int64, _ vis: ReadVisibility, low: Int64, high: Int64, reverse: Bool) throws(PlinthError) {
        if session.isParallelWorker {
            throw PlinthError(sqlstate: .featureNotSupported, message: "Plinth tables cannot be read by parallel workers")
        }
        t = try session.transaction()
        self.table = table
        self.vis = vis.visibility
        let db = t.db
        let prefix = db.rowPrefix(table)
        prefixLength = prefix.count
        let range: KeyRange
        if low >= 0 || high >= 0 {
            range = KeyRange(low >= 0 ? db.rowKey(prefix: prefix, low) : prefix + [0],
                             high >= 0 ? db.rowKey(prefix: prefix, high) : prefix + [0xFF])
        } else {
            let (lo, hi) = Keyspace.prefixRange(prefix)
            range = KeyRange(lo, hi)
        }
        let txn = t.txn
        current = vis.readsCurrent(txn)
        let reader = current ? try storeCall { () throws(StoreError) in try txn.currentReader() } : nil
        it = txn.scan(range, self.vis, reverse: reverse, reader: reader, renewing: current && vis.renew)
    }

    private enum Step {
        case row(Int64, Int, OwnWrite?)
        case split(Int64, Bytes, OwnWrite?)
        case corrupt(Bytes)
        case skip
    }

    override public func next(_ out: inout LoadedRow) throws(PlinthError) -> Bool {
        try storeCall { () throws(StoreError) -> Bool in
            while true {
                let step = try it.next { (key, value, own) -> Step in
                    // Chunk keys (a row id and a chunk number) are skipped.
                    guard let row = Keyspace.rowID(fromKey: key, prefixLength: prefixLength) else { return .skip }
                    switch RowFormat.parse(value) {
                    case .inline(let xmin)?:
                        return .row(row, buffer.fill(UnsafeRawBufferPointer(rebasing: value[RowFormat.inlineHeaderBytes...]),
                                                     xmin: xmin), own)
                    case .split?: return .split(row, Bytes(value), own)
                    case .chunk?, .moved?: return .skip
                    case nil: return .corrupt(Bytes(key))
                    }
                }
                guard let step else { return false }
                switch step {
                case .row(let row, let length, let own):
                    out = buffer.row(length: length, rowID: row, own: own)
                    return true
                case .split(let row, let header, let own):
                    let length = try header.withBytes { (h) throws(StoreError) in
                        try Rows.load(h, t.txn, t.db, table, row, vis, current: current, into: buffer)
                    }
                    guard let length else { throw Rows.corrupt(t.db, table, row) }
                    out = buffer.row(length: length, rowID: row, own: own)
                    return true
                case .corrupt(let key):
                    throw corruptValue(key, "a row of store table \(table)")
                case .skip:
                    continue
                }
            }
        }
    }
}

/// Rows given by id (a bitmap scan's exact page), read in one round trip.
public final class RowListScan: RowSource {
    let t: TransactionState
    let table: Int64
    let vis: Visibility
    let rows: [Int64]
    var values: [Bytes?] = []
    var i = 0
    let buffer = RowBuffer()

    public init(_ session: Session, table: Int64, _ vis: ReadVisibility, rows: [Int64]) throws(PlinthError) {
        let t = try session.transaction()
        let db = t.db
        let keys = rows.map { db.rowKey(table, $0) }
        let v = vis.visibility
        values = try storeCall { () throws(StoreError) in
            // Pages come one by one; the bitmap's index scans said which
            // rows follow: read ahead of this page in one round trip.
            if let first = rows.first, !t.txn.isCached(keys[0]) {
                let ahead = t.bitmapRows.ahead(table: table, from: first, count: BitmapRows.readAhead)
                if ahead.count > rows.count {
                    try t.txn.prefetch(ahead.map { db.rowKey(table, $0) }, spanLimit: nearbySpanLimit(ids: ahead))
                }
            }
            return try t.txn.getMany(keys, v)
        }
        self.t = t
        self.table = table
        self.vis = v
        self.rows = rows
    }

    override public func next(_ out: inout LoadedRow) throws(PlinthError) -> Bool {
        try storeCall { () throws(StoreError) -> Bool in
            while i < rows.count {
                defer { i += 1 }
                guard let v = values[i] else { continue }
                let row = rows[i]
                let length = try v.withBytes { (b) throws(StoreError) in
                    try Rows.load(b, t.txn, t.db, table, row, vis, into: buffer)
                }
                guard let length else { continue }
                var own: OwnWrite?
                if case .value(_, let o) = try t.txn.buffer.state(t.db.rowKey(table, row), vis) { own = o }
                out = buffer.row(length: length, rowID: row, own: own)
                return true
            }
            return false
        }
    }
}

extension TransactionState {
    /// Row ids a bitmap index scan found, for the bitmap heap scan's read-ahead.
    public func noteBitmapRows(table: Int64, _ rows: UnsafeBufferPointer<Int64>) {
        bitmapRows.add(table: table, rows)
    }
}
