/// How FoundationDB counts a transaction against its limit of 10,000,000
/// bytes (`transaction_too_large`, 2101), so that the embedded engine refuses
/// exactly the transactions FoundationDB refuses, and Plinth can tell in
/// advance which ones will be.
///
/// FoundationDB 7.3's client checks, once, at commit, the request its
/// read-your-writes layer builds (`Transaction::getSize` in NativeAPI):
///
///     Σ mutations       (44 + |param1| + |param2|)
///   + Σ read ranges     (24 + |begin| + |end|)
///   + Σ write ranges    (24 + |begin| + |end|)
///
/// and refuses more than 10,000,000 — never a transaction with no mutation
/// and no write conflict range. 44 is sizeof(MutationRef) and 24
/// sizeof(KeyRangeRef) in the 7.3 client on x86-64, whose StringRef is 12
/// bytes (packed) — measured on a cluster: the conformance suite's exact
/// size cases commit 10,000,000 bytes and refuse 10,000,001 on both
/// engines. The request is merged first: only a key's last set is sent, a
/// clear removes earlier writes in its range, a set inside a cleared range
/// splits it, write conflict ranges merge where they touch, read conflict
/// ranges where they overlap or touch, and reads of keys the transaction
/// already wrote add no read conflict. `set(k, v)` is the mutation
/// (k, v) and the write range [k, k\0); `clear(k)` the mutation and the
/// range [k, k\0). Conflict range ends longer than a key may be are cut to
/// `conflictKeyLimit` bytes.
public enum CommitSize {
    public static let mutationOverhead = 44
    public static let rangeOverhead = 24
    /// getMaxKeySize (10,000 + 8) + 1: conflict and clear ends are cut there.
    public static let conflictKeyLimit = StoreLimits.keyBytes + 9

    @inline(__always)
    public static func mutation(_ param1: Int, _ param2: Int) -> Int { mutationOverhead + param1 + param2 }

    @inline(__always)
    public static func range(_ begin: Int, _ end: Int) -> Int {
        rangeOverhead + min(begin, conflictKeyLimit) + min(end, conflictKeyLimit)
    }

    /// The range [k, k\0) of one key.
    @inline(__always)
    public static func singleKeyRange(_ key: Int) -> Int { range(key, key + 1) }

    /// A set (or an atomic operation) with its write conflict range.
    @inline(__always)
    public static func set(key: Int, value: Int) -> Int { mutation(key, value) + singleKeyRange(key) }

    /// A clear of one key: the mutation [k, k\0) and its write range.
    @inline(__always)
    public static func clear(key: Int) -> Int { mutation(key, key + 1) + singleKeyRange(key) }

    /// A clear of a range, with its write range.
    @inline(__always)
    public static func clear(begin: Int, end: Int) -> Int { mutation(begin, end) + range(begin, end) }
}
