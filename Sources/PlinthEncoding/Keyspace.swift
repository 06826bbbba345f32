/// Every key Plinth writes, in one place (docs/encoding.md). All keys are
/// FoundationDB tuples, so standard FoundationDB tools can read them:
///
///     ("pl", "format")                      -> format version (tuple int)
///     ("pl", "ids")                         -> id allocator: next store id
///     ("pl", "server", <uuid bytes>)        -> server id
///     ("pl", "server", <uuid bytes>, "home") -> "host:data directory" of the server using that id
///     ("pl", "db", <server>, <database oid>) -> database id
///     ("pl", "dbname", <name>)              -> database id: servers match databases by name
///     ("pl", "schema")                      -> how many DDL statements were logged, in every database (atomic add)
///     ("pl", "dblog")                       -> database log: sequence number of its last entry
///     ("pl", "dblog", <seq>)                -> database log entry (`DatabaseLogEntry`)
///     ("pl", "dbapplied", <server>)         -> last database log entry the server applied
///     ("pl", <db>, 0, <server>, <relfilenode>) -> store id of a relation (and its creator)
///     ("pl", <db>, 1, <table>, <row>)       -> row (RowFormat)
///     ("pl", <db>, 1, <table>, <row>, <n>)  -> chunk n of a row too large for one value
///     ("pl", <db>, 2, <index>, <key columns...>, <row>) -> index entry
///     ("pl", <db>, 3, <table>)              -> row id allocator: next row id
///     ("pl", <db>, 4, <table>, <shard>, <field>) -> statistics counter (atomic add)
///     ("pl", <db>, 5)                       -> schema log: sequence number of its last entry
///     ("pl", <db>, 5, <seq>)                -> schema log entry (`SchemaLogEntry`)
///     ("pl", <db>, 6, <store id>)           -> schema log entry that last changed its definition
///     ("pl", <db>, 7, <server>, <sequence oid>) -> store id of a sequence
///     ("pl", <db>, 8, <sequence>)           -> the sequence's state (`SequenceState`)
///     ("pl", <db>, 9)                       -> whether the servers have the extension here (`ExtensionState`)
///
/// and, in the volatile space (`Store.beginVolatileTransaction`: kept only
/// while the processes using them run):
///
///     ("pl", "live", "server", <server>)     -> the server's incarnation now running
///     ("pl", "live", "txn", <holder>)        -> record of a transaction holding locks
///     ("pl", "live", "applied", <db>, <server>) -> last schema log entry the server applied (<db> 0: of the database log)
///     ("pl", "live", "ext", <db>, <server>)  -> 1: the server has the extension in the database
///     ("pl", "live", <db>, 1, <table>, <row>, <holder>) -> row lock (`Live.lockValue`)
///     ("pl", "live", <db>, 2, <entry prefix>, <holder>) -> lock of a unique index key
///
/// where <holder> is (server, incarnation, transaction id): the server, its
/// postmaster's start, and the top-level FullTransactionId.
///
/// Table and index ids are assigned by the store ("ids") and found through
/// ("pl", <db>, 0, ...): never raw OIDs or relfilenodes, which belong to one
/// Postgres server while the store may be shared by several.
/// Who holds a lock: a transaction of one run of one server (its postmaster's
/// start time tells runs apart: after a crash, transaction ids are reused).
public struct LockHolder: Hashable, Sendable {
    public var server: Int64
    public var incarnation: Int64
    public var xid: Int64

    public init(server: Int64, incarnation: Int64, xid: Int64) {
        self.server = server
        self.incarnation = incarnation
        self.xid = xid
    }

    func append(to out: inout Bytes) {
        TupleEncoder.appendInt(server, to: &out)
        TupleEncoder.appendInt(incarnation, to: &out)
        TupleEncoder.appendInt(xid, to: &out)
    }

    public var bytes: Bytes {
        var b = Bytes()
        append(to: &b)
        return b
    }

