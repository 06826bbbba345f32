import PlinthEncoding
import PlinthStore
import PlinthLMDB
import PlinthFDB
import PlinthTxn
#if canImport(Glibc)
import Glibc
#endif

/// What one Postgres backend holds for as long as it lives: its settings,
/// its store (opened on first use, after fork), the store ids of its server
/// and database, the row ids handed to it, cached statistics, the store
/// work counters, and the running transaction's state (`TransactionState`,
/// dropped whole when the transaction ends). A backend is single-threaded;
/// so is everything here.
public final class Session {
    public struct Config: Equatable, Sendable {
        public var storePath = ""
        public var clusterFile = ""
        public var apiVersion: Int32 = 710
        public var fdbLibrary = ""
        public var timeoutMilliseconds = 5000
        public var durable = true
        public var lifetimeMilliseconds = 5000
        public var mapSizeBytes = 256 << 30
        /// plinth.write_buffer_memory: past it, a transaction's buffered
        /// writes spill to a file in `spillDirectory`.
        public var writeBufferBytes = 64 << 20
        public var spillDirectory = ""
        public var databaseName = ""
        public var databaseOID: UInt32 = 0
        public var serverHome = ""
        public var inRecovery = false
        public var serverIDPath = ""
        /// The file that names the store this server's tables are in
        /// (empty: not checked).
        public var storeIDPath = ""
        public var backendID: Int32 = 0
        /// plinth.server_timeout: also how long a commit barrier may stand
        /// still before a waiter finishes the commit itself.
        public var serverTimeoutMilliseconds: Int32 = 10_000
        /// The postmaster's start time: tells this run of the server from
        /// earlier ones (whose transaction ids may be reused).
        public var incarnation: Int64 = 0
        /// Postgres's XactIsoLevel (0 read uncommitted ... 3 serializable).
        public var isolation: Int32 = 1
        public init() {}
    }

    public private(set) var config = Config()
    private var store: (any Store)?
    private var embedded: LMDBStore?
    private var foundationDB: FDBStore?
    private var database: Keyspace.Database?
    private var serverID: Int64?
    /// The running Postgres transaction's state, if it touched the store.
    public private(set) var current: TransactionState?
    /// Row ids handed to this backend and not used yet, per table.
    private var rowIDBlocks: [Int64: (next: Int64, end: Int64, size: Int64)] = [:]
    /// Committed statistics counters read within the last second, per table.
    private var statsCache: [Int64: (rows: Int64, bytes: Int64, at: UInt64)] = [:]
    static let statsCacheNanoseconds: UInt64 = 1_000_000_000
    /// Store work of the session, and where the current statement began.
    public private(set) var sessionCounters = StoreCounters()
    private var statementStart = StoreCounters()
    public private(set) var lastStatement = StoreCounters()
    /// Parallel workers do not see the leader's buffered writes: they must
    /// not read Plinth tables.
    public var isParallelWorker = false
    /// Whether a transaction of this server (a top-level xid) is running:
    /// Postgres's answer, set by the glue.
    public var transactionRunning: (UInt32) throws(StoreError) -> Bool = { _ in true }
    /// Whether this server's heartbeat is recent enough that no other
    /// server can have declared it dead (the shim knows; `commit`).
    public var livenessRecent: () -> Bool = { true }
    /// The store's metadata version as of which this server's catalog had
    /// every committed DDL of the store (the schema worker publishes it),
    /// or nil when not known (`DefinitionGuard.swift`).
    public var schemaCurrentThrough: () -> Int64? = { nil }
    /// The last schema log entry of this database that this server's
    /// catalog has (Int64.max: the database shares no schema).
    public var localSchemaPosition: () throws(StoreError) -> Int64 = { Int64.max }
    /// Whether this backend recorded its server's incarnation in the
    /// volatile space (`Keyspace.Live.serverKey`).
    var incarnationRecorded = false
    /// Heartbeats of servers whose fences writers met, and since when
    /// (this process's clock) each stood still (`fenceHolds`).
    var fenceBeats: [Int64: (beat: Int64, since: UInt64)] = [:]
    /// The liveness worker swept the stages of this server's earlier runs.
    var stagesSwept = false
    /// Fences of a DDL statement that commits transactions of its own
    /// (CREATE INDEX or REINDEX CONCURRENTLY): they stand from its first
    /// scan of each table until the transaction that logs the statement
    /// ends (`liftStatementFences`), under a holder of their own that the
    /// statement's transactions leave running. `ended`: the statement ran.
    var statementFences: (holder: LockHolder, tables: Set<Int64>, ended: Bool)?
    /// Store ids of the storage the running DDL statement created, while
    /// it is one the schema log will hold (SchemaLog.swift).
    var schemaIDs: [Int64]?
    /// The "plinth schema" worker's watch on the schema version, and what
    /// it read with it (`schemaVersion`).
    var schemaWatch: (any StoreWatch)?
    /// The commit barrier's watch: a commit made in steps changes the
    /// metadata version without DDL, and the version published must follow.
    var barrierWatch: (any StoreWatch)?
    var fencesWatch: (any StoreWatch)?
    var watchedSchemaVersion: (logged: Int64, metadata: Int64)?
    /// Portable ids taken from the store's allocator and not given yet.
    var portableIDPool: Range<Int64> = 0..<0
    static let portableIDBlock = 32
    /// Portable ids of the catalog rows the running DDL statement created
    /// (`portableIDs`), for its log entry.
    var schemaTypeIDs: [Int64] = []
    /// Replaying another server's DDL: the store ids its storage takes.
    var replayIDs: ArraySlice<Int64>?
    /// The worker's: each database its last pass listed, and each it has
    /// visited whole, as the store had it then (`databasesToVisit`).
    var toVisit: [String: DatabaseVisit] = [:]
    var visited: [String: DatabaseVisit] = [:]
    /// Replaying: the portable ids its catalog rows take (nil: an entry
    /// logged before format 4).
    var replayTypeIDs: [Int64]?
    /// The replayed entry's store ids include its sequences' (format 2).
    var replaySequences = true
    /// Replaying another server's DDL: table data is not this statement's
    /// to read or write (it is in the store already).
    public internal(set) var replaying = false

