import CLMDB
import PlinthStore

/// The embedded engine's volatile space (`Store.beginVolatileTransaction`):
/// keys that matter only while the processes using them run — row locks and
/// the records of transactions holding them. On FoundationDB they are
/// ordinary keys; here they live in an environment of their own
/// (`volatile/` in the store directory) that is never flushed, so taking a
/// lock costs no disk flush and never waits for the data's writer lock.
/// After a reboot (a new kernel boot id) it is recreated empty: every
/// holder died with the machine.
final class VolatileSpace {
    let env: LMDBEnvironment
    var keys: MDB_dbi { env.databases[0] }

    init(directory: String, maxReaders: UInt32) throws(StoreError) {
        env = try NeverFlushed.open(directory: directory, mapSizeBytes: 8 << 30, maxReaders: maxReaders,
                                    databases: ["keys", "meta"]) { _, _ throws(StoreError) in }
    }
}

/// A transaction on the volatile space. It is pessimistic: its first
/// operation takes the environment's writer lock and every read and write
/// happens inside that LMDB write transaction, so it never conflicts and
/// `onError` has nothing to retry. It must stay short, and must not touch
/// the data environment (its writer lock is taken by committers that never
/// wait for this one; the reverse order would deadlock).
final class LMDBVolatileTransaction: StoreTransaction {
    private let space: VolatileSpace
    private var txn: LMDBTxn?
    private var wrote = false
    private var done = false
    private var size = 0
    private(set) var counters = StoreCounters()

    init(space: VolatileSpace) { self.space = space }

    deinit { txn?.abort() }

    private func open() throws(StoreError) -> LogicalSpace {
        if done { throw StoreError(.usedDuringCommit, "Operation issued on a committed transaction") }
        if txn == nil { txn = try space.env.beginWrite() }
        return LogicalSpace(txn: txn!, dbi: space.keys)
    }

    private static func checkKey(_ key: Bytes) throws(StoreError) {
        if key.count > StoreLimits.keyBytes {
            throw StoreError(.keyTooLarge, "Key length \(key.count) exceeds limit of \(StoreLimits.keyBytes) bytes")
        }
    }

    func getReadVersion() throws(StoreError) -> Int64 {
        _ = try open()
        return Int64(mdb_txn_id(txn!.txn))
    }

    func get(_ key: Bytes, snapshot: Bool) throws(StoreError) -> Bytes? {
        let s = try open()
        counters.reads += 1
        counters.roundTrips += 1
        guard key.count <= StoreLimits.keyBytes + 8 else { return nil }
        let v = try key.withBytes { (k) throws(StoreError) in try s.get(k).map { Bytes($0) } }
        counters.bytesRead += Int64(v?.count ?? 0)
        return v
    }

    func getMany(_ keys: [Bytes], snapshot: Bool) throws(StoreError) -> [Bytes?] {
        var out: [Bytes?] = []
        out.reserveCapacity(keys.count)
        let trips = counters.roundTrips
        for k in keys { out.append(try get(k, snapshot: snapshot)) }
        counters.roundTrips = min(counters.roundTrips, trips + 1)
        return out
    }

    func getKey(_ selector: KeySelector, snapshot: Bool) throws(StoreError) -> Bytes {
        let k = selector.key
        if selector.offset >= 1 {
            let begin = selector.orEqual ? keyAfter(k) : k
            let b = try walk(begin: begin, end: [0xFF], limit: selector.offset, targetBytes: 0, reverse: false)
            return b.count == selector.offset ? b.keyBytes(b.count - 1) : [0xFF]
        }
        let end = selector.orEqual ? keyAfter(k) : k
        let want = 1 - selector.offset
        let b = try walk(begin: [], end: end, limit: want, targetBytes: 0, reverse: true)
        return b.count == want ? b.keyBytes(b.count - 1) : []
    }

    func getRange(_ beginSel: KeySelector, _ endSel: KeySelector, options: RangeOptions) throws(StoreError) -> KVBatch {
        let begin = beginSel.isFirstGreaterOrEqual ? beginSel.key : try getKey(beginSel, snapshot: true)
        let end = endSel.isFirstGreaterOrEqual ? endSel.key : try getKey(endSel, snapshot: true)
        counters.rangeReads += 1
        counters.roundTrips += 1
        guard compareBytes(begin, end) < 0 else { return KVBatch() }
        return try walk(begin: begin, end: end, limit: options.limit, targetBytes: options.targetBytes, reverse: options.reverse)
    }

