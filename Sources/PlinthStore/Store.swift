/// The store protocol: FoundationDB's transaction model, implemented by the
/// embedded engine (PlinthLMDB) and by FoundationDB itself (PlinthFDB).
///
/// A transaction reads a consistent snapshot at its read version, buffers its
/// writes, and commits them atomically — or fails with a retryable conflict
/// (`notCommitted`) when a range it read was written by a transaction that
/// committed after its read version. Reads add read-conflict ranges unless
/// made as snapshot reads; writes add write-conflict ranges; atomic mutations
/// add no read conflict. Both engines enforce FoundationDB's limits
/// (`StoreLimits`) with FoundationDB's error codes.
///
/// Nothing here is thread-safe: a transaction belongs to one thread (a
/// Postgres backend is single-threaded).
public protocol Store: AnyObject {
    /// Starts a transaction. Its read version is taken at the first read.
    func beginTransaction() throws(StoreError) -> any StoreTransaction
    /// Starts a transaction on the volatile space: keys that only matter
    /// while the processes using them run (row locks, the records of the
    /// transactions holding them; `Keyspace.live`). On FoundationDB an
    /// ordinary transaction; the embedded engine keeps them where taking a
    /// lock costs no disk flush (`VolatileSpace`). A volatile transaction
    /// must not read or write data keys, nor data transactions volatile keys.
    func beginVolatileTransaction() throws(StoreError) -> any StoreTransaction
    /// Whether the volatile space is kept among the data (FoundationDB):
    /// then one store transaction may hold both, so that a lock and the
    /// newest version of its row are read in one round trip and a commit
    /// releases its locks with its writes. false: never mix them.
    var volatileSpaceIsData: Bool { get }
    /// The version of the store's last commit, when the engine knows it
    /// without a round trip (the embedded engine; nil on FoundationDB): a
    /// transaction reading at it reads the newest state.
    func latestVersionHint() -> Int64?
    /// Which engine this is, for messages ("embedded", "foundationdb").
    var engineName: String { get }
}

extension Store {
    public func beginVolatileTransaction() throws(StoreError) -> any StoreTransaction { try beginTransaction() }
    public var volatileSpaceIsData: Bool { false }
    public func latestVersionHint() -> Int64? { nil }
}

public protocol StoreTransaction: AnyObject {
    /// The version this transaction reads at (taken on first use).
    func getReadVersion() throws(StoreError) -> Int64

    /// The value of `key`, or nil. Adds a read-conflict range for the key
    /// unless `snapshot`.
    func get(_ key: Bytes, snapshot: Bool) throws(StoreError) -> Bytes?

    /// Many point reads in one round trip (FoundationDB: every future issued
    /// before the first is waited on). Results are in the order of `keys`.
    func getMany(_ keys: [Bytes], snapshot: Bool) throws(StoreError) -> [Bytes?]

    /// The key a selector resolves to (FoundationDB's get_key).
    func getKey(_ selector: KeySelector, snapshot: Bool) throws(StoreError) -> Bytes

    /// One batch of a range read: keys in [begin, end) resolved from the
    /// selectors, ascending (or descending with `reverse`). `more` says
    /// whether the range holds more rows than returned; continue from just
    /// after the last key returned (or before it, in reverse). Adds a
    /// read-conflict range over what was read, unless `snapshot`.
    func getRange(_ begin: KeySelector, _ end: KeySelector, options: RangeOptions) throws(StoreError) -> KVBatch

    /// The first batch of a range read of each of `ranges`, in one round
    /// trip (FoundationDB: every future issued before the first is waited
    /// on). Batches are in the order of `ranges`; each is as `getRange`'s.
    func getRanges(_ ranges: [KeyRange], options: RangeOptions) throws(StoreError) -> [KVBatch]

    func set(_ key: Bytes, _ value: Bytes) throws(StoreError)
    func clear(_ key: Bytes) throws(StoreError)
    /// Clears every key in [begin, end).
    func clearRange(_ begin: Bytes, _ end: Bytes) throws(StoreError)
    /// An atomic read-modify-write applied at commit: no read conflict.
    func atomicOp(_ op: MutationType, _ key: Bytes, _ param: Bytes) throws(StoreError)

