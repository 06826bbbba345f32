/// Every key Plinth writes, in one place (docs/encoding.md). All keys are
/// FoundationDB tuples, so standard FoundationDB tools can read them:
///
///     ("pl", "format")                      -> format version (tuple int)
///     ("pl", "ids")                         -> id allocator: next store id
///     ("pl", "server", <uuid bytes>)        -> server id
///     ("pl", "server", <uuid bytes>, "home") -> "host:data directory" of the server using that id
///     ("pl", "db", <server>, <database oid>) -> database id
///     ("pl", <db>, 0, <server>, <relfilenode>) -> store id of a relation
///     ("pl", <db>, 1, <table>, <row>)       -> row (RowFormat)
///     ("pl", <db>, 1, <table>, <row>, <n>)  -> chunk n of a row too large for one value
///     ("pl", <db>, 2, <index>, <key columns...>, <row>) -> index entry
///     ("pl", <db>, 3, <table>)              -> row id allocator: next row id
///     ("pl", <db>, 4, <table>, <shard>, <field>) -> statistics counter (atomic add)
///
/// Table and index ids are assigned by the store ("ids") and found through
/// ("pl", <db>, 0, ...): never raw OIDs or relfilenodes, which belong to one
/// Postgres server while the store may be shared by several.
public enum Keyspace {
    /// The format these keys follow; stored at ("pl", "format").
    public static let formatVersion: Int64 = 3

    public static let root: Bytes = pack { TupleEncoder.appendString("pl", to: &$0) }
    public static let formatKey: Bytes = pack(root) { TupleEncoder.appendString("format", to: &$0) }
    public static let idAllocatorKey: Bytes = pack(root) { TupleEncoder.appendString("ids", to: &$0) }

    /// A database of a server, by OID: stable across ALTER DATABASE RENAME.
    public static func databaseKey(server: Int64, oid: UInt32) -> Bytes {
        pack(root) {
            TupleEncoder.appendString("db", to: &$0)
            TupleEncoder.appendInt(server, to: &$0)
            TupleEncoder.appendInt(Int64(oid), to: &$0)
        }
    }

    public static func serverKey(_ uuid: Bytes) -> Bytes {
        pack(root) {
            TupleEncoder.appendString("server", to: &$0)
            TupleEncoder.appendBytes(uuid, to: &$0)
        }
    }

    public static func serverHomeKey(_ uuid: Bytes) -> Bytes {
        pack(serverKey(uuid)) { TupleEncoder.appendString("home", to: &$0) }
    }

    /// Every key of a database (DROP DATABASE).
    public static func databaseRange(_ id: Int64) -> (Bytes, Bytes) {
        prefixRange(pack(root) { TupleEncoder.appendInt(id, to: &$0) })
    }

    @inline(__always)
    static func pack(_ prefix: Bytes = [], _ body: (inout Bytes) -> Void) -> Bytes {
        var out = prefix
        body(&out)
        return out
    }

    /// Subspace tags inside a database.
    public enum Tag: Int64 {
        case relations = 0
        case rows = 1
        case indexEntries = 2
        case rowIds = 3
        case stats = 4
    }

    /// The keys of one database.
    public struct Database: Sendable {
        public let id: Int64
        public let prefix: Bytes

        public init(id: Int64) {
            self.id = id
            prefix = Keyspace.pack(Keyspace.root) { TupleEncoder.appendInt(id, to: &$0) }
        }

        @inline(__always)
        func key(_ tag: Tag, _ body: (inout Bytes) -> Void = { _ in }) -> Bytes {
            var out = prefix
            out.reserveCapacity(prefix.count + 24)
            TupleEncoder.appendInt(tag.rawValue, to: &out)
            body(&out)
            return out
        }

        public func relationKey(server: Int64, relfilenode: UInt32) -> Bytes {
            key(.relations) {
                TupleEncoder.appendInt(server, to: &$0)
                TupleEncoder.appendInt(Int64(relfilenode), to: &$0)
            }
        }

        /// The prefix of every row of a table: rows are this + (row id).
        public func rowPrefix(_ table: Int64) -> Bytes {
            key(.rows) { TupleEncoder.appendInt(table, to: &$0) }
        }

        public func rowKey(_ table: Int64, _ row: Int64) -> Bytes {
            var k = rowPrefix(table)
            TupleEncoder.appendInt(row, to: &k)
            return k
        }

        public func rowKey(prefix: Bytes, _ row: Int64) -> Bytes {
            var k = prefix
            TupleEncoder.appendInt(row, to: &k)
            return k
        }

        public func chunkKey(_ table: Int64, _ row: Int64, _ chunk: Int) -> Bytes {
            var k = rowKey(table, row)
            TupleEncoder.appendInt(Int64(chunk), to: &k)
            return k
        }

