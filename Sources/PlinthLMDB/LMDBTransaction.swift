import CLMDB
import PlinthStore
#if canImport(Glibc)
import Glibc
#endif

/// A transaction of the embedded engine.
///
/// Reads come from one LMDB read transaction (the snapshot at the read
/// version) merged with this transaction's own writes (read-your-writes).
/// Writes are kept in memory — an ordered log to replay and an ordered
/// overlay to read — and applied at commit inside LMDB's write transaction,
/// after `ConflictIndex.check` has found no conflicting commit.
final class LMDBTransaction: StoreTransaction {
    private enum Pending {
        case value(Bytes)
        case cleared
        /// Atomic mutations on a value this transaction has not read or set.
        case atomic([(MutationType, Bytes)])
    }

    private enum Mutation {
        case set(Bytes, Bytes)
        case clear(Bytes)
        case clearRange(Bytes, Bytes)
        case atomic(MutationType, Bytes, Bytes)
    }

    private enum State { case active, committed, cancelled }

    private let store: LMDBStore
    private var reader: LMDBTxn?
    private var readVersion: Int64 = -1
    private var startNanoseconds: UInt64 = 0
    private var state = State.active
    private var lifetimeNanoseconds: UInt64
    /// `readOnly()` was said (kept across a reset, as FoundationDB's is set again).
    private var readsOnly = false

    private var mutations: [Mutation] = []
    /// The overlay holds mutations[..<overlaid]. It is brought up to date by
    /// the first read after writes: a transaction that only writes (a bulk
    /// load's batch) never builds it.
    private var overlaid = 0
    private var overlay = SortedMap<Pending>()
    /// Ranges cleared by this transaction: begin -> end, disjoint.
    private var cleared = SortedMap<Bytes>()
    private var readConflicts: [KeyRange] = []
    /// Keys read one by one: kept as keys (no range built) until commit.
    private var readPoints: [Bytes] = []
    private var writeRanges: [KeyRange] = []
    private var writePoints: [Bytes] = []
    /// Write conflict ranges asked for explicitly (addWriteConflictRange).
    private var explicitWrites: [KeyRange] = []
    /// What the commit would cost against FoundationDB's limit, counted as
    /// the operations come, without merging (`commitSize()` merges).
    private var size = 0
    private var backoffMilliseconds = 10
    private(set) var counters = StoreCounters()

    init(store: LMDBStore) {
        self.store = store
        lifetimeNanoseconds = UInt64(store.options.lifetimeMilliseconds) * 1_000_000
    }

    deinit {
        if let r = reader { store.releaseReader(r) }
    }

    var approximateSize: Int { size }

    // MARK: state and limits

    private func checkUsable() throws(StoreError) {
        switch state {
        case .active: break
        case .committed: throw StoreError(.usedDuringCommit, "Operation issued on a committed transaction")
        case .cancelled: throw StoreError(.transactionCancelled)
        }
    }

    /// FoundationDB's 5-second rule: a read at a read version older than
    /// the lifetime fails, and so does the commit of a transaction that read
    /// at one. Writes are not checked (FoundationDB buffers them), and a
    /// transaction that never read takes its read version at commit.
    /// A transaction that said it only reads (`readOnly()`) reads for as
    /// long as it lives: LMDB keeps the pages of a reader's snapshot until
    /// it ends, and the rule's other reason, the conflict history a commit
    /// is checked against, does not concern it. Its commit, should it
    /// write after all, is checked as any other.
    private func checkAge(commit: Bool = false) throws(StoreError) {
        if readsOnly && !commit { return }
        if reader != nil && monotonicNanoseconds() - startNanoseconds > lifetimeNanoseconds {
            throw StoreError(.transactionTooOld)
        }
    }

    private func ensureReader() throws(StoreError) -> LMDBTxn {
        if let r = reader { return r }
        let r = try store.acquireReader()
        reader = r
        readVersion = r.id
        startNanoseconds = monotonicNanoseconds()
        return r
    }

    func getReadVersion() throws(StoreError) -> Int64 {
        try checkUsable()
        _ = try ensureReader()
        return readVersion
    }

