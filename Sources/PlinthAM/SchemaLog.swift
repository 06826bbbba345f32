import PlinthEncoding
import PlinthStore
import PlinthTxn
#if canImport(Glibc)
import Glibc
#endif

/// The schema log: each database's DDL, in the order it committed, so
/// that every server sharing the store runs it against its own catalog
/// (docs/design.md, "Several servers, one store").
///
/// - The server that runs a DDL statement appends it to the log with its
///   transaction's commit (`queueSchemaStatement`, `logPendingSchema`): a
///   rollback logs nothing. The commit re-reads the log's head in its
///   store transaction: a concurrent DDL of another server makes one of
///   the two fail (40001), so each entry was run on a catalog that had
///   every earlier one.
/// - The other servers' "plinth schema" worker replays the entries it has
///   not applied (`beginReplay`): the statement runs with table data read
///   from and written to an empty space (`Keyspace.replayScratch`), since
///   the data is in the store already, and its new storage takes the store
///   ids the first server gave it.
/// - After its commit, the first server waits until every live server has
///   applied the entry (`waitForSchemaReplay`): when the statement returns
///   to its client, every server has the new schema.
extension Session {
    /// A DDL statement that will be logged begins: the store ids of the
    /// storage it creates are collected (`createStorage`).
    public func beginSchemaStatement() {
        schemaIDs = []
        schemaTypeIDs = []
    }

    /// The statement ended (run, failed or not logged).
    public func endSchemaStatement() {
        // Its fences go with the transaction that logs it (or ends it).
        statementFences?.ended = true
        schemaIDs = nil
        schemaTypeIDs = []
    }

    /// Portable ids for the `count` pg_type and pg_enum rows the DDL
    /// statement that just ran created (portable.c). A replay takes its
    /// entry's, which must be as many; the first server takes new ones
    /// from the store's allocator, and the statement's log entry carries
    /// them. nil: a replayed entry logged before format 4, whose rows stay
    /// unmapped here as on the server that logged it.
    public func portableIDs(count: Int) throws(PlinthError) -> [Int64]? {
        if replaying {
            guard let ids = replayTypeIDs else { return nil }
            guard ids.count == count else {
                throw PlinthError(sqlstate: .internalError,
                                  message: "the replayed DDL statement created \(count) types and enum labels, "
                                      + "the server that ran it \(ids.count)",
                                  detail: "This server's catalog differs from that server's.", hint: nil)
            }
            return ids
        }
        guard count > 0 else { return [] }
        // Taken in blocks: a store commit per CREATE TABLE (its row and
        // array types) would add one to each; unused ones are a gap.
        if portableIDPool.count < count {
            let n = Int64(max(count, Session.portableIDBlock))
            let first = try storeCall { () throws(StoreError) in try allocateIDs(n) }
            // A portable id is 0x80000000 | id, in an OID's 32 bits.
            guard first + n <= 0x8000_0000 else {
                throw PlinthError(sqlstate: .programLimitExceeded,
                                  message: "the store's id allocator is past 2^31: no portable type ids are left",
                                  detail: nil, hint: nil)
            }
            portableIDPool = first..<(first + n)
        }
        let ids = Array(portableIDPool.prefix(count))
        portableIDPool = portableIDPool.dropFirst(count)
        schemaTypeIDs += ids
        return ids
    }

    /// The statement that just ran goes to the schema log with this
    /// transaction's commit (`logPendingSchema`); a rollback to a savepoint
    /// takes it back (`Session.rollbackSchema`).
    public func queueSchemaStatement(role: String, searchPath: String, statement: String,
                                     subid: UInt32) throws(PlinthError) {
        let t = try transaction()
        let entry = SchemaLogEntry(origin: try server(), role: role, searchPath: searchPath,
                                   statement: statement, storeIDs: schemaIDs ?? [], typeIDs: schemaTypeIDs)
        t.pendingSchema.append((entry, subid))
        schemaIDs = nil
        schemaTypeIDs = []
    }

    public var hasPendingSchema: Bool { !(current?.pendingSchema.isEmpty ?? true) }

