import PlinthEncoding
import PlinthStore
import PlinthTxn

/// Databases, shared by name by every server of a store, and the database
/// log that makes CREATE / DROP / RENAME / ALTER DATABASE on one server
/// happen on all of them (docs/design.md, "Databases").
///
/// - A database's store id is given as it is created
///   (`createDatabase`): the name, this server's mapping of its OID and,
///   for a template the store has, a copy of the template's data go with
///   the statement's transaction. The statement goes to the database log
///   at the commit (`logPendingDatabases`), which re-reads the log's head:
///   of two servers' database statements at once, one fails (40001).
/// - Every server's "plinth schema" worker runs the entries it has not
///   applied through a connection of its own, with plinth.replay_database
///   set (`replayCreateDatabase` maps the new database to the entry's id),
///   then records its position (`noteDatabaseLogApplied`). The first
///   server waits for every live one to get there, as for other DDL.
/// - A schema log entry names the database log entry its server had
///   reached, and a server replays it only once it got there too
///   (`schemaLogEntries`): a database copied from a template has the
///   template's schema as of the copy, on every server.
extension Session {
    // MARK: the statements, on the server that runs them

    /// CREATE DATABASE, after Postgres copied the template's catalog: the
    /// new database gets its store id (the existing one if another server
    /// made a database of that name before the database log existed),
    /// this server's mapping, and a copy of what the store keeps of the
    /// template, under the new id, in batches of their own (a template of
    /// any size; cleared if this transaction aborts). The copy is found
    /// only once this transaction commits its mappings, and Postgres lets
    /// no one here use the template meanwhile; the template's schema log
    /// must not move until then either (checked at the commit).
    public func createDatabase(_ oid: UInt32, name: String, template: UInt32, templateName: String,
                               role: String, statement: String, cid: UInt32, subid: UInt32) throws(PlinthError) {
        let me = try server()
        let templateKey = Keyspace.databaseKey(server: me, oid: template)
        let nameKey = Keyspace.databaseNameKey(name)
        let (source, taken) = try storeCall { () throws(StoreError) -> (Int64?, Int64?) in
            try transact { tr throws(StoreError) -> (Int64?, Int64?) in
                (try readInt(tr, templateKey, snapshot: true, "a database id"),
                 try readInt(tr, nameKey, snapshot: true, "a database id"))
            }
        }
        if source != nil && taken != nil {
            throw PlinthError(sqlstate: .duplicateDatabase,
                              message: "a database named \"\(name)\" already exists on another server sharing this Plinth store",
                              detail: "Servers share databases by name; a copy of a template cannot also be that database.",
                              hint: "Choose another name, or drop that database on the other server first.")
        }
        let t = try transaction()
        let id: Int64
        if let taken { id = taken } else { id = try storeCall { () throws(StoreError) in try allocateID() } }
        var position: Int64 = 0
        if let source {
            position = try templatePosition(source, t)
            t.copiedDatabases.append(id)
            try copyData(from: Keyspace.Database(id: source), to: Keyspace.Database(id: id), server: me)
            try copyExtensionState(from: Keyspace.Database(id: source), to: Keyspace.Database(id: id), t, cid: cid, subid: subid)
            // The copy's catalog is the template's, at that entry of the
            // log it carries: DDL other servers make in it once they have
            // it waits for this server too (a volatile mark; if this
            // transaction aborts, it names a database no one uses).
            try storeCall { () throws(StoreError) in
                try transact(volatile: true) { tr throws(StoreError) in
                    try tr.atomicOp(.max, Keyspace.Live.appliedKey(db: id, server: me), StoredInt.encode(position))
                }
            }
        }
        try storeCall { () throws(StoreError) in
            try t.txn.put(Keyspace.databaseKey(server: me, oid: oid), StoredInt.encode(id), cid: cid, subid: subid)
            if taken == nil { try t.txn.put(nameKey, StoredInt.encode(id), cid: cid, subid: subid) }
        }
        t.pendingDatabases.append((DatabaseLogEntry(kind: .create, origin: me, role: role, statement: statement, name: name,
                                                    other: templateName, databaseID: id, templatePosition: position), subid))
    }

