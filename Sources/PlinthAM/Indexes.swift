import PlinthEncoding
import PlinthStore
import PlinthTxn

// Index entries live in the store as
//     (index prefix) (key columns...) (row id)  ->  the Postgres index tuple
// so that range reads return them in index order, and the stored index tuple
// serves index-only scans and rechecks.

/// What the access method needs to know of a Plinth index.
public struct IndexDescriptor: Sendable {
    public let index: Int64
    public let table: Int64
    public let columns: [IndexKey.Column]
    public let unique: Bool
    public let nullsNotDistinct: Bool
    /// Postgres's OID and names of the index and its key columns, for messages.
    public let oid: UInt32
    public let name: String
    public let columnNames: [String]
    /// Per key column: its strings are keyed by a collation's sort key (a
    /// collation other than "C"), which makes their keys longer.
    public let collatedColumns: [Bool]

    public init(index: Int64, table: Int64, columns: [IndexKey.Column], unique: Bool, nullsNotDistinct: Bool, oid: UInt32,
                name: String = "", columnNames: [String] = [], collatedColumns: [Bool] = []) {
        self.index = index
        self.table = table
        self.columns = columns
        self.unique = unique
        self.nullsNotDistinct = nullsNotDistinct
        self.oid = oid
        self.name = name
        self.columnNames = columnNames
        self.collatedColumns = collatedColumns
    }

    /// An entry's key is longer than the store allows: which column takes
    /// how much of it, and what to do.
    func keyTooLarge(keyLength: Int, columns encoded: Bytes) -> PlinthError {
        let spans = encoded.withUnsafeBytes { IndexKey.columnSpans($0, from: 0, count: columns.count) } ?? []
        let widest = spans.enumerated().max { $0.element.count < $1.element.count }
        var detail = "The key of an index entry is \(keyLength) bytes; the store holds keys of at most \(StoreLimits.keyBytes) bytes."
        var collated = false
        if let (i, span) = widest {
            let column = i < columnNames.count ? "\"\(columnNames[i])\"" : "\(i + 1)"
            detail += " Column \(column) takes \(span.count) of them."
            collated = i < collatedColumns.count && collatedColumns[i]
        }
        let hint = collated
            ? "Text under a collation other than \"C\" takes 2 to 4 bytes per character (its sort key, then the text); "
                + "index a shorter expression (left(col, 1000), md5(col)) or use COLLATE \"C\" for this index."
            : "Index a shorter expression of the column (left(col, 1000), md5(col))."
        return PlinthError(sqlstate: .programLimitExceeded,
                           message: "index row of \(keyLength) bytes is too large for index \"\(name)\"",
                           detail: detail, hint: hint)
    }
}

/// Postgres's IndexUniqueCheck.
public enum UniqueCheckKind: Sendable {
    case no, yes, partial, existing
}

/// A uniqueness violation, for the shim to report as heap reports it: the
/// index and the index tuple of the row whose key is not alone. The tuple
/// stays valid until the next violation is found.
public struct UniqueViolation {
    public var indexOID: UInt32
    /// Found by CREATE UNIQUE INDEX: its own message.
    public var building: Bool
    public var tuple: UnsafeRawBufferPointer
}

/// What a uniqueness check came to, when it cannot say yet: a running
/// transaction holds the key (it is inserting it), or is deleting the row
/// that has it — wait for it, as heap waits, then ask again.
public enum UniqueOutcome {
    case clear
    case violation(UniqueViolation)
    case wait(LockAttempt)

    public var violation: UniqueViolation? {
        if case .violation(let v) = self { return v }
        return nil
    }
}

/// The ids a lock is taken under: the subtransaction (savepoints give back
/// its locks), the (sub)transaction id Postgres's lock manager knows it by,
/// and the top-level FullTransactionId.
public struct LockContext: Sendable {
    public var subid: UInt32
    public var waitXid: UInt32
    public var topXid: Int64

    public init(subid: UInt32, waitXid: UInt32, topXid: Int64) {
        self.subid = subid
        self.waitXid = waitXid
        self.topXid = topXid
    }
}

