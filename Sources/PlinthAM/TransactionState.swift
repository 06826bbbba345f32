import PlinthEncoding
import PlinthStore
import PlinthTxn

/// What one Postgres transaction holds, dropped whole when it ends: its
/// store transaction (reads, buffered writes), the statistics changes it
/// makes, the rows its bitmap index scans found, and the work its
/// statements leave for their end (`StatementWork`).
public final class TransactionState {
    unowned let session: Session
    public let txn: Transaction
    public let db: Keyspace.Database
    /// Statistics changes of this transaction, per table.
    var statsDelta: [Int64: (rows: Int64, bytes: Int64)] = [:]
    /// Marks of moved rows this transaction wrote, per table (VACUUM's cue).
    var movedDelta: [Int64: Int64] = [:]
    /// Rows a mark of this transaction leads to (`markMoved`).
    var movedTargets: Set<HashedKey> = []
    /// Rows that bitmap index scans of this transaction found, per table.
    var bitmapRows = BitmapRows()
    /// Uniqueness checks and foreign-key read-ahead waiting for the end of
    /// their statement.
    public internal(set) var work = StatementWork()
    /// Tables whose storage this transaction created: no other transaction
    /// can write them before it commits, so their row ids are handed out
    /// here, without the allocator's round trips, and the allocator is
    /// written with the commit — a transaction that aborts leaves no key.
    var freshTables: [Int64: (relfilenode: UInt32, next: Int64)] = [:]
    /// Row and key locks this transaction holds (RowLocks.swift).
    var locks = HeldLocks()
    /// Rows found moved to a new row id once their lock was taken
    /// (`lockRow`), by row key: the lock says so again when asked again.
    var movedRows: [HashedKey: Int64] = [:]
    /// Row locks of the running statement waiting to be taken in a batch.
    var deferred = DeferredRowLocks()
    /// DDL statements this transaction ran, for the schema log at its
    /// commit, with the subtransaction of each.
    var pendingSchema: [(entry: SchemaLogEntry, subid: UInt32)] = []
    /// Database statements this transaction ran, for the database log at
    /// its commit, with the subtransaction of each.
    var pendingDatabases: [(entry: DatabaseLogEntry, subid: UInt32)] = []
    /// The database log's head as this transaction read it (checked again
    /// at its commit), and the entry its own statements took there.
    var databaseLogHeadRead: (found: Bytes?, last: Int64)?
    var databaseLogHead: Int64?
    /// Store ids whose storage this transaction dropped: a DDL it logs
    /// stamps them (`DefinitionGuard.swift`).
    var droppedStorage: [Int64] = []
    /// Why the commit's definition guard failed, to be raised in place of
    /// the store's error.
    var definitionConflict: PlinthError?
    /// Tables this transaction fenced against other servers' writers
    /// (`Session.fenceWriters`).
    var fenced: Set<Int64> = []
    /// Index builds writing straight to the store (DirectLoads.swift).
    var directLoads: [Int64: DirectLoad] = [:]
    /// Databases this transaction copied from a template (their data is in
    /// the store already; cleared if it aborts).
    var copiedDatabases: [Int64] = []

    /// Statistics keys are sharded by backend so that no single key takes
    /// every backend's increments.
    static let statsShards: Int64 = 16

    init(session: Session, txn: Transaction, db: Keyspace.Database) {
        self.session = session
        self.txn = txn
        self.db = db
    }

    func noteRows(_ table: Int64, rows: Int64, bytes: Int64) {
        var d = statsDelta[table] ?? (0, 0)
        d.rows &+= rows
        d.bytes &+= bytes
        statsDelta[table] = d
    }

    /// The statistics changes, as atomic adds sent with the commit: they add
    /// no read conflict, so concurrent transactions never collide on them.
    func flushStatistics(shard: Int64) {
        for (table, n) in movedDelta where n != 0 {
            txn.atomic(.add, db.statsKey(table, shard: shard, field: .moved), StoredInt.encode(n))
        }
        for (table, delta) in statsDelta {
            if delta.rows != 0 { txn.atomic(.add, db.statsKey(table, shard: shard, field: .rows), StoredInt.encode(delta.rows)) }
            if delta.bytes != 0 { txn.atomic(.add, db.statsKey(table, shard: shard, field: .bytes), StoredInt.encode(delta.bytes)) }
        }
    }

    /// A storage that goes with this transaction takes its pending
    /// statistics changes and its unused row ids with it.
    func forget(table: Int64) {
        statsDelta[table] = nil
        movedDelta[table] = nil
        freshTables[table] = nil
        session.forgetRowIDs(table)
    }
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
}

/// The write buffer's answers where the caller reports `PlinthError`: a
/// key the buffer spilled is read back from its spill area, which may fail.
extension WriteBuffer {
    func ownState(_ key: Bytes, _ vis: Visibility) throws(PlinthError) -> BufferedState {
        try storeCall { () throws(StoreError) in try state(key, vis) }
    }

    func ownLatest(_ key: Bytes) throws(PlinthError) -> Version? {
        try storeCall { () throws(StoreError) in try latestVersion(key) }
    }

    func ownFirst(_ key: Bytes) throws(PlinthError) -> Version? {
        try storeCall { () throws(StoreError) in try firstVersion(key) }
    }

    func ownReplacedAValue(_ key: Bytes) throws(PlinthError) -> Bool {
        try storeCall { () throws(StoreError) in try latestReplacedAValue(key) }
    }
}