    /// The template's schema log entry this server's catalog of it has
    /// reached, which must be its last: the copy's catalog is this
    /// server's, and every other server makes its copy at that entry. A
    /// DDL on the template committing before this transaction fails it.
    private func templatePosition(_ template: Int64, _ t: TransactionState) throws(PlinthError) -> Int64 {
        let head = Keyspace.Database(id: template).schemaLogHeadKey
        let applied = Keyspace.Live.appliedKey(db: template, server: try server())
        let found = try storeCall { () throws(StoreError) -> Bytes? in
            try transact { tr throws(StoreError) in try tr.get(head, snapshot: true) }
        }
        let last = found.flatMap(StoredInt.decode) ?? 0
        let mine = try storeCall { () throws(StoreError) -> Int64 in
            try transact(volatile: true) { tr throws(StoreError) in try tr.get(applied, snapshot: true).flatMap(StoredInt.decode) ?? 0 }
        }
        if mine < last {
            throw PlinthError(sqlstate: .serializationFailure,
                              message: "another server changed the schema of the template, and this server has not applied the change yet",
                              detail: "Schema log entry \(last) of the template is in the store; this server has applied up to \(mine).",
                              hint: "The statement might succeed if retried.")
        }
        t.txn.checkAtCommit(head, expected: found, error: StoreError(
            .notCommitted, "another server changed the schema of the template while it was copied"))
        return last
    }

    /// Copies every key the store keeps of a database, with `server`'s
    /// mappings of its relations (each server copies its own).
    private func copyData(from: Keyspace.Database, to: Keyspace.Database, server: Int64) throws(PlinthError) {
        for (lo, hi) in from.copiedRanges(server: server) {
            var next: Bytes? = lo
            while let begin = next {
                next = try storeCall { () throws(StoreError) -> Bytes? in
                    try transact { tr throws(StoreError) -> Bytes? in
                        let batch = try tr.getRange(.firstGreaterOrEqual(begin), .firstGreaterOrEqual(hi),
                                                    options: RangeOptions(limit: 10_000, targetBytes: 2_000_000, snapshot: true))
                        for i in 0..<batch.count {
                            // Bytes from the store: a key outside the range read is damage, not a trap.
                            let key = batch.keyBytes(i)
                            guard key.starts(with: from.prefix) else { throw corruptValue(key, "a key of database \(from.id)") }
                            try tr.set(to.prefix + key[from.prefix.count...], batch.valueBytes(i))
                        }
                        guard batch.more, let last = batch.lastKey else { return nil }
                        return keyAfter(last)
                    }
                }
            }
        }
    }

    /// A copy of a template has the template's extension state (its log
    /// is the template's): a server that lacks the extension there creates
    /// it and replays the log from where the template's would start. A
    /// template of a store from before that state was kept has the
    /// extension (it has Plinth data): from the beginning.
    private func copyExtensionState(from: Keyspace.Database, to: Keyspace.Database, _ t: TransactionState,
                                    cid: UInt32, subid: UInt32) throws(PlinthError) {
        let found = try storeCall { () throws(StoreError) -> Bytes? in
            try transact { tr throws(StoreError) in try tr.get(from.extensionKey, snapshot: true) }
        }
        var state = ExtensionState(created: true, start: 0)
        if let found {
            guard let s = ExtensionState.decode(found) else { throw PlinthError(corruptValue(from.extensionKey, "the extension's state")) }
            state = s
        }
        try storeCall { () throws(StoreError) in try t.txn.put(to.extensionKey, state.encoded, cid: cid, subid: subid) }
    }