    public init() {}

    /// New settings (each transaction hands them over: SET and SIGHUP may
    /// change them).
    public func configure(_ n: Config) {
        (store as? CommitBarrier)?.stallMilliseconds = Self.barrierStall(n)
        guard n != config else { return }
        config = n
        // Settings that may change at run time.
        if let e = embedded {
            var o = e.options
            o.durable = n.durable
            o.lifetimeMilliseconds = n.lifetimeMilliseconds
            e.options = o
        }
        if let f = foundationDB, f.settings.timeoutMilliseconds != n.timeoutMilliseconds {
            f.settings.timeoutMilliseconds = n.timeoutMilliseconds
        }
    }

    // MARK: the store

    public func openStore() throws(PlinthError) -> any Store {
        if let store { return store }
        if !config.clusterFile.isEmpty {
            // "default": FoundationDB's own choice (FDB_CLUSTER_FILE, else
            // /etc/foundationdb/fdb.cluster).
            let file = config.clusterFile == "default" ? nil : config.clusterFile
            let s: FDBStore
            do {
                s = try FDBStore.open(clusterFile: file, apiVersion: config.apiVersion,
                                      libraryPath: config.fdbLibrary.isEmpty ? nil : config.fdbLibrary,
                                      timeoutMilliseconds: config.timeoutMilliseconds)
            } catch {
                var e = PlinthError(error)
                e.hint = "plinth.cluster_file = '\(config.clusterFile)' selects FoundationDB. Install its client "
                    + "library (or set plinth.fdb_library to its path) and check that the cluster is up; "
                    + "an empty plinth.cluster_file selects the embedded store."
                throw e
            }
            try refusing { () throws(PlinthError) in try checkFormat(s) }
            foundationDB = s
            let barriered = CommitBarrier(s, stallMilliseconds: Self.barrierStall(config))
        barriered.committerGone = { [unowned self] id in self.stageOwnerGone(id) }
            store = barriered
            return barriered
        }
        var o = LMDBStore.Options()
        o.durable = config.durable
        o.lifetimeMilliseconds = config.lifetimeMilliseconds
        o.mapSizeBytes = config.mapSizeBytes
        let s = try storeCall { () throws(StoreError) in try LMDBStore(path: config.storePath, options: o) }
        try refusing { () throws(PlinthError) in try checkFormat(s) }
        embedded = s
        let barriered = CommitBarrier(s, stallMilliseconds: Self.barrierStall(config))
        barriered.committerGone = { [unowned self] id in self.stageOwnerGone(id) }
        store = barriered
        return barriered
    }

    /// How long a commit barrier may stand still before a waiter finishes
    /// the commit itself: plinth.server_timeout (when liveness is off, the
    /// default).
    static func barrierStall(_ c: Config) -> Int {
        c.serverTimeoutMilliseconds > 0 ? Int(c.serverTimeoutMilliseconds) : CommitBarrier.defaultStallMilliseconds
    }

