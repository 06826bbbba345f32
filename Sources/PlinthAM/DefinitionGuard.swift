import PlinthEncoding
import PlinthStore
import PlinthTxn

/// No write in an old definition lands after a new one (docs/design.md,
/// "Several servers, one store").
///
/// On one server, Postgres keeps writers and DDL apart with table locks: a
/// writer's RowExclusiveLock holds off TRUNCATE, ALTER TABLE, CREATE INDEX
/// until it ends. Another server's writer holds no lock here, so without
/// more, its rows would land in storage a TRUNCATE or rewrite dropped (lost),
/// without entries in an index built meanwhile, or past a constraint added
/// meanwhile. So:
///
/// - A DDL commit stamps the store ids of the relations whose writers it
///   would have waited for (those it holds a lock on that conflicts with
///   RowExclusiveLock, and the storage it dropped) with its schema log
///   entry (`definitionKey`), and bumps the store's metadata version.
/// - A writer's commit checks the stamps of what it wrote against the
///   entry its server's catalog has reached: a newer stamp means it wrote
///   with the old definition, and it fails with 40001. Its server cannot
///   have applied such an entry while it ran: the replay needs the lock it
///   holds. So a stamp it finds applied was applied before it took that
///   lock, and its catalog had the change.
/// - The check costs no read while no DDL runs: when the metadata version
///   (free with the read version on FoundationDB) is still the one as of
///   which this server's catalog had every DDL of the store — published by
///   its schema worker — no stamp can be newer. The stamps' keys are then
///   read-conflict ranges of the commit, so DDL on those tables committing
///   at the same time fails the writer; DDL on other tables does not.
extension Session {
    /// At a DDL commit that logs entry `seq`: stamps the storage it dropped
    /// and the relations (by relfilenode) it holds a lock on that writers'
    /// locks conflict with, except storage it created (no one else writes
    /// there yet). The commit bumps the metadata version.
    func stampDefinitions(_ t: TransactionState, relfilenodes: [UInt32], seq: Int64) throws(PlinthError) {
        var ids = Set(t.droppedStorage)
        var keys: [Bytes] = []
        for node in relfilenodes {
            let key = try mappingKey(node)
            if case .unwritten = t.txn.buffer.state(key, .all) { keys.append(key) }
        }
        let found = try storeCall { () throws(StoreError) -> [Bytes?] in
            keys.isEmpty ? [] : try transact { tr throws(StoreError) in try tr.getMany(keys, snapshot: true) }
        }
        for (key, value) in zip(keys, found) {
            guard let value else { continue }
            guard let m = StorageMapping.decode(value) else { throw PlinthError(corruptValue(key, "a relation's store id")) }
            ids.insert(m.storeID)
        }
        try storeCall { () throws(StoreError) in
            for id in ids.sorted() { try t.txn.put(t.db.definitionKey(id), StoredInt.encode(seq), cid: 0, subid: 1) }
        }
        t.txn.bumpsMetadataVersion = true
    }

    /// Before a writing transaction's commit: its store transaction checks
    /// that no table or index it wrote changed its definition since this
    /// server's catalog had it.
    func guardDefinitions(_ t: TransactionState) {
        // A replay writes nothing shared.
        guard !replaying, t.db.id != Keyspace.replayScratch, t.txn.hasWrites else { return }
        let current = schemaCurrentThrough()
        t.txn.commitGuard = { [unowned self] (tr: any StoreTransaction) throws(StoreError) in
            let ids = try Self.writtenStoreIDs(t)
            guard !ids.isEmpty else { return }
            let version = try tr.metadataVersion(snapshot: true) ?? 0
            if let current, current == version {
                // DDL that commits from now on and stamps one of them fails
                // this commit: read conflicts, with no read.
                for id in ids {
                    let key = t.db.definitionKey(id)
                    try tr.addReadConflictRange(key, key + [0])
                }
                return
            }
            try self.checkStamps(t, tr, ids)
        }
    }

    /// The tables and indexes whose rows or entries the transaction writes.
    private static func writtenStoreIDs(_ t: TransactionState) throws(StoreError) -> [Int64] {
        var written = Set<Int64>()
        try t.txn.buffer.finalMutations { m throws(StoreError) in
            switch m {
            case .set(let k, _), .clear(let k):
                if let id = t.db.dataStoreID(ofKey: k) { written.insert(id) }
            case .clearRange(let r):
                if let id = t.db.dataStoreID(ofKey: r.begin) { written.insert(id) }
            }
        }
        return written.sorted()
    }

    /// The slow path, after DDL somewhere: one read of the stamps of what
    /// the transaction wrote (read conflicts too).
    private func checkStamps(_ t: TransactionState, _ tr: any StoreTransaction, _ ids: [Int64]) throws(StoreError) {
        let stamps = try tr.getMany(ids.map { t.db.definitionKey($0) }, snapshot: false)
        var newest: (id: Int64, seq: Int64)?
        for (id, stamp) in zip(ids, stamps) {
            guard let stamp else { continue }
            guard let seq = StoredInt.decode(stamp) else { throw corruptValue(t.db.definitionKey(id), "a definition stamp") }
            if seq > (newest?.seq ?? 0) { newest = (id, seq) }
        }
        guard let newest else { return }
        let applied = try localSchemaPosition()
        if newest.seq > applied {
            t.definitionConflict = PlinthError(
                sqlstate: .serializationFailure,
                message: "could not serialize access due to a concurrent schema change",
                detail: "Another server changed the definition of a table or index this transaction wrote (schema log entry \(newest.seq), store id \(newest.id)) while it ran; this server has applied its schema log up to entry \(applied).",
                hint: "The transaction might succeed if retried.")
            throw StoreError(.notCommitted, "a definition changed")
        }
    }
}
