import PlinthEncoding
import PlinthStore

/// The store side of one Postgres transaction: the snapshot its reads use,
/// plus its buffered writes (WriteBuffer), sent in one commit at the end.
///
/// `serializable`: one store transaction for everything — its read version
/// is every read's, its reads are conflict ranges, and its commit fails when
/// something it read changed (FoundationDB's optimistic model). `snapshot`
/// (READ COMMITTED, REPEATABLE READ): reads add no conflict; READ COMMITTED
/// takes a newer snapshot for each statement (`renewSnapshot`); the commit
/// sends the writes in a store transaction of its own that cannot conflict —
/// concurrent writers of a row are ordered by row locks instead (RowLocks).
public final class Transaction {
    public enum ReadMode: Sendable { case serializable, snapshot }

    public let store: any Store
    public var mode: ReadMode = .serializable
    private var tr: (any StoreTransaction)?
    /// Scans open on the store transaction: while one is, a new statement
    /// keeps reading the same snapshot (the scan's rows must stay those its
    /// statement sees when they are updated).
    public internal(set) var openScans = 0
    /// Newest committed values read after taking a row's lock (`readCurrent`):
    /// they stand for the snapshot's version from then on, as heap's
    /// EvalPlanQual continues on the newest version of a row.
    private var current: [HashedKey: Bytes?] = [:]
    /// READ COMMITTED: a statement's reads see those newest values too
    /// (EvalPlanQual goes on with them). REPEATABLE READ: only reads of
    /// every version do (`.all`: the locked row); a statement's snapshot
    /// stays the transaction's — a row committed after it is not seen.
    public var newestStandsForSnapshot = true
    public let buffer = WriteBuffer()
    /// Values read from the snapshot. They cannot change during the
    /// transaction (one read version), so a second read of the same key is
    /// free — on FoundationDB a round trip saved.
    private var cache: [HashedKey: Bytes?] = [:]
    public static let cacheLimit = 50_000
    /// The last batches scans read. UPDATE and DELETE fetch each row a scan
    /// has just produced: found here, that costs no round trip. (The range
    /// read already holds the read conflict.)
    private var recentBatches: [KVBatch] = []
    static let recentBatchLimit = 4
    /// First batches of ranges read ahead (`prefetchRanges`), by the
    /// range's begin: a scan of exactly such a range starts from them.
    private var rangeCache: [HashedKey: (end: Bytes, batch: KVBatch)] = [:]
    /// Parents held for foreign key checks (`pinParent`): kept across
    /// snapshots, read only while `servesPinnedParents`.
    private var pinnedRanges: [HashedKey: (end: Bytes, batch: KVBatch, subid: UInt32)] = [:]
    private var pinnedRows: [HashedKey: (value: Bytes, subid: UInt32)] = [:]
    /// The running statement is a foreign key check (READ COMMITTED): it
    /// reads the parents pinned for it, whatever its snapshot.
    public var servesPinnedParents = false
    /// Read conflicts of point reads. The reads are snapshot reads; their
    /// conflicts are kept here and handed to the store at commit. Past
    /// `pointConflictLimit` keys they widen to their parents (a key's tuple
    /// without its last element: a row's table), so a transaction that
    /// fetches a million rows holds a few ranges, not a million keys. A
    /// wider range can add a conflict, never hide one.
    private var conflictPoints: [Bytes] = []
    private var conflictParents: Set<Bytes> = []
    public static let pointConflictLimit = 20_000
    /// What the point reads' conflict ranges will cost against the store's
    /// limit when they are handed over at commit (`CommitSize`).
    private var conflictBytes = 0
    private var atomics: [(MutationType, Bytes, Bytes)] = []
    private var atomicBytes = 0
    /// Counters of store transactions already finished (this transaction
    /// may have used several after resets).
    private var pastCounters = StoreCounters()
    public private(set) var finished = false

    /// When the store transaction began (ANALYZE's sampling renews it).
    private var storeStarted: UInt64 = 0

    public init(store: any Store) {
        self.store = store
    }

    /// Keys under this prefix are never sent to the store: a server
    /// replaying another's DDL reads and writes table data there (an empty
    /// space), since the data is in the store already.
    public var discardedPrefix: Bytes? = nil

