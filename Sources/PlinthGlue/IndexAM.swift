import CPlinth
import PlinthStore
import PlinthTxn

// The index access method's entry points, called by Sources/CPlinth/indexam.c.
// Index entries live in the store as
//     (index prefix) (key columns...) (row id)  ->  the Postgres index tuple
// so that range reads return them in index order, and the stored index tuple
// serves index-only scans and rechecks.

/// An index as the shim describes it.
struct IndexInfo {
    let index: Int64
    let table: Int64
    let columns: [IndexKey.Column]
    let unique: Bool
    let nullsNotDistinct: Bool

    init(_ d: UnsafePointer<PlinthIndexDesc>) {
        let p = d.pointee
        index = p.index_id
        table = p.table_id
        columns = (0..<Int(p.nkeys)).map {
            IndexKey.Column(descending: p.descending[$0] != 0, nullsFirst: p.nulls_first[$0] != 0)
        }
        unique = p.unique
        nullsNotDistinct = p.nulls_not_distinct
    }
}

/// Reads column values from the shim's element array.
struct ElementReader {
    let elems: UnsafePointer<PlinthKeyElement>
    let count: Int
    var i = 0

    init(_ e: UnsafePointer<PlinthKeyElement>?, _ n: Int) {
        elems = e ?? UnsafePointer(bitPattern: 8)!
        count = e == nil ? 0 : n
    }

    mutating func value() -> IndexKey.Value? {
        guard i < count else { return nil }
        let e = elems[i]
        i += 1
        switch PlinthKeyKind(rawValue: UInt32(bitPattern: e.kind)) {
        case PLINTH_KEY_NULL: return .null
        case PLINTH_KEY_INT: return .int(e.i)
        case PLINTH_KEY_UINT: return .uint(UInt64(bitPattern: e.i))
        case PLINTH_KEY_DOUBLE: return .double(e.d)
        case PLINTH_KEY_BYTES:
            return .bytes(e.len == 0 ? [] : Bytes(UnsafeRawBufferPointer(start: e.ptr, count: e.len)))
        case PLINTH_KEY_DECIMAL:
            return .decimal(String(decoding: UnsafeRawBufferPointer(start: e.ptr, count: e.len), as: UTF8.self))
        case PLINTH_KEY_BEGIN_NESTED:
            var inner: [IndexKey.Value] = []
            while i < count {
                if PlinthKeyKind(rawValue: UInt32(bitPattern: elems[i].kind)) == PLINTH_KEY_END_NESTED {
                    i += 1
                    break
                }
                guard let v = value() else { break }
                inner.append(v)
            }
            return .nested(inner)
        default:
            return nil
        }
    }
}

extension IndexInfo {
    var prefix: Bytes {
        get throws(PlinthError) { try Backend.shared.db().indexPrefix(index) }
    }

    /// The encoded key columns of an entry.
    func encodeColumns(_ elems: UnsafePointer<PlinthKeyElement>?, _ n: Int) throws(PlinthError) -> (Bytes, hasNull: Bool) {
        var r = ElementReader(elems, n)
        var out = Bytes()
        var hasNull = false
        for c in columns {
            guard let v = r.value() else {
                throw PlinthError(sqlstate: .internalError, message: "plinth: index key has too few columns")
            }
            if case .null = v { hasNull = true }
            IndexKey.appendColumn(v, c, to: &out)
        }
        return (out, hasNull)
    }
}

/// Whether another row than `row` holds this key: the uniqueness check.
/// Reads the key's range (a read conflict: a concurrent insert of the same
/// key cannot also commit) with every own write visible.
private func otherRowHasKey(_ txn: Transaction, _ prefix: Bytes, _ row: Int64) throws(StoreError) -> Bool {
    let (lo, hi) = Keyspace.prefixRange(prefix)
    let it = txn.scan(KeyRange(lo, hi), .all, firstBatch: 2)
    let plen = prefix.count
    while let other = try it.next({ k, _ in Keyspace.rowID(fromKey: k, prefixLength: plen) }) {
        if other != row { return true }
    }
    return false
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
    mutating func append(_ c: Check) { checks.append(c) }
    mutating func removeAll() {
        checks.removeAll()
        conflictRanges = 0
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
                violationTuple.deallocate()
                violationTuple = .allocate(byteCount: own.count, alignment: 8)
                violationTuple.copyBytes(from: own)
                return (c, UnsafeRawBufferPointer(violationTuple))
            }
        }
        return nil
    }
}