    private static func checkKey(_ key: Bytes) throws(StoreError) {
        if key.count > StoreLimits.keyBytes {
            throw StoreError(.keyTooLarge, "Key length \(key.count) exceeds limit of \(StoreLimits.keyBytes) bytes")
        }
    }

    /// Longest key a read may name and find (FoundationDB's getMaxKeySize):
    /// a longer one is simply absent — reads never fail for a key's length.
    private static let readableKeyBytes = StoreLimits.keyBytes + 8

    private static func checkWritableKey(_ key: Bytes) throws(StoreError) {
        try checkKey(key)
        if key.first == 0xFF {
            throw StoreError(.keyOutsideLegalRange, "Key outside legal range: system keys (\\xff...) cannot be written")
        }
    }

    private func addSize(_ n: Int) { size += n }

    // MARK: reads

    private func snapshotGet(_ key: Bytes, snapshot: Bool) throws(StoreError) -> Bytes? {
        let r = try ensureReader()
        counters.reads += 1
        counters.roundTrips += 1
        if !snapshot {
            readPoints.append(key)
            size += CommitSize.singleKeyRange(key.count)
        }
        let v = try key.withBytes { (k) throws(StoreError) in
            try LogicalSpace(txn: r, dbi: store.data).get(k).map { Bytes($0) }
        }
        counters.bytesRead += Int64(key.count + (v?.count ?? 0))
        return v
    }

    /// A read conflict over `r`, except where this transaction's own writes
    /// decided what the read saw (FoundationDB's read-your-writes layer adds
    /// none for keys it set or cleared itself).
    private func addReadConflict(_ r: KeyRange) {
        syncOverlay()
        guard !r.isEmpty else { return }
        if overlay.isEmpty && cleared.isEmpty {
            readConflicts.append(r)
            size += CommitSize.range(r.begin.count, r.end.count)
            return
        }
        var written: [KeyRange] = []
        overlay.forEach(from: r.begin, to: r.end) { k, p in
            if case .atomic = p { return }   // dependent on what was there: read
            written.append(.single(k))
        }
        cleared.forEach { b, e in
            let c = KeyRange(b, e)
            if c.intersects(r) { written.append(c) }
        }
        var begin = r.begin
        for w in coalesce(written) where compareBytes(w.end, begin) > 0 {
            if compareBytes(begin, w.begin) < 0 {
                let end = compareBytes(w.begin, r.end) < 0 ? w.begin : r.end
                readConflicts.append(KeyRange(begin, end))
                size += CommitSize.range(begin.count, end.count)
            }
            begin = w.end
            if compareBytes(begin, r.end) >= 0 { return }
        }
        if compareBytes(begin, r.end) < 0 {
            readConflicts.append(KeyRange(begin, r.end))
            size += CommitSize.range(begin.count, r.end.count)
        }
    }

    /// The cleared range holding `key`, if any.
    private func clearedRange(containing key: UnsafeRawBufferPointer) -> KeyRange? {
        guard !cleared.isEmpty else { return nil }
        return clearedRange(containing: Bytes(key))
    }

    private func clearedRange(containing key: Bytes) -> KeyRange? {
        guard !cleared.isEmpty else { return nil }
        let i = cleared.index(before: key, orEqual: true)
        guard cleared.isValid(i) else { return nil }
        let end = cleared.value(at: i)
        return compareBytes(key, end) < 0 ? KeyRange(cleared.key(at: i), end) : nil
    }

    /// Replays the mutations not yet in the overlay.
    private func syncOverlay() {
        while overlaid < mutations.count {
            switch mutations[overlaid] {
            case .set(let k, let v): overlay.set(k, .value(v))
            case .clear(let k): overlay.set(k, .cleared)
            case .clearRange(let b, let e): overlayClearRange(b, e)
            case .atomic(let op, let k, let p): overlayAtomic(op, k, p)
            }
            overlaid += 1
        }
    }

    private func overlayClearRange(_ begin: Bytes, _ end: Bytes) {
        // Own writes inside the range are gone; remember the range itself.
        var inside: [Bytes] = []
        overlay.forEach(from: begin, to: end) { k, _ in inside.append(k) }
        for k in inside { overlay.remove(k) }
        addCleared(KeyRange(begin, end))
    }