    /// The embedded store, when that is the engine in use (tests, faults).
    public var embeddedStore: LMDBStore? { embedded }

    /// Uses the store another session opened (tests: two backends of one
    /// server in one process, which may open an embedded store only once).
    public func useStore(of other: Session) throws(PlinthError) {
        store = try other.openStore()
        embedded = other.embeddedStore
    }

    /// Why the store was refused at open, whole: Plinth's own transactions
    /// (`transact`) report an open that failed as an unavailable store with
    /// its message only, and the entry point reports this instead.
    public private(set) var openRefusal: PlinthError?

    private func refusing(_ check: () throws(PlinthError) -> Void) throws(PlinthError) {
        do {
            try check()
        } catch {
            openRefusal = error
            throw error
        }
    }

    /// Refuses a store written in a format this build does not know, and
    /// one that is not the store this server's tables are in
    /// (`checkIdentity`).
    private func checkFormat(_ s: any Store) throws(PlinthError) {
        // The identity, then when the store was made (Unix seconds).
        let fresh = try IdentityFile.random() + StoredInt.encode(Int64(time(nil)))
        let (found, stored) = try storeCall { () throws(StoreError) -> (Int64?, Bytes) in
            try transact(on: s) { tr throws(StoreError) -> (Int64?, Bytes) in
                // Both in one round trip: every backend reads them once.
                let v = try tr.getMany([Keyspace.formatKey, Keyspace.storeIdentityKey], snapshot: false)
                var found: Int64?
                if let format = v[0] {
                    guard let version = StoredInt.decode(format) else { throw corruptValue(Keyspace.formatKey, "the store's format version") }
                    found = version
                } else {
                    try tr.set(Keyspace.formatKey, StoredInt.encode(Keyspace.formatVersion))
                }
                // Stores made before the identity have none until now.
                if let identity = v[1] { return (found, identity) }
                try tr.set(Keyspace.storeIdentityKey, fresh)
                return (found, fresh)
            }
        }
        if let found, found != Keyspace.formatVersion {
            throw PlinthError(sqlstate: .objectNotInPrerequisiteState,
                              message: "the store holds data in format \(found); this Plinth reads format \(Keyspace.formatVersion)",
                              detail: nil, hint: "Use the Plinth version that wrote this store.")
        }
        guard stored.count >= 16 else { throw PlinthError(corruptValue(Keyspace.storeIdentityKey, "the store's identity")) }
        try checkIdentity(Bytes(stored[0..<16]), made: stored.count >= 24 ? StoredInt.decode(Bytes(stored[16..<24])) : nil)
    }

    /// A server's catalog names tables whose rows are in one store: pointed
    /// at another — the embedded store's directory removed or replaced, a
    /// FoundationDB cluster cleared, a setting changed — its tables would
    /// say they have no data and its new ones collide with what it
    /// recorded. The data directory remembers the store it first used
    /// (`plinth_store_id`, written once the store has its identity) and
    /// any other is refused.
    private func checkIdentity(_ identity: Bytes, made: Int64?) throws(PlinthError) {
        let path = config.storeIDPath
        guard !path.isEmpty else { return }
        let recorded = try IdentityFile.recorded(path) { () throws(PlinthError) in identity }
        guard recorded != identity else { return }
        let hex: (Bytes) -> String = { $0.map(hexByte).joined() }
        let place = config.clusterFile.isEmpty ? "The embedded store at \(config.storePath)" : "The FoundationDB cluster of plinth.cluster_file = '\(config.clusterFile)'"
        throw PlinthError(sqlstate: .objectNotInPrerequisiteState,
                          message: "this server's Plinth tables are in another store",
                          detail: "This server's data directory names store \(hex(recorded)) (\(path)). \(place) is store \(hex(identity))"
                            + (made.map { Int64(time(nil)).subtractingReportingOverflow($0) }
                                .flatMap { $0.overflow || $0.partialValue < 0 ? nil : $0.partialValue }
                                .map { ", made \($0) s ago (a store found missing is made empty)." } ?? "."),
                          hint: "Point plinth.data_directory or plinth.cluster_file back at the store this server used, or restore it. "
                            + "To use this store instead, stop the server and remove \(path): its Plinth tables made before then have no rows here.")
    }

