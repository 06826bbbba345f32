import PlinthEncoding
import PlinthStore
import PlinthTxn

/// Sequences shared by the servers of a store (docs/design.md,
/// "Sequences"). Each permanent sequence gets a store id as it is created,
/// mapped by its OID on every server; its state lives at
/// `sequenceStateKey`, and backends lease blocks of values from it, each
/// lease a short store transaction of its own: as in Postgres, nextval and
/// setval are not undone by a rollback.
extension Session {
    func sequenceMappingKey(_ oid: UInt32) throws(PlinthError) -> Bytes {
        try db().sequenceKey(server: server(), oid: oid)
    }

    /// A new sequence (CREATE SEQUENCE, serial, identity): its store id
    /// commits with this transaction. A replayed statement logged before
    /// sequences were shared leaves the sequence to this server.
    public func createSequence(oid: UInt32, cid: UInt32, subid: UInt32) throws(PlinthError) {
        if replaying && !replaySequences { return }
        let key = try sequenceMappingKey(oid)
        let t = try transaction()
        let id = try storeIDForNewStorage()
        try storeCall { () throws(StoreError) in try t.txn.put(key, StoredInt.encode(id), cid: cid, subid: subid) }
    }

    /// The store id of a sequence, or nil when it is this server's own (a
    /// temporary sequence, or one made before sequences were shared).
    /// Read at the latest version: a mapping never changes once written.
    public func sequenceID(oid: UInt32) throws(PlinthError) -> Int64? {
        let key = try sequenceMappingKey(oid)
        if let t = current {
            switch try t.txn.buffer.ownState(key, .all) {
            case .value(let v, _):
                guard let id = StoredInt.decode(v) else { throw PlinthError(corruptValue(key, "a sequence's store id")) }
                return id
            case .deleted: return nil
            case .unwritten: break
            }
        }
        return try storeCall { () throws(StoreError) -> Int64? in
            try transact { tr throws(StoreError) -> Int64? in try readInt(tr, key, snapshot: true, "a sequence's store id") }
        }
    }

    /// DROP SEQUENCE (or of the table owning it): mapping and state go with
    /// this transaction.
    public func dropSequence(oid: UInt32, cid: UInt32, subid: UInt32) throws(PlinthError) {
        guard let id = try sequenceID(oid: oid) else { return }
        let key = try sequenceMappingKey(oid)
        let t = try transaction()
        try storeCall { () throws(StoreError) in
            try t.txn.delete(key, prior: nil, cid: cid, subid: subid)
            // A replay's data keys go to its scratch space: the first server drops the state.
            try t.txn.delete(t.db.sequenceStateKey(id), prior: nil, cid: cid, subid: subid)
        }
    }

    /// ALTER SEQUENCE ... RESTART, TRUNCATE ... RESTART IDENTITY: the state
    /// goes with this transaction, and the sequence restarts from its
    /// catalog, which every server's replay of the statement set alike.
    public func restartSequence(id: Int64, cid: UInt32, subid: UInt32) throws(PlinthError) {
        let t = try transaction()
        try storeCall { () throws(StoreError) in
            try t.txn.delete(t.db.sequenceStateKey(id), prior: nil, cid: cid, subid: subid)
        }
    }

    /// The sequence's state, nil while it has none (its catalog holds it).
    public func sequenceState(id: Int64) throws(PlinthError) -> SequenceState? {
        let key = try db().sequenceStateKey(id)
        return try storeCall { () throws(StoreError) -> SequenceState? in
            try transact { tr throws(StoreError) -> SequenceState? in
                guard let v = try tr.get(key, snapshot: true) else { return nil }
                guard let s = SequenceState.decode(v) else { throw corruptValue(key, "a sequence's state") }
                return s
            }
        }
    }

    /// nextval: the next `count` values (fewer where a CYCLE sequence
    /// wraps), taken in one store transaction. `local` is the catalog's
    /// state, which stands while the store has none.
    public func leaseSequence(id: Int64, definition: SequenceDefinition, local: SequenceState,
                              count: Int64) throws(PlinthError) -> Result<SequenceLease, SequenceLimit> {
        let key = try db().sequenceStateKey(id)
        return try storeCall { () throws(StoreError) -> Result<SequenceLease, SequenceLimit> in
            try transact { tr throws(StoreError) -> Result<SequenceLease, SequenceLimit> in
                var from = local
                if let v = try tr.get(key, snapshot: false) {
                    guard let s = SequenceState.decode(v) else { throw corruptValue(key, "a sequence's state") }
                    from = s
                }
                let r = definition.lease(after: from, count: count)
                if case .success(let lease) = r { try tr.set(key, lease.state.encoded) }
                return r
            }
        }
    }

    /// setval, or values handed out by the server's own sequence (COPY,
    /// a table rewrite): the state becomes `state`, or with `onlyForward`
    /// moves to it only if that is further along.
    public func setSequence(id: Int64, to state: SequenceState, onlyForward: Bool = false,
                            ascending: Bool = true) throws(PlinthError) {
        let key = try db().sequenceStateKey(id)
        try storeCall { () throws(StoreError) in
            try transact { tr throws(StoreError) in
                if onlyForward, let v = try tr.get(key, snapshot: false) {
                    guard let s = SequenceState.decode(v) else { throw corruptValue(key, "a sequence's state") }
                    let ahead = ascending ? state.last > s.last : state.last < s.last
                    guard ahead || (state.last == s.last && state.isCalled && !s.isCalled) else { return }
                }
                try tr.set(key, state.encoded)
            }
        }
    }

    /// A backend ends with values of its lease unused: they go back if
    /// no one leased after it (then the next session goes on where this
    /// one stopped, as on one Postgres server), else they are a gap.
    public func giveBackSequence(id: Int64, leasedLast: Int64, lastUsed: Int64) throws(PlinthError) {
        let key = try db().sequenceStateKey(id)
        try storeCall { () throws(StoreError) in
            try transact { tr throws(StoreError) in
                guard let v = try tr.get(key, snapshot: false), let s = SequenceState.decode(v),
                      s == SequenceState(last: leasedLast, isCalled: true) else { return }
                try tr.set(key, SequenceState(last: lastUsed, isCalled: true).encoded)
            }
        }
    }
}
