/// How a row is stored: a tag byte, then the payload.
///  - inline (0): the Postgres heap tuple from t_infomask2 on (the 18 bytes
///    of xmin, xmax, cid and ctid before it are Postgres's bookkeeping, made
///    up again on read);
///  - split (1): u32 total length and u32 chunk count of a tuple stored in
///    chunks at (..., row, n), each a value under the store's limit;
///  - chunk (2): one piece of a split tuple;
///  - moved (3): where a row an UPDATE gave a new row id was. No row to
///    readers; a transaction that locks the old row id (it was waiting to
///    update the row) follows it to the new version, as heap follows a
///    tuple's ctid. VACUUM removes it once no transaction can need it.
///
///     inline  [0][xmin: u32][tuple]
///     split   [1][tuple length: u32][chunks: u32][xmin: u32]
///     chunk   [2][up to maxChunk bytes of the tuple]
///     moved   [3][new row id: i64][writer: u64 FullTransactionId][how: u8]
///
/// `how`: 0 the UPDATE kept the key columns, 1 it changed one, 2 the row
/// moved to another partition (new row id -1: not a row of this table).
///
/// integers little-endian. The tuple is Postgres's heap tuple without its
/// first 18 header bytes; xmin is the id of the (sub)transaction that wrote
/// the row, which Postgres shows as the row's `xmin` (ORMs use it as a row
/// version).
///
/// Stored bytes are untrusted (a damaged disk, a bug, another writer of the
/// store): `parse` and `chunkPayload` accept only what `inlineValue`,
/// `splitHeader` and `chunkValue` can produce, and a stored tuple's header
/// must be one Postgres can read (`checkTupleHeader`); anything else is a
/// corrupt row for the caller to report, never a trap or a huge allocation.
public enum RowFormat {
    public static let inline: UInt8 = 0
    public static let split: UInt8 = 1
    public static let chunk: UInt8 = 2
    public static let moved: UInt8 = 3
    /// Bytes before the tuple in an inline value.
    public static let inlineHeaderBytes = 5
    /// Bytes of a tuple header not stored (HeapTupleHeader up to t_infomask2).
    public static let omittedHeaderBytes = 18
    /// Largest payload per stored value, under FoundationDB's 100,000.
    public static let maxChunk = 99_000
    /// Largest tuple Postgres can hold in memory (MaxAllocSize - 1).
    public static let maxTupleBytes = 0x3FFF_FFFF

    /// What a stored row value says.
    public enum Stored: Equatable, Sendable {
        /// A whole tuple, from `inlineHeaderBytes` on.
        case inline(xmin: UInt32)
        /// The header of a tuple stored in `chunks` chunks.
        case split(SplitHeader)
        /// A piece of a split tuple (met by scans that read chunk keys).
        case chunk
        /// The row moved to row id `to` (written by transaction `writer`);
        /// `keyChanged`: the UPDATE changed a key column (FOR KEY SHARE
        /// does not hold across it). `to` is -1 for a row that moved to
        /// another partition.
        case moved(to: Int64, writer: UInt64, keyChanged: Bool)
    }

    public struct SplitHeader: Equatable, Sendable {
        public var total: Int
        public var chunks: Int
        public var xmin: UInt32
    }

    /// The number of chunks of a tuple of `length` bytes: 0 when it is
    /// stored inline.
    public static func chunkCount(forLength length: Int) -> Int {
        length < maxChunk ? 0 : (length + maxChunk - 1) / maxChunk
    }

    /// Reads a stored row value; nil when it is malformed.
    public static func parse(_ v: UnsafeRawBufferPointer) -> Stored? {
        guard let tag = v.first else { return nil }
        switch tag {
        case inline:
            guard v.count >= inlineHeaderBytes,
                  checkTupleHeader(UnsafeRawBufferPointer(rebasing: v[inlineHeaderBytes...])) else { return nil }
            return .inline(xmin: inlineXmin(v))
        case split:
            guard v.count == 13 else { return nil }
            let total = Int(UInt32(littleEndian: v.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))
            let chunks = Int(UInt32(littleEndian: v.loadUnaligned(fromByteOffset: 5, as: UInt32.self)))
            // What splitHeader writes: a tuple too large to be inline, no
            // larger than Postgres can hold, in exactly as many chunks as
            // its length needs.
            guard total >= maxChunk, total <= maxTupleBytes, chunks == chunkCount(forLength: total) else { return nil }
            return .split(SplitHeader(total: total, chunks: chunks,
                                      xmin: UInt32(littleEndian: v.loadUnaligned(fromByteOffset: 9, as: UInt32.self))))
        case chunk:
            return v.count > 1 ? .chunk : nil
        case moved:
            guard v.count == 18, v[17] <= 2 else { return nil }
            let to = Int64(littleEndian: v.loadUnaligned(fromByteOffset: 1, as: Int64.self))
            guard v[17] == 2 ? to == -1 : to >= 0 else { return nil }
            return .moved(to: to, writer: UInt64(littleEndian: v.loadUnaligned(fromByteOffset: 9, as: UInt64.self)),
                          keyChanged: v[17] != 0)
        default:
            return nil
        }
    }