extension TransactionState {
    /// aminsert: stores an entry for row `row` with encoded key columns
    /// `columns`. Returns whether the key is taken by another row (reported
    /// by the shim, unless `check` is partial: deferrable constraints, ON
    /// CONFLICT), what the uniqueness checks that ran because enough were
    /// waiting came to, and — when the entry could not be checked yet —
    /// whom to wait for before calling again (`retry`: nothing was stored).
    public func insertEntry(_ d: IndexDescriptor, columns: Bytes, hasNull: Bool, row: Int64,
                            tuple: UnsafeRawBufferPointer, check: UniqueCheckKind, depth: Int32, building: Bool,
                            cid: UInt32, lockContext: LockContext) throws(PlinthError)
        -> (conflict: Bool, checks: UniqueOutcome, retry: LockAttempt?) {
        let keyPrefix = db.indexPrefix(d.index) + columns
        let checked = d.unique && check != .no && (!hasNull || d.nullsNotDistinct)
        var conflict = false
        var checks = UniqueOutcome.clear
        switch work.timing(checked: checked, check: check, building: building, table: d.table, row: row) {
        case .atStatementEnd:
            if work.uniqueChecks.append(.init(indexOID: d.oid, table: d.table, prefix: keyPrefix, row: row, depth: depth,
                                              building: building)) {
                checks = try runUniqueChecks(fromDepth: depth, lockContext)
            }
        case .now:
            switch try checkKeyNow(keyPrefix, table: d.table, row: row, lockContext) {
            case .wait(let w): return (false, .clear, w)
            case .violation: conflict = true
            case .clear: break
            }
        case .none:
            break
        }
        if check == .existing { return (conflict, checks, nil) }   // a deferred recheck inserts nothing
        if conflict && check == .yes { return (conflict, checks, nil) }   // the shim raises the violation
        var key = keyPrefix
        TupleEncoder.appendInt(row, to: &key)
        if key.count > StoreLimits.keyBytes { throw d.keyTooLarge(keyLength: key.count, columns: columns) }
        let value = Bytes(tuple)
        if building, try session.directPut(index: d.index, key: key, value: value) { return (conflict, checks, nil) }
        try storeCall { () throws(StoreError) in try txn.put(key, value, cid: cid, subid: lockContext.subid, fresh: true) }
        return (conflict, checks, nil)
    }

    /// Deletes the entry of row `row` with encoded key columns `columns`.
    public func deleteEntry(_ d: IndexDescriptor, columns: Bytes, row: Int64, cid: UInt32, subid: UInt32) throws(PlinthError) {
        var key = db.indexPrefix(d.index) + columns
        TupleEncoder.appendInt(row, to: &key)
        try storeCall { () throws(StoreError) in try txn.delete(key, prior: nil, cid: cid, subid: subid) }
    }

    /// The uniqueness check of one entry, now (an UPDATE that moved a row,
    /// ON CONFLICT, deferrable constraints). `.violation`'s tuple is unset:
    /// the shim reports this entry itself.
    func checkKeyNow(_ prefix: Bytes, table: Int64, row: Int64, _ ctx: LockContext) throws(PlinthError) -> UniqueOutcome {
        var checks = PendingUniqueChecks()
        _ = checks.append(.init(indexOID: 0, table: table, prefix: prefix, row: row, depth: 0, building: false))
        return try checks.run(self, minDepth: 0, ctx, wantTuple: false)
    }

    /// Runs the waiting uniqueness checks of statements at `fromDepth` or
    /// deeper: the first violation, or whom to wait for before running the
    /// rest (`resumeUniqueChecks`).
    public func runUniqueChecks(fromDepth depth: Int32, _ ctx: LockContext) throws(PlinthError) -> UniqueOutcome {
        try work.uniqueChecks.run(self, minDepth: depth, ctx, wantTuple: true)
    }

    /// Notes a parent key a foreign key check of a row just written will
    /// look up (the parent's unique index and the key's encoded columns);
    /// reads the noted keys once enough are waiting.
    public func noteParentKey(_ d: IndexDescriptor, columns: Bytes, _ ctx: LockContext) throws(PlinthError) {
        if work.parentKeys.note(table: d.table, prefix: db.indexPrefix(d.index) + columns) {
            try readParentKeys(ctx)
        }
    }