    /// A short transaction of Plinth's own (ids, allocators), with
    /// FoundationDB's retry loop (bounded, and answering interrupts). Never
    /// used to write the user's data. `readsData`: a volatile transaction
    /// that also reads data keys (a row lock reading its row), where the
    /// store keeps both together (`Store.volatileSpaceIsData`): it is made
    /// as a data transaction, through the commit barrier.
    public func transact<R>(on s: (any Store)? = nil, volatile: Bool = false, readsData: Bool = false,
                            _ body: (any StoreTransaction) throws(StoreError) -> R) throws(StoreError) -> R {
        let st: any Store
        if let s { st = s } else {
            do { st = try openStore() } catch { throw StoreError(.storeUnavailable, error.message) }
        }
        // Volatile transactions are round trips, not commits of data.
        return try st.transact(volatile: volatile && !readsData, counters: { c in
            var c = c
            if volatile { c.commits = 0 }
            self.sessionCounters += c
        }, body)
    }

    /// An integer value read in one of Plinth's own transactions.
    func readInt(_ tr: any StoreTransaction, _ key: Bytes, snapshot: Bool, _ what: String) throws(StoreError) -> Int64? {
        guard let v = try tr.get(key, snapshot: snapshot) else { return nil }
        guard let i = StoredInt.decode(v) else { throw corruptValue(key, what) }
        return i
    }

    /// A new id from the store's allocator (tables, indexes, databases,
    /// servers, portable type ids).
    func allocateID() throws(StoreError) -> Int64 {
        try allocateIDs(1)
    }

    /// The first of `count` new consecutive ids from the store's allocator.
    func allocateIDs(_ count: Int64) throws(StoreError) -> Int64 {
        try transact { tr throws(StoreError) -> Int64 in
            let next = try readInt(tr, Keyspace.idAllocatorKey, snapshot: false, "the store id allocator") ?? 1
            guard next > 0, next < Int64.max - count else { throw corruptValue(Keyspace.idAllocatorKey, "the store id allocator") }
            try tr.set(Keyspace.idAllocatorKey, StoredInt.encode(next + count))
            return next
        }
    }

    /// The id recorded at `key`, recorded on first use: the one recorded
    /// at `shared` if there is one (a database another server named
    /// first), else a new one, then recorded at `shared` too.
    private func recordedID(_ key: Bytes, shared: Bytes? = nil, on store: (any Store)? = nil) throws(PlinthError) -> Int64 {
        try storeCall { () throws(StoreError) -> Int64 in
            if let v = try transact(on: store, { tr throws(StoreError) in try readInt(tr, key, snapshot: false, "a store id") }) {
                return v
            }
            let fresh = try allocateID()
            return try transact(on: store) { tr throws(StoreError) -> Int64 in
                if let v = try readInt(tr, key, snapshot: false, "a store id") { return v }
                let id = try shared.flatMap { k throws(StoreError) in try readInt(tr, k, snapshot: false, "a store id") } ?? fresh
                try tr.set(key, StoredInt.encode(id))
                if let shared { try tr.set(shared, StoredInt.encode(id)) }
                return id
            }
        }
    }

    /// This backend's database in the store: found by the server's id and
    /// the database's OID, so that ALTER DATABASE RENAME keeps its tables.
    /// A database this server has not used yet is the store's database of
    /// that name, if there is one: servers sharing a store share it.
    public func db() throws(PlinthError) -> Keyspace.Database {
        if let database { return database }
        let d = Keyspace.Database(id: try recordedID(Keyspace.databaseKey(server: try server(), oid: config.databaseOID),
                                                     shared: Keyspace.databaseNameKey(config.databaseName)))
        database = d
        return d
    }

    /// This server's id if a read of it was done already: for callers that
    /// must not read (`stageOwnerGone`, which runs inside the commit
    /// barrier's wait).
    var knownServerID: Int64? { serverID }

    /// This Postgres server's id in the store: its data directory holds a
    /// random identity (plinth_server_id), the store maps it to a small id.
    /// Read past the commit barrier (no staged commit writes identities):
    /// after a crash, the first read of every new process is this one, and
    /// a reader that knows its server can tell that the commit it waits
    /// for was left by the crash (`stageOwnerGone`).
    public func server() throws(PlinthError) -> Int64 {
        if let serverID { return serverID }
        let uuid = try ServerIdentity.read(path: config.serverIDPath)
        let unbarriered = try openStore().unbarriered
        let id = try recordedID(Keyspace.serverKey(uuid), on: unbarriered)
        try checkHome(uuid, on: unbarriered)
        serverID = id
        return id
    }

