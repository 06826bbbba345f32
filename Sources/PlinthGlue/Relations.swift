import PlinthStore
import PlinthTxn

/// Which store id holds a relation's data. Postgres names a relation's
/// storage by relfilenode, which changes with TRUNCATE, REINDEX and table
/// rewrites and belongs to one server; the store maps (server, relfilenode)
/// to an id of its own. A mapping is written in the transaction that creates
/// the storage and removed, with the data, in the one that drops it.
enum Relations {
    static func mappingKey(_ relfilenode: UInt32) throws(PlinthError) -> Bytes {
        let b = Backend.shared
        return try b.db().relationKey(server: b.server(), relfilenode: relfilenode)
    }

    /// The store id of a relfilenode's data, or nil when it has none.
    ///
    /// Read at the store's latest version, not the transaction's snapshot: a
    /// mapping never changes once written, and a table the catalog shows may
    /// have been created after this transaction's snapshot was taken.
    static func lookup(_ relfilenode: UInt32) throws(PlinthError) -> Int64? {
        let b = Backend.shared
        let key = try mappingKey(relfilenode)
        if b.hasTransaction {
            switch try b.transaction().buffer.state(key, .all) {
            case .value(let v, _): return Backend.decodeInt(v)
            case .deleted: return nil
            case .unwritten: break
            }
        }
        return try storeCall { () throws(StoreError) -> Int64? in
            try b.transact { tr throws(StoreError) -> Int64? in
                try tr.get(key, snapshot: true).map(Backend.decodeInt)
            }
        }
    }

    /// New storage for a relation (CREATE TABLE, TRUNCATE, CREATE INDEX,
    /// REINDEX): a fresh store id; the data of the storage it replaces, if
    /// any, goes with this transaction.
    static func create(_ relfilenode: UInt32, replacing old: UInt32, cid: UInt32, subid: UInt32) throws(PlinthError) -> Int64 {
        if old != 0 && old != relfilenode { try forget(old, cid: cid, subid: subid) }
        let b = Backend.shared
        let key = try mappingKey(relfilenode)
        let txn = try b.transaction()
        let id = try storeCall { () throws(StoreError) in try b.allocateID() }
        try storeCall { () throws(StoreError) in try txn.put(key, Backend.encodeInt(id), cid: cid, subid: subid) }
        return id
    }

    /// The storage is dropped: its data and its mapping go with this
    /// transaction (DROP, and storage replaced by TRUNCATE or REINDEX).
    static func forget(_ relfilenode: UInt32, cid: UInt32, subid: UInt32) throws(PlinthError) {
        guard let id = try lookup(relfilenode) else { return }
        let b = Backend.shared
        let db = try b.db()
        let key = try mappingKey(relfilenode)
        let txn = try b.transaction()
        try storeCall { () throws(StoreError) in
            for (lo, hi) in db.allRanges(of: id) { try txn.clearRange(KeyRange(lo, hi), cid: cid, subid: subid) }
            try txn.delete(key, prior: nil, cid: cid, subid: subid)
        }
        b.forgetRowIDs(id)
        b.statsDelta[id] = nil
    }

    /// The storage moved (ALTER TABLE ... SET TABLESPACE): the data stays
    /// under its store id; only the mapping changes.
    static func move(_ old: UInt32, to new: UInt32, cid: UInt32, subid: UInt32) throws(PlinthError) {
        // Nothing to move, or the new storage has data of its own (built by
        // the index build): leave both alone.
        guard let id = try lookup(old), try lookup(new) == nil else { return }
        let txn = try Backend.shared.transaction()
        let oldKey = try mappingKey(old), newKey = try mappingKey(new)
        try storeCall { () throws(StoreError) in
            try txn.delete(oldKey, prior: nil, cid: cid, subid: subid)
            try txn.put(newKey, Backend.encodeInt(id), cid: cid, subid: subid)
        }
    }

    /// TRUNCATE of a table created in this (sub)transaction: its rows go now.
    static func truncate(_ table: Int64, cid: UInt32, subid: UInt32) throws(PlinthError) {
        let b = Backend.shared
        let db = try b.db()
        let txn = try b.transaction()
        let (lo, hi) = db.rowRange(table)
        try storeCall { () throws(StoreError) in try txn.clearRange(KeyRange(lo, hi), cid: cid, subid: subid) }
        let (rows, bytes) = try b.statistics(table)
        b.noteRows(table, rows: -rows, bytes: -bytes)
    }
}