    /// At the commit (the shim holds this server's schema lock): the
    /// statements this transaction ran go to the end of the log, read
    /// again by the commit's store transaction, so that another server's
    /// DDL committed meanwhile makes the commit fail (40001). `applied` is
    /// the last entry this server's catalog has (-1: not known): an entry
    /// of another server that it has not applied yet fails it too, since
    /// the statements ran on a catalog without it. Returns the last
    /// sequence number. `relfilenodes`: the relations this transaction
    /// holds a lock on that writers' locks conflict with (stamped, with the
    /// storage it dropped: `stampDefinitions`).
    public func logPendingSchema(applied: Int64, stamping relfilenodes: [UInt32] = []) throws(PlinthError) -> Int64 {
        guard let t = current, !t.pendingSchema.isEmpty else { return 0 }
        let d = try db()
        let head = d.schemaLogHeadKey
        // With the database log's head and this server's position in it,
        // in the same round trip (`databaseLogHead`).
        let position = Keyspace.databaseLogPositionKey(server: try server())
        let (found, databaseLog) = try storeCall { () throws(StoreError) -> (Bytes?, (Bytes?, Bytes?)) in
            try transact { tr throws(StoreError) in
                let v = try tr.getMany([head, Keyspace.databaseLogHeadKey, position], snapshot: true)
                return (v[0], (v[1], v[2]))
            }
        }
        if t.databaseLogHeadRead == nil { try noteDatabaseLogHead(t, found: databaseLog.0, position: databaseLog.1) }
        guard let last = found.map(StoredInt.decode) ?? 0, last >= 0, last <= Int64.max - Int64(t.pendingSchema.count) else {
            throw PlinthError(corruptValue(head, "the schema log's head"))
        }
        if applied >= 0 && last > applied {
            throw PlinthError(sqlstate: .serializationFailure,
                              message: "another server changed the schema of this database, and this server has not applied the change yet",
                              detail: "Schema log entry \(last) is in the store; this server has applied up to \(applied).",
                              hint: "The transaction might succeed if retried.")
        }
        t.txn.checkAtCommit(head, expected: found, error: StoreError(
            .notCommitted, "another server changed the schema of this database at the same time"))
        // The database log this server's catalog has (its own entries of
        // this transaction included): the other servers replay these
        // entries once they have it too. A database statement committing
        // after this read does not fail this commit: this transaction's
        // statements, which ran before it, cannot have seen it here.
        let databases: Int64
        if let own = t.databaseLogHead { databases = own } else { databases = try databaseLogHead(t).last }
        // Savepoints are resolved by now: everything goes with the top level.
        var seq = last
        try storeCall { () throws(StoreError) in
            for (var entry, _) in t.pendingSchema {
                seq += 1
                entry.databaseLogPosition = databases
                try t.txn.put(d.schemaLogKey(seq), entry.encoded, cid: 0, subid: 1)
            }
            try t.txn.put(head, StoredInt.encode(seq), cid: 0, subid: 1)
        }
        t.txn.atomic(.add, Keyspace.schemaVersionKey, StoredInt.encode(1))
        // DROP EXTENSION plinth (the catalog's position went with it): the
        // servers drop it as they replay this, and whoever creates it again
        // starts after it.
        if applied < 0 {
            try storeCall { () throws(StoreError) in
                try t.txn.put(d.extensionKey, ExtensionState(created: false, start: seq).encoded, cid: 0, subid: 1)
            }
        }
        try stampDefinitions(t, relfilenodes: relfilenodes, seq: seq)
        t.pendingSchema = []
        return seq
    }

    /// ROLLBACK TO SAVEPOINT: the statements of the subtransactions rolled
    /// back are not logged.
    public func rollbackSchema(subid: UInt32) {
        current?.pendingSchema.removeAll { $0.subid >= subid }
        rollbackDatabases(subid: subid)
    }

    public func releaseSchema(subid: UInt32, to parent: UInt32) {
        guard let t = current else { return }
        for i in t.pendingSchema.indices where t.pendingSchema[i].subid == subid { t.pendingSchema[i].subid = parent }
        releaseDatabases(subid: subid, to: parent)
    }