    /// A copy of a data directory (cp, pg_basebackup) carries its
    /// original's identity; pointed at the same store, the two would map
    /// each other's relfilenodes to one table. The store records where the
    /// identity lives (host and data directory) and refuses it elsewhere.
    /// A standby only reads: it may share its primary's identity.
    private func checkHome(_ uuid: Bytes, on store: any Store) throws(PlinthError) {
        let key = Keyspace.serverHomeKey(uuid)
        let home = Bytes(config.serverHome.utf8)
        let inRecovery = config.inRecovery
        let found = try storeCall { () throws(StoreError) -> Bytes in
            try transact(on: store) { tr throws(StoreError) -> Bytes in
                if let v = try tr.get(key, snapshot: false) { return v }
                if !inRecovery { try tr.set(key, home) }
                return home
            }
        }
        guard found != home, !inRecovery else { return }
        throw PlinthError(sqlstate: .objectNotInPrerequisiteState,
                          message: "this server's Plinth identity belongs to the server at \(String(decoding: found, as: UTF8.self))",
                          detail: "The identity in \(config.serverIDPath) was first used there. A copy of a data directory shares its original's identity, and two servers with one identity on one store would overwrite each other's tables.",
                          hint: "Give a copied server its own plinth.data_directory. If this data directory was moved, or this server replaces that one, run SELECT plinth_claim_server_identity().")
    }

    /// This server takes over its identity from wherever it was used before.
    public func claimServerIdentity() throws(PlinthError) {
        let key = Keyspace.serverHomeKey(try ServerIdentity.read(path: config.serverIDPath))
        let home = Bytes(config.serverHome.utf8)
        try storeCall { () throws(StoreError) in try transact { tr throws(StoreError) in try tr.set(key, home) } }
        serverID = nil
        database = nil
    }

    /// The backend exits (Postgres's proc_exit, after its own cleanup):
    /// FoundationDB's network stops before exit() tears the process down.
    public func processExiting() {
        // A backend ended by FATAL mid-statement (pg_terminate_backend
        // during CREATE INDEX CONCURRENTLY) never reached its end: its
        // fences would hold other servers' writers off until a restart.
        abandonStatementFences()
        if foundationDB != nil { FDBStore.stopNetwork() }
    }

    // MARK: the Postgres transaction

    /// The state of the running Postgres transaction, begun on first use.
    public func transaction() throws(PlinthError) -> TransactionState {
        if let current { return current }
        // A replayed statement reads and writes table data in an empty space
        // that is never sent to the store; its mappings and log go to the
        // database's own keys.
        let t = TransactionState(session: self, txn: Transaction(store: try openStore()),
                                 db: replaying ? Keyspace.Database(id: Keyspace.replayScratch) : try db())
        if replaying { t.txn.discardedPrefix = t.db.prefix }
        t.txn.stageOwner = (try? stageOwner) ?? []
        t.txn.renewalNanoseconds = min(1_000_000_000, UInt64(max(config.lifetimeMilliseconds, 4)) * 250_000)
        t.txn.mode = Self.readMode(isolation: config.isolation)
        t.txn.newestStandsForSnapshot = config.isolation <= 1
        if t.txn.mode == .snapshot {
            t.txn.buffer.spillThresholdBytes = config.writeBufferBytes
            let directory = config.spillDirectory.isEmpty ? "/tmp" : config.spillDirectory
            t.txn.buffer.spillFactory = { () throws(StoreError) in try Self.newSpillArea(in: directory) }
        }
        // REPEATABLE READ and SERIALIZABLE read one snapshot: the store's
        // is taken as the transaction begins in the store, which is during
        // the statement that took Postgres's, before it can wait for a lock.
        if config.isolation >= 2 { try storeCall { () throws(StoreError) in try t.txn.pinSnapshot() } }
        current = t
        return t
    }

    public var hasTransaction: Bool { current != nil }

    nonisolated(unsafe) private static var spillAreasMade = 0   // one backend, one thread

