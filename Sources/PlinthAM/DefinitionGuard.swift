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
        // A concurrent build's tables too: its lock was never strong.
        var ids = Set(t.droppedStorage).union(statementFences?.tables ?? [])
        var keys: [Bytes] = []
        for node in relfilenodes {
            let key = try mappingKey(node)
            if case .unwritten = try t.txn.buffer.ownState(key, .all) { keys.append(key) }
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
            for id in ids.sorted() {
                try t.txn.put(t.db.definitionKey(id), DefinitionStamp(seq: seq).encoded, cid: 0, subid: 1)
            }
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
            guard let s = DefinitionStamp.decode(stamp) else { throw corruptValue(t.db.definitionKey(id), "a definition stamp") }
            if let fence = s.fence, fenceHolds(fence) {
                throw Self.definitionConflict(t, "Another server holds a table this transaction wrote (store id \(id)) against writers while it reads it (an index build, a rewrite, a constraint's validation, LOCK TABLE); heap would have made this transaction wait.")
            }
            if s.seq > (newest?.seq ?? 0) { newest = (id, s.seq) }
        }
        guard let newest else { return }
        let applied = try localSchemaPosition()
        if newest.seq > applied {
            throw Self.definitionConflict(t, "Another server changed the definition of a table or index this transaction wrote (schema log entry \(newest.seq), store id \(newest.id)) while it ran; this server has applied its schema log up to entry \(applied).")
        }
    }

    /// Fails the commit with 40001 (`detail` says why), raised in place of
    /// the store's error.
    private static func definitionConflict(_ t: TransactionState, _ detail: String) -> StoreError {
        t.definitionConflict = PlinthError(sqlstate: .serializationFailure,
                                           message: "could not serialize access due to a concurrent schema change",
                                           detail: detail, hint: "The transaction might succeed if retried.")
        return StoreError(.notCommitted, "a definition changed")
    }
}

// Fences (docs/design.md, "Writers on other servers"). A build, rewrite or
// validation scans its table under a lock that holds this server's writers
// off until it ends; the stamp above stops other servers' only when its DDL
// commits. A writer there committing in between would land outside the
// index built, in the storage the rewrite replaced, or past the constraint.
extension Session {
    /// A scan of table `id` by a transaction that holds ShareLock or
    /// stronger on it: its stamp gets a fence naming this transaction (and
    /// the metadata version a bump, so that every writer's commit reads the
    /// stamp): from now until this transaction ends, other servers' writers
    /// of the table fail at their commit (40001), as a writer spanning the
    /// DDL does. The transaction's end lifts it (`liftFences`); a fence
    /// whose holder no longer runs fences nothing. Once per table and
    /// transaction; none in a replay (nor,
    /// the shim decides, with plinth.single_server or for temporary tables).
    ///
    /// `statement`: the scan of a concurrent index build (CREATE INDEX or
    /// REINDEX CONCURRENTLY), whose lock never holds writers off. Other
    /// servers' writers would not maintain the index until they replay the
    /// statement, so from the build's scan until the transaction that logs
    /// it (and stamps the table) ends, they fail as they do beside a plain
    /// CREATE INDEX. The fence outlives the build's transaction: its holder
    /// is the statement's (`statementFences`).
    public func fenceWriters(table id: Int64, topXid: Int64, statement: Bool = false) throws(PlinthError) {
        let t = try transaction()
        // Storage this transaction created: no other server knows it yet.
        guard !replaying, t.db.id != Keyspace.replayScratch, t.freshTables[id] == nil else { return }
        if statement {
            guard statementFences?.tables.contains(id) != true else { return }
            let holder: LockHolder
            if let f = statementFences {
                holder = f.holder
            } else {
                // Negative: no transaction's id, so no transaction's end clears it.
                holder = try lockHolder(topXid: 0 &- topXid)
                try recordRunning(holder)
                statementFences = (holder, [], false)
            }
            try writeFence(t, table: id, holder: holder)
            statementFences?.tables.insert(id)
            return
        }
        guard !t.fenced.contains(id) else { return }
        let me = try lockHolder(topXid: topXid)
        if !t.locks.recorded {
            try recordRunning(me)
            t.locks.holder = me
            t.locks.recorded = true
        }
        try writeFence(t, table: id, holder: me)
        t.fenced.insert(id)
    }

    /// The holder's record, before its first fence: a writer that meets the
    /// fence finds its holder running (`isRunning`).
    private func recordRunning(_ holder: LockHolder) throws(PlinthError) {
        try storeCall { () throws(StoreError) in
            try transact(volatile: true) { tr throws(StoreError) in try tr.set(Keyspace.Live.transactionKey(holder), []) }
        }
    }

    private func writeFence(_ t: TransactionState, table id: Int64, holder: LockHolder) throws(PlinthError) {
        let key = t.db.definitionKey(id)
        try storeCall { () throws(StoreError) in
            try transact { tr throws(StoreError) in
                let old = try tr.get(key, snapshot: false)
                guard let stamp = old.map(DefinitionStamp.decode) ?? DefinitionStamp(seq: 0) else {
                    throw corruptValue(key, "a definition stamp")
                }
                try tr.set(key, DefinitionStamp(seq: stamp.seq, fence: holder).encoded)
                try tr.set(Keyspace.fenceKey(db: t.db.id, table: id, holder: holder), [])
                try tr.atomicOp(.add, Keyspace.fencesVersionKey, StoredInt.encode(1))
                try tr.bumpMetadataVersion()
            }
        }
    }