    /// DROP DATABASE: this server's mapping goes with this transaction, and
    /// the name, so that a new database of that name is another one; the
    /// data goes with the last server's mapping (each server drops the
    /// database when it applies the database log, and its sessions there
    /// may write until then).
    public func dropDatabase(_ oid: UInt32, name: String, cid: UInt32, subid: UInt32) throws(PlinthError) {
        let me = try server()
        let key = Keyspace.databaseKey(server: me, oid: oid)
        let nameKey = Keyspace.databaseNameKey(name)
        let (mappingsBegin, mappingsEnd) = Keyspace.prefixRange(Keyspace.databaseMappingsPrefix)
        guard let (id, shared, named) = try storeCall({ () throws(StoreError) -> (Int64, Bool, Bool)? in
            try transact { tr throws(StoreError) -> (Int64, Bool, Bool)? in
                guard let id = try readInt(tr, key, snapshot: false, "a database id") else { return nil }
                let shared = try tr.getRangeAll(mappingsBegin, mappingsEnd, limit: 100_000, snapshot: true)
                    .contains { $0.key != key && StoredInt.decode($0.value) == id }
                let named = try readInt(tr, nameKey, snapshot: false, "a database id") == id
                return (id, shared, named)
            }
        }) else { return }
        let t = try transaction()
        try storeCall { () throws(StoreError) in
            if !shared {
                let (lo, hi) = Keyspace.databaseRange(id)
                try t.txn.clearRange(KeyRange(lo, hi), cid: cid, subid: subid)
            }
            if named { try t.txn.delete(nameKey, prior: nil, cid: cid, subid: subid) }
            try t.txn.delete(key, prior: nil, cid: cid, subid: subid)
        }
    }

    /// ALTER DATABASE RENAME: the store's name of the database follows, so
    /// that a new database of the old name is another one.
    public func renameDatabase(_ oid: UInt32, from: String, to: String, cid: UInt32, subid: UInt32) throws(PlinthError) {
        let key = Keyspace.databaseKey(server: try server(), oid: oid)
        let oldName = Keyspace.databaseNameKey(from), newName = Keyspace.databaseNameKey(to)
        guard let (id, named, taken) = try storeCall({ () throws(StoreError) -> (Int64, Bool, Bool)? in
            try transact { tr throws(StoreError) -> (Int64, Bool, Bool)? in
                guard let id = try readInt(tr, key, snapshot: false, "a database id") else { return nil }
                return (id, try readInt(tr, oldName, snapshot: false, "a database id") == id,
                        try tr.get(newName, snapshot: false) != nil)
            }
        }) else { return }
        let t = try transaction()
        try storeCall { () throws(StoreError) in
            if named { try t.txn.delete(oldName, prior: nil, cid: cid, subid: subid) }
            if !taken { try t.txn.put(newName, StoredInt.encode(id), cid: cid, subid: subid) }
        }
    }

    /// DROP, RENAME or ALTER DATABASE ran: it goes to the database log with
    /// this transaction's commit (a rollback, or one to a savepoint, logs
    /// nothing).
    public func queueDatabaseStatement(_ kind: DatabaseLogEntry.Kind, name: String, other: String, role: String,
                                       statement: String, subid: UInt32) throws(PlinthError) {
        let entry = DatabaseLogEntry(kind: kind, origin: try server(), role: role, statement: statement, name: name,
                                     other: other)
        try transaction().pendingDatabases.append((entry, subid))
    }

    public var hasPendingDatabases: Bool { !(current?.pendingDatabases.isEmpty ?? true) }

    /// At the commit (the shim holds this server's database log lock): the
    /// transaction's database statements go to the end of the log, read
    /// again by the commit's store transaction. This server must have
    /// applied every entry before (its statements ran on a catalog with
    /// them); another server's entry committed meanwhile fails one of the
    /// two (40001). Returns the last sequence number.
    public func logPendingDatabases() throws(PlinthError) -> Int64 {
        guard let t = current, !t.pendingDatabases.isEmpty else { return 0 }
        let (found, last) = try databaseLogHead(t)
        guard last <= Int64.max - Int64(t.pendingDatabases.count) else {
            throw PlinthError(corruptValue(Keyspace.databaseLogHeadKey, "the database log's head"))
        }
        t.txn.checkAtCommit(Keyspace.databaseLogHeadKey, expected: found, error: StoreError(
            .notCommitted, "another server created, dropped or changed a database at the same time"))
        var seq = last
        try storeCall { () throws(StoreError) in
            for (entry, _) in t.pendingDatabases {
                seq += 1
                try t.txn.put(Keyspace.databaseLogKey(seq), entry.encoded, cid: 0, subid: 1)
            }
            try t.txn.put(Keyspace.databaseLogHeadKey, StoredInt.encode(seq), cid: 0, subid: 1)
        }
        // The servers' workers look for new entries when this moves.
        t.txn.atomic(.add, Keyspace.schemaVersionKey, StoredInt.encode(1))
        t.pendingDatabases = []
        t.databaseLogHead = seq
        return seq
    }