    func getRanges(_ ranges: [KeyRange], options: RangeOptions) throws(StoreError) -> [KVBatch] {
        var out: [KVBatch] = []
        let trips = counters.roundTrips
        for r in ranges { out.append(try getRange(.firstGreaterOrEqual(r.begin), .firstGreaterOrEqual(r.end), options: options)) }
        counters.roundTrips = min(counters.roundTrips, trips + 1)
        return out
    }

    private func walk(begin: Bytes, end: Bytes, limit: Int, targetBytes: Int, reverse: Bool) throws(StoreError) -> KVBatch {
        let s = try open()
        var out = KVBatch()
        var cur = try LogicalCursor(s)
        let maxCount = limit > 0 ? limit : Int.max
        let maxBytes = targetBytes > 0 ? targetBytes : Int.max
        try end.withBytes { (e) throws(StoreError) in
            try begin.withBytes { (b) throws(StoreError) in
                if !reverse { try cur.seek(atOrAfter: b) } else { try cur.seek(before: e) }
                while true {
                    if out.count >= maxCount || out.byteCount >= maxBytes { out.more = true; break }
                    guard cur.isValid else { break }
                    if !reverse ? compareBytes(cur.key, e) >= 0 : compareBytes(cur.key, b) < 0 { break }
                    out.append(key: cur.key, value: cur.value)
                    if !reverse { try cur.next() } else { try cur.prev() }
                }
            }
        }
        counters.bytesRead += Int64(out.byteCount)
        return out
    }

    func set(_ key: Bytes, _ value: Bytes) throws(StoreError) {
        try Self.checkKey(key)
        if value.count > StoreLimits.valueBytes {
            throw StoreError(.valueTooLarge, "Value length \(value.count) exceeds limit of \(StoreLimits.valueBytes) bytes")
        }
        let s = try open()
        try key.withBytes { (k) throws(StoreError) in try value.withBytes { (v) throws(StoreError) in try s.put(k, v) } }
        wrote = true
        size += CommitSize.set(key: key.count, value: value.count)
        counters.bytesWritten += Int64(key.count + value.count)
    }

    func clear(_ key: Bytes) throws(StoreError) {
        if key.count > StoreLimits.keyBytes { return }
        let s = try open()
        _ = try key.withBytes { (k) throws(StoreError) in try s.delete(k) }
        wrote = true
        size += CommitSize.clear(key: key.count)
    }

    func clearRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        try Self.checkKey(begin)
        try Self.checkKey(end)
        let c = compareBytes(begin, end)
        if c > 0 { throw StoreError(.invertedRange) }
        if c == 0 { return }
        try open().deleteRange(begin, end)
        wrote = true
        size += CommitSize.clear(begin: begin.count, end: end.count)
    }

    func atomicOp(_ op: MutationType, _ key: Bytes, _ param: Bytes) throws(StoreError) {
        try Self.checkKey(key)
        let existing = try get(key, snapshot: true)
        if let v = applyAtomic(op, existing: existing, param: param) { try set(key, v) } else { try clear(key) }
    }

    /// The volatile space keeps no metadata: nothing caches it.
    func metadataVersion(snapshot: Bool) throws(StoreError) -> Int64? { nil }

    func bumpMetadataVersion() throws(StoreError) {
        throw StoreError(.keyOutsideLegalRange, "the volatile space has no metadata version")
    }

    func addReadConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        if compareBytes(begin, end) > 0 { throw StoreError(.invertedRange) }
    }

    func addWriteConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        if compareBytes(begin, end) > 0 { throw StoreError(.invertedRange) }
    }

    func commit() throws(StoreError) -> Int64 {
        if done { throw StoreError(.usedDuringCommit, "Operation issued on a committed transaction") }
        guard let t = txn else {
            done = true
            return -1
        }
        txn = nil
        done = true
        if size > StoreLimits.transactionBytes {
            t.abort()
            throw StoreError(.transactionTooLarge,
                             "Transaction exceeds byte limit: \(size) bytes of \(StoreLimits.transactionBytes)")
        }
        guard wrote else {
            t.abort()
            return -1
        }
        let version = Int64(mdb_txn_id(t.txn))
        try t.commit()
        // A round trip on FoundationDB; not a commit of data (the counters'
        // commits are the data's).
        counters.roundTrips += 1
        return version
    }

    func onError(_ error: StoreError) throws(StoreError) { throw error }

    func reset() {
        txn?.abort()
        txn = nil
        wrote = false
        done = false
        size = 0
    }

    func cancel() {
        txn?.abort()
        txn = nil
        done = true
    }

    var approximateSize: Int { size }
}