    /// Values the commit must still find in the store (a key read by a
    /// real read in the commit's own store transaction, so that a
    /// concurrent change of it either shows here or makes one of the two
    /// commits conflict); when one differs, the commit fails with `error`.
    private var commitChecks: [(key: Bytes, expected: Bytes?, error: StoreError)] = []

    public func checkAtCommit(_ key: Bytes, expected: Bytes?, error: StoreError) {
        commitChecks.append((key, expected, error))
    }

    public var hasCommitChecks: Bool { !commitChecks.isEmpty }

    /// Runs in the commit's store transaction before the writes go (and
    /// only when there are writes): the check that no table this
    /// transaction wrote changed its definition meanwhile (Session's
    /// definition guard). It may read; what it reads adds read conflicts.
    public var commitGuard: ((any StoreTransaction) throws(StoreError) -> Void)?
    /// The commit changes the store's metadata version (a DDL commit).
    public var bumpsMetadataVersion = false
    /// Writes the release of the transaction's row locks into a commit made
    /// in one store transaction (where the store keeps locks among the data:
    /// Session.commit), which then says so in `releasedLocksInCommit`. A
    /// commit in steps holds its locks until its apply is done: not there.
    public var releaseLocksInCommit: ((any StoreTransaction) throws(StoreError) -> Void)?
    public private(set) var releasedLocksInCommit = false

    private func runCommitChecks(_ t: any StoreTransaction) throws(StoreError) {
        for c in commitChecks where try t.get(c.key, snapshot: false) != c.expected { throw c.error }
    }

    /// The store transaction, started on first use.
    public func storeTransaction() throws(StoreError) -> any StoreTransaction {
        if let tr { return tr }
        let t = try store.beginTransaction()
        // READ COMMITTED and REPEATABLE READ commit in a store transaction
        // of their own: this one only reads.
        if mode == .snapshot { t.readOnly() }
        tr = t
        storeStarted = monotonicNanos()
        return t
    }

    /// Ends the store transaction without committing (its reads only):
    /// later reads get a newer snapshot.
    private func retireStoreTransaction() {
        if let tr {
            pastCounters += tr.counters
            tr.cancel()
        }
        tr = nil
        cache.removeAll()
        recentBatches.removeAll()
        rangeCache.removeAll()
        conflictPoints.removeAll()
        conflictParents.removeAll()
        conflictBytes = 0
    }

    /// Fixes the store snapshot now rather than at the first read, which
    /// may come after a wait for a lock — when rows committed since would
    /// be in it though Postgres's snapshot does not have them.
    public func pinSnapshot() throws(StoreError) {
        _ = try storeTransaction().getReadVersion()
    }

    /// ANALYZE samples blocks of a table of any size, each read on its own:
    /// a snapshot older than `samplingSnapshotNanoseconds` is replaced
    /// (a sample needs no single snapshot, and FoundationDB lets none be
    /// read for more than 5 s). Only with no own writes or open scans.
    public func renewForSampling() {
        guard tr != nil, !hasWrites, openScans == 0,
              monotonicNanos() - storeStarted > Self.samplingSnapshotNanoseconds else { return }
        retireStoreTransaction()
        current.removeAll()
    }
    static let samplingSnapshotNanoseconds: UInt64 = 1_000_000_000

    /// READ COMMITTED, at a statement's start: the statement reads a newer
    /// snapshot — unless nothing was committed since this one was taken
    /// and it is younger than `renewalNanoseconds` (then what was read
    /// ahead and cached stays good; an older one would leave the statement
    /// too little of the store's 5 s, and a transaction idle for longer
    /// would fail its next statement), or a scan is still open on it (a
    /// cursor, or a statement run by a function inside another's scan: the
    /// rows that scan hands out must stay the ones its statement updates).
    public func renewSnapshot() {
        guard mode == .snapshot, openScans == 0, let tr else { return }
        if monotonicNanos() - storeStarted < renewalNanoseconds,
           let latest = store.latestVersionHint(), let read = try? tr.getReadVersion(), read >= latest { return }
        retireStoreTransaction()
        current.removeAll()
    }