@_cdecl("plinth_swift_index_insert")
public func plinthSwiftIndexInsert(_ d: UnsafePointer<PlinthIndexDesc>, _ elems: UnsafePointer<PlinthKeyElement>?, _ n: Int,
                                   _ row: Int64, _ tuple: UnsafeRawPointer, _ tupleLen: Int, _ check: PlinthUniqueCheck,
                                   _ depth: Int32, _ building: Bool,
                                   _ cid: UInt32, _ subid: UInt32, _ conflict: UnsafeMutablePointer<Bool>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let info = IndexInfo(d)
        let backend = Backend.shared
        let txn = try backend.transaction()
        let (cols, hasNull) = try info.encodeColumns(elems, n)
        let keyPrefix = try info.prefix + cols
        conflict.pointee = false
        let checked = info.unique && check != PLINTH_UNIQUE_NO && (!hasNull || info.nullsNotDistinct)
        // A bulk load sends its writes to the store as it goes: a check that
        // waited could find its duplicate already committed. So it checks
        // at once, before writing, as heap does.
        if checked && check == PLINTH_UNIQUE_LATER && !txn.bulkLoad {
            backend.uniqueChecks.append(.init(indexOID: d.pointee.index_oid, prefix: keyPrefix, row: row,
                                              depth: depth, building: building))
        } else if checked {
            conflict.pointee = try storeCall { () throws(StoreError) in try otherRowHasKey(txn, keyPrefix, row) }
        }
        if check == PLINTH_UNIQUE_EXISTING { return }   // a deferred recheck inserts nothing
        if conflict.pointee && (check == PLINTH_UNIQUE_YES || check == PLINTH_UNIQUE_LATER) { return }   // the shim raises the violation
        var key = keyPrefix
        TupleEncoder.appendInt(row, to: &key)
        if key.count > StoreLimits.keyBytes {
            throw PlinthError(StoreError(.keyTooLarge, "index entry key of \(key.count) bytes exceeds the limit of \(StoreLimits.keyBytes)"))
        }
        let value = Bytes(UnsafeRawBufferPointer(start: tuple, count: tupleLen))
        try storeCall { () throws(StoreError) in try txn.put(key, value, cid: cid, subid: subid, fresh: true) }
    }
}

/// Keys of parent tables that the foreign key checks of rows just written
/// will look up (one index probe and one row fetch per row, each a store
/// round trip): noted as rows are inserted, read together before the
/// checks run, so that the checks find them in the transaction's caches.
struct ParentKeyReads {
    private var probes: [(table: Int64, range: KeyRange, prefixLength: Int)] = []
    static let batchSize = 1_000

    var count: Int { probes.count }

    mutating func note(table: Int64, prefix: Bytes) {
        let (lo, hi) = Keyspace.prefixRange(prefix)
        probes.append((table, KeyRange(lo, hi), prefix.count))
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

/// Notes a parent key a foreign key check will look up (the parent's
/// unique index and the key's elements); `due` says enough are noted to
/// read them now.
@_cdecl("plinth_swift_parent_key_note")
public func plinthSwiftParentKeyNote(_ d: UnsafePointer<PlinthIndexDesc>, _ elems: UnsafePointer<PlinthKeyElement>?,
                                     _ n: Int, _ due: UnsafeMutablePointer<Bool>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let info = IndexInfo(d)
        let backend = Backend.shared
        let prefix = try info.prefix + info.encodeColumns(elems, n).0
        backend.parentKeyReads.note(table: info.table, prefix: prefix)
        due.pointee = backend.parentKeyReads.count >= ParentKeyReads.batchSize
    }
}

@_cdecl("plinth_swift_parent_keys_read")
public func plinthSwiftParentKeysRead() -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let backend = Backend.shared
        guard backend.parentKeyReads.count > 0 else { return }
        let txn = try backend.transaction()
        let db = try backend.db()
        try storeCall { () throws(StoreError) in try backend.parentKeyReads.read(txn, db) }
    }
}

