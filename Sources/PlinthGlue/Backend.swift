import CPlinth
import PlinthStore
import PlinthLMDB
import PlinthFDB
import PlinthTxn
#if canImport(Glibc)
import Glibc
#endif

/// What one Postgres backend process holds: its store (opened on first use,
/// after fork), the ids of its database and server, the Postgres
/// transaction's store transaction, and caches of row ids and statistics.
/// A backend is single-threaded; so is everything here.
final class Backend {
    nonisolated(unsafe) static let shared = Backend()

    private init() {
        // Every wait of the store answers Postgres's interrupts.
        StoreInterrupts.poll = { plinth_interrupt_pending() && plinth_interrupt_raised() }
    }

    struct Config: Equatable {
        var storePath = ""
        var clusterFile = ""
        var apiVersion: Int32 = 710
        var fdbLibrary = ""
        var timeoutMilliseconds = 5000
        var durable = true
        var lifetimeMilliseconds = 5000
        var mapSizeBytes = 256 << 30
        var databaseName = ""
        var databaseOID: UInt32 = 0
        var serverHome = ""
        var inRecovery = false
        var serverIDPath = ""
        var backendID: Int32 = 0
        var bulkLoad = false
    }

    private(set) var config = Config()
    private var store: (any Store)?
    private var embedded: LMDBStore?
    private var foundationDB: FDBStore?
    private var database: Keyspace.Database?
    private var serverID: Int64?
    private var current: Transaction?
    /// Row ids handed to this backend and not used yet, per table.
    private var rowIDBlocks: [Int64: (next: Int64, end: Int64, size: Int64)] = [:]
    /// Statistics changes of the current transaction, per table.
    var statsDelta: [Int64: (rows: Int64, bytes: Int64)] = [:]
    /// Store work of the session, and where the current statement began.
    private(set) var sessionCounters = StoreCounters()
    var statementStart = StoreCounters()
    private(set) var lastStatement = StoreCounters()
    /// Rows that bitmap index scans of this transaction found, per table.
    var bitmapRows = BitmapRows()
    /// Uniqueness checks waiting for the end of their statement (IndexAM.swift).
    var uniqueChecks = PendingUniqueChecks()
    /// Parent keys the foreign key checks of written rows will read (IndexAM.swift).
    var parentKeyReads = ParentKeyReads()
    /// Parallel workers do not see the leader's buffered writes: they must not read Plinth tables.
    var isParallelWorker = false

    func configure(_ c: PlinthConfig) {
        var n = Config()
        n.storePath = String(cString: c.store_path)
        n.clusterFile = String(cString: c.cluster_file)
        n.apiVersion = c.api_version
        n.fdbLibrary = String(cString: c.fdb_library)
        n.timeoutMilliseconds = Int(c.timeout_ms)
        n.durable = c.durable
        n.lifetimeMilliseconds = Int(c.lifetime_ms)
        n.mapSizeBytes = Int(c.map_size_bytes)
        n.databaseName = String(cString: c.database_name)
        n.databaseOID = c.database_oid
        n.serverHome = String(cString: c.server_home)
        n.inRecovery = c.in_recovery
        n.serverIDPath = String(cString: c.server_id_path)
        n.backendID = c.backend_id
        n.bulkLoad = c.bulk_load
        current?.bulkLoad = n.bulkLoad
        if n != config {
            config = n
            // Settings that may change at run time (SIGHUP, SET).
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
    }

    // MARK: the store

    func openStore() throws(PlinthError) -> any Store {
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
            try checkFormat(s)
            foundationDB = s
            store = s
            return s
        }
        var o = LMDBStore.Options()
        o.durable = config.durable
        o.lifetimeMilliseconds = config.lifetimeMilliseconds
        o.mapSizeBytes = config.mapSizeBytes
        let s = try storeCall { () throws(StoreError) in try LMDBStore(path: config.storePath, options: o) }
        try checkFormat(s)
        embedded = s
        store = s
        return s
    }

    /// Refuses a store written in a format this build does not know.
    private func checkFormat(_ s: any Store) throws(PlinthError) {
        let found = try storeCall { () throws(StoreError) -> Int64? in
            try transact(on: s) { tr throws(StoreError) -> Int64? in
                if let v = try tr.get(Keyspace.formatKey, snapshot: false) {
                    return Self.decodeInt(v)
                }
                try tr.set(Keyspace.formatKey, Self.encodeInt(Keyspace.formatVersion))
                return nil
            }
        }
        if let found, found != Keyspace.formatVersion {
            throw PlinthError(sqlstate: .objectNotInPrerequisiteState,
                              message: "the store holds data in format \(found); this Plinth reads format \(Keyspace.formatVersion)",
                              detail: nil, hint: "Use the Plinth version that wrote this store.")
        }
    }

