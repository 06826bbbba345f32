import PlinthStore

/// Which of the transaction's own writes a read sees (Postgres's command ids).
public enum Visibility: Sendable, Equatable {
    /// A statement's view: own writes of earlier commands only — a statement
    /// never sees its own changes (an MVCC snapshot with this curcid).
    case command(UInt32)
    /// Every own write, the current command's included (SnapshotSelf,
    /// SnapshotDirty, SnapshotAny; uniqueness checks).
    case all

    @inline(__always)
    func sees(_ cid: UInt32) -> Bool {
        switch self {
        case .command(let cur): return cid < cur
        case .all: return true
        }
    }
}

/// Which write of this transaction made a value: its command, and the
/// (sub)transaction id Postgres shows as the row's xmin.
public struct OwnWrite: Equatable, Sendable {
    public var cid: UInt32
    public var xid: UInt32
    public init(cid: UInt32, xid: UInt32) {
        self.cid = cid
        self.xid = xid
    }
}

/// What the transaction's own writes say about a key.
public enum BufferedState: Equatable {
    /// Not written (or not visibly written): read the store.
    case unwritten
    /// Written by this transaction.
    case value(Bytes, OwnWrite)
    case deleted
}

/// The writes of one Postgres transaction, kept until commit.
///
/// Every write records the command id (cid) and subtransaction id (subid)
/// that made it and a sequence number. Reads pick, per key, the latest write
/// their `Visibility` allows — so a statement does not see its own changes
/// while the next statement does. Rolling back to a savepoint drops the
/// writes of every subtransaction started since (subids grow within a
/// top-level transaction, so "subid >= s" is exactly the rolled-back ones).
public final class WriteBuffer {
    public struct Version {
        public var seq: UInt64
        public var cid: UInt32
        public var subid: UInt32
        /// nil: deleted.
        public var value: Bytes?
        /// For a delete: the value the key had before (fetch by row id with
        /// SnapshotAny still finds a row this transaction deleted).
        public var prior: Bytes?
        /// The key did not exist before this write (a new row id): deleting
        /// it again needs no store mutation at all.
        public var fresh: Bool
        /// The writing (sub)transaction's id, for rows (0 when none).
        public var xid: UInt32 = 0
    }

    public struct RangeClear {
        public var range: KeyRange
        public var seq: UInt64
        public var cid: UInt32
        public var subid: UInt32
    }

    private(set) var entries = SortedMap<[Version]>()
    public private(set) var clears: [RangeClear] = []
    private var nextSeq: UInt64 = 1
    /// Bumped by every change: scans re-find their place when it moved.
    public private(set) var generation: UInt64 = 0
    /// What the commit's mutations and their write conflict ranges cost
    /// against the store's limit (`CommitSize`), unmerged.
    public private(set) var mutationBytes = 0

    public init() {}

    public var isEmpty: Bool { entries.isEmpty && clears.isEmpty }

    /// Forgets every write (they were flushed to the store).
    public func removeAll() {
        entries.removeAll()
        clears.removeAll()
        mutationBytes = 0
        generation += 1
    }
    public var keyCount: Int { entries.count }

    /// What a key's final write costs against the store's limit, as
    /// FoundationDB counts it (`CommitSize`): a set, a clear of a key that
    /// existed before, nothing for a key created and deleted again.
    private func contribution(_ key: Bytes, _ chain: [Version]?) -> Int {
        guard let last = chain?.last else { return 0 }
        if let v = last.value { return CommitSize.set(key: key.count, value: v.count) }
        return last.fresh ? 0 : CommitSize.clear(key: key.count)
    }

    private func append(_ key: Bytes, _ v: Version) {
        var v = v
        v.seq = nextSeq
        nextSeq += 1
        generation += 1
        entries.update(key) { chain in
            mutationBytes -= contribution(key, chain)
            if chain == nil {
                chain = [v]
            } else {
                // A key keeps at most one version per command and subtransaction.
                if let last = chain!.last, last.cid == v.cid, last.subid == v.subid {
                    // The value before this command's, for SnapshotAny (a
                    // delete's; a moved row's mark's: `anyValue(skipping:)`).
                    if v.prior == nil { v.prior = last.value ?? last.prior }
                    v.fresh = last.fresh
                    chain![chain!.count - 1] = v
                } else {
                    v.fresh = v.fresh || chain!.first!.fresh
                    chain!.append(v)
                }
            }
            mutationBytes += contribution(key, chain)
        }
    }

    public func put(_ key: Bytes, _ value: Bytes, cid: UInt32, subid: UInt32, fresh: Bool = false, xid: UInt32 = 0) {
        append(key, Version(seq: 0, cid: cid, subid: subid, value: value, prior: nil, fresh: fresh, xid: xid))
    }

    public func delete(_ key: Bytes, prior: Bytes?, cid: UInt32, subid: UInt32) {
        append(key, Version(seq: 0, cid: cid, subid: subid, value: nil, prior: prior, fresh: false))
    }

    public func clearRange(_ range: KeyRange, cid: UInt32, subid: UInt32) {
        guard !range.isEmpty else { return }
        clears.append(RangeClear(range: range, seq: nextSeq, cid: cid, subid: subid))
        nextSeq += 1
        generation += 1
        mutationBytes += CommitSize.clear(begin: range.begin.count, end: range.end.count)
    }