    /// The newest committed values of `keys`, read in a store transaction
    /// of their own: after this transaction took the lock of the row they
    /// belong to, no one else can change them. `spanLimit`: when the keys
    /// lie close together (`getManyNearby`; 0: read key by key).
    public func readCurrent(_ keys: [Bytes], spanLimit: Int = 0) throws(StoreError) -> [Bytes?] {
        let t = try currentReader()
        defer {
            pastCounters += t.counters
            t.cancel()
        }
        return try t.getManyNearby(keys, spanLimit: spanLimit)
    }

    /// From now on `key` reads as `value` where the snapshot would answer
    /// (own writes still come first).
    public func adoptCurrent(_ key: Bytes, _ value: Bytes?) {
        current[HashedKey(key)] = .some(value)
    }

    /// Whether `key` reads as a newest value adopted since the snapshot.
    public func hasAdopted(_ key: Bytes) -> Bool { !current.isEmpty && current[HashedKey(key)] != nil }

    private func apply(to t: any StoreTransaction) throws(StoreError) {
        try forEachMutation { m throws(StoreError) in
            switch m {
            case .set(let k, let v): try t.set(k, v)
            case .clear(let k): try t.clear(k)
            case .clearRange(let b, let e): try t.clearRange(b, e)
            case .atomic(let op, let k, let p): try t.atomicOp(op, k, p)
            }
        }
    }

    /// The commit's mutations, in the order that gives the final state:
    /// cleared ranges, each key's last write, the atomic operations.
    private func forEachMutation(_ body: (StagedMutation) throws(StoreError) -> Void) throws(StoreError) {
        let discarded = discardedPrefix
        try buffer.finalMutations { m throws(StoreError) in
            switch m {
            case .set(let k, let v): if discarded.map({ !k.starts(with: $0) }) ?? true { try body(.set(k, v)) }
            case .clear(let k): if discarded.map({ !k.starts(with: $0) }) ?? true { try body(.clear(k)) }
            case .clearRange(let r): if discarded.map({ !r.begin.starts(with: $0) }) ?? true { try body(.clearRange(r.begin, r.end)) }
            }
        }
        for (op, k, p) in atomics where discarded.map({ !k.starts(with: $0) }) ?? true { try body(.atomic(op, k, p)) }
    }

    public var hasStoreTransaction: Bool { tr != nil }
    public var hasWrites: Bool { !buffer.isEmpty || !atomics.isEmpty }

    public var counters: StoreCounters {
        var c = pastCounters
        if let tr { c += tr.counters }
        return c
    }

    // MARK: reads

    /// The value of `key` as `vis` sees it: own writes first, then the
    /// snapshot. Adds a read conflict for the key.
    public func get(_ key: Bytes, _ vis: Visibility) throws(StoreError) -> Bytes? {
        try getWithSource(key, vis).value
    }

    /// The value and, when it is an own write, which write made it.
    public func getWithSource(_ key: Bytes, _ vis: Visibility) throws(StoreError) -> (value: Bytes?, own: OwnWrite?) {
        switch try buffer.state(key, vis) {
        case .value(let v, let own): return (v, own)
        case .deleted: return (nil, nil)
        case .unwritten: return (try snapshotGet(key, newest: adopts(vis)), nil)
        }
    }

    private func adopts(_ vis: Visibility) -> Bool { newestStandsForSnapshot || vis == .all }

    /// The value any version of the transaction knows (SnapshotAny): what
    /// own writes last had, even deleted, else the snapshot.
    public func getAnyVersion(_ key: Bytes, skipping: ((Bytes) -> Bool)? = nil) throws(StoreError) -> Bytes? {
        if let v = try buffer.anyValue(key, skipping: skipping) { return v }
        let shown: (Bytes?) -> Bytes? = { v in v.flatMap { skipping?($0) == true ? nil : $0 } }
        if let v = shown(try snapshotGet(key)) { return v }
        if current[HashedKey(key)] != nil, let v = shown(try snapshotGet(key, newest: false)) {
            // Moved or deleted in the newest state this transaction read
            // for a row lock: the version its snapshot has is still one —
            // a row a scan returned (heap's dead tuple at that TID).
            return v
        }
        if try snapshotGet(key, newest: false) == nil {
            // Not in the snapshot at all: a row a read of the newest state
            // found (a referential action under REPEATABLE READ).
            return shown(try readCurrent([key])[0])
        }
        return nil
    }