        /// Every row of the table, chunks included.
        public func rowRange(_ table: Int64) -> (Bytes, Bytes) { Keyspace.prefixRange(rowPrefix(table)) }

        /// Rows with lo <= row id < hi.
        public func rowRange(_ table: Int64, from lo: Int64, to hi: Int64) -> (Bytes, Bytes) {
            (rowKey(table, lo), rowKey(table, hi))
        }

        public func indexPrefix(_ index: Int64) -> Bytes {
            key(.indexEntries) { TupleEncoder.appendInt(index, to: &$0) }
        }

        public func rowIdKey(_ table: Int64) -> Bytes {
            key(.rowIds) { TupleEncoder.appendInt(table, to: &$0) }
        }

        public func statsPrefix(_ table: Int64) -> Bytes {
            key(.stats) { TupleEncoder.appendInt(table, to: &$0) }
        }

        public func statsKey(_ table: Int64, shard: Int64, field: Int64) -> Bytes {
            var k = statsPrefix(table)
            TupleEncoder.appendInt(shard, to: &k)
            TupleEncoder.appendInt(field, to: &k)
            return k
        }

        /// Every key that belongs to a table or index with this store id.
        public func allRanges(of id: Int64) -> [(Bytes, Bytes)] {
            [Keyspace.prefixRange(rowPrefix(id)),
             Keyspace.prefixRange(indexPrefix(id)),
             (rowIdKey(id), rowIdKey(id) + [0]),
             Keyspace.prefixRange(statsPrefix(id))]
        }

        /// The whole database.
        public var range: (Bytes, Bytes) { Keyspace.prefixRange(prefix) }
    }

    /// Every key that extends `prefix` by at least one tuple element.
    public static func prefixRange(_ prefix: Bytes) -> (Bytes, Bytes) {
        (prefix + [0x00], prefix + [0xFF])
    }

    /// The row id at the end of a row key whose table prefix is `prefixLength`
    /// bytes long; nil for a chunk key or a malformed key.
    public static func rowID(fromKey key: UnsafeRawBufferPointer, prefixLength: Int) -> Int64? {
        guard key.count > prefixLength,
              let (v, end) = try? TupleDecoder.decodeInt(key, at: prefixLength),
              end == key.count else { return nil }
        return v
    }
}

/// How a row is stored: a tag byte, then the payload.
///  - inline (0): the Postgres heap tuple from t_infomask2 on (the 18 bytes
///    of xmin, xmax, cid and ctid before it are Postgres's bookkeeping, made
///    up again on read);
///  - split (1): u32 total length and u32 chunk count of a tuple stored in
///    chunks at (..., row, n), each a value under the store's limit;
///  - chunk (2): one piece of a split tuple.
///
///     inline  [0][xmin: u32][tuple]
///     split   [1][tuple length: u32][chunks: u32][xmin: u32]
///     chunk   [2][up to maxChunk bytes of the tuple]
///
/// integers little-endian. The tuple is Postgres's heap tuple without its
/// first 18 header bytes; xmin is the id of the (sub)transaction that wrote
/// the row, which Postgres shows as the row's `xmin` (ORMs use it as a row
/// version).
public enum RowFormat {
    public static let inline: UInt8 = 0
    public static let split: UInt8 = 1
    public static let chunk: UInt8 = 2
    /// Bytes before the tuple in an inline value.
    public static let inlineHeaderBytes = 5
    /// Bytes of a tuple header not stored (HeapTupleHeader up to t_infomask2).
    public static let omittedHeaderBytes = 18
    /// Largest payload per stored value, under FoundationDB's 100,000.
    public static let maxChunk = 99_000

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

    public static func splitHeader(total: Int, chunks: Int, xmin: UInt32) -> Bytes {
        var out: Bytes = [split]
        withUnsafeBytes(of: UInt32(total).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: UInt32(chunks).littleEndian) { out.append(contentsOf: $0) }
        withUnsafeBytes(of: xmin.littleEndian) { out.append(contentsOf: $0) }
        return out
    }

    public static func parseSplitHeader(_ v: UnsafeRawBufferPointer) -> (total: Int, chunks: Int, xmin: UInt32)? {
        guard v.count == 13, v[0] == split else { return nil }
        return (Int(UInt32(littleEndian: v.loadUnaligned(fromByteOffset: 1, as: UInt32.self))),
                Int(UInt32(littleEndian: v.loadUnaligned(fromByteOffset: 5, as: UInt32.self))),
                UInt32(littleEndian: v.loadUnaligned(fromByteOffset: 9, as: UInt32.self)))
    }
}
