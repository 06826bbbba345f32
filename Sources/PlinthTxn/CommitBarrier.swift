import PlinthEncoding
import PlinthStore

/// The store as Plinth's backends use it: every store transaction, at its
/// first read, waits while a staged commit is being moved into place
/// (`StagedCommit`), so that no snapshot holds a part of one.
///
/// Knowing there is none costs no read: a commit sets and clears the
/// barrier with a bump of the metadata version, which FoundationDB returns
/// with the read version (the embedded engine keeps it in its meta page).
/// While the version is one this process saw with no barrier, nothing is
/// read; after a change (a DDL commit also changes it) the barrier key is
/// read once.
///
/// A barrier that does not move for `stallMilliseconds` belongs to a
/// committer that died (or a server cut off): the waiter applies the rest
/// of the stage itself (`StagedCommit.apply` is safe to run twice at once).
/// It does so at once when `committerGone` says the commit's owner (the
/// server run its id begins with) is known to be gone.
public final class CommitBarrier: Store {
    public let base: any Store
    /// The metadata version at which this process last found no barrier.
    var clearAt: Int64?
    public static let defaultStallMilliseconds = 10_000
    public var stallMilliseconds: Int
    /// Whether the run that wrote the stage of a commit id is gone (a
    /// crash restarted its server, or it was declared dead); nil: wait
    /// for the stall bound.
    public var committerGone: ((Bytes) -> Bool)?

    public init(_ base: any Store, stallMilliseconds: Int = defaultStallMilliseconds) {
        self.base = base
        self.stallMilliseconds = stallMilliseconds
    }

    public func beginTransaction() throws(StoreError) -> any StoreTransaction {
        BarrierTransaction(try base.beginTransaction(), self)
    }
    public func beginVolatileTransaction() throws(StoreError) -> any StoreTransaction { try base.beginVolatileTransaction() }
    public var volatileSpaceIsData: Bool { base.volatileSpaceIsData }
    public func latestVersionHint() -> Int64? { base.latestVersionHint() }
    public var engineName: String { base.engineName }

    /// Returns once `t` reads at a version where no staged commit is being
    /// applied; `t` has read nothing yet (it is reset while it waits).
    func awaitClear(_ t: any StoreTransaction) throws(StoreError) {
        var waiter = Waiter(stallMilliseconds: stallMilliseconds, committerGone: committerGone)
        while true {
            let version = try t.metadataVersion(snapshot: true) ?? 0
            if version == clearAt { return }
            guard let barrier = try t.get(Keyspace.commitBarrierKey, snapshot: true) else {
                clearAt = version
                return
            }
            try waiter.waitOrHelp(base, barrier: barrier, counters: { _ in })
            t.reset()
        }
    }

    // MARK: the barrier's value

    static func value(id: Bytes, step: Int64) -> Bytes { Tuple([.bytes(id), .int(step)]).pack() }

    static func parse(_ v: Bytes) -> (id: Bytes, step: Int64)? {
        guard let e = try? Tuple.unpack(v).elements, e.count == 2, case .bytes(let id) = e[0], case .int(let step) = e[1] else { return nil }
        return (id, step)
    }

    /// One wait for a barrier: sleeps growing from 1 ms to 50 ms (answering
    /// query cancel), and applies the stage itself once the barrier has
    /// shown the same step for `stallMilliseconds`, or at once if its
    /// committer is known to be gone (asked when the barrier is first seen,
    /// then every half second).
    struct Waiter {
        let stallMilliseconds: Int
        var committerGone: ((Bytes) -> Bool)? = nil
        var sleep = 1
        var seen: Bytes?
        var seenSince = 0
        var askedAt: Int?

        mutating func waitOrHelp(_ store: any Store, barrier: Bytes, counters: @escaping (StoreCounters) -> Void) throws(StoreError) {
            let now = monotonicMilliseconds()
            guard let b = CommitBarrier.parse(barrier) else {
                throw StoreError(.storeCorrupted, "the commit barrier holds a value this build did not write")
            }
            var help = false
            if barrier != seen {
                seen = barrier
                seenSince = now
            } else if now - seenSince >= stallMilliseconds {
                help = true
            }
            if !help, let gone = committerGone, askedAt.map({ now - $0 >= 500 }) ?? true {
                askedAt = now
                help = gone(b.id)
            }
            if help {
                try StagedCommit.apply(store, id: b.id, counters: counters)
                seen = nil
                return
            }
            try StoreInterrupts.sleep(milliseconds: sleep)
            sleep = min(sleep * 2, 50)
        }
    }
}