/// Runs the waiting uniqueness checks of statements at `minDepth` or
/// deeper; on a violation fills `out` for the shim to report.
@_cdecl("plinth_swift_unique_checks_run")
public func plinthSwiftUniqueChecksRun(_ minDepth: Int32, _ out: UnsafeMutablePointer<PlinthUniqueViolation>,
                                       _ remaining: UnsafeMutablePointer<Int>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee.found = false
        let backend = Backend.shared
        defer { remaining.pointee = backend.uniqueChecks.count }
        guard backend.uniqueChecks.count > 0 else { return }
        let txn = try backend.transaction()
        let found = try storeCall { () throws(StoreError) in try backend.uniqueChecks.run(txn, minDepth: minDepth) }
        guard let (check, tuple) = found else { return }
        out.pointee.found = true
        out.pointee.building = check.building
        out.pointee.index_oid = check.indexOID
        out.pointee.tuple_len = tuple.count
        out.pointee.tuple = tuple.baseAddress
    }
}

@_cdecl("plinth_swift_index_delete")
public func plinthSwiftIndexDelete(_ d: UnsafePointer<PlinthIndexDesc>, _ elems: UnsafePointer<PlinthKeyElement>?, _ n: Int,
                                   _ row: Int64, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let info = IndexInfo(d)
        let txn = try Backend.shared.transaction()
        var key = try info.prefix + info.encodeColumns(elems, n).0
        TupleEncoder.appendInt(row, to: &key)
        try storeCall { () throws(StoreError) in try txn.delete(key, prior: nil, cid: cid, subid: subid) }
    }
}

// MARK: scans

/// What the scan keys say about one key column, in encoded-key order.
private struct ColumnBounds {
    var equal: [Bytes]?            // allowed values (sorted); nil: any
    var lower: (Bytes, Bool)?      // encoded column, inclusive
    var upper: (Bytes, Bool)?
    var valuesOnly = false         // a bound or IS NOT NULL excludes NULLs
    var never = false

    var isEmpty: Bool {
        equal == nil && lower == nil && upper == nil && !valuesOnly
    }

    mutating func restrictEqual(_ values: [Bytes]) {
        if values.count == 1, equal == nil {
            equal = values   // the common case (= one value): nothing to sort
            return
        }
        let sorted = Array(Set(values)).sorted { compareBytes($0, $1) < 0 }
        if let e = equal {
            let mine = Set(e)
            equal = sorted.filter { mine.contains($0) }
        } else {
            equal = sorted
        }
    }

    mutating func restrictLower(_ v: Bytes, inclusive: Bool) {
        valuesOnly = true
        if let (cur, ci) = lower {
            let c = compareBytes(v, cur)
            if c > 0 || (c == 0 && !inclusive && ci) { lower = (v, inclusive) }
        } else {
            lower = (v, inclusive)
        }
    }

    mutating func restrictUpper(_ v: Bytes, inclusive: Bool) {
        valuesOnly = true
        if let (cur, ci) = upper {
            let c = compareBytes(v, cur)
            if c < 0 || (c == 0 && !inclusive && ci) { upper = (v, inclusive) }
        } else {
            upper = (v, inclusive)
        }
    }

    /// Whether an encoded column satisfies these bounds.
    func admits(_ col: ArraySlice<UInt8>) -> Bool {
        if never { return false }
        let valueMarker: Bytes = [0x15, 0x01]
        if valuesOnly && !col.starts(with: valueMarker) { return false }
        if let (lo, inc) = lower {
            let c = compareBytes(col, lo)
            if c < 0 || (c == 0 && !inc) { return false }
        }
        if let (hi, inc) = upper {
            let c = compareBytes(col, hi)
            if c > 0 || (c == 0 && !inc) { return false }
        }
        if let eq = equal {
            var lo = 0, hi = eq.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if compareBytes(col, eq[mid]) > 0 { lo = mid + 1 } else { hi = mid }
            }
            return lo < eq.count && compareBytes(col, eq[lo]) == 0
        }
        return true
    }
}