    /// Latest visible range clear covering key, if any.
    @inline(__always)
    func coveringClear(_ key: Bytes, _ vis: Visibility) -> RangeClear? {
        guard !clears.isEmpty else { return nil }
        var best: RangeClear?
        for c in clears where vis.sees(c.cid) && c.range.contains(key) {
            if best == nil || c.seq > best!.seq { best = c }
        }
        return best
    }

    /// The state of `key` as `vis` sees it.
    public func state(_ key: Bytes, _ vis: Visibility) -> BufferedState {
        let clear = coveringClear(key, vis)
        if let chain = entries[key] {
            if let v = Self.latestVisible(chain, vis), clear == nil || v.seq > clear!.seq {
                return v.value.map { .value($0, OwnWrite(cid: v.cid, xid: v.xid)) } ?? .deleted
            }
        }
        return clear == nil ? .unwritten : .deleted
    }

    @inline(__always)
    static func latestVisible(_ chain: [Version], _ vis: Visibility) -> Version? {
        var i = chain.count - 1
        while i >= 0 {
            if vis.sees(chain[i].cid) { return chain[i] }
            i -= 1
        }
        return nil
    }

    /// The latest version of key regardless of visibility, with the command
    /// that made it (tuple_delete/update/lock need "modified by whom?").
    public func latestVersion(_ key: Bytes) -> Version? { entries[key]?.last }
    public func firstVersion(_ key: Bytes) -> Version? { entries[key]?.first }

    /// Whether the latest write of `key` replaced a value that existed
    /// before it (an update) rather than creating the key (an insert).
    public func latestReplacedAValue(_ key: Bytes) -> Bool {
        guard let chain = entries[key] else { return false }
        return chain.count > 1 || !chain[0].fresh
    }

    /// Any version of the key's value this transaction knows: the latest
    /// value, or what a delete removed (fetch with SnapshotAny).
    /// `skipping`: values that stand for no row (a moved row's mark),
    /// looked past to the value before them.
    public func anyValue(_ key: Bytes, skipping: ((Bytes) -> Bool)? = nil) -> Bytes? {
        guard let chain = entries[key] else { return nil }
        for v in chain.reversed() {
            if let value = v.value, !(skipping?(value) ?? false) { return value }
            if let prior = v.prior { return prior }
        }
        return nil
    }

    /// Savepoint rollback: forget every write of subtransaction `subid` and
    /// of those started after it.
    public func rollback(subid: UInt32) {
        generation += 1
        var emptied: [Bytes] = []
        entries.mutateAll { key, chain in
            if chain.contains(where: { $0.subid >= subid }) {
                mutationBytes -= contribution(key, chain)
                chain.removeAll { $0.subid >= subid }
                if chain.isEmpty { emptied.append(key) } else { mutationBytes += contribution(key, chain) }
            }
        }
        for k in emptied { entries.remove(k) }
        let dropped = clears.filter { $0.subid >= subid }
        for c in dropped { mutationBytes -= CommitSize.clear(begin: c.range.begin.count, end: c.range.end.count) }
        clears.removeAll { $0.subid >= subid }
    }

    /// A subtransaction committed: its writes now belong to the parent (so
    /// that rolling the parent back drops them, and nothing else does).
    public func release(subid: UInt32, to parent: UInt32) {
        generation += 1
        entries.mutateAll { _, chain in
            for i in chain.indices where chain[i].subid >= subid { chain[i].subid = parent }
        }
        for i in clears.indices where clears[i].subid >= subid { clears[i].subid = parent }
    }

    /// Walks buffered keys in [begin, end) in order (or reverse), starting
    /// after `after` when given. Stops when body returns false.
    func walk(_ range: KeyRange, after: Bytes?, reverse: Bool, _ body: (Bytes, [Version]) -> Bool) {
        if !reverse {
            var i = after.map { entries.index(atOrAfter: $0, strictly: true) } ?? entries.index(atOrAfter: range.begin)
            while entries.isValid(i) {
                let k = entries.key(at: i)
                if compareBytes(k, range.end) >= 0 { break }
                if !body(k, entries.value(at: i)) { break }
                i = entries.index(after: i)
            }
        } else {
            var i = after.map { entries.index(before: $0) } ?? entries.index(before: range.end)
            while entries.isValid(i) {
                let k = entries.key(at: i)
                if compareBytes(k, range.begin) < 0 { break }
                if !body(k, entries.value(at: i)) { break }
                i = entries.index(before: i)
            }
        }
    }

    /// Whether some visible range clear covers all of [key, ...) up to its
    /// end: returns that end (forward) so a scan can skip the whole range.
    func clearedSpan(_ key: Bytes, _ vis: Visibility) -> KeyRange? {
        coveringClear(key, vis)?.range
    }

    /// The mutations a commit applies, in an order that gives the final
    /// state: every cleared range, then each key's final value or delete.
    public func finalMutations(_ body: (FinalMutation) throws(StoreError) -> Void) throws(StoreError) {
        for c in clears { try body(.clearRange(c.range)) }
        var failure: StoreError?
        entries.forEach { key, chain in
            guard failure == nil, let last = chain.last else { return }
            let clearedAfter = clears.contains { $0.seq > last.seq && $0.range.contains(key) }
            if clearedAfter { return }
            do throws(StoreError) {
                if let v = last.value {
                    try body(.set(key, v))
                } else if !last.fresh {
                    try body(.clear(key))
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    public enum FinalMutation {
        case set(Bytes, Bytes)
        case clear(Bytes)
        case clearRange(KeyRange)
    }
}