    /// Where this server's position in the database's log starts when it
    /// creates the extension: after the last DROP EXTENSION plinth of the
    /// log (its beginning if none), so that a server new to the database
    /// replays the whole schema, and one that had the extension before
    /// replays what was made since it was created again. The database
    /// then has the extension: the other servers' workers create it too.
    /// A database of a store from before this state was kept: the end of
    /// the log for a server that used the database before, else its
    /// beginning.
    public func schemaStart() throws(PlinthError) -> Int64 {
        let d = try db()
        let mapping = Keyspace.databaseKey(server: try server(), oid: config.databaseOID)
        let (state, known, head) = try storeCall { () throws(StoreError) -> (Bytes?, Bool, Int64) in
            try transact { tr throws(StoreError) in
                let v = try tr.getMany([d.extensionKey, mapping, d.schemaLogHeadKey], snapshot: true)
                return (v[0], v[1] != nil, v[2].flatMap(StoredInt.decode) ?? 0)
            }
        }
        var start: Int64 = known ? head : 0
        if let state {
            guard let s = ExtensionState.decode(state) else { throw PlinthError(corruptValue(d.extensionKey, "the extension's state")) }
            start = s.start
        }
        let t = try transaction()
        try storeCall { () throws(StoreError) in
            try t.txn.put(d.extensionKey, ExtensionState(created: true, start: start).encoded, cid: 0, subid: 1)
        }
        // From now on, servers running DDL here wait for this one; and with
        // the extension's commit, this server's worker passes over its
        // databases (a new server replays the schema at once).
        noteSchemaApplied(start)
        t.txn.atomic(.add, Keyspace.schemaVersionKey, StoredInt.encode(1))
        return start
    }

    /// After the commit of CREATE EXTENSION plinth on the server that ran
    /// it first: waits until every live server that has this database
    /// (its mapping) has committed the extension too (its worker creates
    /// it), as for other DDL. Returns the servers given up on.
    public func waitForExtension(timeoutNanos: UInt64, interrupted: () -> Bool) -> [Int64] {
        guard let d = try? db() else { return [] }
        let (begin, end) = Keyspace.prefixRange(Keyspace.databaseMappingsPrefix)
        let pairs = (try? storeCall { () throws(StoreError) in
            try transact { tr throws(StoreError) in try tr.getRangeAll(begin, end, limit: 100_000, snapshot: true) }
        }) ?? []
        var servers: [Int64] = []
        for (key, value) in pairs where StoredInt.decode(value) == d.id {
            guard let t = try? Tuple.unpack(Array(key[Keyspace.databaseMappingsPrefix.count...])), t.elements.count == 2,
                  case .int(let server) = t.elements[0] else { continue }
            servers.append(server)
        }
        return waitForSchemaReplay(1, positions: Keyspace.Live.extensionPrefix(db: d.id), expected: servers,
                                   timeoutNanos: timeoutNanos, interrupted: interrupted)
    }

    /// Whether the servers sharing this server's database `oid` (or, if
    /// this server has not mapped it, the store's database `name`, which it
    /// maps then: the servers creating the extension wait for those that
    /// map the database) have created the extension there (the worker
    /// creates it then).
    public func extensionCreated(oid: UInt32, name: String) throws(PlinthError) -> Bool {
        let mapping = Keyspace.databaseKey(server: try server(), oid: oid)
        return try storeCall { () throws(StoreError) -> Bool in
            try transact { tr throws(StoreError) -> Bool in
                var id = try readInt(tr, mapping, snapshot: false, "a database id")
                if id == nil, let named = try readInt(tr, Keyspace.databaseNameKey(name), snapshot: false, "a database id") {
                    try tr.set(mapping, StoredInt.encode(named))
                    id = named
                }
                guard let id else { return false }
                let key = Keyspace.Database(id: id).extensionKey
                guard let v = try tr.get(key, snapshot: true) else { return false }
                guard let s = ExtensionState.decode(v) else { throw corruptValue(key, "the extension's state") }
                return s.created
            }
        }
    }

    /// The entries after `applied`, oldest first, at most `limit`, up to
    /// the first that needs a database log entry this server has not
    /// applied yet (its worker applies that one first).
    public func schemaLogEntries(after applied: Int64, limit: Int) throws(PlinthError) -> [(seq: Int64, entry: SchemaLogEntry)] {
        // plinth.schema_applied is SQL's to change: no entry follows the last number.
        guard applied < Int64.max else { return [] }
        let d = try db()
        let (_, end) = Keyspace.prefixRange(d.schemaLogHeadKey)
        let begin = d.schemaLogKey(applied + 1)
        let position = Keyspace.databaseLogPositionKey(server: try server())
        let (pairs, databases) = try storeCall { () throws(StoreError) in
            try transact { tr throws(StoreError) in
                (try tr.getRangeAll(begin, end, limit: limit, snapshot: true),
                 try readInt(tr, position, snapshot: true, "a database log position") ?? 0)
            }
        }
        return Array(try decodeLogEntries(pairs, head: d.schemaLogHeadKey, what: "a schema log entry", SchemaLogEntry.decode)
            .prefix { $0.entry.databaseLogPosition <= databases })
    }