    /// Whether a fence's transaction still runs. Its server's heartbeat is
    /// watched as a lock waiter watches it: a server whose beat stood
    /// still for plinth.server_timeout is declared dead, and its fences
    /// lifted. Unknown (the store failed): it holds.
    func fenceHolds(_ holder: LockHolder) -> Bool {
        if let me = try? server(), holder.server == me { return false }   // this server's writers wait on its locks
        guard let (running, beat) = try? holderRunning(holder) else { return true }
        guard running else { return false }
        let now = monotonicNanos()
        if let seen = fenceBeats[holder.server], seen.beat == beat {
            let timeout = UInt64(max(config.serverTimeoutMilliseconds, 1)) * 1_000_000
            if now - seen.since > timeout, (try? declareDead(server: holder.server, incarnation: holder.incarnation)) != nil {
                fenceBeats[holder.server] = nil
                return false
            }
        } else {
            fenceBeats[holder.server] = (beat, now)
        }
        return true
    }
}

extension Session {
    /// The transaction ends: its fences go, with its commit or after its
    /// abort (`clearFences`).
    func liftFences(_ t: TransactionState, commit: Bool) {
        guard !t.fenced.isEmpty, let me = t.locks.holder else { return }
        let keys = t.fenced.map { Keyspace.fenceKey(db: t.db.id, table: $0, holder: me) }
        t.fenced = []
        clearFences(keys, committingWith: commit ? t : nil)
    }

    /// The commit of the transaction that logs a concurrent build (its
    /// statement ended): the statement's fences are cleared in it, as the
    /// stamp replaces them. Returns whether there were any; once the commit
    /// landed, `endStatementFenceHolder` retires their holder.
    func liftStatementFences(_ t: TransactionState) -> Bool {
        guard let f = statementFences, f.ended else { return false }
        clearFences(f.tables.map { Keyspace.fenceKey(db: t.db.id, table: $0, holder: f.holder) }, committingWith: t)
        return true
    }

    func endStatementFenceHolder() {
        guard let f = statementFences else { return }
        statementFences = nil
        _ = try? storeCall { () throws(StoreError) in
            try transact(volatile: true) { tr throws(StoreError) in try tr.clear(Keyspace.Live.transactionKey(f.holder)) }
        }
    }

    /// The statement failed, ended without logging, or its process exits:
    /// its fences go, best effort (its holder is retired first, so they
    /// fence nothing even if the keys stay for a worker to clear).
    func abandonStatementFences() {
        guard let f = statementFences else { return }
        endStatementFenceHolder()
        guard let d = try? db() else { return }
        clearFences(f.tables.map { Keyspace.fenceKey(db: d.id, table: $0, holder: f.holder) })
    }

    /// Clears fence keys and tells the schema workers (`fencesVersionKey`):
    /// in the store transaction of `t`'s commit, never before it, or in one
    /// of their own. Best effort: a fence whose holder ended fences nothing,
    /// and a schema worker clears what is left (`fencesStand`).
    func clearFences(_ keys: [Bytes], committingWith t: TransactionState? = nil) {
        guard !keys.isEmpty else { return }
        if let t {
            t.txn.atomic(.add, Keyspace.fencesVersionKey, StoredInt.encode(1))
            _ = try? storeCall { () throws(StoreError) in
                for k in keys { try t.txn.delete(k, prior: nil, cid: 0, subid: 1) }
            }
            return
        }
        _ = try? storeCall { () throws(StoreError) in
            try transact { tr throws(StoreError) in
                for k in keys { try tr.clear(k) }
                try tr.atomicOp(.add, Keyspace.fencesVersionKey, StoredInt.encode(1))
            }
        }
    }

    /// Whether a fence stands anywhere in the store, read in `tr`, and the
    /// keys of fences whose holders ended (an abort that could not clear
    /// them, a crash), for the caller to clear (`clearFences`).
    func fencesStand(_ tr: any StoreTransaction) throws(StoreError) -> (standing: Bool, stale: [Bytes]) {
        let (b, e) = Keyspace.prefixRange(Keyspace.fencesPrefix)
        let found = try tr.getRange(.firstGreaterOrEqual(b), .firstGreaterOrEqual(e),
                                    options: RangeOptions(limit: 100, snapshot: true, mode: .wantAll))
        guard !found.isEmpty else { return (false, []) }
        var stale: [Bytes] = []
        var standing = false
        for i in 0..<found.count {
            let key = found.keyBytes(i)
            // (db, table, holder...) after the prefix.
            let holder: LockHolder? = key.withUnsafeBytes { k in
                guard let (_, a) = try? TupleDecoder.decodeInt(k, at: Keyspace.fencesPrefix.count),
                      let (_, h) = try? TupleDecoder.decodeInt(k, at: a) else { return nil }
                return LockHolder.parse(k, at: h)
            }
            if let holder, (try? holderRunning(holder))?.0 == false {
                stale.append(key)
            } else {
                standing = true
            }
        }
        return (standing, stale)
    }

}