    /// The value of `key` in this transaction's snapshot, own writes aside.
    public func snapshotValue(_ key: Bytes) throws(StoreError) -> Bytes? {
        try snapshotGet(key, newest: newestStandsForSnapshot)
    }

    private func snapshotGet(_ key: Bytes, newest: Bool = true) throws(StoreError) -> Bytes? {
        if newest, !current.isEmpty, let hit = current[HashedKey(key)] { return hit }
        if let hit = pinnedRow(key) { return hit }
        if let hit = cache[HashedKey(key)] { return hit }
        if let hit = inRecentBatch(key) { return hit }
        let v = try storeTransaction().get(key, snapshot: true)
        noteRead(key)
        remember(key, v)
        return v
    }

    private func noteRead(_ key: Bytes) {
        guard mode == .serializable else { return }
        if !conflictParents.isEmpty {
            let p = Self.parent(key)
            if conflictParents.insert(p).inserted { conflictBytes += Self.parentRangeCost(p) }
            return
        }
        conflictPoints.append(key)
        conflictBytes += CommitSize.singleKeyRange(key.count)
        if conflictPoints.count > Self.pointConflictLimit {
            for k in conflictPoints { conflictParents.insert(Self.parent(k)) }
            conflictPoints = []
            conflictBytes = conflictParents.reduce(0) { $0 + Self.parentRangeCost($1) }
        }
    }

    private static func parentRangeCost(_ parent: Bytes) -> Int {
        CommitSize.range(parent.count + 1, parent.count + 1)
    }

    /// A key's tuple without its last element (the key itself when it is
    /// not a tuple of two or more elements).
    static func parent(_ key: Bytes) -> Bytes {
        guard let t = try? Tuple.unpack(key), t.elements.count >= 2 else { return key }
        return Tuple(Array(t.elements.dropLast())).pack()
    }

    /// The point reads' conflicts, handed to the store transaction.
    private func addPointConflicts(to t: any StoreTransaction) throws(StoreError) {
        for k in conflictPoints { try t.addReadConflictRange(k, keyAfter(k)) }
        for p in conflictParents {
            let (b, e) = Keyspace.prefixRange(p)
            try t.addReadConflictRange(b, e)
        }
        conflictPoints = []
        conflictParents = []
        conflictBytes = 0
    }

    private func remember(_ key: Bytes, _ value: Bytes?) {
        if cache.count >= Self.cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[HashedKey(key)] = .some(value)
    }

    /// Many keys in one store round trip (the keys the buffer answers and
    /// the cached ones cost nothing).
    public func getMany(_ keys: [Bytes], _ vis: Visibility) throws(StoreError) -> [Bytes?] {
        var out = [Bytes?](repeating: nil, count: keys.count)
        var missing: [Int] = []
        for (i, k) in keys.enumerated() {
            switch try buffer.state(k, vis) {
            case .value(let v, _): out[i] = v
            case .deleted: out[i] = nil
            case .unwritten:
                if !current.isEmpty, adopts(vis), let hit = current[HashedKey(k)] {
                    out[i] = hit
                } else if let hit = pinnedRow(k) {
                    out[i] = hit
                } else if let hit = cache[HashedKey(k)] {
                    out[i] = hit
                } else {
                    missing.append(i)
                }
            }
        }
        if !missing.isEmpty {
            let got = try storeTransaction().getMany(missing.map { keys[$0] }, snapshot: true)
            for (j, i) in missing.enumerated() {
                out[i] = got[j]
                noteRead(keys[i])
                remember(keys[i], got[j])
            }
        }
        return out
    }

    /// Whether a read of `key` would cost no round trip.
    public func isCached(_ key: Bytes) -> Bool { cache[HashedKey(key)] != nil }

    /// Reads these keys now, in one round trip, so that later gets are free.
    /// `spanLimit`: when the keys lie close together (`getManyNearby`; 0:
    /// read key by key).
    public func prefetch(_ keys: [Bytes], spanLimit: Int = 0) throws(StoreError) {
        let missing = keys.filter { cache[HashedKey($0)] == nil && pinnedRow($0) == nil }
        guard !missing.isEmpty else { return }
        let got = try storeTransaction().getManyNearby(missing, spanLimit: spanLimit)
        for (k, v) in zip(missing, got) {
            noteRead(k)
            remember(k, v)
        }
    }