    /// The holder a lock key names after its `prefixLength`-byte prefix;
    /// nil when malformed.
    public static func parse(_ key: UnsafeRawBufferPointer, at start: Int) -> LockHolder? {
        guard let (s, e1) = try? TupleDecoder.decodeInt(key, at: start),
              let (i, e2) = try? TupleDecoder.decodeInt(key, at: e1),
              let (x, e3) = try? TupleDecoder.decodeInt(key, at: e2), e3 == key.count else { return nil }
        return LockHolder(server: s, incarnation: i, xid: x)
    }
}

public enum Keyspace {
    /// The format these keys follow; stored at ("pl", "format").
    public static let formatVersion: Int64 = 3

    public static let root: Bytes = pack { TupleEncoder.appendString("pl", to: &$0) }
    public static let formatKey: Bytes = pack(root) { TupleEncoder.appendString("format", to: &$0) }
    /// Random bytes set when the store is first opened: which store this is.
    public static let storeIdentityKey: Bytes = pack(root) { TupleEncoder.appendString("store", to: &$0) }
    public static let idAllocatorKey: Bytes = pack(root) { TupleEncoder.appendString("ids", to: &$0) }

    /// The database id of the empty space a replayed DDL statement reads
    /// table data from and writes it to (never sent to the store).
    public static let replayScratch: Int64 = -1

    /// A database by name: every server sharing the store maps its own
    /// database of that name (its OID) to this id.
    public static func databaseNameKey(_ name: String) -> Bytes {
        pack(root) {
            TupleEncoder.appendString("dbname", to: &$0)
            TupleEncoder.appendString(name, to: &$0)
        }
    }

    /// Advanced by every logged DDL statement: the "plinth schema" worker
    /// of each server polls this one key.
    public static let schemaVersionKey: Bytes = pack(root) { TupleEncoder.appendString("schema", to: &$0) }

    /// The database log's last entry; its entries are `databaseLogKey`
    /// (`DatabaseLogEntry`): CREATE / DROP / RENAME / ALTER DATABASE, in
    /// the order they committed, for every server sharing the store.
    public static let databaseLogHeadKey: Bytes = pack(root) { TupleEncoder.appendString("dblog", to: &$0) }

    public static func databaseLogKey(_ seq: Int64) -> Bytes {
        pack(databaseLogHeadKey) { TupleEncoder.appendInt(seq, to: &$0) }
    }

    /// The last database log entry a server has applied to its catalog.
    public static func databaseLogPositionKey(server: Int64) -> Bytes {
        pack(root) {
            TupleEncoder.appendString("dbapplied", to: &$0)
            TupleEncoder.appendInt(server, to: &$0)
        }
    }

    /// The log id the servers' positions in the database log are kept
    /// under in the volatile space (`Live.appliedKey`), beside those of
    /// each database's schema log (database ids start at 1).
    public static let databaseLogID: Int64 = 0

    /// Every database name (`databaseNameKey`).
    public static let databaseNamesPrefix: Bytes = pack(root) { TupleEncoder.appendString("dbname", to: &$0) }

    /// Every server's database mappings (`databaseKey`).
    public static let databaseMappingsPrefix: Bytes = pack(root) { TupleEncoder.appendString("db", to: &$0) }

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

    /// A commit larger than one store transaction is written in steps
    /// (PlinthTxn's `StagedCommit`): its mutations first go here, under an
    /// id of their own where no one reads them, then the commit barrier is
    /// set — the commit point — and they are moved into place.
    public static func stagedCommitPrefix(_ id: Bytes) -> Bytes {
        pack(stagedCommitsPrefix) { TupleEncoder.appendBytes(id, to: &$0) }
    }

    /// Every staged commit (`stagedCommitPrefix`).
    public static let stagedCommitsPrefix: Bytes = pack(root) { TupleEncoder.appendString("stage", to: &$0) }

    /// Set while a staged commit is moved into place: no snapshot taken
    /// meanwhile may be read (it would see part of the commit).
    public static let commitBarrierKey: Bytes = pack(root) { TupleEncoder.appendString("barrier", to: &$0) }

