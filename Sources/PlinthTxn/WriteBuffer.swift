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
///
/// Memory is bounded: past `spillThresholdBytes`, keys with one version
/// move to a `SpillArea` on local disk, read from there as if still here.
/// A key written again comes back to memory. A spilled version keeps the
/// subtransaction that wrote it; what became of that subtransaction since
/// (released to its parent, rolled back) is kept beside, per
/// subtransaction, so that neither RELEASE nor ROLLBACK TO SAVEPOINT has
/// to touch the spilled keys — a load inside a savepoint (psql's
/// ON_ERROR_ROLLBACK, a PL/pgSQL EXCEPTION block, an ORM's nested
/// transaction) spills as one outside does.
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

    /// Makes the spill area when the buffer first outgrows its memory;
    /// nil: the buffer never spills (SERIALIZABLE, whose writes stay under
    /// the store's 10 MB anyway).
    public var spillFactory: (() throws(StoreError) -> any SpillArea)?
    /// Memory the buffered writes may take before they spill.
    public var spillThresholdBytes = 64 << 20
    private var spill: (any SpillArea)?
    /// Per subtransaction whose writes spilled (as it was when they
    /// spilled), while a subtransaction still open owns them: which one (a
    /// RELEASE gives a subtransaction's writes to its parent). Once the
    /// top-level transaction owns them, or they were rolled back, their
    /// fate is final and moves to `finalOwners` (0: rolled back, gone),
    /// which RELEASE and ROLLBACK TO SAVEPOINT never walk.
    private var openOwners: [UInt32: UInt32] = [:]
    private var finalOwners: [UInt32: UInt32] = [:]
    /// Per subtransaction whose writes spilled: what its spilled keys add
    /// to `mutationBytes`.
    private var spilledBytes: [UInt32: Int] = [:]
    /// Keys written by each subtransaction other than the top-level one,
    /// while it is open (a RELEASE hands them to its parent): RELEASE and
    /// ROLLBACK TO SAVEPOINT visit these, not every buffered key — a
    /// PL/pgSQL loop with an EXCEPTION block ends a subtransaction per row.
    /// A key may be listed twice, or no longer hold a version of it.
    private var keysBySubid: [UInt32: [Bytes]] = [:]
    /// About how much memory `entries` takes.
    public private(set) var memoryBytes = 0
    /// Keys whose versions became settled (`settled`) since the last
    /// spill, and their memory: a spill looks at these only, so that
    /// writes that cannot move (an open subtransaction's) are not walked
    /// again and again. Some may have changed since: checked then.
    private var spillCandidates: [Bytes] = []
    private var candidateBytes = 0
    private var removedSinceCompaction = 0
    /// Keys moved to the spill area so far (tests, monitoring).
    public private(set) var spilledKeys = 0
    /// Postgres's TopSubTransactionId: writes of this subtransaction are
    /// undone only with the whole transaction.
    public static let topSubid: UInt32 = 1

    public init() {}

    public var isEmpty: Bool { entries.isEmpty && clears.isEmpty && (spill?.puts ?? 0) == 0 }

    /// Forgets every write (they were flushed to the store).
    public func removeAll() {
        entries.removeAll()
        clears.removeAll()
        spill = nil
        openOwners = [:]
        finalOwners = [:]
        spilledBytes = [:]
        keysBySubid = [:]
        memoryBytes = 0
        spillCandidates = []
        candidateBytes = 0
        removedSinceCompaction = 0
        mutationBytes = 0
        generation += 1
    }
    /// Keys written (at most; zero when none).
    public var keyCount: Int { entries.count + (spill?.puts ?? 0) }

    /// The key's versions: in memory, or its one spilled version.
    private func chain(_ key: Bytes) throws(StoreError) -> [Version]? {
        if let c = entries[key] { return c }
        guard let s = spill, let raw = try s.get(key), let v = try spilled(raw) else { return nil }
        return [v.version]
    }

    /// A spilled version as it stands now: owned by the subtransaction its
    /// writer's writes went to, nil when they were rolled back.
    private func spilled(_ raw: Bytes) throws(StoreError) -> (version: Version, spilledBy: UInt32)? {
        var v = try Self.decode(raw)
        let by = v.subid
        let owner = openOwners[by] ?? finalOwners[by] ?? by
        guard owner != 0 else { return nil }
        v.subid = owner
        return (v, by)
    }

    private static func memory(_ key: Bytes, _ chain: [Version]?) -> Int {
        guard let chain else { return 0 }
        var n = key.count + 96   // the map's slot, the chain's array
        for v in chain { n += 64 + (v.value?.count ?? 0) + (v.prior?.count ?? 0) }
        return n
    }

    /// What a key's final write costs against the store's limit, as
    /// FoundationDB counts it (`CommitSize`): a set, a clear of a key that
    /// existed before, nothing for a key created and deleted again.
    private func contribution(_ key: Bytes, _ chain: [Version]?) -> Int {
        guard let last = chain?.last else { return 0 }
        if let v = last.value { return CommitSize.set(key: key.count, value: v.count) }
        return last.fresh ? 0 : CommitSize.clear(key: key.count)
    }

    private func append(_ key: Bytes, _ v: Version) throws(StoreError) {
        var v = v
        // A spilled key written again: its version comes back to memory,
        // which shadows the spilled copy from then on. (A new row id was
        // never written before.)
        var pulled: [Version]?
        if spill != nil && !v.fresh && entries[key] == nil, let raw = try spill!.get(key), let s = try spilled(raw) {
            pulled = [s.version]
            spilledBytes[s.spilledBy, default: 0] -= contribution(key, pulled)
        }
        v.seq = nextSeq
        nextSeq += 1
        generation += 1
        // Whether `keysBySubid` lists the key under v's subtransaction: it
        // has a version of it in memory.
        var listed = false
        entries.update(key) { chain in
            // (A pulled version's memory was not counted while it was spilled.)
            if chain == nil {
                chain = pulled
            } else {
                memoryBytes -= Self.memory(key, chain)
                listed = chain!.contains { $0.subid == v.subid }
            }
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
            memoryBytes += Self.memory(key, chain)
            if spillFactory != nil, Self.settled(chain!) { noteCandidate(key, chain!) }
        }
        if v.subid != Self.topSubid && !listed { keysBySubid[v.subid, default: []].append(key) }
        if let p = pulled?.first, p.subid != Self.topSubid, p.subid != v.subid { keysBySubid[p.subid, default: []].append(key) }
        pruneCandidates()
        if memoryBytes > spillThresholdBytes, candidateBytes >= spillThresholdBytes / 2 { try spillSettled() }
    }

    public func put(_ key: Bytes, _ value: Bytes, cid: UInt32, subid: UInt32, fresh: Bool = false, xid: UInt32 = 0) throws(StoreError) {
        try append(key, Version(seq: 0, cid: cid, subid: subid, value: value, prior: nil, fresh: fresh, xid: xid))
    }

    public func delete(_ key: Bytes, prior: Bytes?, cid: UInt32, subid: UInt32) throws(StoreError) {
        try append(key, Version(seq: 0, cid: cid, subid: subid, value: nil, prior: prior, fresh: false))
    }

    // MARK: spilling

    /// Whether a key's versions may leave memory: one version (every
    /// visibility sees it or not as a whole; what becomes of its
    /// subtransaction is kept beside the spill area: `openOwners`).
    private static func settled(_ chain: [Version]) -> Bool { chain.count == 1 }

    private func noteCandidate(_ key: Bytes, _ chain: [Version]) {
        spillCandidates.append(key)
        candidateBytes += Self.memory(key, chain)
    }

    /// One key rewritten again and again (by one command) is listed each
    /// time: the list is rebuilt before it outgrows the map. (Not while
    /// the map is being changed.)
    private func pruneCandidates() {
        guard spillCandidates.count > 2 * entries.count + 10_000 else { return }
        spillCandidates = []
        candidateBytes = 0
        entries.forEach { k, c in
            if Self.settled(c) { noteCandidate(k, c) }
        }
    }

    /// Moves the settled keys among the candidates to the spill area, in
    /// puts of a few megabytes (encoded copies are made for one put at a
    /// time).
    private func spillSettled() throws(StoreError) {
        if spill == nil { spill = try spillFactory!() }
        var batch: [(key: Bytes, value: Bytes)] = []
        var batchBytes = 0
        var moved: [Bytes] = []
        for key in spillCandidates {
            guard let chain = entries[key], Self.settled(chain) else { continue }
            let value = Self.encode(chain[0])
            batch.append((key, value))
            batchBytes += key.count + value.count
            moved.append(key)
            if batchBytes >= 4 << 20 {
                try spill!.put(batch)
                batch.removeAll(keepingCapacity: true)
                batchBytes = 0
            }
        }
        try spill!.put(batch)
        for key in moved {
            // A key listed twice was moved with its first listing.
            guard let chain = entries.remove(key) else { continue }
            memoryBytes -= Self.memory(key, chain)
            let by = chain[0].subid
            if by != Self.topSubid && openOwners[by] == nil { openOwners[by] = by }
            spilledBytes[by, default: 0] += contribution(key, chain)
            spilledKeys += 1
            removedSinceCompaction += 1
        }
        // Removals leave the map's leaves sparse or empty, and walks step
        // over empty leaves: rebuilt once more were removed than are left
        // (so rebuilding costs at most one step per removal).
        if removedSinceCompaction > entries.count {
            entries.compact()
            removedSinceCompaction = 0
        }
        spillCandidates = []
        candidateBytes = 0
        generation += 1
        // The spilled keys' fate is `openOwners`'; only keys in memory stay listed.
        keysBySubid = keysBySubid.mapValues { $0.filter { entries[$0] != nil } }
    }

    // A spilled version: flags (1 value, 2 prior, 4 fresh), seq, cid,
    // subid, xid, the value's length (the header), the value's bytes, then
    // the prior's bytes.
    static let header = 25
    static func encode(_ v: Version) -> Bytes {
        var out: Bytes = []
        out.reserveCapacity(Self.header + (v.value?.count ?? 0) + (v.prior?.count ?? 0))
        out.append((v.value != nil ? 1 : 0) | (v.prior != nil ? 2 : 0) | (v.fresh ? 4 : 0))
        func add<T: FixedWidthInteger>(_ x: T) { withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) } }
        add(v.seq)
        add(v.cid)
        add(v.subid)
        add(v.xid)
        add(UInt32(v.value?.count ?? 0))
        if let value = v.value { out.append(contentsOf: value) }
        if let prior = v.prior { out.append(contentsOf: prior) }
        return out
    }

    static func decode(_ b: Bytes) throws(StoreError) -> Version {
        let bad = StoreError(.storeCorrupted, "a spilled write of this transaction is damaged")
        guard b.count >= header else { throw bad }
        func read<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T {
            var x: T = 0
            withUnsafeMutableBytes(of: &x) { d in b.withUnsafeBytes { d.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[at..<at + MemoryLayout<T>.size])) } }
            return T(littleEndian: x)
        }
        let flags = b[0]
        let length = Int(read(21, UInt32.self))
        guard length <= b.count - header, flags & 1 != 0 || length == 0 else { throw bad }
        let value: Bytes? = flags & 1 != 0 ? Bytes(b[header..<header + length]) : nil
        let prior: Bytes? = flags & 2 != 0 ? Bytes(b[(header + length)...]) : nil
        guard flags & 2 != 0 || b.count == header + length else { throw bad }
        return Version(seq: read(1, UInt64.self), cid: read(9, UInt32.self), subid: read(13, UInt32.self),
                       value: value, prior: prior, fresh: flags & 4 != 0, xid: read(17, UInt32.self))
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
    public func state(_ key: Bytes, _ vis: Visibility) throws(StoreError) -> BufferedState {
        let clear = coveringClear(key, vis)
        if let chain = try chain(key) {
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
    public func latestVersion(_ key: Bytes) throws(StoreError) -> Version? { try chain(key)?.last }
    public func firstVersion(_ key: Bytes) throws(StoreError) -> Version? { try chain(key)?.first }

    /// Whether the latest write of `key` replaced a value that existed
    /// before it (an update) rather than creating the key (an insert).
    public func latestReplacedAValue(_ key: Bytes) throws(StoreError) -> Bool {
        guard let chain = try chain(key) else { return false }
        return chain.count > 1 || !chain[0].fresh
    }

    /// Any version of the key's value this transaction knows: the latest
    /// value, or what a delete removed (fetch with SnapshotAny).
    /// `skipping`: values that stand for no row (a moved row's mark),
    /// looked past to the value before them.
    public func anyValue(_ key: Bytes, skipping: ((Bytes) -> Bool)? = nil) throws(StoreError) -> Bytes? {
        guard let chain = try chain(key) else { return nil }
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
        for (by, owner) in openOwners where owner >= subid {
            openOwners[by] = nil
            finalOwners[by] = 0
            mutationBytes -= spilledBytes.removeValue(forKey: by) ?? 0
        }
        for key in takeKeys(from: subid) {
            entries.update(key) { chain in
                guard chain?.contains(where: { $0.subid >= subid }) ?? false else { return }
                memoryBytes -= Self.memory(key, chain)
                mutationBytes -= contribution(key, chain)
                chain!.removeAll { $0.subid >= subid }
                if chain!.isEmpty {
                    chain = nil
                    removedSinceCompaction += 1
                    return
                }
                mutationBytes += contribution(key, chain)
                memoryBytes += Self.memory(key, chain)
                if spillFactory != nil, Self.settled(chain!) { noteCandidate(key, chain!) }
            }
        }
        let dropped = clears.filter { $0.subid >= subid }
        for c in dropped { mutationBytes -= CommitSize.clear(begin: c.range.begin.count, end: c.range.end.count) }
        clears.removeAll { $0.subid >= subid }
        pruneCandidates()
    }

    /// A subtransaction committed: its writes now belong to the parent (so
    /// that rolling the parent back drops them, and nothing else does).
    public func release(subid: UInt32, to parent: UInt32) {
        generation += 1
        for (by, owner) in openOwners where owner >= subid {
            if parent == Self.topSubid {
                openOwners[by] = nil
                finalOwners[by] = parent
            } else {
                openOwners[by] = parent
            }
        }
        let keys = takeKeys(from: subid)
        for key in keys {
            entries.update(key) { chain in
                guard chain?.contains(where: { $0.subid >= subid }) ?? false else { return }
                for i in chain!.indices where chain![i].subid >= subid { chain![i].subid = parent }
                if spillFactory != nil, Self.settled(chain!) { noteCandidate(key, chain!) }
            }
        }
        if parent != Self.topSubid { keysBySubid[parent, default: []] += keys }
        for i in clears.indices where clears[i].subid >= subid { clears[i].subid = parent }
        pruneCandidates()
    }

    /// The keys subtransaction `subid` and those started after it wrote.
    private func takeKeys(from subid: UInt32) -> [Bytes] {
        var keys: [Bytes] = []
        for s in keysBySubid.keys.filter({ $0 >= subid }) { keys += keysBySubid.removeValue(forKey: s) ?? [] }
        return keys
    }

    /// The first buffered key of `range` after `after` (from the range's
    /// start when nil), or the last before it when `reverse`: in memory or
    /// spilled.
    func nextKey(_ range: KeyRange, after: Bytes?, reverse: Bool) throws(StoreError) -> Bytes? {
        var inMemory: Bytes?
        walk(range, after: after, reverse: reverse) { k, _ in inMemory = k; return false }
        guard let s = spill, let spilled = try s.nextKey(in: range, after: after, reverse: reverse) else { return inMemory }
        guard let m = inMemory else { return spilled }
        return (compareBytes(m, spilled) < 0) != reverse ? m : spilled
    }

    /// Walks in-memory buffered keys in [begin, end) in order (or reverse),
    /// starting after `after` when given. Stops when body returns false.
    private func walk(_ range: KeyRange, after: Bytes?, reverse: Bool, _ body: (Bytes, [Version]) -> Bool) {
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
        // Spilled keys, unless written again since (memory has them then).
        try spill?.forEach { key, raw throws(StoreError) in
            if entries[key] != nil { return }
            guard let last = try spilled(raw)?.version else { return }
            if clears.contains(where: { $0.seq > last.seq && $0.range.contains(key) }) { return }
            if let v = last.value {
                try body(.set(key, v))
            } else if !last.fresh {
                try body(.clear(key))
            }
        }
    }

    public enum FinalMutation {
        case set(Bytes, Bytes)
        case clear(Bytes)
        case clearRange(KeyRange)
    }
}