    /// A scan of [range) as `vis` sees it, merging own writes. `reader`: a
    /// store transaction to read instead of the snapshot (`currentReader`);
    /// `renewing`: replaced by a newer one as the scan goes (ScanIterator).
    public func scan(_ range: KeyRange, _ vis: Visibility, reverse: Bool = false, firstBatch: Int = 64,
                     reader: (any StoreTransaction)? = nil, renewing: Bool = false) -> ScanIterator {
        ScanIterator(self, range, vis, reverse: reverse, firstBatch: firstBatch, reader: reader, renewing: renewing)
    }

    /// A store transaction reading the newest committed state, for reads
    /// that must not see the snapshot (SnapshotDirty).
    public func currentReader() throws(StoreError) -> any StoreTransaction {
        let t = try store.beginTransaction()
        t.readOnly()
        return t
    }

    /// A newer reader in place of `old`, whose round trips are counted.
    func renewReader(_ old: any StoreTransaction) throws(StoreError) -> any StoreTransaction {
        pastCounters += old.counters
        old.cancel()
        return try currentReader()
    }

    /// How long a renewing scan reads one store snapshot: well inside the
    /// 5 s FoundationDB allows (a quarter of the embedded store's
    /// `plinth.transaction_lifetime`), long enough to cost nothing.
    public var renewalNanoseconds: UInt64 = 1_000_000_000

    /// Values of `keys` as own writes (`vis`) over the newest committed state.
    public func getManyCurrent(_ keys: [Bytes], _ vis: Visibility) throws(StoreError) -> [Bytes?] {
        var out = [Bytes?](repeating: nil, count: keys.count)
        var missing: [Int] = []
        for (i, k) in keys.enumerated() {
            switch try buffer.state(k, vis) {
            case .value(let v, _): out[i] = v
            case .deleted: out[i] = nil
            case .unwritten: missing.append(i)
            }
        }
        if !missing.isEmpty {
            for (j, v) in try readCurrent(missing.map { keys[$0] }).enumerated() { out[missing[j]] = v }
        }
        return out
    }

    /// Scans of several ranges whose first batches (of `firstBatch`
    /// entries) are read in one round trip: the uniqueness checks of a
    /// statement, whatever number of rows it wrote.
    /// `snapshot`: the first batches add no read conflict (the caller adds
    /// its own, wider ones).
    public func scanMany(_ ranges: [KeyRange], _ vis: Visibility, firstBatch: Int,
                         snapshot: Bool = false) throws(StoreError) -> [ScanIterator] {
        guard !ranges.isEmpty else { return [] }
        let batches = try storeTransaction().getRanges(ranges, options: RangeOptions(limit: firstBatch, snapshot: snapshot || mode == .snapshot,
                                                                                     mode: .iterator))
        return zip(ranges, batches).map { ScanIterator(self, $0, vis, reverse: false, firstBatch: firstBatch, first: $1) }
    }

    /// Scans of several ranges as `vis` sees own writes over the newest
    /// committed state — not the snapshot — read in a store transaction of
    /// their own (uniqueness checks under row and key locks, SnapshotDirty).
    public func scanManyCurrent(_ ranges: [KeyRange], _ vis: Visibility, firstBatch: Int) throws(StoreError) -> [ScanIterator] {
        guard !ranges.isEmpty else { return [] }
        let reader = try currentReader()
        let batches = try reader.getRanges(ranges, options: RangeOptions(limit: firstBatch, snapshot: true, mode: .iterator))
        pastCounters += reader.counters
        return zip(ranges, batches).map {
            ScanIterator(self, $0, vis, reverse: false, firstBatch: firstBatch, first: $1, reader: reader)
        }
    }

