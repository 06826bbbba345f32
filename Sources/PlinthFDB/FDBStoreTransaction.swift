import CFDB
import PlinthStore

/// A FoundationDB transaction (FDBTransaction*), one call of the C API per
/// protocol method. FoundationDB does the work — read version, read-your-
/// writes, conflict ranges, limits, backoff; this class adds the client-side
/// limit checks that make errors immediate and the same as the embedded
/// engine's, and the counters.
final class FDBStoreTransaction: StoreTransaction {
    private enum State { case active, committed, cancelled }

    private let store: FDBStore
    private let handle: OpaquePointer
    private let settings: FDBTransactionSettings
    private var state = State.active
    /// An error of setting options again in reset(), which cannot throw:
    /// reported by the next operation.
    private var deferredError: StoreError?
    /// Bytes of keys and values written since the last reset: the counters'
    /// bytesWritten.
    private var mutationBytes = 0
    /// What the commit would cost against FoundationDB's limit, counted as
    /// the operations come (`CommitSize`, unmerged): asking FoundationDB
    /// (fdb_transaction_get_approximate_size) is a trip to its network
    /// thread, and its figure is not the one it checks either.
    private var size = 0
    private(set) var counters = StoreCounters()
    /// `readOnly()` was said: no read-your-writes (set again after a reset).
    private var readsOnly = false

    init(store: FDBStore, handle: OpaquePointer, settings: FDBTransactionSettings) throws(StoreError) {
        self.store = store
        self.handle = handle
        self.settings = settings
        try applySettings()
    }

    deinit {
        cfdb_transaction_destroy(handle)
    }

    private func applySettings() throws(StoreError) {
        for option in settings.transactionOptions {
            try check(option.withParameter { cfdb_transaction_set_option(handle, option.code, $0, $1) },
                      "transaction option \(option.code)")
        }
        if readsOnly { try disableReadYourWrites() }
    }

    private func disableReadYourWrites() throws(StoreError) {
        try check(cfdb_transaction_set_option(handle, CFDB_TR_OPTION_READ_YOUR_WRITES_DISABLE, nil, 0),
                  "transaction option \(CFDB_TR_OPTION_READ_YOUR_WRITES_DISABLE)")
    }

    func readOnly() {
        guard !readsOnly else { return }
        readsOnly = true
        // An error surfaces at the next operation, as one of reset's does.
        if deferredError == nil {
            do { try disableReadYourWrites() } catch { deferredError = error }
        }
    }

    private func checkUsable() throws(StoreError) {
        if let deferredError { throw deferredError }
        switch state {
        case .active: return
        case .committed: throw StoreError(.usedDuringCommit, "Operation issued on a committed transaction")
        case .cancelled: throw StoreError(.transactionCancelled)
        }
    }

    var approximateSize: Int { size }

    // MARK: reads

    func getReadVersion() throws(StoreError) -> Int64 {
        try checkUsable()
        return try Future(cfdb_transaction_get_read_version(handle)).int64()
    }

    func get(_ key: Bytes, snapshot: Bool) throws(StoreError) -> Bytes? {
        try checkUsable()
        // FoundationDB answers "absent" for a key longer than any can be.
        if key.count > ClientChecks.readableKeyBytes { return nil }
        if !snapshot { size += CommitSize.singleKeyRange(key.count) }
        let future = try Future(withCBytes(key) { k, kn in cfdb_transaction_get(handle, k, kn, snapshot ? 1 : 0) })
        let value = try future.value()
        counters.reads += 1
        counters.roundTrips += 1
        counters.bytesRead += Int64(key.count + (value?.count ?? 0))
        return value
    }

    func watch(_ key: Bytes) throws(StoreError) -> (any StoreWatch)? {
        try checkUsable()
        guard let future = withCBytes(key, { k, kn in cfdb_transaction_watch(handle, k, kn) }) else {
            throw StoreError(.internalError, "FoundationDB returned no future")
        }
        return FDBWatch(future)
    }