    /// The last entry of this database's log.
    public func schemaHead() throws(PlinthError) -> Int64 {
        let key = try db().schemaLogHeadKey
        return try storeCall { () throws(StoreError) -> Int64 in
            try transact { tr throws(StoreError) in try tr.get(key, snapshot: true).flatMap(StoredInt.decode) ?? 0 }
        }
    }

    /// How many DDL statements were logged in every database of the store,
    /// and the store's metadata version, at one read version.
    ///
    /// Read again only once a watch set with the last read fired: on
    /// FoundationDB a worker polling every few milliseconds then costs the
    /// cluster nothing while no DDL commits (every DDL commit advances the
    /// key) and no commit is made in steps (which sets and clears the
    /// commit barrier, each with a new metadata version). The embedded
    /// engine has no watches; its read is local.
    public func schemaVersion() throws(PlinthError) -> (logged: Int64, metadata: Int64) {
        // While fences stand, read again each time: one whose holder
        // ended without lifting it (a failed commit) goes at the next look.
        if let w = schemaWatch, !w.fired, let b = barrierWatch, !b.fired, let f = fencesWatch, !f.fired,
           let v = watchedSchemaVersion, v.metadata != -1 { return v }
        schemaWatch = nil
        barrierWatch = nil
        fencesWatch = nil
        typealias Watches = ((any StoreWatch)?, (any StoreWatch)?, (any StoreWatch)?)
        var stale: [Bytes] = []
        let (v, w) = try storeCall { () throws(StoreError) -> ((Int64, Int64), Watches) in
            try transact { tr throws(StoreError) in
                // While a fence stands, the metadata version is reported
                // as none a store has: writers read the stamps (DefinitionGuard).
                let fences = try fencesStand(tr)
                stale = fences.stale
                let v = (try tr.get(Keyspace.schemaVersionKey, snapshot: true).flatMap(StoredInt.decode) ?? 0,
                         fences.standing ? -1 : try tr.metadataVersion(snapshot: true) ?? 0)
                // Set in the reading transaction: a change after the read fires it.
                return (v, (try tr.watch(Keyspace.schemaVersionKey), try tr.watch(Keyspace.commitBarrierKey),
                            try tr.watch(Keyspace.fencesVersionKey)))
            }
        }
        clearFences(stale)
        schemaWatch = w.0
        barrierWatch = w.1
        fencesWatch = w.2
        watchedSchemaVersion = v
        return v
    }

    /// The databases the worker's pass must visit, by name: each one this
    /// worker has not visited whole yet, and each whose schema log head or
    /// extension state moved since. A database with nothing new costs the
    /// pass no connection, which would hold off DROP DATABASE and CREATE
    /// DATABASE ... TEMPLATE of it while DDL elsewhere keeps the worker
    /// busy. What was visited is kept in this process only: a restarted
    /// server, or one that took over another's identity, has a catalog of
    /// its own to bring up to date, whatever the store says that identity
    /// applied.
    public func databasesToVisit() throws(PlinthError) -> [String] {
        let prefix = Keyspace.databaseNamesPrefix
        let (begin, end) = Keyspace.prefixRange(prefix)
        let (pairs, states) = try storeCall { () throws(StoreError) -> ([(key: Bytes, value: Bytes)], [Bytes?]) in
            try transact { tr throws(StoreError) in
                let pairs = try tr.getRangeAll(begin, end, limit: 100_000, snapshot: true)
                let ids = pairs.map { StoredInt.decode($0.value) ?? 0 }
                return (pairs, try tr.getMany(ids.flatMap { id -> [Bytes] in
                    let d = Keyspace.Database(id: max(id, 0))
                    return [d.extensionKey, d.schemaLogHeadKey]
                }, snapshot: true))
            }
        }
        var names: [String] = []
        var listed: [String: DatabaseVisit] = [:]
        for (i, (key, value)) in pairs.enumerated() {
            guard let t = try? Tuple.unpack(Array(key[prefix.count...])), t.elements.count == 1,
                  case .string(let name) = t.elements[0], let id = StoredInt.decode(value), id > 0 else {
                throw PlinthError(corruptValue(key, "a database name"))
            }
            let visit = DatabaseVisit(id: id, head: states[2 * i + 1].flatMap(StoredInt.decode) ?? 0,
                                      extension: states[2 * i])
            listed[name] = visit
            if visited[name] != visit { names.append(name) }
        }
        toVisit = listed
        return names
    }

