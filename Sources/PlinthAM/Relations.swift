import PlinthEncoding
import PlinthStore
import PlinthTxn

/// Which store id holds a relation's data. Postgres names a relation's
/// storage by relfilenode, which changes with TRUNCATE, REINDEX and table
/// rewrites and belongs to one server; the store maps (server, relfilenode)
/// to an id of its own. A mapping is written in the transaction that creates
/// the storage and removed, with the data, in the one that drops it. Its
/// value is the store id and the Postgres transaction that created it
/// (`StorageMapping`), by which an orphan is told from live storage.
public struct StorageMapping: Equatable, Sendable {
    public var relfilenode: UInt32
    public var storeID: Int64
    /// The FullTransactionId that created the storage (0: not recorded,
    /// a mapping of an earlier version).
    public var creator: UInt64

    public init(relfilenode: UInt32, storeID: Int64, creator: UInt64) {
        self.relfilenode = relfilenode
        self.storeID = storeID
        self.creator = creator
    }

    /// [store id: i64][creator: u64], little-endian.
    var value: Bytes { StoredInt.encode(storeID) + StoredInt.encode(Int64(bitPattern: creator)) }

    /// The store id and creator of a mapping value; nil when malformed.
    static func decode(_ v: Bytes) -> (storeID: Int64, creator: UInt64)? {
        switch v.count {
        case 8: return StoredInt.decode(v).map { ($0, 0) }
        case 16:
            guard let id = StoredInt.decode(Bytes(v[0..<8])), let c = StoredInt.decode(Bytes(v[8..<16])) else { return nil }
            return (id, UInt64(bitPattern: c))
        default: return nil
        }
    }
}

extension Session {
    func mappingKey(_ relfilenode: UInt32) throws(PlinthError) -> Bytes {
        try db().relationKey(server: server(), relfilenode: relfilenode)
    }

    /// The store id of a relfilenode's data, or nil when it has none.
    ///
    /// Read at the store's latest version, not the transaction's snapshot: a
    /// mapping never changes once written, and a table the catalog shows may
    /// have been created after this transaction's snapshot was taken.
    public func storeID(relfilenode: UInt32) throws(PlinthError) -> Int64? {
        let key = try mappingKey(relfilenode)
        if let t = current {
            switch try t.txn.buffer.ownState(key, .all) {
            case .value(let v, _):
                guard let m = StorageMapping.decode(v) else { throw PlinthError(corruptValue(key, "a relation's store id")) }
                return m.storeID
            case .deleted: return nil
            case .unwritten: break
            }
        }
        return try storeCall { () throws(StoreError) -> Int64? in
            try transact { tr throws(StoreError) -> Int64? in
                guard let v = try tr.get(key, snapshot: true) else { return nil }
                guard let m = StorageMapping.decode(v) else { throw corruptValue(key, "a relation's store id") }
                return m.storeID
            }
        }
    }

    /// New storage for a relation (CREATE TABLE, TRUNCATE, CREATE INDEX,
    /// REINDEX): a fresh store id; the data of the storage it replaces, if
    /// any, goes with this transaction.
    ///
    /// Storage rebuilt in place (an index of a temporary table truncated at
    /// ON COMMIT DELETE ROWS), or a relfilenode still mapped after a crash
    /// (a CREATE whose store commit landed and whose Postgres commit did
    /// not): what it held goes first.
    public func createStorage(relfilenode: UInt32, replacing old: UInt32, cid: UInt32, subid: UInt32,
                              creator: UInt64 = 0) throws(PlinthError) -> Int64 {
        if old != 0 && old != relfilenode { try dropStorage(relfilenode: old, cid: cid, subid: subid) }
        try dropStorage(relfilenode: relfilenode, cid: cid, subid: subid)
        let key = try mappingKey(relfilenode)
        let t = try transaction()
        let id = try storeIDForNewStorage()
        let mapping = StorageMapping(relfilenode: relfilenode, storeID: id, creator: creator)
        try storeCall { () throws(StoreError) in try t.txn.put(key, mapping.value, cid: cid, subid: subid) }
        // A replayed statement's storage holds the first server's rows.
        if !replaying { t.freshTables[id] = (relfilenode, 0) }
        return id
    }