    private func overlayAtomic(_ op: MutationType, _ key: Bytes, _ param: Bytes) {
        overlay.update(key) { p in
            switch p {
            case .value(let v)?:
                p = applyAtomic(op, existing: v, param: param).map { .value($0) } ?? .cleared
            case .cleared?:
                p = applyAtomic(op, existing: nil, param: param).map { .value($0) } ?? .cleared
            case .atomic(let ops)?:
                p = .atomic(ops + [(op, param)])
            case nil:
                if clearedRange(containing: key) != nil {
                    p = applyAtomic(op, existing: nil, param: param).map { .value($0) } ?? .cleared
                } else {
                    p = .atomic([(op, param)])
                }
            }
        }
    }

    func get(_ key: Bytes, snapshot: Bool) throws(StoreError) -> Bytes? {
        try checkUsable()
        try checkAge()
        // No key that long exists: absent, with no read conflict.
        if key.count > Self.readableKeyBytes { return nil }
        syncOverlay()
        if let p = overlay[key] {
            switch p {
            case .value(let v): return v
            case .cleared: return nil
            case .atomic(let ops):
                let base = try snapshotGet(key, snapshot: snapshot)
                return ops.reduce(base) { v, op in applyAtomic(op.0, existing: v, param: op.1) }
            }
        }
        if clearedRange(containing: key) != nil { return nil }
        return try snapshotGet(key, snapshot: snapshot)
    }

    func getMany(_ keys: [Bytes], snapshot: Bool) throws(StoreError) -> [Bytes?] {
        var out: [Bytes?] = []
        out.reserveCapacity(keys.count)
        let trips = counters.roundTrips
        for k in keys { out.append(try get(k, snapshot: snapshot)) }
        // One request on FoundationDB, however many keys.
        counters.roundTrips = min(counters.roundTrips, trips + 1)
        return out
    }

    func getRanges(_ ranges: [KeyRange], options: RangeOptions) throws(StoreError) -> [KVBatch] {
        var out: [KVBatch] = []
        out.reserveCapacity(ranges.count)
        let trips = counters.roundTrips
        for r in ranges { out.append(try getRange(.firstGreaterOrEqual(r.begin), .firstGreaterOrEqual(r.end), options: options)) }
        // One request on FoundationDB, however many ranges.
        counters.roundTrips = min(counters.roundTrips, trips + 1)
        return out
    }

    func getKey(_ selector: KeySelector, snapshot: Bool) throws(StoreError) -> Bytes {
        try checkUsable()
        try checkAge()
        let k = selector.key
        let result: Bytes
        if selector.offset >= 1 {
            let begin = selector.orEqual ? keyAfter(k) : k
            let batch = try walk(begin: begin, end: [0xFF], limit: selector.offset, targetBytes: 0, reverse: false)
            result = batch.count == selector.offset ? batch.keyBytes(batch.count - 1) : [0xFF]
        } else {
            let end = selector.orEqual ? keyAfter(k) : k
            let want = 1 - selector.offset
            let batch = try walk(begin: [], end: end, limit: want, targetBytes: 0, reverse: true)
            result = batch.count == want ? batch.keyBytes(batch.count - 1) : []
        }
        counters.roundTrips += 1
        if !snapshot {
            let lo = compareBytes(result, k) < 0 ? result : k
            let hi = compareBytes(result, k) < 0 ? k : result
            addReadConflict(KeyRange(lo, keyAfter(hi)))
        }
        return result
    }

    func getRange(_ beginSel: KeySelector, _ endSel: KeySelector, options: RangeOptions) throws(StoreError) -> KVBatch {
        try checkUsable()
        try checkAge()
        let begin = beginSel.isFirstGreaterOrEqual ? beginSel.key : try getKey(beginSel, snapshot: options.snapshot)
        let end = endSel.isFirstGreaterOrEqual ? endSel.key : try getKey(endSel, snapshot: options.snapshot)
        counters.rangeReads += 1
        counters.roundTrips += 1
        guard compareBytes(begin, end) < 0 else { return KVBatch() }
        let batch = try walk(begin: begin, end: end, limit: options.limit, targetBytes: options.targetBytes,
                             reverse: options.reverse)
        counters.bytesRead += Int64(batch.byteCount)
        if !options.snapshot {
            if batch.more, let last = batch.lastKey {
                addReadConflict(options.reverse ? KeyRange(last, end) : KeyRange(begin, keyAfter(last)))
            } else {
                addReadConflict(KeyRange(begin, end))
            }
        }
        return batch
    }