    /// The worker's pass applied everything database `name` had pending
    /// when `databasesToVisit` listed it.
    public func databaseVisited(_ name: String) {
        visited[name] = toVisit[name]
    }

    /// This backend runs entry `seq` of another server (the "plinth schema"
    /// worker's connection, plinth.replay): its new storage takes the
    /// entry's store ids, and table data stays as the store has it.
    public func beginReplay(seq: Int64) throws(PlinthError) -> SchemaLogEntry {
        // Table data of a replay goes to the scratch space, chosen as its
        // transaction begins in the store: the replay must begin it.
        if let c = current, c.db.id != Keyspace.replayScratch {
            throw PlinthError(sqlstate: .objectNotInPrerequisiteState,
                              message: "a schema log entry must be replayed in a transaction of its own",
                              detail: "This transaction used Plinth tables before.", hint: nil)
        }
        let key = try db().schemaLogKey(seq)
        guard let e = SchemaLogEntry.decode(try requiredLogEntry(key, "schema log entry \(seq)")) else {
            throw PlinthError(corruptValue(key, "a schema log entry"))
        }
        replayIDs = e.storeIDs[...]
        replayTypeIDs = e.typeIDs
        replaySequences = e.sequencesLogged
        replaying = true
        return e
    }

    /// The entry a replay names (schema or database log), which must be
    /// in the store.
    func requiredLogEntry(_ key: Bytes, _ what: String) throws(PlinthError) -> Bytes {
        guard let v = try storeCall({ () throws(StoreError) -> Bytes? in
            try transact { tr throws(StoreError) in try tr.get(key, snapshot: true) }
        }) else {
            throw PlinthError(sqlstate: .objectNotInPrerequisiteState, message: "\(what) is not in the store",
                              detail: nil, hint: nil)
        }
        return v
    }

    /// Entries of a log (schema or database) as read from the store, by
    /// the sequence number at the end of each key.
    func decodeLogEntries<E>(_ pairs: [(key: Bytes, value: Bytes)], head: Bytes, what: String,
                             _ decode: ([UInt8]) -> E?) throws(PlinthError) -> [(seq: Int64, entry: E)] {
        var out: [(seq: Int64, entry: E)] = []
        for (key, value) in pairs {
            guard let seq = key.withUnsafeBytes({ Keyspace.rowID(fromKey: $0, prefixLength: head.count) }),
                  let e = decode(value) else {
                throw PlinthError(corruptValue(key, what))
            }
            out.append((seq, e))
        }
        return out
    }

    public func endReplay() {
        replaying = false
        replayIDs = nil
        replayTypeIDs = nil
    }

    /// The store id for storage a statement creates: the next of the
    /// replayed entry's, else a fresh one (collected when the statement is
    /// to be logged).
    func storeIDForNewStorage() throws(PlinthError) -> Int64 {
        if replaying {
            guard let id = replayIDs?.popFirst() else {
                throw PlinthError(sqlstate: .internalError,
                                  message: "the replayed DDL statement creates more storage than it did on the server that ran it",
                                  detail: "This server's catalog differs from that server's.", hint: nil)
            }
            return id
        }
        let id = try storeCall { () throws(StoreError) in try allocateID() }
        schemaIDs?.append(id)
        return id
    }

    /// After the commit of a transaction that logged or replayed entry
    /// `seq`: this server's copy of its position (which other servers'
    /// waits read). Best effort: the catalog holds the truth.
    public func noteSchemaApplied(_ seq: Int64) {
        guard let d = try? db(), let me = try? server() else { return }
        _ = try? storeCall { () throws(StoreError) in
            // Positions only grow: a blind maximum (little-endian, as stored).
            try transact(volatile: true) { tr throws(StoreError) in
                try tr.atomicOp(.max, Keyspace.Live.appliedKey(db: d.id, server: me), StoredInt.encode(seq))
            }
        }
    }

    /// The extension was dropped here: this server's position goes (best
    /// effort), so that a server creating it again waits for this one to
    /// create it too (`waitForExtension`), and DDL waits for it no more.
    public func forgetSchemaPosition() {
        guard let d = try? db(), let me = try? server() else { return }
        _ = try? storeCall { () throws(StoreError) in
            try transact(volatile: true) { tr throws(StoreError) in
                try tr.clear(Keyspace.Live.appliedKey(db: d.id, server: me))
                try tr.clear(Keyspace.Live.extensionKey(db: d.id, server: me))
            }
        }
    }