    /// Reads the noted parent keys (`ParentKeyReads`). Under READ COMMITTED
    /// each check is a statement with a snapshot of its own, which drops
    /// what was read for the one before (always on FoundationDB, which
    /// cannot tell that nothing was committed since without a round trip),
    /// so the parents found are also locked now — FOR KEY SHARE, the lock
    /// their checks take — and pinned for the checks (`Transaction.pinParent`):
    /// held under that lock, a parent found now is there, with its key, for
    /// every later snapshot. A parent whose lock another transaction holds,
    /// or that changed since the read, is left to its check.
    func readParentKeys(_ ctx: LockContext) throws(PlinthError) {
        // Past `pinsLeft` (a statement of more than 50,000 parents), the
        // rest are read into the caches only, as before pins: a parent
        // locked now but not pinned would cost its check a read more.
        let pinning = txn.mode == .snapshot && txn.newestStandsForSnapshot && ctx.topXid != 0
            && txn.pinsLeft >= ParentKeyReads.batchLimit
        // Pinned, the rows are read at their newest: not at the snapshot too.
        let found = try storeCall { () throws(StoreError) in try work.parentKeys.read(txn, db, rows: !pinning) }
        guard pinning, !found.isEmpty else { return }
        var prefixes = found.map { Keyspace.Live.rowLockPrefix(db: db.id, table: $0.table, row: $0.row) }
        var pinned = found
        var blockedOnes = 0
        var start = 0
        while start < prefixes.count {
            let (taken, blocked) = try lock(prefixes: Array(prefixes[start...]), mode: .keyShare, subid: ctx.subid,
                                            waitXid: ctx.waitXid, topXid: ctx.topXid)
            start += taken
            guard blocked != nil else { break }
            // Held by a running transaction: its check waits for it.
            prefixes.remove(at: start)
            pinned.remove(at: start)
            blockedOnes += 1
            if blockedOnes >= ParentKeyReads.blockedLimit {
                prefixes.removeSubrange(start...)
                pinned.removeSubrange(start...)
            }
        }
        guard !pinned.isEmpty else { return }
        let keys = pinned.map { db.rowKey($0.table, $0.row) }
        let newest = try storeCall { () throws(StoreError) in try txn.readCurrent(keys) }
        for (p, (key, value)) in zip(pinned, zip(keys, newest)) {
            // A row stored inline, at the same row id: the key is unchanged
            // (an UPDATE of a key column gives the row a new id).
            guard let value, case .inline? = value.withUnsafeBytes({ RowFormat.parse($0) }) else { continue }
            txn.pinParent(range: p.range, batch: p.batch, rowKey: key, value: value, subid: ctx.subid)
        }
    }

    /// Something a statement left for a point of its life (its end, the end
    /// of a batch, the commit) is due: runs it. Returns what the uniqueness
    /// checks came to, for the shim to report (or wait on and resume).
    public func statementEvent(_ event: StatementWork.Event, _ ctx: LockContext) throws(PlinthError) -> UniqueOutcome {
        let due = work.due(at: event)
        // Batched row locks are taken when the outermost statement ends (a
        // foreign key check is a statement of its own: taking them at its
        // end would take them one by one).
        if event.endsOutermostStatement, let w = try takeDeferredLocks() { return .wait(w) }
        if event.followsOutermostChecks { txn.unpinParents() }
        if due.parentKeys { try readParentKeys(ctx) }
        if let depth = due.uniqueChecksFrom { return try runUniqueChecks(fromDepth: depth, ctx) }
        return .clear
    }
}

/// Keys of parent tables that the foreign key checks of rows just written
/// will look up (one index probe and one row fetch per row, each a store
/// round trip): noted as rows are inserted, read together before the
/// checks run, so that the checks find them in the transaction's caches.
/// A hint only: a check that misses the cache reads the store itself.
struct ParentKeyReads {
    private var probes: [(table: Int64, range: KeyRange, prefixLength: Int)] = []
    /// Read when this many wait.
    static let batchLimit = 1_000

    var count: Int { probes.count }

    /// Notes a probe; true when enough wait to read them now.
    mutating func note(table: Int64, prefix: Bytes) -> Bool {
        // A key the store could not hold has no parent to read ahead.
        guard prefix.count < StoreLimits.keyBytes else { return false }
        let (lo, hi) = Keyspace.prefixRange(prefix)
        probes.append((table, KeyRange(lo, hi), prefix.count))
        return probes.count >= Self.batchLimit
    }

    /// Past this many parents locked by others, a read-ahead locks no more.
    static let blockedLimit = 8

    /// A parent key that names one row: its range, the batch read of it,
    /// the row.
    struct Found {
        let range: KeyRange
        let batch: KVBatch
        let table: Int64
        let row: Int64
    }

    /// Two round trips: the index entries, then the rows they name.
    /// Returns the keys that name one row each, once each.
    /// `rows`: read the rows at the snapshot too (into the caches).
    mutating func read(_ txn: Transaction, _ db: Keyspace.Database, rows readRows: Bool) throws(StoreError) -> [Found] {
        defer { probes.removeAll(keepingCapacity: true) }
        guard !probes.isEmpty else { return [] }
        probes.sort { compareBytes($0.range.begin, $1.range.begin) < 0 }
        // As the check's own scan reads them (IndexScan: its first batch).
        let batches = try txn.prefetchRanges(probes.map { $0.range }, firstBatch: 4)
        var rows: [Bytes] = []
        var found: [Found] = []
        var distinct = Set<HashedKey>()   // many children share a parent
        for (p, b) in zip(probes, batches) where !b.isEmpty {
            for i in 0..<b.count {
                guard let row = b.withEntry(i, { k, _ in Keyspace.rowID(fromKey: k, prefixLength: p.prefixLength) })
                else { continue }
                let key = db.rowKey(p.table, row)
                if distinct.insert(HashedKey(key)).inserted {
                    rows.append(key)
                    if b.count == 1 { found.append(Found(range: p.range, batch: b, table: p.table, row: row)) }
                }
            }
        }
        if readRows, !rows.isEmpty { try txn.prefetch(rows) }
        return found
    }
}