    /// A spill area of its own for a transaction's buffer, named as
    /// Postgres names temporary files (`pgsql_tmp<pid>.<n>`), so that one a
    /// crash left behind is removed when the server restarts.
    static func newSpillArea(in directory: String) throws(StoreError) -> any SpillArea {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw StoreError(.storeIOError, "could not create directory \"\(directory)\": \(String(cString: strerror(errno)))")
        }
        spillAreasMade += 1
        return try LMDBSpillArea(directory: "\(directory)/pgsql_tmp\(getpid()).plinth\(spillAreasMade)")
    }

    /// SERIALIZABLE keeps FoundationDB's optimistic model; the other levels
    /// read snapshots without conflicts and order writers with row locks.
    /// (SERIALIZABLE READ ONLY comes as REPEATABLE READ: plinth_read_isolation.)
    static func readMode(isolation: Int32) -> Transaction.ReadMode {
        isolation >= 3 ? .serializable : .snapshot
    }

    /// A statement took its snapshot (ExecutorStart). Under READ COMMITTED
    /// it reads a newer one from the store (`Transaction.renewSnapshot`),
    /// statements run inside others included (a foreign key check must see
    /// the rows committed since its statement began).
    /// `foreignKeyCheck`: the statement is one, and reads the parents
    /// pinned for it (`TransactionState.readParentKeys`).
    public func statementSnapshot(isolation: Int32, topLevel: Bool, foreignKeyCheck: Bool) {
        guard let t = current else { return }
        let mode = Self.readMode(isolation: isolation)
        // A SERIALIZABLE transaction made READ ONLY after it read or wrote
        // (Postgres allows it at any time) keeps the conflicts it took.
        if mode == .serializable || t.txn.mode == .snapshot || (!t.txn.hasStoreTransaction && t.txn.buffer.isEmpty) {
            t.txn.mode = mode
        }
        t.txn.newestStandsForSnapshot = isolation <= 1
        t.txn.servesPinnedParents = foreignKeyCheck && isolation <= 1
        if topLevel { t.deferred.statementLocks = 0 }
        if isolation <= 1 { t.txn.renewSnapshot() } else if !t.txn.hasStoreTransaction { try? t.txn.pinSnapshot() }
    }

    /// Whether the holder of a lock (on another server) still runs, and
    /// its server's heartbeat counter (0: none yet), which the waiter
    /// watches (`declareDead`).
    public func holderRunning(_ holder: LockHolder) throws(PlinthError) -> (Bool, Int64) {
        try storeCall { () throws(StoreError) -> (Bool, Int64) in
            try transact(volatile: true) { tr throws(StoreError) -> (Bool, Int64) in
                guard try isRunning(holder, local: false, waitXid: 0, tr) else { return (false, 0) }
                let beat = try tr.get(Keyspace.Live.beatKey(holder.server), snapshot: true).flatMap(StoredInt.decode)
                return (true, beat ?? 0)
            }
        }
    }

    /// Commits the store transaction (XACT_EVENT_PRE_COMMIT): the last moment
    /// a failure can still abort the Postgres transaction cleanly.
    public func commit() throws(PlinthError) {
        guard let t = current else { return }
        defer { end(t) }
        t.flushStatistics(shard: Int64(config.backendID) % TransactionState.statsShards)
        // The allocators of the tables this transaction created, where they
        // still exist: later transactions take row ids after these.
        for (table, f) in t.freshTables where f.next > 0 {
            guard try storeID(relfilenode: f.relfilenode) == table else { continue }
            t.txn.atomic(.max, t.db.rowIdKey(table), StoredInt.encode(f.next))
        }
        // Its row locks are this server's: if other servers declared it
        // dead, they may have taken them — commit nothing then.
        if t.locks.recorded && !livenessRecent() { try checkNotDeclaredDead() }
        try t.releaseLocksWithCommit()
        guardDefinitions(t)
        liftFences(t, commit: true)
        let statementFencesLifted = liftStatementFences(t)
        do {
            try storeCall { () throws(StoreError) in _ = try t.txn.commit() }
            if statementFencesLifted { endStatementFenceHolder() }
        } catch {
            // Refused before anything was written: what index builds wrote
            // directly goes now. (After other failures the commit may have
            // landed; the orphan sweep tells.)
            if let conflict = t.definitionConflict {
                abandonDirectLoads(fromSubid: 0)
                throw conflict
            }
            throw error
        }
        // Our own committed changes show at once, cache or not.
        for (table, d) in t.statsDelta {
            if let c = statsCache[table] { statsCache[table] = (c.rows &+ d.rows, c.bytes &+ d.bytes, c.at) }
        }
    }

    /// Drops the transaction's state; the store transaction ends without
    /// committing (nothing is left of it after a commit).
    public func abort() {
        if statementFences?.ended == true { abandonStatementFences() }
        guard let t = current else { return }
        abandonDirectLoads(fromSubid: 0)
        liftFences(t, commit: false)
        t.txn.abort()
        // Best effort: a copy left by a crash is never found, only kept.
        for id in t.copiedDatabases {
            let (lo, hi) = Keyspace.databaseRange(id)
            _ = try? storeCall { () throws(StoreError) in try transact { tr throws(StoreError) in try tr.clearRange(lo, hi) } }
        }
        end(t)
    }

    private func end(_ t: TransactionState) {
        // The locks go once the writes are in the store, or were dropped.
        // Best effort: a lock left behind is free to anyone who finds its
        // holder ended (RowLocks.swift).
        try? storeCall { () throws(StoreError) in try t.releaseAllLocks() }
        sessionCounters += t.txn.counters
        current = nil
        // An implicit transaction commits after its statement's ExecutorEnd:
        // the commit's work belongs to that statement.
        statementEnded()
    }

    // MARK: counters

    /// Store work so far: the session's, including the running transaction.
    public var counters: StoreCounters {
        var c = sessionCounters
        if let current { c += current.txn.counters }
        return c
    }

    public func statementStarted() { statementStart = counters }
    public func statementEnded() { lastStatement = counters - statementStart }

    // MARK: row ids

    /// A row id unique across every backend and server sharing the store.
    /// Backends take blocks of ids from the table's allocator in short
    /// transactions of their own, growing the block as they insert more, so
    /// the allocator is not a hot key. Ids end at `RowIDs.maximum` (the last
    /// TID Postgres can name): past it, an error, never a wrong TID.
    public func nextRowID(_ table: Int64) throws(PlinthError) -> Int64 {
        if let t = current, var f = t.freshTables[table] {
            guard f.next <= RowIDs.maximum else {
                throw PlinthError(StoreError(.rowIDsExhausted, "store table \(table) has handed out all \(RowIDs.maximum + 1) row ids"))
            }
            let id = f.next
            f.next += 1
            t.freshTables[table] = f
            return id
        }
        if var b = rowIDBlocks[table], b.next < b.end {
            let id = b.next
            b.next += 1
            rowIDBlocks[table] = b
            return id
        }
        let size = min((rowIDBlocks[table]?.size ?? 32) * 2, RowIDs.largestBlock)
        let key = try db().rowIdKey(table)
        let start = try storeCall { () throws(StoreError) -> Int64 in
            try transact { tr throws(StoreError) -> Int64 in
                let next = try readInt(tr, key, snapshot: false, "a row id allocator") ?? 0
                guard next >= 0 else { throw corruptValue(key, "a row id allocator") }
                if next > RowIDs.maximum {
                    throw StoreError(.rowIDsExhausted,
                                     "store table \(table) has handed out all \(RowIDs.maximum + 1) row ids")
                }
                try tr.set(key, StoredInt.encode(min(next + size, RowIDs.maximum + 1)))
                return next
            }
        }
        let end = min(start + size, RowIDs.maximum + 1)
        rowIDBlocks[table] = (start + 1, end, size)
        return start
    }

    /// The row ids handed out for a table so far (all below the allocator).
    public func rowIDLimit(_ table: Int64) throws(PlinthError) -> Int64 {
        if let f = current?.freshTables[table] { return f.next }
        let key = try db().rowIdKey(table)
        return try storeCall { () throws(StoreError) -> Int64 in
            try transact { tr throws(StoreError) -> Int64 in
                let v = try readInt(tr, key, snapshot: true, "a row id allocator") ?? 0
                guard v >= 0 else { throw corruptValue(key, "a row id allocator") }
                return min(v, RowIDs.maximum + 1)
            }
        }
    }

    public func forgetRowIDs(_ table: Int64) { rowIDBlocks[table] = nil }

    // MARK: statistics

    /// Rows and bytes of a table: the committed counters (re-read at most
    /// once a second: every query's planning asks, and estimates need not be
    /// that fresh) plus this transaction's own changes.
    public func statistics(_ table: Int64) throws(PlinthError) -> (rows: Int64, bytes: Int64) {
        let delta = current?.statsDelta[table] ?? (0, 0)
        let now = monotonicNanos()
        if let c = statsCache[table], now - c.at < Self.statsCacheNanoseconds {
            return (max(c.rows &+ delta.rows, 0), max(c.bytes &+ delta.bytes, 0))
        }
        let counters = try committedCounters(table)
        let (rows, bytes) = (counters.rows, counters.bytes)
        if statsCache.count > 10_000 { statsCache.removeAll() }
        statsCache[table] = (rows, bytes, now)
        return (max(rows &+ delta.rows, 0), max(bytes &+ delta.bytes, 0))
    }
}