    /// The merged view (snapshot + own writes) of [begin, end), in order.
    private func walk(begin: Bytes, end: Bytes, limit: Int, targetBytes: Int, reverse: Bool) throws(StoreError) -> KVBatch {
        let r = try ensureReader()
        // Small reads (key probes) stay small: their batches may be kept.
        let bytes = targetBytes > 0 ? targetBytes + 256 : (limit > 0 && limit <= 16 ? 128 * limit : 4096)
        var out = KVBatch(reservingBytes: bytes, reservingCount: limit > 0 ? min(limit, 10_000) : 64)
        var cur = try LogicalCursor(LogicalSpace(txn: r, dbi: store.data))
        let maxCount = limit > 0 ? limit : Int.max
        let maxBytes = targetBytes > 0 ? targetBytes : Int.max
        syncOverlay()
        if overlay.isEmpty && cleared.isEmpty {
            // No own writes to merge: the snapshot as it is.
            try end.withBytes { (e) throws(StoreError) in
                try begin.withBytes { (b) throws(StoreError) in
                    if !reverse {
                        try cur.seek(atOrAfter: b)
                        while true {
                            if out.count >= maxCount || out.byteCount >= maxBytes { out.more = true; break }
                            guard cur.isValid && compareBytes(cur.key, e) < 0 else { break }
                            out.append(key: cur.key, value: cur.value)
                            try cur.next()
                        }
                    } else {
                        try cur.seek(before: e)
                        while true {
                            if out.count >= maxCount || out.byteCount >= maxBytes { out.more = true; break }
                            guard cur.isValid && compareBytes(cur.key, b) >= 0 else { break }
                            out.append(key: cur.key, value: cur.value)
                            try cur.prev()
                        }
                    }
                }
            }
        } else if !reverse {
            try begin.withBytes { (b) throws(StoreError) in try cur.seek(atOrAfter: b) }
            var oi = overlay.index(atOrAfter: begin)
            while true {
                // As FoundationDB: a read that reaches its limit says there is more.
                if out.count >= maxCount || out.byteCount >= maxBytes { out.more = true; break }
                let sValid = cur.isValid && end.withUnsafeBytes({ compareBytes(cur.key, $0) }) < 0
                let oValid = overlay.isValid(oi) && compareBytes(overlay.key(at: oi), end) < 0
                if !sValid && !oValid { break }
                let c: Int = !sValid ? 1 : !oValid ? -1 : overlay.key(at: oi).withUnsafeBytes { compareBytes(cur.key, $0) }
                if c >= 0 {
                    // Own write at or before the snapshot's next key.
                    let key = overlay.key(at: oi)
                    let base: Bytes? = c == 0 ? Bytes(cur.value) : nil
                    if c == 0 { try cur.next() }
                    if let v = resolve(overlay.value(at: oi), base: base) { out.append(key: key, value: v) }
                    oi = overlay.index(after: oi)
                } else if let cr = clearedRange(containing: cur.key) {
                    try cr.end.withBytes { (e) throws(StoreError) in try cur.seek(atOrAfter: e) }
                } else {
                    out.append(key: cur.key, value: cur.value)
                    try cur.next()
                }
            }
        } else {
            try end.withBytes { (e) throws(StoreError) in try cur.seek(before: e) }
            var oi = overlay.index(before: end)
            while true {
                if out.count >= maxCount || out.byteCount >= maxBytes { out.more = true; break }
                let sValid = cur.isValid && begin.withUnsafeBytes({ compareBytes(cur.key, $0) }) >= 0
                let oValid = overlay.isValid(oi) && compareBytes(overlay.key(at: oi), begin) >= 0
                if !sValid && !oValid { break }
                let c: Int = !sValid ? -1 : !oValid ? 1 : overlay.key(at: oi).withUnsafeBytes { compareBytes(cur.key, $0) }
                if c <= 0 {
                    let key = overlay.key(at: oi)
                    let base: Bytes? = c == 0 ? Bytes(cur.value) : nil
                    if c == 0 { try cur.prev() }
                    if let v = resolve(overlay.value(at: oi), base: base) { out.append(key: key, value: v) }
                    oi = overlay.index(before: oi)
                } else if let cr = clearedRange(containing: cur.key) {
                    try cr.begin.withBytes { (b) throws(StoreError) in try cur.seek(before: b) }
                } else {
                    out.append(key: cur.key, value: cur.value)
                    try cur.prev()
                }
            }
        }
        return out
    }