/// An index scan: the scan keys become key ranges of the store, in index
/// order; keys that cannot narrow the ranges filter entries. Entries are
/// read ahead in growing batches and their rows prefetched in one round trip
/// per batch, so fetching the rows one by one costs nothing more.
final class IndexScan: Handle {
    let txn: Transaction
    let db: Keyspace.Database
    let info: IndexInfo
    let vis: Visibility
    let prefixLength: Int
    private(set) var ranges: [KeyRange] = []
    private var filters: [(column: Int, bounds: ColumnBounds)] = []
    private var filterColumns = 0

    private var forward = true
    private var started = false
    private var exhausted = false
    /// The range the iterator reads.
    private var rangeIndex = 0
    private var it: ScanIterator?
    /// Entries read ahead, each with the range it came from.
    private var queue: [(key: Bytes, row: Int64, tuple: Bytes, range: Int)] = []
    private var queuePos = 0
    private var lookahead = 8
    /// Where the scan stands: the last entry handed out.
    private var lastKey: Bytes?
    private var lastRange = 0
    private var mark: (key: Bytes?, range: Int, forward: Bool, exhausted: Bool)?
    let prefetchRows: Bool
    /// Bulk mode: entries of rows written since the scan began are skipped.
    private var rowBound: Int64?

    init(_ info: IndexInfo, vis: Visibility, keys: UnsafePointer<PlinthScanKey>?, nkeys: Int, prefetchRows: Bool) throws(PlinthError) {
        let b = Backend.shared
        txn = try b.transaction()
        db = try b.db()
        self.info = info
        self.vis = vis
        self.prefetchRows = prefetchRows
        let prefix = db.indexPrefix(info.index)
        prefixLength = prefix.count
        super.init()
        rowBound = try b.scanRowIDBound(info.table)
        try plan(prefix, keys, nkeys)
    }

    /// Turns scan keys into ranges and filters (btree's _bt_preprocess_keys
    /// and _bt_first, on encoded keys).
    private func plan(_ prefix: Bytes, _ keys: UnsafePointer<PlinthScanKey>?, _ nkeys: Int) throws(PlinthError) {
        var bounds = [ColumnBounds](repeating: ColumnBounds(), count: info.columns.count)
        for k in 0..<nkeys {
            let sk = keys![k]
            let col = Int(sk.column)
            guard col >= 0 && col < info.columns.count else { continue }
            if sk.flags & UInt32(PLINTH_SK_NEVER) != 0 { bounds[col].never = true; continue }
            if sk.flags & UInt32(PLINTH_SK_INEXACT) != 0 { continue }
            let c = info.columns[col]
            if sk.flags & UInt32(PLINTH_SK_ISNULL) != 0 {
                bounds[col].restrictEqual([IndexKey.encode([.null], [c])])
                continue
            }
            if sk.flags & UInt32(PLINTH_SK_NOTNULL) != 0 {
                bounds[col].valuesOnly = true
                continue
            }
            var r = ElementReader(sk.elems, sk.nelems)
            var values: [Bytes] = []
            for _ in 0..<Int(sk.nvalues) {
                guard let v = r.value() else { break }
                values.append(IndexKey.encode([v], [c]))
            }
            if values.isEmpty { bounds[col].never = true; continue }
            // In encoded order a DESC column runs backwards.
            var strategy = Int(sk.strategy)
            if c.descending && strategy != 3 { strategy = 6 - strategy }
            switch strategy {
            case 1: bounds[col].restrictUpper(values[0], inclusive: false)
            case 2: bounds[col].restrictUpper(values[0], inclusive: true)
            case 3: bounds[col].restrictEqual(values)
            case 4: bounds[col].restrictLower(values[0], inclusive: true)
            case 5: bounds[col].restrictLower(values[0], inclusive: false)
            default: break
            }
        }
        if bounds.contains(where: { $0.never || ($0.equal?.isEmpty ?? false) }) { return }

        // Leading columns with equalities make prefixes (IN lists multiply
        // them, up to a limit); the next column bounds the range.
        var prefixes = [prefix]
        var col = 0
        while col < bounds.count, let eq = bounds[col].equal, prefixes.count * eq.count <= 10_000 {
            let admitted = eq.filter { bounds[col].admits($0[...]) }
            prefixes = prefixes.flatMap { p in admitted.map { p + $0 } }
            col += 1
        }
        let valueStart: Bytes = [0x15, 0x01]
        let bounded = col < bounds.count && bounds[col].equal == nil && !bounds[col].isEmpty
        for p in prefixes {
            if bounded {
                let b = bounds[col]
                let lo: Bytes = b.lower.map { $0.1 ? p + $0.0 : p + $0.0 + [0xFF] } ?? (p + valueStart)
                let hi: Bytes = b.upper.map { $0.1 ? p + $0.0 + [0xFF] : p + $0.0 } ?? (p + valueStart + [0xFF])
                if compareBytes(lo, hi) < 0 { ranges.append(KeyRange(lo, hi)) }
            } else {
                let (lo, hi) = Keyspace.prefixRange(p)
                ranges.append(KeyRange(lo, hi))
            }
        }
        ranges.sort { compareBytes($0.begin, $1.begin) < 0 }
        // What the ranges do not capture filters entries.
        for c in (bounded ? col + 1 : col)..<bounds.count where !bounds[c].isEmpty {
            filters.append((c, bounds[c]))
        }
        filterColumns = (filters.map { $0.column }.max() ?? -1) + 1
    }

