import CFDB
import PlinthStore

/// A key selector as `fdb_transaction_get_key` / `fdb_transaction_get_range`
/// take it: key, or_equal (fdb_bool_t) and offset (int).
struct SelectorArguments: Equatable {
    var key: Bytes
    var orEqual: Int32
    var offset: Int32

    init(_ selector: KeySelector) throws(StoreError) {
        guard let offset = Int32(exactly: selector.offset) else {
            throw StoreError(.clientInvalidOperation, "Invalid API call: key selector offset \(selector.offset) does not fit FoundationDB's int")
        }
        key = selector.key
        orEqual = selector.orEqual ? 1 : 0
        self.offset = offset
    }
}

/// RangeOptions as `fdb_transaction_get_range` takes them.
struct RangeArguments: Equatable {
    var limit: Int32
    var targetBytes: Int32
    var mode: Int32
    var iteration: Int32
    var snapshot: Int32
    var reverse: Int32

    init(_ options: RangeOptions) throws(StoreError) {
        // 0 means "no limit" at the C API, as in RangeOptions; like the
        // embedded engine, a negative limit is none, and one beyond int is
        // as good as none.
        limit = Int32(clamping: max(0, options.limit))
        targetBytes = Int32(clamping: max(0, options.targetBytes))
        if options.mode == .exact && limit == 0 && targetBytes == 0 {
            throw StoreError(code: 2210, message: "EXACT streaming mode requires limits, but none were given")
        }
        mode = options.mode.rawValue
        // "should start at 1 and be incremented by 1 for each successive
        // call" (api-c.rst); FoundationDB rejects less than 1 in iterator mode.
        iteration = Int32(clamping: max(1, options.iteration))
        snapshot = options.snapshot ? 1 : 0
        reverse = options.reverse ? 1 : 0
    }
}

/// How `getMany` issues its reads: every distinct key once, all futures of a
/// chunk issued before the first is waited on, so a chunk costs one round
/// trip. Chunks bound the futures (and values) held at once.
struct GetManyPlan: Equatable {
    /// The distinct keys, in order of first appearance.
    var distinct: [Bytes]
    /// For each requested key, its index in `distinct`.
    var slots: [Int]
    /// Ranges of `distinct` issued together.
    var chunks: [Range<Int>]

    static let defaultChunkSize = 10_000

    init(keys: [Bytes], chunkSize: Int = GetManyPlan.defaultChunkSize) {
        precondition(chunkSize > 0)
        var index: [Bytes: Int] = [:]
        index.reserveCapacity(keys.count)
        distinct = []
        distinct.reserveCapacity(keys.count)
        slots = []
        slots.reserveCapacity(keys.count)
        for key in keys {
            if let i = index[key] {
                slots.append(i)
            } else {
                index[key] = distinct.count
                slots.append(distinct.count)
                distinct.append(key)
            }
        }
        let total = distinct.count
        chunks = stride(from: 0, to: total, by: chunkSize).map { $0..<min($0 + chunkSize, total) }
    }
}

/// Copies FoundationDB's key-value array (memory owned by its future) into
/// one KVBatch: the bytes are counted first so the batch allocates once.
func copyKeyValues(_ rows: UnsafeBufferPointer<FDBKeyValue>, more: Bool) -> KVBatch {
    var bytes = 0
    for row in rows { bytes += Int(row.key_length) + Int(row.value_length) }
    var batch = KVBatch(reservingBytes: bytes, reservingCount: rows.count)
    for row in rows {
        batch.append(key: UnsafeRawBufferPointer(start: row.key, count: Int(row.key_length)),
                     value: UnsafeRawBufferPointer(start: row.value, count: Int(row.value_length)))
    }
    batch.more = more
    return batch
}
