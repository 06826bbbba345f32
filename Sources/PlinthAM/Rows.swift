import PlinthEncoding
import PlinthStore
import PlinthTxn

/// A row as the access method hands it to Postgres: `length` bytes at
/// `data` — the omitted part of the tuple header (the shim fills it), then
/// the stored tuple — valid until the next row is loaded into the same
/// buffer.
public struct LoadedRow {
    public var data: UnsafeMutableRawPointer?
    public var length: Int
    public var rowID: Int64
    /// Written by this transaction: by command `cid`.
    public var own: Bool
    public var cid: UInt32
    /// The (sub)transaction that wrote the row (0: unknown).
    public var xmin: UInt32

    public static var none: LoadedRow { LoadedRow(data: nil, length: 0, rowID: 0, own: false, cid: 0, xmin: 0) }
}

/// A MAXALIGNed buffer that hands rows to the shim: the omitted part of the
/// tuple header, then the stored tuple. Raw memory, so its address may be
/// given to C; reused from row to row.
public final class RowBuffer {
    public private(set) var base: UnsafeMutableRawPointer
    public private(set) var capacity: Int
    /// The stored xmin of the row last loaded.
    var storedXmin: UInt32 = 0

    public init(capacity: Int = 512) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    public func reserve(_ n: Int) {
        guard n > capacity else { return }
        var c = capacity
        while c < n { c *= 2 }
        base.deallocate()
        base = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
        capacity = c
    }

    /// Places a stored tuple after the header space; returns the full length.
    func fill(_ payload: UnsafeRawBufferPointer, xmin: UInt32) -> Int {
        storedXmin = xmin
        let total = RowFormat.omittedHeaderBytes + payload.count
        reserve(total)
        if payload.count > 0 {
            (base + RowFormat.omittedHeaderBytes).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
        }
        return total
    }

    func row(length: Int, rowID: Int64, own: OwnWrite?) -> LoadedRow {
        LoadedRow(data: base, length: length, rowID: rowID, own: own != nil, cid: own?.cid ?? 0,
                  xmin: own?.xid ?? storedXmin)
    }
}

/// Rows of a table in the store (RowFormat): one value, or for tuples past
/// the store's value limit a header and chunks read back in one round trip.
/// Every value read is checked (`RowFormat.parse`): a malformed one is
/// reported as corrupt with its key, never trusted.
enum Rows {
    /// Writes a row: a new one, or over `old` (an update in place), whose
    /// chunks past the new row's are deleted.
    static func write(_ txn: Transaction, _ db: Keyspace.Database, _ table: Int64, _ row: Int64,
                      _ tuple: UnsafeRawBufferPointer, cid: UInt32, subid: UInt32, xid: UInt32,
                      replacing old: Bytes? = nil) throws(StoreError) {
        let key = db.rowKey(table, row)
        let n = RowFormat.chunkCount(forLength: tuple.count)
        let oldChunks = old.map { splitHeader(of: $0)?.chunks ?? 0 } ?? 0
        if oldChunks > n {
            for i in n..<oldChunks { try txn.delete(db.chunkKey(table, row, i), prior: nil, cid: cid, subid: subid) }
        }
        if n == 0 {
            try txn.put(key, RowFormat.inlineValue(xmin: xid, tuple: tuple), cid: cid, subid: subid, fresh: old == nil, xid: xid)
            return
        }
        try txn.put(key, RowFormat.splitHeader(total: tuple.count, chunks: n, xmin: xid), cid: cid, subid: subid,
                    fresh: old == nil, xid: xid)
        for i in 0..<n {
            try txn.put(db.chunkKey(table, row, i), RowFormat.chunkValue(tuple, index: i), cid: cid, subid: subid,
                        fresh: i >= oldChunks)
        }
    }

    static func splitHeader(of value: Bytes) -> RowFormat.SplitHeader? {
        guard case .split(let h)? = value.withUnsafeBytes({ RowFormat.parse($0) }) else { return nil }
        return h
    }