    /// The entry's row id (its last element), if it passes the filters.
    private func admit(_ key: UnsafeRawBufferPointer) -> Int64? {
        guard let spans = IndexKey.columnSpans(key, from: prefixLength, count: info.columns.count),
              let end = spans.last?.upperBound,
              let (row, after) = try? TupleDecoder.decodeInt(key, at: end), after == key.count else { return nil }
        if let rowBound, row >= rowBound { return nil }
        if !filters.isEmpty {
            let bytes = Bytes(key)
            for (c, b) in filters where !b.admits(bytes[spans[c]]) { return nil }
        }
        return row
    }

    private func openIterator() {
        guard rangeIndex >= 0 && rangeIndex < ranges.count else { it = nil; return }
        var r = ranges[rangeIndex]
        if let last = lastKey, lastRange == rangeIndex {
            if forward { r.begin = keyAfter(last) } else { r.end = last }
        }
        it = r.isEmpty ? nil : txn.scan(r, vis, reverse: !forward, firstBatch: min(lookahead * 2, 64))
    }

    /// Reads up to `lookahead` entries ahead, and their rows in one go.
    private func fill() throws(StoreError) {
        queue.removeAll(keepingCapacity: true)
        queuePos = 0
        var rows: [Bytes] = []
        while queue.count < lookahead && rangeIndex >= 0 && rangeIndex < ranges.count {
            if it == nil {
                openIterator()
                if it == nil {
                    rangeIndex += forward ? 1 : -1
                    continue
                }
            }
            let got = try it!.next { (k, v) -> (Bytes, Int64, Bytes)? in
                guard let row = admit(k) else { return nil }
                return (Bytes(k), row, Bytes(v))
            }
            switch got {
            case .none:
                it = nil
                rangeIndex += forward ? 1 : -1
            case .some(.none):
                continue
            case .some(.some(let e)):
                queue.append((e.0, e.1, e.2, rangeIndex))
                if prefetchRows { rows.append(db.rowKey(info.table, e.1)) }
            }
        }
        lookahead = min(lookahead * 4, 512)
        if !rows.isEmpty { try txn.prefetch(rows) }
    }

    /// Starts over from the last entry handed out (or from the end of the
    /// new direction when there is none, or the scan ran off the end).
    private func restart() {
        it = nil
        queue.removeAll()
        queuePos = 0
        if exhausted { lastKey = nil }
        exhausted = false
        rangeIndex = lastKey == nil ? (forward ? 0 : ranges.count - 1) : lastRange
    }

    func next(forward dir: Bool, _ body: (Int64, Bytes) -> Void) throws(StoreError) -> Bool {
        if !started || dir != forward {
            forward = dir
            if !started { lastKey = nil }
            started = true
            restart()
        }
        if queuePos >= queue.count { try fill() }
        guard queuePos < queue.count else {
            exhausted = true
            return false
        }
        let e = queue[queuePos]
        queuePos += 1
        lastKey = e.key
        lastRange = e.range
        body(e.row, e.tuple)
        return true
    }