    /// A short transaction of Plinth's own (ids, allocators), with
    /// FoundationDB's retry loop. Never used for the user's data.
    func transact<R>(on s: (any Store)? = nil, _ body: (any StoreTransaction) throws(StoreError) -> R) throws(StoreError) -> R {
        let st: any Store
        if let s { st = s } else {
            do { st = try openStore() } catch { throw StoreError(.storeUnavailable, error.message) }
        }
        return try st.transact(counters: { self.sessionCounters += $0 }, body)
    }

    static func encodeInt(_ v: Int64) -> Bytes { withUnsafeBytes(of: v.littleEndian) { Bytes($0) } }
    static func decodeInt(_ b: Bytes) -> Int64 {
        guard b.count == 8 else { return 0 }
        return b.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }
    }

    /// A new id from the store's allocator (tables, indexes, databases, servers).
    func allocateID() throws(StoreError) -> Int64 {
        try transact { tr throws(StoreError) -> Int64 in
            let next = try tr.get(Keyspace.idAllocatorKey, snapshot: false).map(Self.decodeInt) ?? 1
            try tr.set(Keyspace.idAllocatorKey, Self.encodeInt(next + 1))
            return next
        }
    }

    /// The database's keys, its id found (or assigned) in the store by name.
    /// The id recorded at `key`, allocated and recorded on first use.
    private func recordedID(_ key: Bytes) throws(PlinthError) -> Int64 {
        try storeCall { () throws(StoreError) -> Int64 in
            if let v = try transact({ tr throws(StoreError) in try tr.get(key, snapshot: false) }) {
                return Self.decodeInt(v)
            }
            let fresh = try allocateID()
            return try transact { tr throws(StoreError) -> Int64 in
                if let v = try tr.get(key, snapshot: false) { return Self.decodeInt(v) }
                try tr.set(key, Self.encodeInt(fresh))
                return fresh
            }
        }
    }

    /// This backend's database in the store: found by the server's id and
    /// the database's OID, so that ALTER DATABASE RENAME keeps its tables.
    func db() throws(PlinthError) -> Keyspace.Database {
        if let database { return database }
        let d = Keyspace.Database(id: try recordedID(Keyspace.databaseKey(server: try server(), oid: config.databaseOID)))
        database = d
        return d
    }

    /// This Postgres server's id in the store: its data directory holds a
    /// random identity (plinth_server_id), the store maps it to a small id.
    func server() throws(PlinthError) -> Int64 {
        if let serverID { return serverID }
        let uuid = try serverIdentity()
        let id = try recordedID(Keyspace.serverKey(uuid))
        try checkHome(uuid)
        serverID = id
        return id
    }

    /// A copy of a data directory (cp, pg_basebackup) carries its
    /// original's identity; pointed at the same store, the two would map
    /// each other's relfilenodes to one table. The store records where the
    /// identity lives (host and data directory) and refuses it elsewhere.
    /// A standby only reads: it may share its primary's identity.
    private func checkHome(_ uuid: Bytes) throws(PlinthError) {
        let key = Keyspace.serverHomeKey(uuid)
        let home = Bytes(config.serverHome.utf8)
        let inRecovery = config.inRecovery
        let found = try storeCall { () throws(StoreError) -> Bytes in
            try transact { tr throws(StoreError) -> Bytes in
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
    func claimServerIdentity() throws(PlinthError) {
        let key = Keyspace.serverHomeKey(try serverIdentity())
        let home = Bytes(config.serverHome.utf8)
        try storeCall { () throws(StoreError) in try transact { tr throws(StoreError) in try tr.set(key, home) } }
        serverID = nil
        database = nil
    }

    /// DROP DATABASE: the database's keys go with this transaction.
    func dropDatabase(_ oid: UInt32, cid: UInt32, subid: UInt32) throws(PlinthError) {
        let key = Keyspace.databaseKey(server: try server(), oid: oid)
        guard let id = try storeCall({ () throws(StoreError) -> Int64? in
            try transact { tr throws(StoreError) -> Int64? in try tr.get(key, snapshot: false).map(Self.decodeInt) }
        }) else { return }
        let txn = try transaction()
        let (lo, hi) = Keyspace.databaseRange(id)
        try storeCall { () throws(StoreError) in
            try txn.clearRange(KeyRange(lo, hi), cid: cid, subid: subid)
            try txn.delete(key, prior: nil, cid: cid, subid: subid)
        }
    }

    private func serverIdentity() throws(PlinthError) -> Bytes {
        let path = config.serverIDPath
        func readIdentity() -> Bytes? {
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var buf = Bytes(repeating: 0, count: 64)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 64) }
            return n >= 16 ? Bytes(buf[0..<16]) : nil
        }
        if let id = readIdentity() { return id }
        var random = Bytes(repeating: 0, count: 16)
        let rfd = open("/dev/urandom", O_RDONLY)
        let got = rfd < 0 ? -1 : random.withUnsafeMutableBytes { read(rfd, $0.baseAddress, 16) }
        if rfd >= 0 { close(rfd) }
        if got != 16 {
            throw PlinthError(sqlstate: .ioError, message: "could not generate this server's identity", detail: nil, hint: nil)
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        if fd >= 0 {
            _ = random.withUnsafeBytes { write(fd, $0.baseAddress, 16) }
            fsync(fd)
            close(fd)
            return random
        }
        // Another backend created it first.
        if let id = readIdentity() { return id }
        throw PlinthError(sqlstate: .ioError, message: "could not create \"\(path)\": \(String(cString: strerror(errno)))",
                          detail: nil, hint: nil)
    }

    // MARK: the Postgres transaction

    /// The store transaction of the running Postgres transaction.
    func transaction() throws(PlinthError) -> Transaction {
        if let current { return current }
        let t = Transaction(store: try openStore())
        t.bulkLoad = config.bulkLoad
        current = t
        return t
    }

    var hasTransaction: Bool { current != nil }

    /// Commits the store transaction (XACT_EVENT_PRE_COMMIT): the last moment
    /// a failure can still abort the Postgres transaction cleanly.
    func commit() throws(PlinthError) {
        guard let t = current else { return }
        defer { endTransaction(t) }
        try flushStatistics(t)
        try storeCall { () throws(StoreError) in _ = try t.commit() }
        // Our own committed changes show at once, cache or not.
        for (table, d) in statsDelta {
            if let c = statsCache[table] { statsCache[table] = (c.rows + d.rows, c.bytes + d.bytes, c.at) }
        }
    }

    func abort() {
        guard let t = current else { return }
        t.abort()
        endTransaction(t)
    }

    private func endTransaction(_ t: Transaction) {
        sessionCounters += t.counters
        current = nil
        statsDelta.removeAll()
        bitmapRows.removeAll()
        uniqueChecks.removeAll()
        parentKeyReads = ParentKeyReads()
        // An implicit transaction commits after its statement's ExecutorEnd:
        // the commit's work belongs to that statement.
        statementEnded()
    }

    /// Store work so far: the session's, including the running transaction.
    var counters: StoreCounters {
        var c = sessionCounters
        if let current { c += current.counters }
        return c
    }

    func statementEnded() {
        lastStatement = counters - statementStart
    }

    // MARK: row ids

    /// A row id unique across every backend and server sharing the store.
    /// Backends take blocks of ids from the table's allocator in short
    /// transactions of their own, growing the block as they insert more, so
    /// the allocator is not a hot key.
    func nextRowID(_ table: Int64) throws(PlinthError) -> Int64 {
        if var b = rowIDBlocks[table], b.next < b.end {
            let id = b.next
            b.next += 1
            rowIDBlocks[table] = b
            return id
        }
        let size = min((rowIDBlocks[table]?.size ?? 32) * 2, 16_384)
        let key = try db().rowIdKey(table)
        let start = try storeCall { () throws(StoreError) -> Int64 in
            try transact { tr throws(StoreError) -> Int64 in
                let next = try tr.get(key, snapshot: false).map(Self.decodeInt) ?? 0
                try tr.set(key, Self.encodeInt(next + size))
                return next
            }
        }
        rowIDBlocks[table] = (start + 1, start + size, size)
        return start
    }

    /// The row ids handed out for a table so far (all below the allocator).
    func rowIDLimit(_ table: Int64) throws(PlinthError) -> Int64 {
        let key = try db().rowIdKey(table)
        return try storeCall { () throws(StoreError) -> Int64 in
            try transact { tr throws(StoreError) -> Int64 in
                try tr.get(key, snapshot: true).map(Self.decodeInt) ?? 0
            }
        }
    }

    func forgetRowIDs(_ table: Int64) { rowIDBlocks[table] = nil }

    /// Bulk mode only: the row ids a scan starting now may see. Rows this
    /// transaction writes from now on get ids at or above it — their
    /// batches may reach the store before the scan ends, and the scanning
    /// statement must not see its own rows (INSERT INTO t SELECT * FROM t).
    func scanRowIDBound(_ table: Int64) throws(PlinthError) -> Int64? {
        guard let t = current, t.bulkLoad else { return nil }
        forgetRowIDs(table)
        return try rowIDLimit(table)
    }

    // MARK: statistics

    /// Statistics keys are sharded by backend so that no single key takes
    /// every backend's increments.
    static let statsShards: Int64 = 16

    func noteRows(_ table: Int64, rows: Int64, bytes: Int64) {
        var d = statsDelta[table] ?? (0, 0)
        d.rows += rows
        d.bytes += bytes
        statsDelta[table] = d
    }

    private func flushStatistics(_ t: Transaction) throws(PlinthError) {
        guard !statsDelta.isEmpty else { return }
        let d = try db()
        let shard = Int64(config.backendID) % Self.statsShards
        for (table, delta) in statsDelta {
            if delta.rows != 0 { t.atomic(.add, d.statsKey(table, shard: shard, field: 0), Self.encodeInt(delta.rows)) }
            if delta.bytes != 0 { t.atomic(.add, d.statsKey(table, shard: shard, field: 1), Self.encodeInt(delta.bytes)) }
        }
    }

    /// Committed counters read within the last second are reused: every
    /// query's planning asks, and estimates need not be that fresh.
    private var statsCache: [Int64: (rows: Int64, bytes: Int64, at: UInt64)] = [:]
    static let statsCacheNanoseconds: UInt64 = 1_000_000_000

    /// Rows and bytes of a table: the committed counters plus this
    /// transaction's own changes.
    func statistics(_ table: Int64) throws(PlinthError) -> (rows: Int64, bytes: Int64) {
        let now = nowNanoseconds()
        if let c = statsCache[table], now - c.at < Self.statsCacheNanoseconds {
            let d = statsDelta[table] ?? (0, 0)
            return (max(c.rows + d.rows, 0), max(c.bytes + d.bytes, 0))
        }
        let prefix = try db().statsPrefix(table)
        var rows: Int64 = 0, bytes: Int64 = 0
        try storeCall { () throws(StoreError) in
            try transact { tr throws(StoreError) in
                let (b, e) = Keyspace.prefixRange(prefix)
                let r = try tr.getRange(.firstGreaterOrEqual(b), .firstGreaterOrEqual(e), options: RangeOptions(snapshot: true))
                for i in 0..<r.count {
                    let k = r.keyBytes(i)
                    let v = Self.decodeInt(r.valueBytes(i))
                    if k.last == 0x14 { rows += v } else { bytes += v }   // field 0 packs as 0x14
                }
            }
        }
        if statsCache.count > 10_000 { statsCache.removeAll() }
        statsCache[table] = (rows, bytes, now)
        if let d = statsDelta[table] { rows += d.rows; bytes += d.bytes }
        return (max(rows, 0), max(bytes, 0))
    }
}

func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// The row ids bitmap index scans found, per table, so that a bitmap heap
/// scan, which asks for its rows page by page, can read ahead: the rows of
/// the next pages in the same round trip. An index scan under a BitmapAnd
/// may name rows the heap scan never asks for; reading ahead is bounded, so
/// that costs little.
struct BitmapRows {
    static let readAhead = 1024
    static let limit = 200_000
    private var rows: [Int64: [Int64]] = [:]
    private var sorted: Set<Int64> = []

    mutating func add(table: Int64, _ found: UnsafeBufferPointer<Int64>) {
        guard !found.isEmpty else { return }
        if (rows[table]?.count ?? 0) + found.count > Self.limit { rows[table] = nil }
        rows[table, default: []].append(contentsOf: found)
        sorted.remove(table)
    }

    /// Up to `count` row ids from `row` on, in order.
    mutating func ahead(table: Int64, from row: Int64, count: Int) -> ArraySlice<Int64> {
        guard rows[table] != nil else { return [] }
        if !sorted.contains(table) {
            rows[table]!.sort()
            sorted.insert(table)
        }
        let list = rows[table]!
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid] < row { lo = mid + 1 } else { hi = mid }
        }
        return list[lo..<min(lo + count, list.count)]
    }

    mutating func removeAll() {
        rows.removeAll()
        sorted.removeAll()
    }
}