    /// Fences standing (DefinitionGuard.swift), one key per fenced table
    /// and holder: while any stands, no schema worker calls its server's
    /// catalog current, so every writer's commit reads the stamps of what
    /// it wrote. `fencesVersionKey` changes with each fence set or lifted
    /// (the workers watch it).
    public static let fencesPrefix: Bytes = pack(root) { TupleEncoder.appendString("fence", to: &$0) }
    public static let fencesVersionKey: Bytes = pack(root) { TupleEncoder.appendString("fences", to: &$0) }

    public static func fenceKey(db: Int64, table: Int64, holder: LockHolder) -> Bytes {
        pack(fencesPrefix) {
            TupleEncoder.appendInt(db, to: &$0)
            TupleEncoder.appendInt(table, to: &$0)
            holder.append(to: &$0)
        }
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
        case schemaLog = 5
        /// The schema log entry that last changed a store id's definition
        /// in a way its writers must see (`definitionKey`).
        case definitions = 6
        /// A server's sequence OIDs mapped to store ids (`sequenceKey`).
        case sequences = 7
        /// Where each sequence stands (`sequenceStateKey`).
        case sequenceStates = 8
        /// Whether the servers have the extension here (`extensionKey`).
        case extensionState = 9
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

        /// Whether the database has the extension (`ExtensionState`): a
        /// server that lacks it creates it, and where its schema log
        /// position starts.
        public var extensionKey: Bytes { key(.extensionState) }

        /// The mappings of one server: relationKey(server, *).
        public func relationPrefix(server: Int64) -> Bytes {
            key(.relations) { TupleEncoder.appendInt(server, to: &$0) }
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

        public func statsKey(_ table: Int64, shard: Int64, field: StatsField) -> Bytes {
            var k = statsPrefix(table)
            TupleEncoder.appendInt(shard, to: &k)
            TupleEncoder.appendInt(field.rawValue, to: &k)
            return k
        }

        /// The sequence number of the schema log's last entry.
        public var schemaLogHeadKey: Bytes { key(.schemaLog) }

        public func schemaLogKey(_ seq: Int64) -> Bytes {
            key(.schemaLog) { TupleEncoder.appendInt(seq, to: &$0) }
        }

        /// The last schema log entry (an Int64) that changed the table or
        /// index of this store id so that a writer of another server still
        /// using the old definition must not commit. Kept after the storage
        /// is dropped: such a writer writes there.
        public func definitionKey(_ id: Int64) -> Bytes {
            key(.definitions) { TupleEncoder.appendInt(id, to: &$0) }
        }

        /// The mappings of one server's sequences: sequenceKey(server, *).
        public func sequencePrefix(server: Int64) -> Bytes {
            key(.sequences) { TupleEncoder.appendInt(server, to: &$0) }
        }

        /// A sequence is mapped by its OID, not its relfilenode: ALTER
        /// SEQUENCE gives it new storage, and its values stay.
        public func sequenceKey(server: Int64, oid: UInt32) -> Bytes {
            key(.sequences) {
                TupleEncoder.appendInt(server, to: &$0)
                TupleEncoder.appendInt(Int64(oid), to: &$0)
            }
        }

        /// The last value handed out by the sequence of this store id, for
        /// every server; absent until the first, and again after RESTART.
        public func sequenceStateKey(_ id: Int64) -> Bytes {
            key(.sequenceStates) { TupleEncoder.appendInt(id, to: &$0) }
        }

        /// The store id of a row or index entry key of this database: the
        /// table or index it belongs to; nil for any other key.
        public func dataStoreID(ofKey k: Bytes) -> Int64? {
            guard k.count > prefix.count, k.starts(with: prefix) else { return nil }
            return k.withUnsafeBytes { (b) -> Int64? in
                guard let (tag, at) = try? TupleDecoder.decodeInt(b, at: prefix.count),
                      tag == Tag.rows.rawValue || tag == Tag.indexEntries.rawValue,
                      let (id, _) = try? TupleDecoder.decodeInt(b, at: at) else { return nil }
                return id
            }
        }

        /// What CREATE DATABASE ... TEMPLATE copies of a database: the
        /// server's mappings of relations and sequences, the rows, index
        /// entries, row id allocators and statistics of every table and
        /// index, the state of every sequence, and the schema log with its
        /// definition stamps: the copy's schema is the template's, and its
        /// log, which goes on from there, is the whole history of its
        /// schema (a server that did not copy the template's catalog, the
        /// template gone, replays it from the beginning).
        public func copiedRanges(server: Int64) -> [(Bytes, Bytes)] {
            [Keyspace.prefixRange(relationPrefix(server: server)), Keyspace.prefixRange(sequencePrefix(server: server)),
             (key(.schemaLog), key(.schemaLog) + [0xFF])] +
                [Tag.rows, .indexEntries, .rowIds, .stats, .sequenceStates, .definitions].map { Keyspace.prefixRange(key($0)) }
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

    /// The counters of a table's statistics (`statsKey`).
    public enum StatsField: Int64, Sendable {
        case rows = 0
        case bytes = 1
        /// Marks of moved rows (RowFormat.moved) not yet vacuumed.
        case moved = 2
    }

    /// The field of a statistics key under a table's `statsPrefix` of
    /// `prefixLength` bytes: (shard, field). nil for a malformed key.
    public static func statsField(fromKey key: UnsafeRawBufferPointer, prefixLength: Int) -> Int64? {
        guard key.count > prefixLength,
              let (_, shardEnd) = try? TupleDecoder.decodeInt(key, at: prefixLength),
              shardEnd < key.count,
              let (field, end) = try? TupleDecoder.decodeInt(key, at: shardEnd),
              end == key.count else { return nil }
        return field
    }

    /// The volatile space: row locks and the transactions holding them.
    public enum Live {
        public static let root: Bytes = pack(Keyspace.root) { TupleEncoder.appendString("live", to: &$0) }

        /// The run of a server now using the store: its incarnation.
        public static func serverKey(_ server: Int64) -> Bytes {
            pack(root) {
                TupleEncoder.appendString("server", to: &$0)
                TupleEncoder.appendInt(server, to: &$0)
            }
        }

        /// What a server's record (`serverKey`) holds once another server
        /// declared run `incarnation` of it dead: never a run's own value
        /// (runs are positive; this has the sign bit flipped).
        public static func deadRun(_ incarnation: Int64) -> Int64 { incarnation ^ Int64.min }

        /// A server's heartbeat: a counter its liveness worker advances
        /// (`Session.beat`); a server whose counter stops is declared dead
        /// by a waiter for one of its locks (`Session.declareDead`).
        public static func beatKey(_ server: Int64) -> Bytes {
            pack(root) {
                TupleEncoder.appendString("beat", to: &$0)
                TupleEncoder.appendInt(server, to: &$0)
            }
        }

        /// The last schema log entry of database `db` that `server` has
        /// applied to its catalog (a copy: the server's own catalog holds the
        /// truth); a server that writes one waits for the others to reach it.
        public static func appliedKey(db: Int64, server: Int64) -> Bytes {
            pack(appliedPrefix(db: db)) { TupleEncoder.appendInt(server, to: &$0) }
        }

        /// Whether `server` has the extension in database `db` (after the
        /// commit that created it there; cleared as it drops it): the
        /// server that creates it waits for the others to.
        public static func extensionKey(db: Int64, server: Int64) -> Bytes {
            pack(extensionPrefix(db: db)) { TupleEncoder.appendInt(server, to: &$0) }
        }

        public static func extensionPrefix(db: Int64) -> Bytes {
            pack(root) {
                TupleEncoder.appendString("ext", to: &$0)
                TupleEncoder.appendInt(db, to: &$0)
            }
        }

        public static func appliedPrefix(db: Int64) -> Bytes {
            pack(root) {
                TupleEncoder.appendString("applied", to: &$0)
                TupleEncoder.appendInt(db, to: &$0)
            }
        }

        public static func transactionKey(_ h: LockHolder) -> Bytes {
            pack(root) {
                TupleEncoder.appendString("txn", to: &$0)
                h.append(to: &$0)
            }
        }

        /// The prefix of every lock on one row: rowLockPrefix + holder.
        public static func rowLockPrefix(db: Int64, table: Int64, row: Int64) -> Bytes {
            pack(root) {
                TupleEncoder.appendInt(db, to: &$0)
                TupleEncoder.appendInt(1, to: &$0)
                TupleEncoder.appendInt(table, to: &$0)
                TupleEncoder.appendInt(row, to: &$0)
            }
        }

        /// The prefix of every lock on one key of a unique index, named by
        /// the key's entry prefix (`indexPrefix` + key columns). Keys of
        /// more than `keyLockBytes` are named by a hash of themselves: two
        /// keys that share one only make one inserter wait for the other.
        public static func keyLockPrefix(db: Int64, key: Bytes) -> Bytes {
            pack(root) {
                TupleEncoder.appendInt(db, to: &$0)
                TupleEncoder.appendInt(2, to: &$0)
                if key.count <= keyLockBytes {
                    TupleEncoder.appendBytes(key, to: &$0)
                } else {
                    TupleEncoder.appendBytes(Array(key[0..<64]) + fingerprint(key), to: &$0)
                }
            }
        }

        public static let keyLockBytes = 256

        /// 16 bytes from two FNV-1a passes: no hash of Swift's, whose seed
        /// changes with every process.
        static func fingerprint(_ bytes: Bytes) -> Bytes {
            var a: UInt64 = 0xcbf2_9ce4_8422_2325, b: UInt64 = 0x8422_2325_cbf2_9ce4
            for x in bytes {
                a = (a ^ UInt64(x)) &* 0x0000_0100_0000_01B3
                b = (b &+ UInt64(x)) &* 0x9E37_79B9_7F4A_7C15
                b ^= b >> 29
            }
            return withUnsafeBytes(of: a.bigEndian) { Bytes($0) } + withUnsafeBytes(of: b.bigEndian) { Bytes($0) }
        }

        /// A lock's value: its mode, the (sub)transaction id a waiter on
        /// the holder's server waits for (Postgres's lock on that id ends
        /// with the subtransaction that took the lock), and — for a row
        /// lock whose holder's UPDATE gave the row a new row id — that id.
        public static func lockValue(mode: UInt8, waitXid: UInt32, movedTo: Int64? = nil) -> Bytes {
            var v = [mode] + withUnsafeBytes(of: waitXid.littleEndian) { Bytes($0) }
            if let movedTo { v += withUnsafeBytes(of: movedTo.littleEndian) { Bytes($0) } }
            return v
        }

        public static func parseLockValue(_ v: ArraySlice<UInt8>) -> (mode: UInt8, waitXid: UInt32, movedTo: Int64?)? {
            guard v.count == 5 || v.count == 13, let mode = v.first, mode <= 3 else { return nil }
            let b = Array(v)
            var x: UInt32 = 0
            for i in 0..<4 { x |= UInt32(b[1 + i]) << (8 * UInt32(i)) }
            guard b.count == 13 else { return (mode, x, nil) }
            var m: UInt64 = 0
            for i in 0..<8 { m |= UInt64(b[5 + i]) << (8 * UInt64(i)) }
            let to = Int64(bitPattern: m)
            return to >= 0 ? (mode, x, to) : nil
        }

        /// The lock prefix of row `row` of the table whose row lock prefix
        /// (for another row) is `prefix`.
        public static func rowLockPrefix(like prefix: Bytes, row: Int64) -> Bytes? {
            guard let t = try? Tuple.unpack(prefix), t.elements.count >= 2 else { return nil }
            var elements = t.elements
            elements[elements.count - 1] = .int(row)
            return Tuple(elements).pack()
        }
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