extension Store {
    /// The store without the commit barrier's wait (`CommitBarrier`): for
    /// the steps of a staged commit itself.
    public var unbarriered: any Store { (self as? CommitBarrier)?.base ?? self }
}

/// A store transaction that waits for the commit barrier before its first
/// read (`CommitBarrier`). Writes before any read are passed on as they are.
final class BarrierTransaction: StoreTransaction {
    let inner: any StoreTransaction
    unowned let barrier: CommitBarrier
    private var checked = false
    private var wrote = false

    init(_ inner: any StoreTransaction, _ barrier: CommitBarrier) {
        self.inner = inner
        self.barrier = barrier
    }

    func readOnly() { inner.readOnly() }

    @inline(__always)
    private func ready() throws(StoreError) {
        if checked { return }
        checked = true
        if wrote {
            // Cannot move to a newer read version without losing the writes:
            // such a transaction (Plinth has none) reads without waiting.
            return
        }
        try barrier.awaitClear(inner)
    }

    func getReadVersion() throws(StoreError) -> Int64 {
        try ready()
        return try inner.getReadVersion()
    }
    func get(_ key: Bytes, snapshot: Bool) throws(StoreError) -> Bytes? {
        try ready()
        return try inner.get(key, snapshot: snapshot)
    }
    func getMany(_ keys: [Bytes], snapshot: Bool) throws(StoreError) -> [Bytes?] {
        try ready()
        return try inner.getMany(keys, snapshot: snapshot)
    }
    func getKey(_ selector: KeySelector, snapshot: Bool) throws(StoreError) -> Bytes {
        try ready()
        return try inner.getKey(selector, snapshot: snapshot)
    }
    func getRange(_ begin: KeySelector, _ end: KeySelector, options: RangeOptions) throws(StoreError) -> KVBatch {
        try ready()
        return try inner.getRange(begin, end, options: options)
    }
    func getRanges(_ ranges: [KeyRange], options: RangeOptions) throws(StoreError) -> [KVBatch] {
        try ready()
        return try inner.getRanges(ranges, options: options)
    }
    func metadataVersion(snapshot: Bool) throws(StoreError) -> Int64? {
        try ready()
        return try inner.metadataVersion(snapshot: snapshot)
    }
    func watch(_ key: Bytes) throws(StoreError) -> (any StoreWatch)? {
        try ready()
        return try inner.watch(key)
    }

    func set(_ key: Bytes, _ value: Bytes) throws(StoreError) {
        wrote = true
        try inner.set(key, value)
    }
    func clear(_ key: Bytes) throws(StoreError) {
        wrote = true
        try inner.clear(key)
    }
    func clearRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) {
        wrote = true
        try inner.clearRange(begin, end)
    }
    func atomicOp(_ op: MutationType, _ key: Bytes, _ param: Bytes) throws(StoreError) {
        wrote = true
        try inner.atomicOp(op, key, param)
    }
    func bumpMetadataVersion() throws(StoreError) {
        wrote = true
        try inner.bumpMetadataVersion()
    }
    func addReadConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) { try inner.addReadConflictRange(begin, end) }
    func addWriteConflictRange(_ begin: Bytes, _ end: Bytes) throws(StoreError) { try inner.addWriteConflictRange(begin, end) }

    func commit() throws(StoreError) -> Int64 { try inner.commit() }
    func onError(_ error: StoreError) throws(StoreError) {
        try inner.onError(error)
        checked = false
        wrote = false
    }
    func reset() {
        inner.reset()
        checked = false
        wrote = false
    }
    func cancel() { inner.cancel() }
    var approximateSize: Int { inner.approximateSize }
    var counters: StoreCounters { inner.counters }
}