    func addReadConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError)
    func addWriteConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError)

    /// The store's metadata version (`MetadataVersion`) at this
    /// transaction's read version, or nil if no commit ever bumped it.
    /// Adds a read conflict on it unless `snapshot`. Not a round trip:
    /// FoundationDB returns it with the read version.
    func metadataVersion(snapshot: Bool) throws(StoreError) -> Int64?
    /// This commit changes the metadata version. A transaction that did so
    /// must not read it afterwards (FoundationDB refuses).
    func bumpMetadataVersion() throws(StoreError)

    /// Commits; returns the commit version, or -1 for a transaction that
    /// wrote nothing (nothing to commit, never a conflict).
    func commit() throws(StoreError) -> Int64

    /// FoundationDB's on_error: for a retryable error, waits a backoff,
    /// resets the transaction and returns (run it again); otherwise rethrows.
    func onError(_ error: StoreError) throws(StoreError)

    /// Drops reads, writes and the read version: the transaction is new.
    func reset()
    /// Ends the transaction without committing; it cannot be used again.
    func cancel()

    /// Bytes this transaction would send to commit, as FoundationDB counts
    /// them against `StoreLimits.transactionBytes` (mutations and conflict
    /// ranges).
    var approximateSize: Int { get }

    /// Per-transaction counters: reads, round trips, bytes.
    var counters: StoreCounters { get }

    /// A watch on `key`: it fires once the key's value differs from what
    /// this transaction reads, after the transaction committed. nil: the
    /// engine has none (the embedded engine, whose reads cost no round
    /// trip, is polled instead).
    func watch(_ key: Bytes) throws(StoreError) -> (any StoreWatch)?

    /// Says, before its first read, that this transaction will only read:
    /// the engine may skip what makes reads see the transaction's own
    /// writes. FoundationDB's read-your-writes layer keeps everything the
    /// transaction read, for its life — a statement's snapshot reads grow
    /// the backend by what they read — and costs a little on every read.
    func readOnly()
}

/// A key's watch (`StoreTransaction.watch`). Checking it costs no round
/// trip; dropping it cancels it.
public protocol StoreWatch: AnyObject {
    /// The key changed, or the watch ended with an error (look again).
    var fired: Bool { get }
}

/// FoundationDB's key selector: the key found by taking the last key less
/// than (or, with orEqual, less than or equal to) `key` and moving `offset`
/// keys forward.
public struct KeySelector: Sendable, Equatable {
    public var key: Bytes
    public var orEqual: Bool
    public var offset: Int

    public init(key: Bytes, orEqual: Bool, offset: Int) {
        self.key = key
        self.orEqual = orEqual
        self.offset = offset
    }

    public static func firstGreaterOrEqual(_ key: Bytes) -> KeySelector { .init(key: key, orEqual: false, offset: 1) }
    public static func firstGreaterThan(_ key: Bytes) -> KeySelector { .init(key: key, orEqual: true, offset: 1) }
    public static func lastLessThan(_ key: Bytes) -> KeySelector { .init(key: key, orEqual: false, offset: 0) }
    public static func lastLessOrEqual(_ key: Bytes) -> KeySelector { .init(key: key, orEqual: true, offset: 0) }

    /// Plain keys resolve to themselves when the selector is
    /// firstGreaterOrEqual: most range reads use only these.
    public var isFirstGreaterOrEqual: Bool { !orEqual && offset == 1 }
}

/// FoundationDB's streaming modes: how eagerly a range read fetches ahead.
/// The embedded engine reads its batches from memory and only uses the
/// limits.
public enum StreamingMode: Int32, Sendable {
    case wantAll = -2
    case iterator = -1
    case exact = 0
    case small = 1
    case medium = 2
    case large = 3
    case serial = 4
}

public struct RangeOptions: Sendable {
    /// At most this many rows (0: no limit).
    public var limit: Int
    /// Stop after about this many bytes of keys and values (0: no limit).
    public var targetBytes: Int
    public var reverse: Bool
    public var snapshot: Bool
    public var mode: StreamingMode
    /// 1-based number of this batch in a streamed read (FoundationDB grows
    /// batches with it in iterator mode).
    public var iteration: Int

    public init(limit: Int = 0, targetBytes: Int = 0, reverse: Bool = false, snapshot: Bool = false,
                mode: StreamingMode = .iterator, iteration: Int = 1) {
        self.limit = limit
        self.targetBytes = targetBytes
        self.reverse = reverse
        self.snapshot = snapshot
        self.mode = mode
        self.iteration = iteration
    }
}

/// Atomic mutations, with FoundationDB's option codes
/// (FDBMutationType). Operands are little-endian where numeric.
public enum MutationType: Int32, Sendable, CaseIterable {
    case add = 2
    case bitAnd = 6
    case bitOr = 7
    case bitXor = 8
    case appendIfFits = 9
    case max = 12
    case min = 13
    case byteMin = 16
    case byteMax = 17
    case compareAndClear = 20
}