    public static func inlineValue(xmin: UInt32, tuple: UnsafeRawBufferPointer) -> Bytes {
        var v = Bytes()
        v.reserveCapacity(inlineHeaderBytes + tuple.count)
        v.append(inline)
        withUnsafeBytes(of: xmin.littleEndian) { v.append(contentsOf: $0) }
        v.append(contentsOf: tuple)
        return v
    }

    /// The xmin of an inline value (at least inlineHeaderBytes long).
    public static func inlineXmin(_ v: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(littleEndian: v.loadUnaligned(fromByteOffset: 1, as: UInt32.self))
    }

    /// `row` -1: moved to another partition.
    public static func movedValue(to row: Int64, writer: UInt64, keyChanged: Bool) -> Bytes {
        var out: Bytes = [moved]
        withUnsafeBytes(of: row.littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: writer.littleEndian) { out.append(contentsOf: $0) }
        out.append(row < 0 ? 2 : keyChanged ? 1 : 0)
        return out
    }

    /// Whether a stored value is a moved row's mark (cheap: the tag only).
    public static func isMoved(_ v: Bytes) -> Bool { v.first == moved }

    public static func splitHeader(total: Int, chunks: Int, xmin: UInt32) -> Bytes {
        var out: Bytes = [split]
        withUnsafeBytes(of: UInt32(total).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(chunks).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: xmin.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    /// Chunk `index` of a tuple: its tag and its part of the tuple.
    public static func chunkValue(_ tuple: UnsafeRawBufferPointer, index: Int) -> Bytes {
        let lo = index * maxChunk, hi = min(lo + maxChunk, tuple.count)
        var v = Bytes()
        v.reserveCapacity(hi - lo + 1)
        v.append(chunk)
        v.append(contentsOf: UnsafeRawBufferPointer(rebasing: tuple[lo..<hi]))
        return v
    }

    /// Where chunk `index` of a split tuple puts its bytes, if the stored
    /// chunk is what `chunkValue` wrote for `header`: the tuple's bytes
    /// [offset, offset + length) are the chunk's from byte 1 on.
    public static func chunkPayload(_ v: UnsafeRawBufferPointer, index: Int,
                                    of header: SplitHeader) -> (offset: Int, length: Int)? {
        guard index >= 0, index < header.chunks, v.first == chunk else { return nil }
        let offset = index * maxChunk
        let length = min(maxChunk, header.total - offset)
        return v.count == length + 1 ? (offset, length) : nil
    }

    /// Whether a stored tuple (a heap tuple from t_infomask2 on) has a
    /// header Postgres can read: its header length (t_hoff) is aligned, past
    /// the fixed header and the null bitmap, and inside the tuple; its
    /// attribute count is one Postgres allows.
    public static func checkTupleHeader(_ t: UnsafeRawBufferPointer) -> Bool {
        // t_infomask2 (2 bytes), t_infomask (2), t_hoff (1): the stored
        // tuple starts at offset 18 of the 23-byte HeapTupleHeaderData.
        guard t.count >= 5 else { return false }
        let infomask2 = UInt16(littleEndian: t.loadUnaligned(fromByteOffset: 0, as: UInt16.self))
        let infomask = UInt16(littleEndian: t.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
        let hoff = Int(t[4])
        let natts = Int(infomask2 & 0x07FF)             // HEAP_NATTS_MASK
        let fullLength = omittedHeaderBytes + t.count
        guard natts <= 1600,                             // MaxHeapAttributeNumber
              hoff >= 23, hoff % 8 == 0, hoff <= fullLength else { return false }
        if infomask & 0x0001 != 0 {                      // HEAP_HASNULL: the bitmap precedes t_hoff
            guard 23 + (natts + 7) / 8 <= hoff else { return false }
        }
        return true
    }
}

/// An integer stored as a value (allocators, counters, store ids): 8 bytes,
/// little-endian, as FoundationDB's atomic add takes them.
public enum StoredInt {
    public static func encode(_ v: Int64) -> Bytes { withUnsafeBytes(of: v.littleEndian) { Bytes($0) } }

    /// nil when the value is not 8 bytes (a corrupt value).
    public static func decode(_ b: Bytes) -> Int64? {
        guard b.count == 8 else { return nil }
        return b.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
    }
}

/// A table's or index's definition stamp (`Keyspace.Database.definitionKey`):
/// the schema log entry of the last DDL that changed it, and — while a
/// transaction of some server builds, rewrites or validates it — that
/// transaction, whose fence makes other servers' writers of it fail.
/// [seq: StoredInt][fence: LockHolder's tuple, optional].
public struct DefinitionStamp: Equatable, Sendable {
    public var seq: Int64
    public var fence: LockHolder?

    public init(seq: Int64, fence: LockHolder? = nil) {
        self.seq = seq
        self.fence = fence
    }

    public var encoded: Bytes {
        var b = StoredInt.encode(seq)
        if let fence { b += fence.bytes }
        return b
    }

    /// nil when malformed.
    public static func decode(_ b: Bytes) -> DefinitionStamp? {
        guard b.count >= 8, let seq = StoredInt.decode(Bytes(b[0..<8])) else { return nil }
        if b.count == 8 { return DefinitionStamp(seq: seq) }
        guard let fence = b.withUnsafeBytes({ LockHolder.parse($0, at: 8) }) else { return nil }
        return DefinitionStamp(seq: seq, fence: fence)
    }
}
