import PlinthEncoding
import PlinthStore
import PlinthTxn

/// One scan key as the shim describes it: a key column, a btree strategy
/// and its argument values (several for `= ANY`), already normalised to
/// key elements.
public struct ScanKeySpec: Sendable {
    public enum Kind: Sendable {
        /// column <strategy> values (1 <, 2 <=, 3 =, 4 >=, 5 >)
        case compare(strategy: Int, values: [IndexKey.Value])
        case isNull
        case isNotNull
        /// Cannot bound the scan (another collation, a row comparison):
        /// the executor rechecks it.
        case inexact
        /// Can never be true (a NULL argument, an empty array).
        case never
    }
    public var column: Int
    public var kind: Kind

    public init(column: Int, kind: Kind) {
        self.column = column
        self.kind = kind
    }
}

/// What the scan keys say about one key column, in encoded-key order.
struct ColumnBounds {
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
        if valuesOnly && !col.starts(with: IndexKey.valuePrefix) { return false }
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
/// read ahead in growing batches and their rows prefetched in one round
/// trip per batch, so fetching the rows one by one costs nothing more.
///
/// A search value may be longer than any key the store can hold (an
/// equality with a 20,000-character text): such a range is read as the
/// widest range the store accepts that contains it, and its entries are
/// filtered by the exact one — the answer is heap's (no rows), not an
/// error.
public final class IndexScan {
    let t: TransactionState
    public let descriptor: IndexDescriptor
    let vis: Visibility
    /// SnapshotDirty in a snapshot transaction: the newest committed
    /// entries, through a store transaction of the scan's own.
    private let current: Bool
    private var reader: (any StoreTransaction)?
    let prefixLength: Int
    /// The ranges the scan keys select, in order, and what is read of each
    /// (the same unless the range was clamped to the store's key limit).
    private(set) var ranges: [KeyRange] = []
    private var readRanges: [KeyRange] = []
    private var clamped = false
    private var filters: [(column: Int, bounds: ColumnBounds)] = []

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

    public init(_ session: Session, _ d: IndexDescriptor, _ vis: ReadVisibility, keys: [ScanKeySpec],
                prefetchRows: Bool) throws(PlinthError) {
        t = try session.transaction()
        descriptor = d
        self.vis = vis.visibility
        current = vis.readsCurrent(t.txn) || t.readsDirectLoad(d.index)
        self.prefetchRows = prefetchRows && !current
        let prefix = t.db.indexPrefix(d.index)
        prefixLength = prefix.count
        plan(prefix, keys)
    }