extension Session {
    /// The sums of a table's committed statistics counters, in one range read.
    func committedCounters(_ table: Int64) throws(PlinthError) -> StatisticsCounters {
        let prefix = try db().statsPrefix(table)
        return try storeCall { () throws(StoreError) -> StatisticsCounters in
            try transact { tr throws(StoreError) -> StatisticsCounters in
                let (b, e) = Keyspace.prefixRange(prefix)
                let r = try tr.getRange(.firstGreaterOrEqual(b), .firstGreaterOrEqual(e), options: RangeOptions(snapshot: true))
                var counters = StatisticsCounters()
                for i in 0..<r.count {
                    // A counter that is not 8 bytes is damaged: skipped, an estimate only.
                    guard let field = r.withEntry(i, { k, _ in Keyspace.statsField(fromKey: k, prefixLength: prefix.count) }),
                          let v = StoredInt.decode(r.valueBytes(i)) else { continue }
                    counters.add(field: field, v)
                }
                return counters
            }
        }
    }
}

/// Sums of a table's sharded statistics counters. Counters are atomic adds
/// of store bytes: a sum saturates rather than trapping on overflow.
struct StatisticsCounters {
    var rows: Int64 = 0
    var bytes: Int64 = 0
    var moved: Int64 = 0

    mutating func add(field: Int64, _ v: Int64) {
        if field == Keyspace.StatsField.rows.rawValue { rows = Self.saturatingAdd(rows, v) }
        else if field == Keyspace.StatsField.bytes.rawValue { bytes = Self.saturatingAdd(bytes, v) }
        else if field == Keyspace.StatsField.moved.rawValue { moved = Self.saturatingAdd(moved, v) }
    }