/// FoundationDB's `\xff/metadataVersion`: a value that changes with every
/// commit that bumps it, read with no round trip, so that a cache of
/// metadata (here: the catalog each server keeps of the shared schema) is
/// known to be current without reading anything. FoundationDB sets it to
/// the commit's versionstamp; the embedded engine keeps the same key as a
/// counter. Only equality is meaningful.
public enum MetadataVersion {
    public static let key: Bytes = [0xFF] + Array("/metadataVersion".utf8)
    /// FoundationDB's only accepted operand: a versionstamp placeholder (10
    /// bytes) and its offset (4 bytes).
    public static let fdbOperand: Bytes = Bytes(repeating: 0, count: 14)
    /// FDBMutationType SET_VERSIONSTAMPED_VALUE.
    public static let fdbMutationCode: Int32 = 15

    /// A stored value as a number: the versionstamp's commit version
    /// (big-endian: the commits of one version are never seen apart) or the counter
    /// (little-endian, as atomic adds store it).
    public static func decode(_ v: Bytes, versionstamp: Bool) -> Int64? {
        guard v.count >= 8 else { return nil }
        var n: UInt64 = 0
        if versionstamp {
            for i in 0..<8 { n = n << 8 | UInt64(v[i]) }
        } else {
            for i in (0..<8).reversed() { n = n << 8 | UInt64(v[i]) }
        }
        return Int64(bitPattern: n)
    }
}

/// FoundationDB's limits (documented in "Known Limitations"); the embedded
/// engine enforces the same ones so that what works on one machine works on
/// a cluster.
public enum StoreLimits {
    public static let keyBytes = 10_000
    public static let valueBytes = 100_000
    public static let transactionBytes = 10_000_000
    public static let defaultLifetimeMilliseconds = 5_000
}

/// Counters of store work, kept per transaction and summed by the glue per
/// statement and per session.
public struct StoreCounters: Sendable, Equatable {
    /// Point reads (get, and each key of getMany).
    public var reads: Int64 = 0
    /// Range-read batches.
    public var rangeReads: Int64 = 0
    /// Requests that would each cost a network round trip on FoundationDB
    /// (a getMany counts once, a range batch once, a commit once).
    public var roundTrips: Int64 = 0
    public var bytesRead: Int64 = 0
    public var bytesWritten: Int64 = 0
    public var commits: Int64 = 0
    public var conflicts: Int64 = 0

    public init() {}

    public static func += (a: inout StoreCounters, b: StoreCounters) {
        a.reads += b.reads
        a.rangeReads += b.rangeReads
        a.roundTrips += b.roundTrips
        a.bytesRead += b.bytesRead
        a.bytesWritten += b.bytesWritten
        a.commits += b.commits
        a.conflicts += b.conflicts
    }

    public static func - (a: StoreCounters, b: StoreCounters) -> StoreCounters {
        var r = StoreCounters()
        r.reads = a.reads - b.reads
        r.rangeReads = a.rangeReads - b.rangeReads
        r.roundTrips = a.roundTrips - b.roundTrips
        r.bytesRead = a.bytesRead - b.bytesRead
        r.bytesWritten = a.bytesWritten - b.bytesWritten
        r.commits = a.commits - b.commits
        r.conflicts = a.conflicts - b.conflicts
        return r
    }
}

extension StoreTransaction {
    public func watch(_ key: Bytes) throws(StoreError) -> (any StoreWatch)? { nil }

    public func readOnly() {}

    /// Every pair of [begin, end), at most `limit`, read in as many batches
    /// as the store answers with: FoundationDB returns a range in parts
    /// (`KVBatch.more`), so one batch shorter than the limit is no end.
    public func getRangeAll(_ begin: Bytes, _ end: Bytes, limit: Int,
                            snapshot: Bool) throws(StoreError) -> [(key: Bytes, value: Bytes)] {
        var out: [(key: Bytes, value: Bytes)] = []
        var from = begin
        while out.count < limit {
            let batch = try getRange(.firstGreaterOrEqual(from), .firstGreaterOrEqual(end),
                                     options: RangeOptions(limit: limit - out.count, snapshot: snapshot))
            for i in 0..<batch.count { out.append((batch.keyBytes(i), batch.valueBytes(i))) }
            guard batch.more, let last = batch.lastKey else { break }
            from = keyAfter(last)
        }
        return out
    }
}