    func getMany(_ keys: [Bytes], snapshot: Bool) throws(StoreError) -> [Bytes?] {
        try checkUsable()
        if keys.contains(where: { $0.count > ClientChecks.readableKeyBytes }) {
            return try keys.map { (k) throws(StoreError) in try get(k, snapshot: snapshot) }
        }
        if !snapshot { for key in keys { size += CommitSize.singleKeyRange(key.count) } }
        let plan = GetManyPlan(keys: keys)
        var values = [Bytes?](repeating: nil, count: plan.distinct.count)
        for chunk in plan.chunks {
            var futures = FutureList(capacity: chunk.count)
            for i in chunk {
                try futures.append(withCBytes(plan.distinct[i]) { k, kn in
                    cfdb_transaction_get(handle, k, kn, snapshot ? 1 : 0)
                })
            }
            for (n, i) in chunk.enumerated() {
                values[i] = try Future.value(futures.handles[n])
            }
            counters.roundTrips += 1
        }
        var out: [Bytes?] = []
        out.reserveCapacity(keys.count)
        for (key, slot) in zip(keys, plan.slots) {
            out.append(values[slot])
            counters.bytesRead += Int64(key.count + (values[slot]?.count ?? 0))
        }
        counters.reads += Int64(keys.count)
        return out
    }

    func getKey(_ selector: KeySelector, snapshot: Bool) throws(StoreError) -> Bytes {
        try checkUsable()
        let s = try SelectorArguments(selector)
        let future = try Future(withCBytes(s.key) { k, kn in
            cfdb_transaction_get_key(handle, k, kn, s.orEqual, s.offset, snapshot ? 1 : 0)
        })
        let key = try future.key()
        counters.roundTrips += 1
        if !snapshot { size += CommitSize.range(selector.key.count + 1, key.count + 1) }
        return key
    }

    func getRange(_ begin: KeySelector, _ end: KeySelector, options: RangeOptions) throws(StoreError) -> KVBatch {
        try checkUsable()
        let b = try SelectorArguments(begin)
        let e = try SelectorArguments(end)
        let r = try RangeArguments(options)
        let future = try Future(withCBytes(b.key) { bk, bn in
            withCBytes(e.key) { ek, en in
                cfdb_transaction_get_range(handle, bk, bn, b.orEqual, b.offset, ek, en, e.orEqual, e.offset,
                                           r.limit, r.targetBytes, r.mode, r.iteration, r.snapshot, r.reverse)
            }
        })
        let batch = try future.keyValues()
        counters.rangeReads += 1
        counters.roundTrips += 1
        counters.bytesRead += Int64(batch.byteCount)
        if !options.snapshot { size += Self.readRangeCost(begin.key, end.key, batch) }
        return batch
    }

    /// The read conflict range a range read adds, as FoundationDB sizes it:
    /// what was read when the limit stopped it, else the whole range.
    static func readRangeCost(_ begin: Bytes, _ end: Bytes, _ batch: KVBatch) -> Int {
        if batch.more, let last = batch.lastKey { return CommitSize.range(begin.count, last.count + 1) }
        return CommitSize.range(begin.count, end.count)
    }

    func getRanges(_ ranges: [KeyRange], options: RangeOptions) throws(StoreError) -> [KVBatch] {
        try checkUsable()
        let r = try RangeArguments(options)
        var out: [KVBatch] = []
        out.reserveCapacity(ranges.count)
        var start = 0
        while start < ranges.count {
            let chunk = start..<min(start + GetManyPlan.defaultChunkSize, ranges.count)
            var futures = FutureList(capacity: chunk.count)
            for i in chunk {
                let range = ranges[i]
                try futures.append(withCBytes(range.begin) { bk, bn in
                    withCBytes(range.end) { ek, en in
                        // firstGreaterOrEqual on both ends: orEqual 0, offset 1.
                        cfdb_transaction_get_range(handle, bk, bn, 0, 1, ek, en, 0, 1,
                                                   r.limit, r.targetBytes, r.mode, r.iteration, r.snapshot, r.reverse)
                    }
                })
            }
            for (n, i) in chunk.enumerated() {
                let batch = try Future.keyValues(futures.handles[n])
                counters.bytesRead += Int64(batch.byteCount)
                if !options.snapshot { size += Self.readRangeCost(ranges[i].begin, ranges[i].end, batch) }
                out.append(batch)
            }
            counters.rangeReads += Int64(chunk.count)
            counters.roundTrips += 1
            start = chunk.upperBound
        }
        return out
    }

