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

extension TransactionState {
    /// aminsert: stores an entry for row `row` with encoded key columns
    /// `columns`. Returns whether the key is taken by another row (reported
    /// by the shim, unless `check` is partial: deferrable constraints), or
    /// a violation found by the uniqueness checks that ran because enough
    /// were waiting.
    public func insertEntry(_ d: IndexDescriptor, columns: Bytes, hasNull: Bool, row: Int64,
                            tuple: UnsafeRawBufferPointer, check: UniqueCheckKind, depth: Int32, building: Bool,
                            cid: UInt32, subid: UInt32) throws(PlinthError) -> (conflict: Bool, violation: UniqueViolation?) {
        let keyPrefix = db.indexPrefix(d.index) + columns
        let checked = d.unique && check != .no && (!hasNull || d.nullsNotDistinct)
        var conflict = false
        var violation: UniqueViolation?
        switch work.timing(checked: checked, check: check, building: building, table: d.table, row: row,
                           bulkLoad: txn.bulkLoad) {
        case .atStatementEnd:
            if work.uniqueChecks.append(.init(indexOID: d.oid, prefix: keyPrefix, row: row, depth: depth, building: building)) {
                violation = try runUniqueChecks(fromDepth: depth)
            }
        case .now:
            conflict = try storeCall { () throws(StoreError) in try otherRowHasKey(keyPrefix, row) }
        case .none:
            break
        }
        if check == .existing { return (conflict, violation) }   // a deferred recheck inserts nothing
        if conflict && check == .yes { return (conflict, violation) }   // the shim raises the violation
        var key = keyPrefix
        TupleEncoder.appendInt(row, to: &key)
        if key.count > StoreLimits.keyBytes { throw d.keyTooLarge(keyLength: key.count, columns: columns) }
        let value = Bytes(tuple)
        try storeCall { () throws(StoreError) in try txn.put(key, value, cid: cid, subid: subid, fresh: true) }
        return (conflict, violation)
    }

    /// Deletes the entry of row `row` with encoded key columns `columns`.
    public func deleteEntry(_ d: IndexDescriptor, columns: Bytes, row: Int64, cid: UInt32, subid: UInt32) throws(PlinthError) {
        var key = db.indexPrefix(d.index) + columns
        TupleEncoder.appendInt(row, to: &key)
        try storeCall { () throws(StoreError) in try txn.delete(key, prior: nil, cid: cid, subid: subid) }
    }

    /// Whether another row than `row` holds this key: the uniqueness check.
    /// Reads the key's range (a read conflict: a concurrent insert of the
    /// same key cannot also commit) with every own write visible.
    func otherRowHasKey(_ prefix: Bytes, _ row: Int64) throws(StoreError) -> Bool {
        let (lo, hi) = Keyspace.prefixRange(prefix)
        let it = txn.scan(KeyRange(lo, hi), .all, firstBatch: 2)
        let plen = prefix.count
        while let other = try it.next({ k, _ in Keyspace.rowID(fromKey: k, prefixLength: plen) }) {
            if other != row { return true }
        }
        return false
    }

    /// Runs the waiting uniqueness checks of statements at `fromDepth` or
    /// deeper; returns the first violation.
    func runUniqueChecks(fromDepth depth: Int32) throws(PlinthError) -> UniqueViolation? {
        guard let (check, tuple) = try storeCall({ () throws(StoreError) in try work.uniqueChecks.run(txn, minDepth: depth) })
        else { return nil }
        return UniqueViolation(indexOID: check.indexOID, building: check.building, tuple: tuple)
    }

    /// Notes a parent key a foreign key check of a row just written will
    /// look up (the parent's unique index and the key's encoded columns);
    /// reads the noted keys once enough are waiting.
    public func noteParentKey(_ d: IndexDescriptor, columns: Bytes) throws(PlinthError) {
        if work.parentKeys.note(table: d.table, prefix: db.indexPrefix(d.index) + columns) {
            try storeCall { () throws(StoreError) in try work.parentKeys.read(txn, db) }
        }
    }

    /// Something a statement left for a point of its life (its end, the end
    /// of a batch, the commit) is due: runs it. Returns the first uniqueness
    /// violation found, for the shim to report.
    public func statementEvent(_ event: StatementWork.Event) throws(PlinthError) -> UniqueViolation? {
        let due = work.due(at: event)
        if due.parentKeys {
            try storeCall { () throws(StoreError) in try work.parentKeys.read(txn, db) }
        }
        if let depth = due.uniqueChecksFrom { return try runUniqueChecks(fromDepth: depth) }
        return nil
    }
}

