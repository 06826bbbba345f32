import CLMDB
import PlinthStore

/// The logical key space on top of LMDB's physical one.
///
/// LMDB (as Debian builds it) limits keys to 511 bytes; FoundationDB allows
/// 10,000. Keys shorter than `bucketPrefix` bytes are LMDB keys as they are.
/// A longer key K lives in a *bucket*: the LMDB entry whose key is exactly
/// K's first `bucketPrefix` bytes and whose value lists (suffix, value) pairs
/// in suffix order. Order is preserved: a short key never equals a bucket key
/// (they differ in length), a bucket sorts where its prefix sorts, and inside
/// it by suffix — so walking physical keys and expanding buckets yields
/// logical keys in order. Long keys are rare (index keys on long text), so
/// buckets are rewritten whole on change.
enum LongKeys {
    static let bucketPrefix = 480
}

/// Bucket value: u32 count, then per entry u16 suffix length, u32 value
/// length, suffix, value (little-endian).
struct Bucket {
    var entries: [(suffix: Bytes, value: Bytes)] = []

    init() {}

    init(decoding blob: UnsafeRawBufferPointer) throws(StoreError) {
        try Bucket.walk(blob) { s, v in entries.append((Bytes(s), Bytes(v))) }
    }

    /// Calls body for each entry without copying. The blob is untrusted (a
    /// damaged file): only what `encode` can write is accepted — suffixes
    /// that make keys the store allows, values it allows, no bytes left over.
    static func walk(_ blob: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) throws(StoreError) {
        func corrupt(_ why: String) -> StoreError { StoreError(.storeCorrupted, "embedded store: long-key bucket \(why)") }
        guard blob.count >= 4 else { throw corrupt("too short") }
        let n = Int(blob.loadUnaligned(fromByteOffset: 0, as: UInt32.self).littleEndian)
        var o = 4
        for _ in 0..<n {
            guard o + 6 <= blob.count else { throw corrupt("truncated") }
            let sl = Int(blob.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian)
            let vl = Int(blob.loadUnaligned(fromByteOffset: o + 2, as: UInt32.self).littleEndian)
            o += 6
            guard LongKeys.bucketPrefix + sl <= StoreLimits.keyBytes, vl <= StoreLimits.valueBytes else {
                throw corrupt("holds an entry larger than the store allows")
            }
            guard o + sl + vl <= blob.count else { throw corrupt("truncated") }
            body(UnsafeRawBufferPointer(rebasing: blob[o..<(o + sl)]),
                 UnsafeRawBufferPointer(rebasing: blob[(o + sl)..<(o + sl + vl)]))
            o += sl + vl
        }
        guard o == blob.count else { throw corrupt("has bytes past its entries") }
    }

    func encode() -> Bytes {
        var out = Bytes()
        var n = UInt32(entries.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        for (s, v) in entries {
            var sl = UInt16(s.count).littleEndian
            var vl = UInt32(v.count).littleEndian
            withUnsafeBytes(of: &sl) { out.append(contentsOf: $0) }
            withUnsafeBytes(of: &vl) { out.append(contentsOf: $0) }
            out.append(contentsOf: s)
            out.append(contentsOf: v)
        }
        return out
    }

    func find(_ suffix: Bytes) -> (found: Bool, index: Int) {
        var lo = 0, hi = entries.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if compareBytes(entries[mid].suffix, suffix) < 0 { lo = mid + 1 } else { hi = mid }
        }
        return (lo < entries.count && compareBytes(entries[lo].suffix, suffix) == 0, lo)
    }
}

/// Reads and writes of logical keys in one LMDB transaction.
struct LogicalSpace {
    let txn: LMDBTxn
    let dbi: MDB_dbi

    static func isLong(_ key: UnsafeRawBufferPointer) -> Bool { key.count >= LongKeys.bucketPrefix }