    /// The database log's head as this transaction's commit will check it
    /// (the value read, and its number), after checking that this server
    /// has applied every entry up to it: DDL of a server that missed
    /// another's database statement ran on a catalog without it. Read once
    /// per transaction.
    func databaseLogHead(_ t: TransactionState) throws(PlinthError) -> (found: Bytes?, last: Int64) {
        if let seen = t.databaseLogHeadRead { return seen }
        let position = Keyspace.databaseLogPositionKey(server: try server())
        let v = try storeCall { () throws(StoreError) -> [Bytes?] in
            try transact { tr throws(StoreError) in try tr.getMany([Keyspace.databaseLogHeadKey, position], snapshot: true) }
        }
        return try noteDatabaseLogHead(t, found: v[0], position: v[1])
    }

    /// The head and this server's position as read (`databaseLogHead`).
    /// Behind the head, this server is about to apply the entries: its own
    /// (a session's CREATE DATABASE or CREATE ROLE records its position
    /// right after Postgres's commit) or another server's (the worker
    /// replays them within milliseconds), so the commit waits for that, up
    /// to plinth.server_timeout, rather than fail.
    @discardableResult
    func noteDatabaseLogHead(_ t: TransactionState, found: Bytes?, position: Bytes?) throws(PlinthError) -> (found: Bytes?, last: Int64) {
        var applied = position.flatMap(StoredInt.decode) ?? 0
        guard let last = found.map(StoredInt.decode) ?? 0, last >= 0 else {
            throw PlinthError(corruptValue(Keyspace.databaseLogHeadKey, "the database log's head"))
        }
        if applied < last { applied = try awaitDatabaseLogApplied(last) }
        if applied < last {
            throw PlinthError(sqlstate: .serializationFailure,
                              message: "another server created, dropped or changed a database, and this server has not applied the change yet",
                              detail: "Database log entry \(last) is in the store; this server has applied up to \(applied).",
                              hint: "The transaction might succeed if retried.")
        }
        t.databaseLogHeadRead = (found, last)
        return (found, last)
    }

    /// Polls this server's position in the database log until it reaches
    /// `seq` or plinth.server_timeout passes; answers query cancel.
    private func awaitDatabaseLogApplied(_ seq: Int64) throws(PlinthError) -> Int64 {
        let key = Keyspace.databaseLogPositionKey(server: try server())
        let limit = monotonicNanos() + UInt64(max(config.serverTimeoutMilliseconds, 0)) * 1_000_000
        var pause = 1
        while true {
            let applied = try storeCall { () throws(StoreError) -> Int64 in
                try transact { tr throws(StoreError) in try readInt(tr, key, snapshot: true, "a database log position") ?? 0 }
            }
            if applied >= seq || monotonicNanos() >= limit { return applied }
            try storeCall { () throws(StoreError) in try StoreInterrupts.sleep(milliseconds: pause) }
            pause = min(pause * 2, 50)
        }
    }

    /// ROLLBACK TO SAVEPOINT, RELEASE: as for the schema log.
    func rollbackDatabases(subid: UInt32) {
        current?.pendingDatabases.removeAll { $0.subid >= subid }
    }

    func releaseDatabases(subid: UInt32, to parent: UInt32) {
        guard let t = current else { return }
        for i in t.pendingDatabases.indices where t.pendingDatabases[i].subid == subid { t.pendingDatabases[i].subid = parent }
    }

    // MARK: the other servers