/// Uniqueness checks of rows a statement inserted, run together when the
/// statement ends: one store round trip for all of them, where checking
/// each row as it is inserted costs one per row (on FoundationDB, one
/// network latency per row of a COPY). Each check remembers the executor
/// depth of its statement, so a statement nested in another (a function, a
/// trigger) runs its own checks and leaves its caller's to the caller.
struct PendingUniqueChecks {
    struct Check {
        let indexOID: UInt32
        let prefix: Bytes      // index prefix and key columns
        let row: Int64
        let depth: Int32
        let building: Bool     // CREATE UNIQUE INDEX: its own message
    }

    /// Checks run when this many wait, whether or not the statement ended:
    /// memory stays bounded, the batch large.
    static let batchLimit = 10_000

    /// Read-conflict ranges the checks of this transaction added. Each is
    /// a key prefix, and FoundationDB counts every range against its 10 MB;
    /// past `conflictLimit`, a batch's ranges widen to one per index, from
    /// its lowest key to its highest (as point reads widen past 20,000):
    /// a wider range can add a conflict, never hide one.
    private var conflictRanges = 0
    static let conflictLimit = 20_000

    private(set) var checks: [Check] = []
    /// The own entry of the first violation found (an index tuple), for
    /// the shim's error message; valid until the next violation.
    private var violationTuple = UnsafeMutableRawBufferPointer(start: nil, count: 0)

    var count: Int { checks.count }

    /// Adds a check; true when enough wait to run them now.
    mutating func append(_ c: Check) -> Bool {
        checks.append(c)
        return checks.count >= Self.batchLimit
    }

    /// Runs the checks of statements at `minDepth` or deeper and forgets
    /// them. Returns the first violation: an index and the tuple of the
    /// entry that is not alone with its key.
    mutating func run(_ txn: Transaction, minDepth: Int32) throws(StoreError) -> (Check, UnsafeRawBufferPointer)? {
        var due: [Check] = []
        checks.removeAll { c in
            if c.depth >= minDepth { due.append(c); return true }
            return false
        }
        guard !due.isEmpty else { return nil }
        let ranges = due.map { let (lo, hi) = Keyspace.prefixRange($0.prefix); return KeyRange(lo, hi) }
        let exact = conflictRanges + ranges.count <= Self.conflictLimit
        let scans = try txn.scanMany(ranges, .all, firstBatch: 4, snapshot: !exact)
        if exact {
            conflictRanges += ranges.count
        } else {
            var spans: [UInt32: KeyRange] = [:]
            for (c, r) in zip(due, ranges) {
                if let s = spans[c.indexOID] {
                    spans[c.indexOID] = KeyRange(compareBytes(r.begin, s.begin) < 0 ? r.begin : s.begin,
                                                 compareBytes(r.end, s.end) > 0 ? r.end : s.end)
                } else {
                    spans[c.indexOID] = r
                }
            }
            for r in spans.values { try txn.addReadConflict(r) }
            conflictRanges += spans.count
        }
        for (c, it) in zip(due, scans) {
            let plen = c.prefix.count
            var ownSeen = false
            var others = false
            while let row = try it.next({ k, _ in Keyspace.rowID(fromKey: k, prefixLength: plen) }) {
                if row == c.row { ownSeen = true } else { others = true }
                if ownSeen && others { break }
            }
            // No own entry: the row is gone again (deleted, rolled back).
            // Only a violation needs the entry's value (the tuple to report).
            guard ownSeen && others else { continue }
            var ownKey = c.prefix
            TupleEncoder.appendInt(c.row, to: &ownKey)
            if let own = try txn.get(ownKey, .all) {
                guard IndexTupleFormat.check(own) else { throw corruptValue(ownKey, "an index entry") }
                violationTuple.deallocate()
                violationTuple = .allocate(byteCount: own.count, alignment: 8)
                violationTuple.copyBytes(from: own)
                return (c, UnsafeRawBufferPointer(violationTuple))
            }
        }
        return nil
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

    /// Two round trips: the index entries, then the rows they name.
    mutating func read(_ txn: Transaction, _ db: Keyspace.Database) throws(StoreError) {
        defer { probes.removeAll(keepingCapacity: true) }
        guard !probes.isEmpty else { return }
        probes.sort { compareBytes($0.range.begin, $1.range.begin) < 0 }
        // As the check's own scan reads them (IndexScan: its first batch).
        let batches = try txn.prefetchRanges(probes.map { $0.range }, firstBatch: 4)
        var rows: [Bytes] = []
        var distinct = Set<HashedKey>()   // many children share a parent
        for (p, b) in zip(probes, batches) where !b.isEmpty {
            for i in 0..<b.count {
                guard let row = b.withEntry(i, { k, _ in Keyspace.rowID(fromKey: k, prefixLength: p.prefixLength) })
                else { continue }
                let key = db.rowKey(p.table, row)
                if distinct.insert(HashedKey(key)).inserted { rows.append(key) }
            }
        }
        if !rows.isEmpty { try txn.prefetch(rows) }
    }
}