    // MARK: writes (buffered by FoundationDB until commit; the C calls
    // cannot fail, so the checks happen here)

    func set(_ key: Bytes, _ value: Bytes) throws(StoreError) {
        try checkUsable()
        try ClientChecks.writableKey(key)
        try ClientChecks.value(value)
        withCBytes(key) { k, kn in withCBytes(value) { v, vn in cfdb_transaction_set(handle, k, kn, v, vn) } }
        mutationBytes += key.count + value.count
        size += CommitSize.set(key: key.count, value: value.count)
    }

    func clear(_ key: Bytes) throws(StoreError) {
        try checkUsable()
        // FoundationDB ignores a clear of a key longer than any can be.
        if key.count > StoreLimits.keyBytes { return }
        try ClientChecks.writableKey(key)
        withCBytes(key) { k, kn in cfdb_transaction_clear(handle, k, kn) }
        mutationBytes += key.count
        size += CommitSize.clear(key: key.count)
    }

    func clearRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        try checkUsable()
        guard try ClientChecks.writableRange(begin, end) else { return }
        withCBytes(begin) { b, bn in withCBytes(end) { e, en in cfdb_transaction_clear_range(handle, b, bn, e, en) } }
        mutationBytes += begin.count + end.count
        size += CommitSize.clear(begin: begin.count, end: end.count)
    }

    func atomicOp(_ op: MutationType, _ key: Bytes, _ param: Bytes) throws(StoreError) {
        try checkUsable()
        try ClientChecks.writableKey(key)
        try ClientChecks.value(param)
        // MutationType's raw values are FoundationDB's FDBMutationType codes.
        withCBytes(key) { k, kn in
            withCBytes(param) { p, pn in cfdb_transaction_atomic_op(handle, k, kn, p, pn, op.rawValue) }
        }
        mutationBytes += key.count + param.count
        size += CommitSize.set(key: key.count, value: param.count)
    }

    /// The client has it with the read version: no round trip once that is
    /// known (and the commit needs one anyway).
    func metadataVersion(snapshot: Bool) throws(StoreError) -> Int64? {
        try checkUsable()
        let key = MetadataVersion.key
        if !snapshot { size += CommitSize.singleKeyRange(key.count) }
        let future = try Future(withCBytes(key) { k, kn in cfdb_transaction_get(handle, k, kn, snapshot ? 1 : 0) })
        let value = try future.value()
        // Not counted as a read: it came with the read version (as the
        // embedded engine counts it).
        return value.flatMap { MetadataVersion.decode($0, versionstamp: true) }
    }

    /// The commit's versionstamp becomes the metadata version. FoundationDB
    /// lets this one system key be written without system-key access.
    func bumpMetadataVersion() throws(StoreError) {
        try checkUsable()
        let key = MetadataVersion.key, operand = MetadataVersion.fdbOperand
        withCBytes(key) { k, kn in
            withCBytes(operand) { p, pn in
                cfdb_transaction_atomic_op(handle, k, kn, p, pn, MetadataVersion.fdbMutationCode)
            }
        }
        mutationBytes += key.count + operand.count
        size += CommitSize.set(key: key.count, value: operand.count)
    }

    func addReadConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        try addConflictRange(begin, end, type: CFDB_CONFLICT_RANGE_TYPE_READ)
    }

    func addWriteConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        try addConflictRange(begin, end, type: CFDB_CONFLICT_RANGE_TYPE_WRITE)
    }

    private func addConflictRange(_ begin: Bytes, _ end: Bytes, type: Int32) throws(StoreError) {
        try checkUsable()
        if compareBytes(begin, end) > 0 { throw StoreError(.invertedRange) }
        try check(withCBytes(begin) { b, bn in
            withCBytes(end) { e, en in cfdb_transaction_add_conflict_range(handle, b, bn, e, en, type) }
        })
        size += CommitSize.range(begin.count, end.count)
    }

    // MARK: commit and the retry loop

    func commit() throws(StoreError) -> Int64 {
        try checkUsable()
        let future = try Future(cfdb_transaction_commit(handle))
        do {
            try future.wait()
        } catch {
            if error.knownCode == .notCommitted { counters.conflicts += 1 }
            throw error
        }
        var version: Int64 = 0
        try check(cfdb_transaction_get_committed_version(handle, &version))
        state = .committed
        // -1: read-only, committed locally without a round trip.
        if version >= 0 {
            counters.commits += 1
            counters.roundTrips += 1
            counters.bytesWritten += Int64(mutationBytes)
        }
        return version
    }

    /// The documented retry step: hand the error to fdb_transaction_on_error
    /// and wait for its future. Ready without error: FoundationDB has backed
    /// off and reset the transaction (keeping its timeout and retry limit),
    /// so run it again. An error: rethrow — the same error when it was not
    /// retryable (or the retry limit was reached), else the new one.
    func onError(_ error: StoreError) throws(StoreError) {
        // Plinth's own codes (9000 and up) mean nothing to FoundationDB and
        // none is retryable.
        guard FDBErrors.isFoundationDBCode(error.code) else { throw error }
        let future = try Future(cfdb_transaction_on_error(handle, error.code))
        do {
            try future.wait()
        } catch let failure {
            // Not retryable: on_error hands back the same code; keep the
            // original error, whose message may say more.
            throw failure.code == error.code ? error : failure
        }
        state = .active
        deferredError = nil
        mutationBytes = 0
        size = 0
    }

    func reset() {
        cfdb_transaction_reset(handle)
        state = .active
        mutationBytes = 0
        size = 0
        // reset drops options set on the transaction; the database defaults
        // return, and these are set again so the transaction never runs
        // without its timeout.
        do {
            try applySettings()
            deferredError = nil
        } catch {
            deferredError = error
        }
    }

    func cancel() {
        cfdb_transaction_cancel(handle)
        state = .cancelled
    }
}