    /// The entries after this server's position, oldest first, at most
    /// `limit` (the worker's).
    public func databaseLogEntries(limit: Int) throws(PlinthError) -> [(seq: Int64, entry: DatabaseLogEntry)] {
        let position = Keyspace.databaseLogPositionKey(server: try server())
        let (_, end) = Keyspace.prefixRange(Keyspace.databaseLogHeadKey)
        let pairs = try storeCall { () throws(StoreError) in
            try transact { tr throws(StoreError) -> [(key: Bytes, value: Bytes)] in
                let applied = try readInt(tr, position, snapshot: true, "a database log position") ?? 0
                guard applied < Int64.max else { return [] }
                return try tr.getRangeAll(Keyspace.databaseLogKey(applied + 1), end, limit: limit, snapshot: true)
            }
        }
        return try decodeLogEntries(pairs, head: Keyspace.databaseLogHeadKey, what: "a database log entry", DatabaseLogEntry.decode)
    }

    /// This server's catalog has entry `seq` of the database log (after
    /// Postgres's commit of the statement, or of a replay): recorded in the
    /// store, where the server's next database statement and the replays
    /// of schema log entries look, and in the volatile space, where the
    /// first server's wait looks. Positions only grow.
    /// `durable: false`: the volatile copy only (the worker's pass, with
    /// the position it read).
    public func noteDatabaseLogApplied(_ seq: Int64, durable: Bool = true) throws(PlinthError) {
        let me = try server()
        try storeCall { () throws(StoreError) in
            if durable {
                try transact { tr throws(StoreError) in
                    try tr.atomicOp(.max, Keyspace.databaseLogPositionKey(server: me), StoredInt.encode(seq))
                }
            }
            try transact(volatile: true) { tr throws(StoreError) in
                try tr.atomicOp(.max, Keyspace.Live.appliedKey(db: Keyspace.databaseLogID, server: me), StoredInt.encode(seq))
            }
        }
    }

    /// This server's position in the database log.
    public func databaseLogPosition() throws(PlinthError) -> Int64 {
        let key = Keyspace.databaseLogPositionKey(server: try server())
        return try storeCall { () throws(StoreError) -> Int64 in
            try transact { tr throws(StoreError) in try readInt(tr, key, snapshot: true, "a database log position") ?? 0 }
        }
    }

    /// A replayed CREATE DATABASE (plinth.replay_database = `seq`): the new
    /// database is the entry's, and its relations, copied from this
    /// server's template, are this server's relations of the template (the
    /// first server copied the data, under the same store ids).
    public func replayCreateDatabase(seq: Int64, oid: UInt32, template: UInt32, cid: UInt32, subid: UInt32) throws(PlinthError) {
        let key = Keyspace.databaseLogKey(seq)
        guard let e = DatabaseLogEntry.decode(try requiredLogEntry(key, "database log entry \(seq)")) else {
            throw PlinthError(corruptValue(key, "a database log entry"))
        }
        guard e.kind == .create, e.databaseID > 0 else { return }
        let me = try server()
        let to = Keyspace.Database(id: e.databaseID)
        // This server's template in the store, and its mappings there, in one round trip or two.
        let (source, mappings) = try storeCall { () throws(StoreError) -> (Int64?, [(key: Bytes, value: Bytes)]) in
            try transact { tr throws(StoreError) in
                guard let source = try readInt(tr, Keyspace.databaseKey(server: me, oid: template), snapshot: true,
                                               "a database id") else { return (nil, []) }
                let from = Keyspace.Database(id: source)
                var pairs: [(key: Bytes, value: Bytes)] = []
                for prefix in [from.relationPrefix(server: me), from.sequencePrefix(server: me)] {
                    let (lo, hi) = Keyspace.prefixRange(prefix)
                    pairs += try tr.getRangeAll(lo, hi, limit: 1_000_000, snapshot: true)
                }
                return (source, pairs)
            }
        }
        let t = try transaction()
        if let source {
            let from = Keyspace.Database(id: source)
            try storeCall { () throws(StoreError) in
                for (k, value) in mappings {
                    guard k.starts(with: from.prefix) else { throw corruptValue(k, "a key of database \(source)") }
                    try t.txn.put(to.prefix + k[from.prefix.count...], value, cid: cid, subid: subid)
                }
            }
        }
        try storeCall { () throws(StoreError) in
            try t.txn.put(Keyspace.databaseKey(server: me, oid: oid), StoredInt.encode(e.databaseID), cid: cid, subid: subid)
        }
    }
}