    func get(_ key: UnsafeRawBufferPointer) throws(StoreError) -> UnsafeRawBufferPointer? {
        if !Self.isLong(key) { return try txn.get(dbi, key) }
        let prefix = UnsafeRawBufferPointer(rebasing: key[0..<LongKeys.bucketPrefix])
        guard let blob = try txn.get(dbi, prefix) else { return nil }
        let suffix = UnsafeRawBufferPointer(rebasing: key[LongKeys.bucketPrefix...])
        var result: UnsafeRawBufferPointer?
        try Bucket.walk(blob) { s, v in
            if result == nil && compareBytes(s, suffix) == 0 { result = v }
        }
        return result
    }

    func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws(StoreError) {
        if !Self.isLong(key) { return try txn.put(dbi, key, value) }
        try modifyBucket(key) { b, suffix in
            let (found, i) = b.find(suffix)
            if found { b.entries[i].value = Bytes(value) } else { b.entries.insert((suffix, Bytes(value)), at: i) }
        }
    }

    @discardableResult
    func delete(_ key: UnsafeRawBufferPointer) throws(StoreError) -> Bool {
        if !Self.isLong(key) { return try txn.delete(dbi, key) }
        var removed = false
        try modifyBucket(key) { b, suffix in
            let (found, i) = b.find(suffix)
            if found { b.entries.remove(at: i); removed = true }
        }
        return removed
    }

    private func modifyBucket(_ key: UnsafeRawBufferPointer, _ body: (inout Bucket, Bytes) -> Void) throws(StoreError) {
        let prefix = UnsafeRawBufferPointer(rebasing: key[0..<LongKeys.bucketPrefix])
        let suffix = Bytes(key[LongKeys.bucketPrefix...])
        var bucket = Bucket()
        if let blob = try txn.get(dbi, prefix) { bucket = try Bucket(decoding: blob) }
        body(&bucket, suffix)
        if bucket.entries.isEmpty {
            try txn.delete(dbi, prefix)
        } else {
            let blob = bucket.encode()
            try blob.withBytes { (b) throws(StoreError) in try txn.put(dbi, prefix, b) }
        }
    }

    /// Deletes every logical key in [begin, end); returns how many.
    @discardableResult
    func deleteRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) -> Int {
        guard compareBytes(begin, end) < 0 else { return 0 }
        let c = try txn.cursor(dbi)
        defer { c.close() }
        var n = 0
        let start = begin.count >= LongKeys.bucketPrefix ? Bytes(begin[0..<LongKeys.bucketPrefix]) : begin
        var entry = try start.withBytes { (s) throws(StoreError) in try c.get(MDB_SET_RANGE, key: s) }
        var rewrite: [(Bytes, Bucket)] = []
        while let e = entry {
            if compareBytes(e.key, end.withUnsafeBytes { $0 }) >= 0 && !Self.isLong(e.key) { break }
            if Self.isLong(e.key) {
                // A bucket: keep the entries outside [begin, end).
                let prefix = Bytes(e.key)
                if compareBytes(prefix, end) >= 0 { break }
                var b = try Bucket(decoding: e.value)
                let before = b.entries.count
                b.entries.removeAll { s, _ in
                    let k = prefix + s
                    return compareBytes(k, begin) >= 0 && compareBytes(k, end) < 0
                }
                if b.entries.count != before {
                    n += before - b.entries.count
                    rewrite.append((prefix, b))
                }
                entry = try c.get(MDB_NEXT)
            } else if compareBytes(e.key, begin.withUnsafeBytes { $0 }) >= 0 {
                try c.deleteCurrent()
                n += 1
                // After a delete, MDB_NEXT yields the entry that followed it.
                entry = try c.get(MDB_NEXT)
            } else {
                entry = try c.get(MDB_NEXT)
            }
        }
        for (prefix, b) in rewrite {
            try prefix.withBytes { (p) throws(StoreError) in
                if b.entries.isEmpty {
                    try txn.delete(dbi, p)
                } else {
                    let blob = b.encode()
                    try blob.withBytes { (v) throws(StoreError) in try txn.put(dbi, p, v) }
                }
            }
        }
        return n
    }
}