    /// Reads the first batches of these ranges now, in one round trip, so
    /// that scans of them start without one (the foreign key checks of a
    /// statement's rows). Returns each range's first batch, in order.
    @discardableResult
    public func prefetchRanges(_ ranges: [KeyRange], firstBatch: Int) throws(StoreError) -> [KVBatch] {
        var fetched: [HashedKey: KVBatch] = [:]
        var seen = Set<HashedKey>()
        fetched.reserveCapacity(ranges.count)
        seen.reserveCapacity(ranges.count)
        let missing = ranges.filter { rangeCache[HashedKey($0.begin)]?.end != $0.end && seen.insert(HashedKey($0.begin)).inserted }
        if !missing.isEmpty {
            let got = try storeTransaction().getRanges(missing, options: RangeOptions(limit: firstBatch, snapshot: mode == .snapshot, mode: .iterator))
            if rangeCache.count + missing.count > Self.cacheLimit { rangeCache.removeAll(keepingCapacity: true) }
            for (r, b) in zip(missing, got) {
                rangeCache[HashedKey(r.begin)] = (r.end, b)
                fetched[HashedKey(r.begin)] = b
            }
        }
        return ranges.map { fetched[HashedKey($0.begin)] ?? rangeCache[HashedKey($0.begin)]?.batch ?? KVBatch() }
    }

    /// Holds a parent's key entry (`range`, whose one entry names the row
    /// `rowKey`) and the row (`value`, its newest committed version) for
    /// the foreign key checks of this transaction's statements, across
    /// their READ COMMITTED snapshots: the caller holds the row's FOR KEY
    /// SHARE lock, taken in subtransaction `subid`, so no one can delete
    /// the row or change its key while the pin lasts — every later snapshot
    /// finds this entry, and the check's own lock re-checks the row (it may
    /// have moved without changing its key). The other columns may be
    /// older than a later snapshot's: only the checks read pins
    /// (`servesPinnedParents`), and they read only the key.
    public func pinParent(range: KeyRange, batch: KVBatch, rowKey: Bytes, value: Bytes, subid: UInt32) {
        pinnedRanges[HashedKey(range.begin)] = (range.end, batch, subid)
        pinnedRows[HashedKey(rowKey)] = (value, subid)
    }

    /// The pinned parent row at `key`, when the running statement reads pins.
    public func pinnedRow(_ key: Bytes) -> Bytes? {
        guard servesPinnedParents, !pinnedRows.isEmpty else { return nil }
        return pinnedRows[HashedKey(key)]?.value
    }

    /// How many more parents may be pinned (`cacheLimit` at a time: past
    /// it, the checks read the store as they did before pins).
    public var pinsLeft: Int { Self.cacheLimit - pinnedRows.count }

    /// The outermost statement ended, its checks with it: its pins go (a
    /// lock stays held; a later statement's read-ahead pins it again).
    public func unpinParents() {
        pinnedRanges.removeAll()
        pinnedRows.removeAll()
    }

    /// A rollback to a savepoint gave back the locks subtransactions from
    /// `subid` on took: their pins go too.
    public func unpinParents(fromSubid subid: UInt32) {
        guard !pinnedRows.isEmpty else { return }
        pinnedRanges = pinnedRanges.filter { $0.value.subid < subid }
        pinnedRows = pinnedRows.filter { $0.value.subid < subid }
    }

    /// A range read for scans (not cached key by key: scans read each key
    /// once), kept among the recent batches.
    /// `reader`: a store transaction of the scan's own (`scanManyCurrent`).
    func readBatch(_ begin: Bytes, _ end: Bytes, limit: Int, reverse: Bool, iteration: Int,
                   reader: (any StoreTransaction)? = nil) throws(StoreError) -> KVBatch {
        if let reader {
            return try reader.getRange(.firstGreaterOrEqual(begin), .firstGreaterOrEqual(end),
                                       options: RangeOptions(limit: limit, reverse: reverse, snapshot: true, mode: .iterator,
                                                             iteration: iteration))
        }
        // A foreign key check reads its pinned parent first, whether or not
        // its snapshot kept the caches (the same path on either engine).
        if !reverse, iteration == 1, servesPinnedParents, let c = pinnedRanges[HashedKey(begin)], c.end == end, c.batch.count <= limit {
            return c.batch
        }
        if !reverse, iteration == 1, !rangeCache.isEmpty, let c = rangeCache[HashedKey(begin)], c.end == end, c.batch.count <= limit {
            return c.batch
        }
        let b = try storeTransaction().getRange(.firstGreaterOrEqual(begin), .firstGreaterOrEqual(end),
                                                options: RangeOptions(limit: limit, reverse: reverse, snapshot: mode == .snapshot, mode: .iterator,
                                                                      iteration: iteration))
        if !b.isEmpty {
            if recentBatches.count >= Self.recentBatchLimit { recentBatches.removeFirst() }
            recentBatches.append(b)
        }
        return b
    }