    /// After the commit of CREATE EXTENSION plinth here (by a session or by
    /// the worker): the server that created it first stops waiting for
    /// this one (`waitForExtension`). Best effort.
    public func noteExtensionCreated() {
        guard let d = try? db(), let me = try? server() else { return }
        _ = try? storeCall { () throws(StoreError) in
            try transact(volatile: true) { tr throws(StoreError) in
                try tr.set(Keyspace.Live.extensionKey(db: d.id, server: me), StoredInt.encode(1))
            }
        }
    }

    /// Waits until every other live server has applied entry `seq` of this
    /// database. A server whose position does not move for `timeoutNanos`
    /// (plinth.server_timeout) is no longer waited for; if its heartbeat
    /// stopped too, it is declared dead (it catches up when it restarts),
    /// and one declared dead or stopped is not waited for at all. Returns
    /// the servers given up on; stops early when `interrupted`.
    /// `log`: the database log (`Keyspace.databaseLogID`) rather than this
    /// database's schema log. `expected`: servers waited for even if they
    /// have no position in it yet.
    /// `positions`: another set of positions than a log's (each server's
    /// mark that it has the extension).
    public func waitForSchemaReplay(_ seq: Int64, log: Int64? = nil, positions: Bytes? = nil, expected: [Int64] = [],
                                    timeoutNanos: UInt64, interrupted: () -> Bool) -> [Int64] {
        guard let id = log ?? (try? db())?.id, let me = try? server() else { return [] }
        let prefix = positions ?? Keyspace.Live.appliedPrefix(db: id)
        let (begin, end) = Keyspace.prefixRange(prefix)
        var seen: [Int64: (applied: Int64, beat: Int64?, since: UInt64)] = [:]
        var gaveUp: [Int64] = []
        var pause: UInt32 = 200
        while !interrupted() {
            let behind: [(server: Int64, applied: Int64, run: Int64?, beat: Int64?)]
            do {
                behind = try storeCall { () throws(StoreError) in
                    try transact(volatile: true) { tr throws(StoreError) in
                        var lagging: [(server: Int64, applied: Int64)] = []
                        var missing = Set(expected)
                        for (key, value) in try tr.getRangeAll(begin, end, limit: 10_000, snapshot: true) {
                            let applied = StoredInt.decode(value) ?? 0
                            guard let s = key.withUnsafeBytes({ Keyspace.rowID(fromKey: $0, prefixLength: prefix.count) }) else { continue }
                            missing.remove(s)
                            guard s != me, !gaveUp.contains(s), applied < seq else { continue }
                            lagging.append((s, applied))
                        }
                        for s in missing.sorted() where s != me && !gaveUp.contains(s) { lagging.append((s, -1)) }
                        // Their runs and heartbeats, in one round trip.
                        let records = try tr.getMany(lagging.flatMap { [Keyspace.Live.serverKey($0.server), Keyspace.Live.beatKey($0.server)] },
                                                     snapshot: true).map { $0.flatMap(StoredInt.decode) }
                        return lagging.enumerated().map { i, l in (l.server, l.applied, records[2 * i], records[2 * i + 1]) }
                    }
                }
            } catch {
                return gaveUp
            }
            var waiting = false
            let now = monotonicNanos()
            for b in behind {
                // Stopped or declared dead: it catches up when it starts.
                guard let run = b.run, run >= 0 else { continue }
                if let was = seen[b.server], was.applied == b.applied {
                    if timeoutNanos > 0 && now - was.since >= timeoutNanos {
                        if was.beat == b.beat { try? declareDead(server: b.server, incarnation: run) }
                        gaveUp.append(b.server)
                        continue
                    }
                } else {
                    seen[b.server] = (b.applied, b.beat, now)
                }
                waiting = true
            }
            if !waiting { return gaveUp }
            // A replay takes a few ms: poll often, not ever more rarely.
            usleep(pause)
            pause = min(pause * 2, 2_000)
        }
        return gaveUp
    }

    /// The server stops (its liveness worker): its record says so, as if
    /// declared dead, so that servers running DDL do not wait for it and
    /// its locks are free; it catches up on the schema when it starts.
    public func serverStopping() {
        guard let me = try? server() else { return }
        try? declareDead(server: me, incarnation: config.incarnation)
    }
}

/// A database as the worker's pass found it in the store: its id, its
/// schema log's head, and its extension's state.
struct DatabaseVisit: Equatable {
    var id: Int64
    var head: Int64
    var `extension`: Bytes?
}