    /// Turns scan keys into ranges and filters (btree's _bt_preprocess_keys
    /// and _bt_first, on encoded keys).
    private func plan(_ prefix: Bytes, _ keys: [ScanKeySpec]) {
        let columns = descriptor.columns
        var bounds = [ColumnBounds](repeating: ColumnBounds(), count: columns.count)
        for sk in keys {
            let col = sk.column
            guard col >= 0 && col < columns.count else { continue }
            let c = columns[col]
            switch sk.kind {
            case .never: bounds[col].never = true
            case .inexact: break
            case .isNull: bounds[col].restrictEqual([IndexKey.encode([.null], [c])])
            case .isNotNull: bounds[col].valuesOnly = true
            case .compare(let s, let values):
                if values.isEmpty { bounds[col].never = true; continue }
                let encoded = values.map { IndexKey.encode([$0], [c]) }
                // In encoded order a DESC column runs backwards.
                let strategy = c.descending && s != 3 ? 6 - s : s
                switch strategy {
                case 1: bounds[col].restrictUpper(encoded[0], inclusive: false)
                case 2: bounds[col].restrictUpper(encoded[0], inclusive: true)
                case 3: bounds[col].restrictEqual(encoded)
                case 4: bounds[col].restrictLower(encoded[0], inclusive: true)
                case 5: bounds[col].restrictLower(encoded[0], inclusive: false)
                default: break
                }
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
        let valueStart = IndexKey.valuePrefix
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
        readRanges = ranges.map { Self.clamp($0) }
        clamped = zip(ranges, readRanges).contains { $0 != $1 }
        // What the ranges do not capture filters entries.
        for c in (bounded ? col + 1 : col)..<bounds.count where !bounds[c].isEmpty {
            filters.append((c, bounds[c]))
        }
    }

    /// The smallest range whose keys fit the store's key limit and that
    /// holds every storable key of `r`: no stored key is longer than the
    /// limit, so a longer begin is cut to the limit (a smaller key) and a
    /// longer end to the limit and incremented (a larger one).
    static func clamp(_ r: KeyRange) -> KeyRange {
        let limit = StoreLimits.keyBytes
        guard r.begin.count > limit || r.end.count > limit else { return r }
        let begin = r.begin.count > limit ? Bytes(r.begin[0..<limit]) : r.begin
        var end = r.end
        if end.count > limit {
            end = Bytes(end[0..<limit])
            while let last = end.last, last == 0xFF { end.removeLast() }
            if end.isEmpty { end = [0xFF] } else { end[end.count - 1] += 1 }
        }
        return KeyRange(begin, end)
    }

    /// The entry's row id (its last element), if it passes the filters.
    private func admit(_ key: UnsafeRawBufferPointer, range: Int) -> Int64? {
        guard let spans = IndexKey.columnSpans(key, from: prefixLength, count: descriptor.columns.count),
              let end = spans.last?.upperBound,
              let (row, after) = try? TupleDecoder.decodeInt(key, at: end), after == key.count else { return nil }
        if clamped, !ranges[range].contains(Bytes(key)) { return nil }
        if !filters.isEmpty {
            let bytes = Bytes(key)
            for (c, b) in filters where !b.admits(bytes[spans[c]]) { return nil }
        }
        return row
    }

    private func openIterator() throws(StoreError) {
        guard rangeIndex >= 0 && rangeIndex < readRanges.count else { it = nil; return }
        var r = readRanges[rangeIndex]
        if let last = lastKey, lastRange == rangeIndex {
            if forward { r.begin = keyAfter(last) } else { r.end = last }
        }
        if current && reader == nil { reader = try t.txn.currentReader() }
        it = r.isEmpty ? nil : t.txn.scan(r, vis, reverse: !forward, firstBatch: min(lookahead * 2, 64), reader: reader)
    }

    /// Reads up to `lookahead` entries ahead, and their rows in one go.
    private func fill() throws(StoreError) {
        queue.removeAll(keepingCapacity: true)
        queuePos = 0
        while queue.count < lookahead && rangeIndex >= 0 && rangeIndex < readRanges.count {
            if it == nil {
                try openIterator()
                if it == nil {
                    rangeIndex += forward ? 1 : -1
                    continue
                }
            }
            let range = rangeIndex
            let got = try it!.next { (k, v) -> (Bytes, Int64, Bytes)?? in
                guard let row = admit(k, range: range) else { return .some(nil) }
                guard IndexTupleFormat.check(v) else { return .none }
                return .some((Bytes(k), row, Bytes(v)))
            }
            switch got {
            case .none:
                it = nil
                rangeIndex += forward ? 1 : -1
            case .some(.none):
                throw StoreError(.storeCorrupted, "an entry of store index \(descriptor.index) is malformed")
            case .some(.some(.none)):
                continue
            case .some(.some(.some(let e))):
                queue.append((e.0, e.1, e.2, rangeIndex))
            }
        }
        lookahead = min(lookahead * 4, 512)
        // Rows of an index whose order follows theirs (a serial key) are
        // neighbours: read as one span.
        if prefetchRows && !queue.isEmpty {
            let rows = queue.map(\.row)
            try t.txn.prefetch(rows.map { t.db.rowKey(descriptor.table, $0) }, spanLimit: nearbySpanLimit(ids: rows))
        }
    }

    /// Starts over from the last entry handed out (or from the end of the
    /// new direction when there is none, or the scan ran off the end).
    private func restart() {
        it = nil
        queue.removeAll()
        queuePos = 0
        if exhausted { lastKey = nil }
        exhausted = false
        rangeIndex = lastKey == nil ? (forward ? 0 : readRanges.count - 1) : lastRange
    }

    /// The next entry in `forward` (or backward) order: its row id and
    /// index tuple, passed to `body`. False at the end.
    public func next(forward dir: Bool, _ body: (Int64, Bytes) -> Void) throws(PlinthError) -> Bool {
        if !started || dir != forward {
            forward = dir
            if !started { lastKey = nil }
            started = true
            restart()
        }
        if queuePos >= queue.count { try storeCall { () throws(StoreError) in try fill() } }
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

    public func markPosition() { mark = (lastKey, lastRange, forward, exhausted) }

    /// Back to the marked entry: the next one handed out is the one after it.
    public func restorePosition() {
        guard let m = mark else { return }
        lastKey = m.key
        lastRange = m.range
        forward = m.forward
        exhausted = m.exhausted
        started = true
        restart()
    }

    /// Row ids of the next entries (a bitmap scan), up to `capacity`, noted
    /// for the bitmap heap scan's read-ahead.
    public func nextRows(into rows: UnsafeMutablePointer<Int64>, capacity: Int) throws(PlinthError) -> Int {
        var count = 0
        while count < capacity, try next(forward: true, { r, _ in rows[count] = r }) { count += 1 }
        t.noteBitmapRows(table: descriptor.table, UnsafeBufferPointer(start: rows, count: count))
        return count
    }
}