    /// The value of `key` if a recent scan batch holds it (binary search:
    /// a batch is in key order, forward or reverse).
    private func inRecentBatch(_ key: Bytes) -> Bytes?? {
        for b in recentBatches.reversed() {
            let n = b.count
            let ascending = n < 2 || compareBytes(b.key(0), b.keyBytes(n - 1)) < 0
            var lo = 0, hi = n
            while lo < hi {
                let mid = (lo + hi) / 2
                let c = compareBytes(b.key(mid), key)
                if c == 0 { return .some(b.valueBytes(mid)) }
                if (c < 0) == ascending { lo = mid + 1 } else { hi = mid }
            }
        }
        return nil
    }

    // MARK: writes

    public func put(_ key: Bytes, _ value: Bytes, cid: UInt32, subid: UInt32, fresh: Bool = false,
                    xid: UInt32 = 0) throws(StoreError) {
        try buffer.put(key, value, cid: cid, subid: subid, fresh: fresh, xid: xid)
        try checkSize()
    }

    public func delete(_ key: Bytes, prior: Bytes?, cid: UInt32, subid: UInt32) throws(StoreError) {
        try buffer.delete(key, prior: prior, cid: cid, subid: subid)
        try checkSize()
    }

    public func clearRange(_ range: KeyRange, cid: UInt32, subid: UInt32) throws(StoreError) {
        buffer.clearRange(range, cid: cid, subid: subid)
        try checkSize()
    }

    /// An atomic mutation applied at commit (statistics counters): it adds
    /// no read conflict, so concurrent transactions never collide on it.
    public func atomic(_ op: MutationType, _ key: Bytes, _ param: Bytes) {
        atomics.append((op, key, param))
        atomicBytes += CommitSize.set(key: key.count, value: param.count)
    }

    /// Makes concurrent writers of `key` fail: a write conflict on it
    /// (SELECT ... FOR UPDATE).
    public func addWriteConflict(_ key: Bytes) throws(StoreError) {
        try storeTransaction().addWriteConflictRange(key, keyAfter(key))
    }

    public func addReadConflict(_ range: KeyRange) throws(StoreError) {
        try storeTransaction().addReadConflictRange(range.begin, range.end)
    }

    /// What the commit would cost against the store's limit, as
    /// FoundationDB counts it (unmerged: at most a little more): the
    /// buffered writes, the atomic operations, the point reads' conflicts,
    /// and what the store transaction holds (its range reads' conflicts).
    public var estimatedCommitSize: Int {
        if mode == .snapshot { return buffer.mutationBytes + atomicBytes }
        return buffer.mutationBytes + atomicBytes + conflictBytes + (tr?.approximateSize ?? 0)
    }

    /// FoundationDB's 10 MB limit, for SERIALIZABLE, checked as the writes
    /// come rather than at commit, so that the statement that crosses it fails.
    private func checkSize() throws(StoreError) {
        // READ COMMITTED and REPEATABLE READ commit any size (in steps);
        // SERIALIZABLE's reads and writes must meet in one store transaction.
        guard mode == .serializable else { return }
        let total = estimatedCommitSize
        if total > StoreLimits.transactionBytes {
            throw StoreError(.transactionTooLarge,
                             "transaction exceeds the store's limit of \(StoreLimits.transactionBytes) bytes (\(total) bytes of writes and reads)")
        }
    }

    // MARK: subtransactions

    public func rollback(subid: UInt32) { buffer.rollback(subid: subid) }
    public func release(subid: UInt32, to parent: UInt32) { buffer.release(subid: subid, to: parent) }

    // MARK: end

