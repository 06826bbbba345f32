import CPlinth
import PlinthStore
import PlinthTxn

/// A MAXALIGNed buffer that hands rows to the shim: the omitted part of the
/// tuple header (the shim fills it), then the stored tuple. Raw memory, so
/// its address may be given to C; reused from row to row.
final class RowBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// The stored xmin of the row last loaded.
    var storedXmin: UInt32 = 0

    init(capacity: Int = 512) {
        self.capacity = capacity
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    func reserve(_ n: Int) {
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

    func row(length: Int, rowID: Int64, own: OwnWrite?) -> PlinthRow {
        PlinthRow(data: base, len: UInt32(length), row_id: rowID, own: own != nil, cid: own?.cid ?? 0,
                  xmin: own?.xid ?? storedXmin)
    }
}

/// Rows of a table in the store (RowFormat): one value, or for tuples past
/// the store's value limit a header and chunks read back in one round trip.
enum Rows {
    /// Writes a row: a new one, or over `old` (an update in place), whose
    /// chunks past the new row's are deleted.
    static func write(_ txn: Transaction, _ db: Keyspace.Database, _ table: Int64, _ row: Int64,
                      _ tuple: UnsafeRawBufferPointer, cid: UInt32, subid: UInt32, xid: UInt32,
                      replacing old: Bytes? = nil) throws(StoreError) {
        let key = db.rowKey(table, row)
        let fresh = old == nil
        let n = tuple.count < RowFormat.maxChunk ? 0 : (tuple.count + RowFormat.maxChunk - 1) / RowFormat.maxChunk
        var oldChunks = 0
        if let old, old.first == RowFormat.split, let (_, c, _) = old.withUnsafeBytes({ RowFormat.parseSplitHeader($0) }) {
            oldChunks = c
        }
        if oldChunks > n {
            for i in n..<oldChunks { try txn.delete(db.chunkKey(table, row, i), prior: nil, cid: cid, subid: subid) }
        }
        if n == 0 {
            try txn.put(key, RowFormat.inlineValue(xmin: xid, tuple: tuple), cid: cid, subid: subid, fresh: fresh, xid: xid)
            return
        }
        try txn.put(key, RowFormat.splitHeader(total: tuple.count, chunks: n, xmin: xid), cid: cid, subid: subid,
                    fresh: fresh, xid: xid)
        for i in 0..<n {
            let lo = i * RowFormat.maxChunk, hi = min(lo + RowFormat.maxChunk, tuple.count)
            var v = Bytes()
            v.reserveCapacity(hi - lo + 1)
            v.append(RowFormat.chunk)
            v.append(contentsOf: UnsafeRawBufferPointer(rebasing: tuple[lo..<hi]))
            try txn.put(db.chunkKey(table, row, i), v, cid: cid, subid: subid, fresh: i >= oldChunks)
        }
    }

    /// Puts the tuple held by `value` (a stored row value) into `buffer`,
    /// reading chunks when it was split. Returns the full length, or nil for
    /// a value that is not a row (a chunk).
    static func load(_ value: UnsafeRawBufferPointer, _ txn: Transaction, _ db: Keyspace.Database, _ table: Int64,
                     _ row: Int64, _ vis: Visibility, into buffer: RowBuffer) throws(StoreError) -> Int? {
        guard let tag = value.first else { throw corrupt(table, row) }
        switch tag {
        case RowFormat.inline:
            guard value.count >= RowFormat.inlineHeaderBytes else { throw corrupt(table, row) }
            return buffer.fill(UnsafeRawBufferPointer(rebasing: value[RowFormat.inlineHeaderBytes...]),
                               xmin: RowFormat.inlineXmin(value))
        case RowFormat.split:
            guard let (total, n, xmin) = RowFormat.parseSplitHeader(value) else { throw corrupt(table, row) }
            buffer.storedXmin = xmin
            let chunks = try txn.getMany((0..<n).map { db.chunkKey(table, row, $0) }, vis)
            buffer.reserve(RowFormat.omittedHeaderBytes + total)
            var o = RowFormat.omittedHeaderBytes
            for c in chunks {
                guard let c, c.first == RowFormat.chunk, o + c.count - 1 <= RowFormat.omittedHeaderBytes + total else {
                    throw corrupt(table, row)
                }
                c.withUnsafeBytes { (buffer.base + o).copyMemory(from: $0.baseAddress! + 1, byteCount: c.count - 1) }
                o += c.count - 1
            }
            guard o == RowFormat.omittedHeaderBytes + total else { throw corrupt(table, row) }
            return o
        case RowFormat.chunk:
            return nil
        default:
            throw corrupt(table, row)
        }
    }

    static func corrupt(_ table: Int64, _ row: Int64) -> StoreError {
        StoreError(.storeCorrupted, "row \(row) of store table \(table) is malformed")
    }

    /// Deletes a row whose stored value is `value`, chunks included.
    static func delete(_ txn: Transaction, _ db: Keyspace.Database, _ table: Int64, _ row: Int64, value: Bytes,
                       cid: UInt32, subid: UInt32) throws(StoreError) {
        try txn.delete(db.rowKey(table, row), prior: value, cid: cid, subid: subid)
        if value.first == RowFormat.split, let (_, n, _) = value.withUnsafeBytes({ RowFormat.parseSplitHeader($0) }) {
            for i in 0..<n { try txn.delete(db.chunkKey(table, row, i), prior: nil, cid: cid, subid: subid) }
        }
    }

    /// The tuple length a stored value stands for (statistics).
    static func tupleLength(_ value: Bytes) -> Int {
        if value.first == RowFormat.split, let (total, _, _) = value.withUnsafeBytes({ RowFormat.parseSplitHeader($0) }) {
            return total
        }
        return max(value.count - RowFormat.inlineHeaderBytes, 0)
    }
}

extension Visibility {
    init(_ v: PlinthVisibility) {
        self = v.all ? .all : .command(v.curcid)
    }
}