    func markPosition() { mark = (lastKey, lastRange, forward, exhausted) }

    /// Back to the marked entry: the next one handed out is the one after it.
    func restorePosition() {
        guard let m = mark else { return }
        lastKey = m.key
        lastRange = m.range
        forward = m.forward
        exhausted = m.exhausted
        started = true
        restart()
    }
}

@_cdecl("plinth_swift_index_scan_begin")
public func plinthSwiftIndexScanBegin(_ d: UnsafePointer<PlinthIndexDesc>, _ vis: PlinthVisibility,
                                      _ keys: UnsafePointer<PlinthScanKey>?, _ nkeys: Int, _ prefetchRows: Bool,
                                      _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee = retain(try IndexScan(IndexInfo(d), vis: Visibility(vis), keys: keys, nkeys: nkeys, prefetchRows: prefetchRows))
    }
}

/// The next entry: its row id and index tuple (copied into `tuple`, which
/// the shim provides with room for `cap` bytes; *len is set even when it
/// does not fit, and then nothing is copied).
@_cdecl("plinth_swift_index_scan_next")
public func plinthSwiftIndexScanNext(_ scan: UnsafeMutableRawPointer, _ forward: Bool, _ found: UnsafeMutablePointer<Bool>,
                                     _ row: UnsafeMutablePointer<Int64>, _ fetcher: UnsafeMutableRawPointer,
                                     _ tuple: UnsafeMutablePointer<UnsafeMutableRawPointer?>, _ len: UnsafeMutablePointer<Int>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let s = handle(scan, as: IndexScan.self)
        let f = handle(fetcher, as: Fetcher.self)
        found.pointee = try storeCall { () throws(StoreError) in
            try s.next(forward: forward) { r, t in
                row.pointee = r
                f.buffer.reserve(t.count)
                t.withUnsafeBytes { if $0.count > 0 { f.buffer.base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
                tuple.pointee = f.buffer.base
                len.pointee = t.count
            }
        }
    }
}

@_cdecl("plinth_swift_index_scan_mark")
public func plinthSwiftIndexScanMark(_ scan: UnsafeMutableRawPointer) { handle(scan, as: IndexScan.self).markPosition() }

@_cdecl("plinth_swift_index_scan_restore")
public func plinthSwiftIndexScanRestore(_ scan: UnsafeMutableRawPointer) { handle(scan, as: IndexScan.self).restorePosition() }

/// Every entry's row id, for a bitmap scan: up to `cap` per call.
@_cdecl("plinth_swift_index_scan_rows")
public func plinthSwiftIndexScanRows(_ scan: UnsafeMutableRawPointer, _ rows: UnsafeMutablePointer<Int64>, _ cap: Int,
                                     _ n: UnsafeMutablePointer<Int>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let s = handle(scan, as: IndexScan.self)
        var count = 0
        try storeCall { () throws(StoreError) in
            while count < cap, try s.next(forward: true, { r, _ in rows[count] = r }) { count += 1 }
        }
        Backend.shared.bitmapRows.add(table: s.info.table, UnsafeBufferPointer(start: rows, count: count))
        n.pointee = count
    }
}

/// Every entry of the index (VACUUM's bulk delete, CREATE INDEX
/// CONCURRENTLY's validation): row ids in key order, `cap` per call, with
/// the full keys so that entries can be deleted.
@_cdecl("plinth_swift_index_count")
public func plinthSwiftIndexCount(_ d: UnsafePointer<PlinthIndexDesc>, _ n: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let info = IndexInfo(d)
        let b = Backend.shared
        let txn = try b.transaction()
        let (lo, hi) = Keyspace.prefixRange(try info.prefix)
        let it = txn.scan(KeyRange(lo, hi), .all, firstBatch: 1024)
        var count: Int64 = 0
        try storeCall { () throws(StoreError) in
            while try it.next({ _, _ in true }) != nil { count += 1 }
        }
        n.pointee = count
    }
}