/// Calls `body` with the (pointer, length) pair the C API takes. The length
/// fits int: keys and values were checked against StoreLimits. An empty
/// array may have no storage; the C API then still gets a valid pointer.
@inline(__always)
func withCBytes<R>(_ bytes: Bytes, _ body: (UnsafePointer<UInt8>, Int32) -> R) -> R {
    bytes.withUnsafeBufferPointer { p in
        if let base = p.baseAddress { return body(base, Int32(p.count)) }
        let none: UInt8 = 0
        return withUnsafePointer(to: none) { body($0, 0) }
    }
}

/// The checks FoundationDB would make (some only at commit, since its write
/// calls return nothing), made at the call with the embedded engine's
/// errors and messages.
enum ClientChecks {
    /// Longest key a read may name (getMaxKeySize): longer ones are absent.
    static let readableKeyBytes = StoreLimits.keyBytes + 8

    static func key(_ key: Bytes) throws(StoreError) {
        if key.count > StoreLimits.keyBytes {
            throw StoreError(.keyTooLarge, "Key length \(key.count) exceeds limit of \(StoreLimits.keyBytes) bytes")
        }
    }

    static func writableKey(_ key: Bytes) throws(StoreError) {
        try Self.key(key)
        if key.first == 0xFF {
            throw StoreError(.keyOutsideLegalRange, "Key outside legal range: system keys (\\xff...) cannot be written")
        }
    }

    static func value(_ value: Bytes) throws(StoreError) {
        if value.count > StoreLimits.valueBytes {
            throw StoreError(.valueTooLarge, "Value length \(value.count) exceeds limit of \(StoreLimits.valueBytes) bytes")
        }
    }

    /// Checks a range to clear; false when it is empty (nothing to send).
    static func writableRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) -> Bool {
        try writableKey(begin)
        try key(end)
        if compareBytes(end, [0xFF]) > 0 {
            throw StoreError(.keyOutsideLegalRange, "Key outside legal range: a clear may end at \\xff at most")
        }
        let c = compareBytes(begin, end)
        if c > 0 { throw StoreError(.invertedRange) }
        return c < 0
    }
}