/// Walks logical keys in either direction. Key and value pointers stay valid
/// until the cursor moves (keys of bucket entries are assembled in a buffer
/// the cursor owns).
struct LogicalCursor: ~Copyable {
    private let raw: LMDBCursor
    private var physKey = UnsafeRawBufferPointer(start: nil, count: 0)
    private var bucket: [(s: UnsafeRawBufferPointer, v: UnsafeRawBufferPointer)] = []
    private var bucketIndex = -1             // -1: not in a bucket
    private var keyBuffer: UnsafeMutableRawBufferPointer
    private(set) var isValid = false
    private(set) var key = UnsafeRawBufferPointer(start: nil, count: 0)
    private(set) var value = UnsafeRawBufferPointer(start: nil, count: 0)

    init(_ space: LogicalSpace) throws(StoreError) {
        raw = try space.txn.cursor(space.dbi)
        keyBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: StoreLimits.keyBytes + 1, alignment: 8)
    }

    deinit {
        raw.close()
        keyBuffer.deallocate()
    }

    /// Loads the physical entry `e`; for a bucket, its first (or last)
    /// entry. Empty buckets (never written, but a damaged file may hold
    /// them) are skipped, in a loop: a recursion could exhaust the stack.
    private mutating func load(_ first: (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)?, last: Bool) throws(StoreError) {
        var entry = first
        while let e = entry {
            physKey = e.key
            guard LogicalSpace.isLong(e.key) else {
                bucketIndex = -1
                key = e.key
                value = e.value
                isValid = true
                return
            }
            var entries: [(s: UnsafeRawBufferPointer, v: UnsafeRawBufferPointer)] = []
            try Bucket.walk(e.value) { s, v in entries.append((s, v)) }
            bucket = entries
            if !bucket.isEmpty {
                bucketIndex = last ? bucket.count - 1 : 0
                setBucketEntry()
                return
            }
            entry = try raw.get(last ? MDB_PREV : MDB_NEXT)
        }
        isValid = false
        bucketIndex = -1
    }

    private mutating func setBucketEntry() {
        let (s, v) = bucket[bucketIndex]
        let p = physKey.count
        keyBuffer.baseAddress!.copyMemory(from: physKey.baseAddress!, byteCount: p)
        if s.count > 0 { (keyBuffer.baseAddress! + p).copyMemory(from: s.baseAddress!, byteCount: s.count) }
        key = UnsafeRawBufferPointer(start: keyBuffer.baseAddress, count: p + s.count)
        value = v
        isValid = true
    }

    mutating func first() throws(StoreError) { try load(try raw.get(MDB_FIRST), last: false) }
    mutating func last() throws(StoreError) { try load(try raw.get(MDB_LAST), last: true) }

    mutating func next() throws(StoreError) {
        if bucketIndex >= 0 && bucketIndex + 1 < bucket.count {
            bucketIndex += 1
            setBucketEntry()
            return
        }
        try load(try raw.get(MDB_NEXT), last: false)
    }

    mutating func prev() throws(StoreError) {
        if bucketIndex > 0 {
            bucketIndex -= 1
            setBucketEntry()
            return
        }
        try load(try raw.get(MDB_PREV), last: true)
    }

    /// Positions at the first logical key >= target (> with `strictly`).
    mutating func seek(atOrAfter target: UnsafeRawBufferPointer, strictly: Bool = false) throws(StoreError) {
        let start = LogicalSpace.isLong(target) ? UnsafeRawBufferPointer(rebasing: target[0..<LongKeys.bucketPrefix]) : target
        try load(try raw.get(MDB_SET_RANGE, key: start), last: false)
        while isValid {
            let c = compareBytes(key, target)
            if c > 0 || (c == 0 && !strictly) { return }
            try next()
        }
    }

    /// Positions at the last logical key < target (<= with `orEqual`).
    mutating func seek(before target: UnsafeRawBufferPointer, orEqual: Bool = false) throws(StoreError) {
        try seek(atOrAfter: target, strictly: orEqual)
        if isValid { try prev() } else { try last() }
    }
}
