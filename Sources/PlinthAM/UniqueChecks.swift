import PlinthEncoding
import PlinthStore
import PlinthTxn

/// Uniqueness checks of rows a statement inserted, run together when the
/// statement ends: one store round trip for all of them, where checking
/// each row as it is inserted costs one per row (on FoundationDB, one
/// network latency per row of a COPY). Each check remembers the executor
/// depth of its statement, so a statement nested in another (a function, a
/// trigger) runs its own checks and leaves its caller's to the caller.
///
/// How a check reads depends on the transaction (`Transaction.ReadMode`):
///  - serializable: the key's range in the transaction's snapshot, a read
///    conflict — a concurrent insert of the same key cannot also commit;
///  - snapshot (READ COMMITTED, REPEATABLE READ): the key's lock first
///    (RowLocks.swift: whoever inserts the same key waits for this
///    transaction, or this one for them), then the newest committed entries
///    — as heap's check reads with a dirty snapshot. A committed entry of a
///    row that a running transaction is deleting (or moving off the key)
///    waits for that transaction, as heap waits for the row's xmax.
struct PendingUniqueChecks {
    struct Check {
        let indexOID: UInt32
        let table: Int64
        let prefix: Bytes      // index prefix and key columns
        let row: Int64
        let depth: Int32
        let building: Bool     // CREATE UNIQUE INDEX: its own message
        /// Snapshot mode: the key's lock is taken.
        var locked = false

        init(indexOID: UInt32, table: Int64, prefix: Bytes, row: Int64, depth: Int32, building: Bool) {
            self.indexOID = indexOID
            self.table = table
            self.prefix = prefix
            self.row = row
            self.depth = depth
            self.building = building
        }
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
    /// them — unless one must wait for another transaction: then every
    /// check stays, with the locks already taken, for the caller to run
    /// again once it waited. `wantTuple`: a violation carries the own
    /// entry's index tuple (the shim's message).
    mutating func run(_ state: TransactionState, minDepth: Int32, _ ctx: LockContext,
                      wantTuple: Bool) throws(PlinthError) -> UniqueOutcome {
        let due = checks.indices.filter { checks[$0].depth >= minDepth }
        guard !due.isEmpty else { return .clear }
        let txn = state.txn
        let ranges = due.map { let (lo, hi) = Keyspace.prefixRange(checks[$0].prefix); return KeyRange(lo, hi) }
        let scans: [ScanIterator]
        if txn.mode == .snapshot {
            let unlocked = due.filter { !checks[$0].locked }
            if !unlocked.isEmpty {
                let prefixes = unlocked.map { Keyspace.Live.keyLockPrefix(db: state.db.id, key: checks[$0].prefix) }
                let (taken, blocked) = try state.lock(prefixes: prefixes, mode: .update, subid: ctx.subid,
                                                      waitXid: ctx.waitXid, topXid: ctx.topXid)
                for i in unlocked.prefix(taken) { checks[i].locked = true }
                if let blocked { return .wait(blocked) }
            }
            scans = try storeCall { () throws(StoreError) in try txn.scanManyCurrent(ranges, .all, firstBatch: 4) }
        } else {
            scans = try storeCall { () throws(StoreError) in try serializableScans(txn, due.map { checks[$0] }, ranges) }
        }
        var found: (Int, Int64)?
        try storeCall { () throws(StoreError) in
            for (i, it) in zip(due, scans) {
                let plen = checks[i].prefix.count
                var ownSeen = false
                var other: Int64?
                while let row = try it.next({ k, _ in Keyspace.rowID(fromKey: k, prefixLength: plen) }) {
                    if row == checks[i].row { ownSeen = true } else { other = row }
                    if ownSeen && other != nil { break }
                }
                // No own entry: the row is gone again (deleted, rolled back).
                // (A check made before its entry is stored has none yet.)
                if let other, ownSeen || !wantTuple {
                    found = (i, other)
                    return
                }
            }
        }
        if let (i, other) = found, txn.mode == .snapshot {
            // A running transaction deleting the other row, or moving it
            // off the key, may yet take the key away: wait for it.
            let c = checks[i]
            if let w = try state.runningHolder(of: Keyspace.Live.rowLockPrefix(db: state.db.id, table: c.table, row: other),
                                               conflictingWith: .keyShare, topXid: ctx.topXid) {
                return .wait(w)
            }
        }
        let doneChecks = Set(due)
        defer {
            checks = checks.enumerated().filter { !doneChecks.contains($0.offset) }.map(\.element)
        }
        guard let (i, _) = found else { return .clear }
        let c = checks[i]
        guard wantTuple else {
            return .violation(UniqueViolation(indexOID: c.indexOID, building: c.building,
                                              tuple: UnsafeRawBufferPointer(start: nil, count: 0)))
        }
        var ownKey = c.prefix
        TupleEncoder.appendInt(c.row, to: &ownKey)
        guard let own = try storeCall({ () throws(StoreError) in try txn.get(ownKey, .all) }) else { return .clear }
        guard IndexTupleFormat.check(own) else { throw PlinthError(corruptValue(ownKey, "an index entry")) }
        violationTuple.deallocate()
        violationTuple = .allocate(byteCount: own.count, alignment: 8)
        violationTuple.copyBytes(from: own)
        return .violation(UniqueViolation(indexOID: c.indexOID, building: c.building,
                                          tuple: UnsafeRawBufferPointer(violationTuple)))
    }

    /// The serializable checks' scans: in the snapshot, each range a read
    /// conflict (widened past `conflictLimit`).
    private mutating func serializableScans(_ txn: Transaction, _ due: [Check],
                                            _ ranges: [KeyRange]) throws(StoreError) -> [ScanIterator] {
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
        return scans
    }
}