    private func resolve(_ p: Pending, base: Bytes?) -> Bytes? {
        switch p {
        case .value(let v): return v
        case .cleared: return nil
        case .atomic(let ops): return ops.reduce(base) { v, op in applyAtomic(op.0, existing: v, param: op.1) }
        }
    }

    // MARK: writes

    func set(_ key: Bytes, _ value: Bytes) throws(StoreError) {
        try checkUsable()
        try Self.checkWritableKey(key)
        if value.count > StoreLimits.valueBytes {
            throw StoreError(.valueTooLarge, "Value length \(value.count) exceeds limit of \(StoreLimits.valueBytes) bytes")
        }
        mutations.append(.set(key, value))
        writePoints.append(key)
        addSize(CommitSize.set(key: key.count, value: value.count))
    }

    func clear(_ key: Bytes) throws(StoreError) {
        try checkUsable()
        // A key longer than any key can be is not there to clear (FoundationDB).
        if key.count > StoreLimits.keyBytes { return }
        try Self.checkWritableKey(key)
        mutations.append(.clear(key))
        writePoints.append(key)
        addSize(CommitSize.clear(key: key.count))
    }

    func clearRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        try checkUsable()
        try Self.checkWritableKey(begin)
        try Self.checkKey(end)
        let c = compareBytes(begin, end)
        if c > 0 { throw StoreError(.invertedRange) }
        if c == 0 { return }
        mutations.append(.clearRange(begin, end))
        writeRanges.append(KeyRange(begin, end))
        addSize(CommitSize.clear(begin: begin.count, end: end.count))
    }

    private func addCleared(_ r: KeyRange) {
        var merged = r
        // Ranges that overlap or touch r: the one starting at or before r.begin, and those starting inside.
        let before = cleared.index(before: r.begin, orEqual: true)
        if cleared.isValid(before), compareBytes(cleared.value(at: before), r.begin) >= 0 {
            merged.begin = cleared.key(at: before)
            if compareBytes(cleared.value(at: before), merged.end) > 0 { merged.end = cleared.value(at: before) }
        }
        var doomed: [Bytes] = []
        var i = cleared.index(atOrAfter: merged.begin)
        while cleared.isValid(i), compareBytes(cleared.key(at: i), merged.end) <= 0 {
            if compareBytes(cleared.value(at: i), merged.end) > 0 { merged.end = cleared.value(at: i) }
            doomed.append(cleared.key(at: i))
            i = cleared.index(after: i)
        }
        for k in doomed { cleared.remove(k) }
        cleared.set(merged.begin, merged.end)
    }

    /// The counter under FoundationDB's key, read as any key is (its own
    /// bump shows), but counted as no read: on FoundationDB it comes with
    /// the read version.
    func metadataVersion(snapshot: Bool) throws(StoreError) -> Int64? {
        let before = counters
        let v = try get(MetadataVersion.key, snapshot: snapshot)
        counters = before
        return v.flatMap { MetadataVersion.decode($0, versionstamp: false) }
    }

    /// An atomic add under the system key, the one key above \xff a
    /// transaction may change (as on FoundationDB).
    func bumpMetadataVersion() throws(StoreError) {
        try checkUsable()
        let one: Bytes = [1, 0, 0, 0, 0, 0, 0, 0]
        mutations.append(.atomic(.add, MetadataVersion.key, one))
        writePoints.append(MetadataVersion.key)
        addSize(CommitSize.set(key: MetadataVersion.key.count, value: one.count))
    }

    func atomicOp(_ op: MutationType, _ key: Bytes, _ param: Bytes) throws(StoreError) {
        try checkUsable()
        try Self.checkWritableKey(key)
        if param.count > StoreLimits.valueBytes {
            throw StoreError(.valueTooLarge, "Value length \(param.count) exceeds limit of \(StoreLimits.valueBytes) bytes")
        }
        mutations.append(.atomic(op, key, param))
        writePoints.append(key)
        addSize(CommitSize.set(key: key.count, value: param.count))
    }

    func addReadConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        try checkUsable()
        if compareBytes(begin, end) > 0 { throw StoreError(.invertedRange) }
        _ = try ensureReader()
        addReadConflict(KeyRange(begin, end))
    }

    func addWriteConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        try checkUsable()
        if compareBytes(begin, end) > 0 { throw StoreError(.invertedRange) }
        if begin == end { return }
        if end == keyAfter(begin) {
            writePoints.append(begin)
        } else {
            writeRanges.append(KeyRange(begin, end))
        }
        explicitWrites.append(KeyRange(begin, end))
        addSize(CommitSize.range(begin.count, end.count))
    }

    /// What FoundationDB would count against its limit if this transaction
    /// committed now (`CommitSize`): the merged mutations, write conflict
    /// ranges and read conflict ranges of its request.
    func commitSize() -> Int {
        syncOverlay()
        var total = 0
        // Clears: cleared ranges and single cleared keys, merged, split
        // around the keys set after them.
        var clears: [KeyRange] = []
        cleared.forEach { b, e in clears.append(KeyRange(b, e)) }
        overlay.forEach { k, p in if case .cleared = p { clears.append(.single(k)) } }
        let mergedClears = coalesce(clears)
        for r in mergedClears {
            var begin = r.begin
            overlay.forEach(from: r.begin, to: r.end) { k, p in
                if case .cleared = p { return }
                if compareBytes(begin, k) < 0 { total += CommitSize.mutation(begin.count, k.count) }
                begin = keyAfter(k)
            }
            if compareBytes(begin, r.end) < 0 { total += CommitSize.mutation(begin.count, r.end.count) }
        }
        // Sets, and atomic operations (one mutation per run of the same
        // operation with operands of one length, as FoundationDB coalesces).
        var writes = mergedClears + explicitWrites
        overlay.forEach { k, p in
            switch p {
            case .value(let v):
                total += CommitSize.mutation(k.count, v.count)
                writes.append(.single(k))
            case .cleared:
                break
            case .atomic(let ops):
                var last: (MutationType, Int)?
                for (op, param) in ops where last.map({ $0.0 != op || $0.1 != param.count }) ?? true {
                    total += CommitSize.mutation(k.count, param.count)
                    last = (op, param.count)
                }
                writes.append(.single(k))
            }
        }
        for r in coalesce(writes) { total += CommitSize.range(r.begin.count, r.end.count) }
        for r in coalesce(readConflicts + readPoints.map { KeyRange.single($0) }) {
            total += CommitSize.range(r.begin.count, r.end.count)
        }
        return total
    }

    // MARK: commit

    func commit() throws(StoreError) -> Int64 {
        try checkUsable()
        if mutations.isEmpty && writeRanges.isEmpty && writePoints.isEmpty {
            // Read-only: serializable at its read version, nothing to check.
            finish(.committed)
            return -1
        }
        try checkAge(commit: true)
        // Only the merged request counts. The running count is close: a set
        // that splits a cleared range costs 24 bytes more than counted, and
        // every mutation at least 56, so the merged size is under 1.5 times
        // the running count — below 2/3 of the limit, nothing to merge.
        if size > StoreLimits.transactionBytes * 2 / 3 {
            let exact = commitSize()
            if exact > StoreLimits.transactionBytes {
                throw StoreError(.transactionTooLarge,
                                 "Transaction exceeds byte limit: \(exact) bytes of \(StoreLimits.transactionBytes)")
            }
        }
        _ = try ensureReader()
        let reads = coalesce(readConflicts + readPoints.map { KeyRange.single($0) })
        let w = try store.env.beginWrite()
        let version = w.id
        let c: LMDBTxn
        do { c = try store.conflicts.env.beginWrite() } catch { w.abort(); throw error }
        do throws(StoreError) {
            // History of a commit whose data never landed (its process was
            // killed between the two commits) claims a version the data will
            // now reuse: gone before anything is checked against it.
            try store.conflicts.discard(c, above: version - 1)
            try store.conflicts.check(c, readVersion: readVersion, reads: reads)
            let space = LogicalSpace(txn: w, dbi: store.data)
            for m in mutations {
                switch m {
                case .set(let k, let v):
                    try k.withBytes { (kb) throws(StoreError) in
                        try v.withBytes { (vb) throws(StoreError) in try space.put(kb, vb) }
                    }
                case .clear(let k):
                    _ = try k.withBytes { (kb) throws(StoreError) in try space.delete(kb) }
                case .clearRange(let b, let e):
                    try space.deleteRange(b, e)
                case .atomic(let op, let k, let p):
                    try k.withBytes { (kb) throws(StoreError) in
                        let old = try space.get(kb).map { Bytes($0) }
                        if let nv = applyAtomic(op, existing: old, param: p) {
                            try nv.withBytes { (vb) throws(StoreError) in try space.put(kb, vb) }
                        } else if old != nil {
                            try space.delete(kb)
                        }
                    }
                }
            }
            // A commit of conflict ranges or clears only (which may change
            // nothing) changes the data environment too, so that its LMDB
            // transaction id — the commit version — is really used: readers
            // would otherwise stay at a version below it.
            if !mutations.contains(where: { if case .set = $0 { return true }; if case .atomic = $0 { return true }; return false }) {
                try LMDBStore.lastCommitKey.withBytes { (k) throws(StoreError) in
                    try withUnsafeBytes(of: version.littleEndian) { (v) throws(StoreError) in
                        try w.put(store.meta, k, v)
                    }
                }
            }
            var points = writePoints
            points.sort { compareBytes($0, $1) < 0 }
            var unique: [Bytes] = []
            unique.reserveCapacity(points.count)
            for p in points where unique.last != p { unique.append(p) }
            try store.conflicts.record(c, version: version, points: unique, ranges: writeRanges,
                                       retentionMilliseconds: max(store.options.lifetimeMilliseconds, StoreLimits.defaultLifetimeMilliseconds) + 1000)
        } catch {
            c.abort()
            w.abort()
            if error.knownCode == .notCommitted { counters.conflicts += 1 }
            throw error
        }
        // History first: a crash between the two commits can only leave
        // history above the data's last version, which the next writer
        // discards; never a write without its history. (A failed
        // mdb_txn_commit has already freed its transaction.)
        do throws(StoreError) {
            try c.commit()
        } catch {
            w.abort()
            throw error
        }
        let fault = store.env.faults.fault(.dataCommit)
        if fault != 0 {
            w.abort()
            throw lmdbError(fault, "commit")
        }
        try w.commit()
        try store.makeDurable(version)
        counters.commits += 1
        counters.roundTrips += 1
        counters.bytesWritten += Int64(size)
        store.noteCommit()
        finish(.committed)
        return version
    }

    private func finish(_ s: State) {
        if let r = reader {
            store.releaseReader(r)
            reader = nil
        }
        state = s
    }

    func onError(_ error: StoreError) throws(StoreError) {
        guard error.isRetryable else { throw error }
        // FoundationDB's backoff: 10 ms, doubling, at most 1 s, with jitter.
        let delay = backoffMilliseconds
        backoffMilliseconds = min(backoffMilliseconds * 2, 1000)
        let jittered = delay / 2 + Int.random(in: 0...max(1, delay / 2))
        try StoreInterrupts.sleep(milliseconds: jittered)
        let keep = backoffMilliseconds
        reset()
        backoffMilliseconds = keep
    }

    func reset() {
        finish(.active)
        readVersion = -1
        mutations = []
        overlaid = 0
        overlay = SortedMap()
        cleared = SortedMap()
        readConflicts = []
        readPoints = []
        writeRanges = []
        writePoints = []
        explicitWrites = []
        size = 0
        backoffMilliseconds = 10
        lifetimeNanoseconds = UInt64(store.options.lifetimeMilliseconds) * 1_000_000
    }

    func cancel() {
        finish(.cancelled)
    }

    func readOnly() { readsOnly = true }
}