    /// Sends the buffered writes and commits. Returns the commit version, or
    /// -1 when there was nothing to write.
    @discardableResult
    public func commit() throws(StoreError) -> Int64 {
        defer { finish() }
        if mode == .snapshot {
            // Writes only, in a store transaction of their own: it reads
            // nothing, so it cannot conflict.
            if let tr {
                pastCounters += tr.counters
                tr.cancel()
                self.tr = nil
            }
            guard hasWrites else { return -1 }
            if estimatedCommitSize > oneStepCommitBytes { return try commitInSteps() }
            let t = try store.beginTransaction()
            tr = t
            try runCommitChecks(t)
            try commitGuard?(t)
            try apply(to: t)
            return try commitOneStep(t)
        }
        guard hasWrites else {
            if let tr {
                try addPointConflicts(to: tr)
                _ = try tr.commit()
            }
            return -1
        }
        let t = try storeTransaction()
        try runCommitChecks(t)
        try commitGuard?(t)
        try addPointConflicts(to: t)
        try apply(to: t)
        return try commitOneStep(t)
    }

    private func commitOneStep(_ t: any StoreTransaction) throws(StoreError) -> Int64 {
        if bumpsMetadataVersion { try t.bumpMetadataVersion() }
        try releaseLocksInCommit?(t)
        let version = try t.commit()
        releasedLocksInCommit = releaseLocksInCommit != nil
        return version
    }

    /// Past this many bytes (as FoundationDB counts a commit, `CommitSize`)
    /// a READ COMMITTED or REPEATABLE READ commit is made in steps
    /// (`StagedCommit`); below it, in one store transaction. Leaves room
    /// for what the commit's checks add to the store's 10 MB.
    public var oneStepCommitBytes = 8_000_000
    /// Bytes per store transaction of a commit in steps.
    public var stagedChunkBytes = StagedCommit.chunkBytes
    /// Who writes this transaction's stages: the first bytes of their ids
    /// (the server and its run), by which a stage a crash left is swept.
    public var stageOwner: Bytes = []

    /// A commit larger than one store transaction: staged, published (the
    /// commit point, with the commit's checks), then applied. Once
    /// published, the commit has happened: a failure to apply is left to
    /// whoever next finds the barrier (`CommitBarrier`), and no interrupt
    /// stops the steps.
    private func commitInSteps() throws(StoreError) -> Int64 {
        let raw = store.unbarriered
        let id = StagedCommit.newID(owner: stageOwner)
        let count: (StoreCounters) -> Void = { self.pastCounters += $0 }
        let version: Int64
        do throws(StoreError) {
            try StagedCommit.stage(raw, id: id, chunkBytes: stagedChunkBytes, counters: count) { body throws(StoreError) in try self.forEachMutation(body) }
            let barrier = store as? CommitBarrier
            version = try StagedCommit.publish(raw, id: id, stallMilliseconds: barrier?.stallMilliseconds ?? CommitBarrier.defaultStallMilliseconds,
                                               committerGone: barrier?.committerGone, counters: count) { t throws(StoreError) in
                try self.runCommitChecks(t)
                try self.commitGuard?(t)
            }
        } catch {
            StagedCommit.discard(raw, id: id)
            throw error
        }
        stepsCommitted += 1
        let poll = StoreInterrupts.poll
        StoreInterrupts.poll = { false }
        defer { StoreInterrupts.poll = poll }
        try? StagedCommit.apply(raw, id: id, chunkBytes: stagedChunkBytes, counters: count)
        return version
    }

    /// Commits made in steps by this transaction object (tests).
    public private(set) var stepsCommitted = 0

    /// Drops everything; the store transaction ends without committing.
    public func abort() {
        tr?.cancel()
        finish()
    }

    private func finish() {
        if let tr { pastCounters += tr.counters }
        tr = nil
        cache.removeAll()
        rangeCache.removeAll()
        pinnedRanges.removeAll()
        pinnedRows.removeAll()
        servesPinnedParents = false
        atomics.removeAll()
        atomicBytes = 0
        commitChecks.removeAll()
        commitGuard = nil
        bumpsMetadataVersion = false
        finished = true
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A key as a dictionary key: hashed as one block of bytes (an array of
/// bytes hashes element by element, several times slower).
public struct HashedKey: Hashable {
    public let bytes: Bytes
    public init(_ bytes: Bytes) { self.bytes = bytes }
    public func hash(into hasher: inout Hasher) { bytes.withUnsafeBytes { hasher.combine(bytes: $0) } }
}

/// Nanoseconds of a coarse monotonic clock (a few ms of resolution).
public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