    static func saturatingAdd(_ a: Int64, _ b: Int64) -> Int64 {
        let (r, overflow) = a.addingReportingOverflow(b)
        return overflow ? (b > 0 ? .max : .min) : r
    }
}

/// Row ids and the TIDs they map to: TID = (row id / 256, row id % 256 + 1),
/// so block numbers stay below InvalidBlockNumber (0xFFFFFFFF) up to
/// `maximum`. Ids are never reused: a table can take 2^40 - 256 inserts and
/// non-in-place updates in its life (docs/design.md, "Row ids").
public enum RowIDs {
    public static let perBlock: Int64 = 256
    /// The last valid row id: block 0xFFFFFFFE, offset 256.
    public static let maximum: Int64 = 0xFFFF_FFFE * 256 + 255
    /// The largest block of ids a backend takes at once.
    public static let largestBlock: Int64 = 16_384
}

/// Files of 16 random bytes in a server's data directory that say which
/// server it is (`plinth_server_id`) and which store its Plinth tables are
/// in (`plinth_store_id`).
enum IdentityFile {
    static func random() throws(PlinthError) -> Bytes {
        var random = Bytes(repeating: 0, count: 16)
        let fd = open("/dev/urandom", O_RDONLY)
        let got = fd < 0 ? -1 : random.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 16) }
        if fd >= 0 { close(fd) }
        if got != 16 {
            throw PlinthError(sqlstate: .ioError, message: "could not read 16 random bytes from /dev/urandom", detail: nil, hint: nil)
        }
        return random
    }

    static func read(_ path: String) -> Bytes? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = Bytes(repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, 64) }
        return n >= 16 ? Bytes(buf[0..<16]) : nil
    }

    /// What `path` holds; when it holds nothing yet, `identity`, written
    /// there whole under a name of this process's own and then linked into
    /// place: a process that loses the race (the server's workers start
    /// together) reads the winner's complete file, never a half-written one.
    static func recorded(_ path: String, else identity: () throws(PlinthError) -> Bytes) throws(PlinthError) -> Bytes {
        if let id = read(path) { return id }
        let new = try identity()
        let temporary = path + ".\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        if fd >= 0 {
            let wrote = new.withUnsafeBytes { write(fd, $0.baseAddress, 16) }
            let synced = fsync(fd)
            close(fd)
            let linked = wrote == 16 && synced == 0 && link(temporary, path) == 0
            unlink(temporary)
            if linked { return new }
        }
        // Another process created it first.
        if let id = read(path) { return id }
        throw PlinthError(sqlstate: .ioError, message: "could not create \"\(path)\": \(String(cString: strerror(errno)))",
                          detail: nil, hint: nil)
    }
}

/// This server's identity: 16 random bytes in `plinth_server_id` in its
/// data directory, created by the first backend that needs it.
enum ServerIdentity {
    static func read(path: String) throws(PlinthError) -> Bytes {
        try IdentityFile.recorded(path, else: IdentityFile.random)
    }
}