    /// The storage is dropped: its data and its mapping go with this
    /// transaction (DROP, and storage replaced by TRUNCATE or REINDEX).
    public func dropStorage(relfilenode: UInt32, cid: UInt32, subid: UInt32) throws(PlinthError) {
        guard let id = try storeID(relfilenode: relfilenode) else { return }
        let key = try mappingKey(relfilenode)
        let t = try transaction()
        try storeCall { () throws(StoreError) in
            for (lo, hi) in t.db.allRanges(of: id) { try t.txn.clearRange(KeyRange(lo, hi), cid: cid, subid: subid) }
            try t.txn.delete(key, prior: nil, cid: cid, subid: subid)
        }
        if !replaying { t.droppedStorage.append(id) }
        t.forget(table: id)
    }

    /// The storage moved (ALTER ... SET TABLESPACE): the data stays under
    /// its store id; only the mapping changes.
    public func moveStorage(from old: UInt32, to new: UInt32, cid: UInt32, subid: UInt32) throws(PlinthError) {
        // Nothing to move, or the new storage has data of its own (built by
        // the index build): leave both alone.
        guard let id = try storeID(relfilenode: old), try storeID(relfilenode: new) == nil else { return }
        let t = try transaction()
        let oldKey = try mappingKey(old), newKey = try mappingKey(new)
        try storeCall { () throws(StoreError) in
            let creator = try t.txn.get(oldKey, .all).flatMap(StorageMapping.decode)?.creator ?? 0
            try t.txn.delete(oldKey, prior: nil, cid: cid, subid: subid)
            try t.txn.put(newKey, StorageMapping(relfilenode: new, storeID: id, creator: creator).value, cid: cid, subid: subid)
        }
    }

    /// TRUNCATE of a table created in this (sub)transaction: its rows go now.
    public func truncate(table: Int64, cid: UInt32, subid: UInt32) throws(PlinthError) {
        let t = try transaction()
        let (lo, hi) = t.db.rowRange(table)
        try storeCall { () throws(StoreError) in try t.txn.clearRange(KeyRange(lo, hi), cid: cid, subid: subid) }
        let (rows, bytes) = try statistics(table)
        t.noteRows(table, rows: -rows, bytes: -bytes)
    }
}

extension Session {
    /// Every committed mapping of this server in its database, for the
    /// orphan sweep.
    public func storageMappings() throws(PlinthError) -> [StorageMapping] {
        let prefix = try db().relationPrefix(server: server())
        let (begin, end) = Keyspace.prefixRange(prefix)
        return try storeCall { () throws(StoreError) -> [StorageMapping] in
            var out: [StorageMapping] = []
            var from = begin
            while true {
                let batch = try transact { tr throws(StoreError) in
                    try tr.getRange(.firstGreaterOrEqual(from), .firstGreaterOrEqual(end),
                                    options: RangeOptions(limit: 10_000, snapshot: true))
                }
                for i in 0..<batch.count {
                    let key = batch.keyBytes(i)
                    guard let relfilenode = key.withUnsafeBytes({ Keyspace.rowID(fromKey: $0, prefixLength: prefix.count) }),
                          let node = UInt32(exactly: relfilenode),
                          let m = StorageMapping.decode(batch.valueBytes(i)) else {
                        throw corruptValue(key, "a relation's store id")
                    }
                    out.append(StorageMapping(relfilenode: node, storeID: m.storeID, creator: m.creator))
                }
                guard batch.more, let last = batch.lastKey else { return out }
                from = keyAfter(last)
            }
        }
    }
}