    /// Puts the tuple held by `value` (the stored value of row `row`) into
    /// `buffer`, reading its chunks when it was split. Returns the full
    /// length, or nil for a value that is not a row (a chunk, a moved row's
    /// mark).
    /// `current`: the chunks are read from the newest committed state.
    static func load(_ value: UnsafeRawBufferPointer, _ txn: Transaction, _ db: Keyspace.Database, _ table: Int64,
                     _ row: Int64, _ vis: Visibility, current: Bool = false, into buffer: RowBuffer) throws(StoreError) -> Int? {
        guard let stored = RowFormat.parse(value) else { throw corrupt(db, table, row) }
        switch stored {
        case .inline(let xmin):
            return buffer.fill(UnsafeRawBufferPointer(rebasing: value[RowFormat.inlineHeaderBytes...]), xmin: xmin)
        case .split(let header):
            buffer.storedXmin = header.xmin
            let keys = (0..<header.chunks).map { db.chunkKey(table, row, $0) }
            let chunks = current ? try txn.getManyCurrent(keys, vis) : try txn.getMany(keys, vis)
            buffer.reserve(RowFormat.omittedHeaderBytes + header.total)
            let tuple = buffer.base + RowFormat.omittedHeaderBytes
            for (i, c) in chunks.enumerated() {
                guard let c, let (offset, length) = c.withUnsafeBytes({ RowFormat.chunkPayload($0, index: i, of: header) }) else {
                    throw corruptValue(keys[i], "chunk \(i) of row \(row) of store table \(table)")
                }
                c.withUnsafeBytes { (tuple + offset).copyMemory(from: $0.baseAddress! + 1, byteCount: length) }
            }
            guard RowFormat.checkTupleHeader(UnsafeRawBufferPointer(start: tuple, count: header.total)) else {
                throw corrupt(db, table, row)
            }
            return RowFormat.omittedHeaderBytes + header.total
        case .chunk, .moved:
            return nil
        }
    }

    static func corrupt(_ db: Keyspace.Database, _ table: Int64, _ row: Int64) -> StoreError {
        corruptValue(db.rowKey(table, row), "row \(row) of store table \(table)")
    }

    /// Deletes a row whose stored value is `value`, chunks included.
    static func delete(_ txn: Transaction, _ db: Keyspace.Database, _ table: Int64, _ row: Int64, value: Bytes,
                       cid: UInt32, subid: UInt32) throws(StoreError) {
        try txn.delete(db.rowKey(table, row), prior: value, cid: cid, subid: subid)
        if let h = splitHeader(of: value) {
            for i in 0..<h.chunks { try txn.delete(db.chunkKey(table, row, i), prior: nil, cid: cid, subid: subid) }
        }
    }

    /// The tuple length a stored value stands for (statistics).
    static func tupleLength(_ value: Bytes) -> Int {
        if let h = splitHeader(of: value) { return h.total }
        return max(value.count - RowFormat.inlineHeaderBytes, 0)
    }
}

/// Which rows a read sees, as the shim describes a Postgres snapshot.
public struct ReadVisibility: Sendable {
    /// SnapshotSelf/Dirty: every own write.
    public var all: Bool
    /// SnapshotAny: even rows this transaction deleted.
    public var anyVersion: Bool
    /// MVCC: own writes of commands below it; SnapshotAny: the current command.
    public var curcid: UInt32
    /// SnapshotDirty: the newest committed rows, not the snapshot's (in a
    /// transaction that reads snapshots: READ COMMITTED, REPEATABLE READ).
    public var current: Bool
    /// With `current`: a scan of a table no other transaction may write
    /// meanwhile (an index build, a rewrite), which reads through store
    /// snapshots renewed as it goes, so it may run past a snapshot's 5 s.
    public var renew: Bool

    public init(all: Bool, anyVersion: Bool, curcid: UInt32, current: Bool = false, renew: Bool = false) {
        self.all = all
        self.anyVersion = anyVersion
        self.curcid = curcid
        self.current = current
        self.renew = renew
    }

    public static let everyOwnWrite = ReadVisibility(all: true, anyVersion: false, curcid: 0)

    var visibility: Visibility { all ? .all : .command(curcid) }

    /// Reads the newest committed state in `txn` (SnapshotDirty in a
    /// transaction that reads snapshots).
    func readsCurrent(_ txn: Transaction) -> Bool { current && txn.mode == .snapshot }
}
