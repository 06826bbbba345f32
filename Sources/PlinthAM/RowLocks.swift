import PlinthEncoding
import PlinthStore
import PlinthTxn

// Row locks (docs/design.md, "Row locks"). Heap keeps a row's locker in the
// tuple's xmax and waiters wait for that transaction; Plinth keeps each lock
// as a key of the volatile space — (row, holder) -> mode — so that every
// server sharing the store sees it, and a lock is held for as long as its
// holder runs: a lock whose holder ended is free, whoever finds it first
// clears it. Holders clear their own when they end.

/// Postgres's LockTupleMode, in its order.
public enum RowLockMode: UInt8, Comparable, Sendable {
    case keyShare = 0      // FOR KEY SHARE (foreign key checks)
    case share = 1         // FOR SHARE
    case noKeyUpdate = 2   // FOR NO KEY UPDATE, UPDATE of no key column
    case update = 3        // FOR UPDATE, DELETE, UPDATE of a key column

    /// Heap's conflict table: KEY SHARE conflicts only with UPDATE, SHARE
    /// with both update modes, NO KEY UPDATE with all but KEY SHARE, UPDATE
    /// with all — which is ranks adding up to 3 or more.
    public func conflicts(with other: RowLockMode) -> Bool { rawValue + other.rawValue >= 3 }

    public static func < (a: RowLockMode, b: RowLockMode) -> Bool { a.rawValue < b.rawValue }
}

/// What an attempt to lock found.
public enum LockAttempt: Equatable, Sendable {
    case acquired
    /// A running transaction holds a conflicting lock. `local`: it runs on
    /// this server (same incarnation), so `waitXid` names it to Postgres's
    /// lock manager; otherwise its end shows in the store.
    case blocked(LockHolder, waitXid: UInt32, local: Bool)
}

/// The locks one Postgres transaction holds, by the prefix of their keys:
/// per subtransaction that took or strengthened them, so that a rollback to
/// a savepoint gives back what it took (as heap's do).
struct HeldLocks {
    var holder: LockHolder?
    var objects: [HashedKey: [(subid: UInt32, mode: RowLockMode, waitXid: UInt32)]] = [:]
    /// Whether the transaction's record (`Keyspace.Live.transactionKey`)
    /// is written: remote waiters watch it.
    var recorded = false
    /// Past this many objects a transaction stops remembering them; their
    /// keys are left for whoever meets them (their holder will have ended).
    static let remembered = 200_000
    var forgotten = false

    /// The objects each subtransaction locked, its ids in order: a
    /// rollback to a savepoint visits its own, not every lock held (a
    /// PL/pgSQL loop with an EXCEPTION block rolls back a subtransaction
    /// per failed row). An object may be listed twice.
    private var subids: [UInt32] = []
    private var bySubid: [UInt32: [HashedKey]] = [:]

    func mode(_ prefix: Bytes) -> RowLockMode? {
        objects[HashedKey(prefix)]?.map(\.mode).max()
    }

    mutating func add(_ object: HashedKey, subid: UInt32, mode: RowLockMode, waitXid: UInt32) {
        objects[object, default: []].append((subid, mode, waitXid))
        if bySubid[subid] == nil {
            // New subtransactions come last; a parent locking again after
            // a child ended goes in its place.
            var i = subids.count
            while i > 0 && subids[i - 1] > subid { i -= 1 }
            subids.insert(subid, at: i)
        }
        bySubid[subid, default: []].append(object)
    }

    /// The objects subtransaction `subid` and those after it locked, no
    /// longer listed.
    mutating func takeObjects(from subid: UInt32) -> [HashedKey] {
        var lo = 0, hi = subids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if subids[mid] < subid { lo = mid + 1 } else { hi = mid }
        }
        var out: [HashedKey] = []
        for s in subids[lo...] { out += bySubid.removeValue(forKey: s) ?? [] }
        subids.removeSubrange(lo...)
        return out
    }
}

/// The row locks of a statement that changes (or locks) many rows: past its
/// first `immediate` ones, taken `batch` at a time — one volatile
/// transaction and one read of the rows' newest versions per batch rather
/// than per row; on FoundationDB, a few round trips per batch instead of a
/// few per row. A row in a batch is assumed unchanged since the statement's
/// snapshot when Postgres asks; the batch then checks it. A lock another
/// transaction holds is waited for as always; a row another transaction
/// changed after the snapshot cannot be re-checked by EvalPlanQual any more,
/// so the statement fails with 40001 — where heap would re-check the row.
/// Only statements that change more than `immediate` rows, racing another
/// writer of the same rows, see it.
struct DeferredRowLocks {
    static let immediate = 64
    static let batch = 256

    struct Entry {
        let prefix: Bytes
        let key: Bytes
        let table: Int64
        let row: Int64
        let mode: RowLockMode
        let seen: Bytes?
        let ctx: LockContext
    }

    /// Locks the running statement took one by one.
    var statementLocks = 0
    /// Rows of the batch the statement moved to a new row id: where to
    /// (`noteRowMoved`, once the lock is taken).
    var moves: [HashedKey: (prefix: Bytes, row: Int64)] = [:]
    private(set) var pending: [Entry] = []
    private var keys: Set<HashedKey> = []

    var count: Int { pending.count }
    func isPending(_ key: Bytes) -> Bool { !keys.isEmpty && keys.contains(HashedKey(key)) }

    mutating func append(_ e: Entry) {
        pending.append(e)
        keys.insert(HashedKey(e.key))
    }

    mutating func removeFirst(_ n: Int) {
        for e in pending.prefix(n) { keys.remove(HashedKey(e.key)) }
        pending.removeFirst(n)
    }

    /// A rollback to a savepoint: its rows' changes are gone, and so is
    /// their need for a lock.
    mutating func drop(subid: UInt32) {
        pending.removeAll { $0.ctx.subid >= subid }
        keys = Set(pending.map { HashedKey($0.key) })
        let kept = Set(pending.map { HashedKey($0.prefix) })
        moves = moves.filter { kept.contains($0.key) }
    }
}

extension TransactionState {
    /// Takes the batched row locks (`DeferredRowLocks`); returns whom to
    /// wait for when a running transaction holds one (call again after).
    /// Throws 40001 for a row changed since the statement's snapshot.
    public func takeDeferredLocks() throws(PlinthError) -> LockAttempt? {
        while deferred.count > 0 {
            let first = deferred.pending[0]
            let run = deferred.pending.prefix { $0.mode == first.mode && $0.ctx.subid == first.ctx.subid }
                .prefix(DeferredRowLocks.batch)
            let (taken, blocked) = try lock(prefixes: run.map(\.prefix), mode: first.mode, subid: first.ctx.subid,
                                            waitXid: first.ctx.waitXid, topXid: first.ctx.topXid)
            if taken > 0 {
                let done = Array(run.prefix(taken))
                let newest = try storeCall { () throws(StoreError) in try txn.readCurrent(done.map(\.key), spanLimit: nearbySpanLimit(ids: done.map(\.row))) }
                for (e, now) in zip(done, newest) where !Self.unchanged(e, now) {
                    // FOR KEY SHARE holds across an UPDATE that moved the
                    // row without changing its key: it follows the row.
                    if e.mode == .keyShare, let now {
                        switch try followKeyShare(table: e.table, now, subid: e.ctx.subid, waitXid: e.ctx.waitXid,
                                                  topXid: e.ctx.topXid) {
                        case .current: continue
                        case .blocked(let w): return w
                        default: break
                        }
                    }
                    throw PlinthError(sqlstate: .serializationFailure,
                                      message: "could not serialize access due to concurrent update",
                                      detail: "Row \(e.row) of store table \(e.table) was changed by another transaction after this statement's snapshot; the statement changes too many rows to re-check them one by one.",
                                      hint: "Retry the transaction.")
                }
                try noteRowsMoved(done.compactMap { e in
                    deferred.moves.removeValue(forKey: HashedKey(e.prefix)).map { (e.prefix, $0.prefix, $0.row) }
                })
                deferred.removeFirst(taken)
            }
            if let blocked { return blocked }
        }
        return nil
    }

    /// Whether a batched row is as the statement saw it: for FOR KEY SHARE,
    /// still there at its row id (its key could only change under a lock
    /// that conflicts; moved by an UPDATE of another indexed column, the
    /// caller follows it); otherwise the same version.
    private static func unchanged(_ e: DeferredRowLocks.Entry, _ now: Bytes?) -> Bool {
        if e.mode == .keyShare { return now.map { !RowFormat.isMoved($0) } ?? false }
        return now == e.seen
    }

    /// Takes a lock on the object whose lock keys start with `prefix` (a row,
    /// a unique key), in `mode`, for subtransaction `subid`; `waitXid` is
    /// the (sub)transaction id Postgres knows this lock by, `topXid` the
    /// transaction's FullTransactionId. Never waits: a conflicting running
    /// holder is returned for the caller to wait for (through Postgres's
    /// lock manager when it is local), then to try again.
    public func lock(prefix: Bytes, mode: RowLockMode, subid: UInt32, waitXid: UInt32,
                     topXid: Int64) throws(PlinthError) -> LockAttempt {
        try lock(prefixes: [prefix], mode: mode, subid: subid, waitXid: waitXid, topXid: topXid).blocked ?? .acquired
    }

    /// The lock of a row and, where the store keeps the locks among the
    /// data (FoundationDB: `Store.volatileSpaceIsData`), the newest
    /// committed version of the row, read in the lock's own store
    /// transaction — one round trip, where a read after the lock took two
    /// more (a read version, the read). Read before the lock commits, it is
    /// still the newest once the lock is held: a writer of the row holds
    /// the row's lock until its data is committed, so it either ended
    /// before this read version (its write is read here) or its lock meets
    /// this transaction's read of the lock keys (a conflict: retried); the
    /// row's own read conflict covers writers that take no lock
    /// (SERIALIZABLE). `newest` is nil when not read (the embedded store,
    /// the lock held already or not taken): the caller reads it after.
    func lock(prefix: Bytes, readingRow row: Bytes, mode: RowLockMode, subid: UInt32, waitXid: UInt32,
              topXid: Int64) throws(PlinthError) -> (LockAttempt, newest: Bytes??) {
        let (_, blocked, newest) = try lockObjects([prefix], mode: mode, subid: subid, waitXid: waitXid, topXid: topXid,
                                                  readingRow: row)
        return (blocked ?? .acquired, blocked == nil ? newest : nil)
    }

    /// Locks of several objects in one volatile transaction, in order, up
    /// to the first a running transaction holds: returns how many were
    /// taken (they stay taken) and what blocked the next.
    public func lock(prefixes: [Bytes], mode: RowLockMode, subid: UInt32, waitXid: UInt32,
                     topXid: Int64) throws(PlinthError) -> (acquired: Int, blocked: LockAttempt?) {
        let (acquired, blocked, _) = try lockObjects(prefixes, mode: mode, subid: subid, waitXid: waitXid, topXid: topXid)
        return (acquired, blocked)
    }

    private func lockObjects(_ prefixes: [Bytes], mode: RowLockMode, subid: UInt32, waitXid: UInt32, topXid: Int64,
                             readingRow: Bytes? = nil) throws(PlinthError) -> (Int, LockAttempt?, Bytes??) {
        var todo: [Bytes] = []
        var skipped = 0
        for p in prefixes {
            if todo.isEmpty, let held = locks.mode(p), held >= mode { skipped += 1 } else { todo.append(p) }
        }
        guard !todo.isEmpty else { return (prefixes.count, nil, nil) }
        let me = try session.lockHolder(topXid: topXid)
        locks.holder = me
        let writeRecord = !locks.recorded
        var followed: [Bytes] = []
        let row = try readingRow.flatMap { (r) throws(PlinthError) in try session.openStore().volatileSpaceIsData ? r : nil }
        var newest: Bytes??
        let (taken, blocked) = try storeCall { () throws(StoreError) -> (Int, LockAttempt?) in
            try session.transact(volatile: true, readsData: row != nil) { tr throws(StoreError) -> (Int, LockAttempt?) in
                followed = []
                // Every object's locks in one round trip; in one request
                // while few locks lie among them (the volatile space holds
                // only locks held).
                let ranges = todo.map { let (b, e) = Keyspace.prefixRange($0); return KeyRange(b, e) }
                var firsts: [KVBatch]
                if let row {
                    // The row beside the locks, in the same round trip.
                    firsts = try tr.getRanges(ranges + [KeyRange(row, keyAfter(row))],
                                              options: RangeOptions(limit: 0, snapshot: false, mode: .wantAll))
                    let got = firsts.removeLast()
                    newest = .some(got.count > 0 ? got.valueBytes(0) : nil)
                } else {
                    firsts = try tr.getRangesNearby(ranges, spanLimit: nearbySpanLimit(count: todo.count), snapshot: false)
                }
                var taken = 0
                for (prefix, first) in zip(todo, firsts) {
                    if let held = locks.mode(prefix), held >= mode {
                        taken += 1
                        continue
                    }
                    // The object, and where a running UPDATE is moving it
                    // (the lock follows the row there, as heap's follows
                    // the tuple's update chain): all free, or none taken.
                    var objects = [prefix]
                    var k = 0
                    var blocked: LockAttempt?
                    while k < objects.count && blocked == nil {
                        let (b, next) = try conflictingHolder(tr, objects[k], mode, me, first: k == 0 ? first : nil)
                        blocked = b
                        for n in next where !objects.contains(n) { objects.append(n) }
                        k += 1
                    }
                    if let blocked {
                        if taken > 0 && writeRecord { try tr.set(Keyspace.Live.transactionKey(me), []) }
                        return (taken, blocked)
                    }
                    for o in objects {
                        try tr.set(o + me.bytes, Keyspace.Live.lockValue(mode: max(mode, locks.mode(o) ?? mode).rawValue,
                                                                         waitXid: waitXid))
                    }
                    followed += objects.dropFirst()
                    taken += 1
                }
                if writeRecord { try tr.set(Keyspace.Live.transactionKey(me), []) }
                return (taken, nil)
            }
        }
        for prefix in todo[0..<taken] + followed where locks.mode(prefix).map({ $0 < mode }) ?? true {
            if locks.objects.count < HeldLocks.remembered || locks.objects[HashedKey(prefix)] != nil {
                locks.add(HashedKey(prefix), subid: subid, mode: mode, waitXid: waitXid)
            } else {
                locks.forgotten = true
            }
        }
        if taken > 0 { locks.recorded = true }
        return (skipped + taken, blocked, newest)
    }

    /// The running transaction of another session that is updating or
    /// deleting the row (it holds the row's lock in a mode FOR SHARE
    /// conflicts with), or nil. Takes no lock: what a dirty-snapshot reader
    /// (ON CONFLICT DO NOTHING's check, an exclusion constraint's) waits
    /// for before it decides the row is there, as heap's SnapshotDirty
    /// reports an in-progress deleter's xmax. A FOR UPDATE locker that
    /// changes nothing is waited for too (Plinth's locks do not tell it
    /// from a deleter): the wait is longer, the outcome the same.
    public func rowWriter(table: Int64, row: Int64, _ ctx: LockContext) throws(PlinthError) -> LockAttempt? {
        let prefix = Keyspace.Live.rowLockPrefix(db: db.id, table: table, row: row)
        let me = try session.lockHolder(topXid: ctx.topXid)
        return try storeCall { () throws(StoreError) -> LockAttempt? in
            try session.transact(volatile: true) { tr throws(StoreError) -> LockAttempt? in
                try conflictingHolder(tr, prefix, .share, me).0
            }
        }
    }

    /// The first running transaction whose lock on the object conflicts
    /// with `mode`, and the rows running holders' UPDATEs are moving it to
    /// (`noteRowMoved`); locks of holders that ended are cleared on the way.
    private func conflictingHolder(_ tr: any StoreTransaction, _ prefix: Bytes, _ mode: RowLockMode,
                                   _ me: LockHolder, first: KVBatch? = nil) throws(StoreError) -> (LockAttempt?, [Bytes]) {
        var movedTo: [Bytes] = []
        let (b, e) = Keyspace.prefixRange(prefix)
        var batch: KVBatch
        if let first {
            batch = first
        } else {
            batch = try tr.getRange(.firstGreaterOrEqual(b), .firstGreaterOrEqual(e), options: RangeOptions(limit: 0, mode: .wantAll))
        }
        while true {
            for i in 0..<batch.count {
                let key = batch.keyBytes(i)
                guard let holder = key.withUnsafeBytes({ LockHolder.parse($0, at: prefix.count) }),
                      let (m, w, to) = Keyspace.Live.parseLockValue(batch.value(i)),
                      let theirs = RowLockMode(rawValue: m) else {
                    try tr.clear(key)   // not a lock Plinth wrote: no one holds it
                    continue
                }
                if holder == me { continue }
                let local = holder.server == me.server && holder.incarnation == me.incarnation
                if !theirs.conflicts(with: mode) {
                    if let to, try session.isRunning(holder, local: local, waitXid: w, tr),
                       let p = Keyspace.Live.rowLockPrefix(like: prefix, row: to) {
                        movedTo.append(p)
                    }
                    continue
                }
                if try session.isRunning(holder, local: local, waitXid: w, tr) {
                    return (.blocked(holder, waitXid: w, local: local), [])
                }
                try tr.clear(key)
            }
            guard batch.more, batch.count > 0 else { return (nil, movedTo) }
            batch = try tr.getRange(.firstGreaterThan(batch.keyBytes(batch.count - 1)), .firstGreaterOrEqual(e),
                                    options: RangeOptions(limit: 0, mode: .wantAll))
        }
    }

    /// A running transaction other than this one holding a lock on the
    /// object that conflicts with `mode` (nil: none). Takes nothing.
    public func runningHolder(of prefix: Bytes, conflictingWith mode: RowLockMode, topXid: Int64) throws(PlinthError) -> LockAttempt? {
        let me = try session.lockHolder(topXid: topXid)
        return try storeCall { () throws(StoreError) -> LockAttempt? in
            try session.transact(volatile: true) { tr throws(StoreError) in try conflictingHolder(tr, prefix, mode, me).0 }
        }
    }

    /// This transaction's UPDATE gave a row it holds locked a new row id:
    /// its lock says where the row went, so that a transaction that takes a
    /// lock the UPDATE does not conflict with (FOR KEY SHARE: a foreign key
    /// check) takes it on the new row id too; and such locks already held
    /// are copied there. Otherwise a DELETE of the new version would not
    /// wait for them — heap carries them to the new tuple.
    func noteRowMoved(from prefix: Bytes, to target: Bytes, toRow: Int64) throws(PlinthError) {
        try noteRowsMoved([(prefix, target, toRow)])
    }

    /// `noteRowMoved` for many rows (a batch of row locks, `takeDeferredLocks`):
    /// one volatile transaction, their holders read in one round trip.
    func noteRowsMoved(_ moves: [(from: Bytes, to: Bytes, toRow: Int64)]) throws(PlinthError) {
        guard let me = locks.holder else { return }
        let held = moves.compactMap { m -> (from: Bytes, to: Bytes, toRow: Int64, mode: RowLockMode, waitXid: UInt32)? in
            guard let stack = locks.objects[HashedKey(m.from)],
                  let strongest = stack.max(by: { $0.mode < $1.mode }) else { return nil }
            return (m.from, m.to, m.toRow, strongest.mode, strongest.waitXid)
        }
        guard !held.isEmpty else { return }
        try storeCall { () throws(StoreError) in
            try session.transact(volatile: true) { tr throws(StoreError) in
                for m in held {
                    try tr.set(m.from + me.bytes, Keyspace.Live.lockValue(mode: m.mode.rawValue, waitXid: m.waitXid,
                                                                          movedTo: m.toRow))
                }
                let ranges = held.map { m -> KeyRange in
                    let (b, e) = Keyspace.prefixRange(m.from)
                    return KeyRange(b, e)
                }
                let batches = try tr.getRanges(ranges, options: RangeOptions(limit: 0, mode: .wantAll))
                for (m, batch) in zip(held, batches) {
                    for i in 0..<batch.count {
                        let key = batch.keyBytes(i)
                        guard let holder = key.withUnsafeBytes({ LockHolder.parse($0, at: m.from.count) }), holder != me,
                              let (mode, w, _) = Keyspace.Live.parseLockValue(batch.value(i)) else { continue }
                        let local = holder.server == me.server && holder.incarnation == me.incarnation
                        guard try session.isRunning(holder, local: local, waitXid: w, tr) else { continue }
                        try tr.set(m.to + holder.bytes, Keyspace.Live.lockValue(mode: mode, waitXid: w))
                    }
                }
            }
        }
    }

    /// A rollback to a savepoint: the locks its subtransactions took go
    /// back to what the transaction held before.
    public func releaseLocks(subid: UInt32) throws(PlinthError) {
        deferred.drop(subid: subid)
        txn.unpinParents(fromSubid: subid)
        guard let me = locks.holder else { return }
        var changed: [(Bytes, (RowLockMode, UInt32)?)] = []
        for k in locks.takeObjects(from: subid) {
            guard let stack = locks.objects[k], stack.contains(where: { $0.subid >= subid }) else { continue }
            let kept = stack.filter { $0.subid < subid }
            if kept.isEmpty {
                locks.objects[k] = nil
                changed.append((k.bytes, nil))
            } else {
                locks.objects[k] = kept
                let strongest = kept.max { $0.mode < $1.mode }!
                changed.append((k.bytes, (strongest.mode, strongest.waitXid)))
            }
        }
        guard !changed.isEmpty else { return }
        try storeCall { () throws(StoreError) in
            try session.transact(volatile: true) { tr throws(StoreError) in
                for (prefix, keep) in changed {
                    if let (mode, w) = keep {
                        try tr.set(prefix + me.bytes, Keyspace.Live.lockValue(mode: mode.rawValue, waitXid: w))
                    } else {
                        try tr.clear(prefix + me.bytes)
                    }
                }
            }
        }
    }

    /// The transaction ended (committed in the store, or rolled back): its
    /// locks and its record go, record last — a remote waiter that sees the
    /// record gone finds the locks free too (`isRunning`).
    func releaseAllLocks() throws(StoreError) {
        if txn.releasedLocksInCommit { locks = HeldLocks() }
        guard let me = locks.holder, locks.recorded else { return }
        let keys = locks.objects.keys.map { $0.bytes + me.bytes }
        var i = 0
        // Many locks: several volatile transactions, each well under the limits.
        repeat {
            let slice = keys[i..<min(i + 10_000, keys.count)]
            try session.transact(volatile: true) { tr throws(StoreError) in
                for k in slice { try tr.clear(k) }
                if i + slice.count >= keys.count { try tr.clear(Keyspace.Live.transactionKey(me)) }
            }
            i += slice.count
        } while i < keys.count
        locks = HeldLocks()
    }

    /// Where the store keeps locks among the data (FoundationDB), the
    /// commit's own store transaction releases them with its writes
    /// (`Transaction.releaseLocksInCommit`): the round trips of a
    /// transaction of their own saved, and the locks free the moment the
    /// writes are in. A few only, so the commit stays well inside the
    /// store's limits; more go after it, as on the embedded store.
    func releaseLocksWithCommit() throws(PlinthError) {
        guard let me = locks.holder, locks.recorded, !locks.forgotten,
              locks.objects.count <= Self.locksReleasedInCommit, try session.openStore().volatileSpaceIsData else { return }
        // The locks held when the commit is made (the state outlives it).
        txn.releaseLocksInCommit = { [unowned self] tr throws(StoreError) in
            for k in locks.objects.keys { try tr.clear(k.bytes + me.bytes) }
            try tr.clear(Keyspace.Live.transactionKey(me))
        }
    }
    static let locksReleasedInCommit = 1_000
}

extension Session {
    /// This transaction as a lock holder.
    func lockHolder(topXid: Int64) throws(PlinthError) -> LockHolder {
        let me = LockHolder(server: try server(), incarnation: config.incarnation, xid: topXid)
        try recordIncarnation()
        return me
    }

    /// Records this run of the server in the volatile space, once per
    /// backend: locks of its earlier runs are then known to be free.
    public func recordIncarnation() throws(PlinthError) {
        guard !incarnationRecorded else { return }
        guard try recordRun() else { throw Self.declaredDead }
        incarnationRecorded = true
    }

    /// Sets this server's record to this run unless another server
    /// declared this run dead (`Keyspace.Live.deadRun`): false then. Locks of earlier runs are free once it is set.
    private func recordRun(beat: Bool = false) throws(PlinthError) -> Bool {
        let server = try server()
        let me = config.incarnation
        return try storeCall { () throws(StoreError) -> Bool in
            try transact(volatile: true) { tr throws(StoreError) -> Bool in
                let key = Keyspace.Live.serverKey(server)
                let now = try tr.get(key, snapshot: false).flatMap(StoredInt.decode)
                if now == Keyspace.Live.deadRun(me) { return false }
                if now != me { try tr.set(key, StoredInt.encode(me)) }
                if beat {
                    let b = Keyspace.Live.beatKey(server)
                    let n = try tr.get(b, snapshot: false).flatMap(StoredInt.decode) ?? 0
                    try tr.set(b, StoredInt.encode(n &+ 1))
                }
                return true
            }
        }
    }

    /// The liveness worker's heartbeat (liveness.c): advances this server's
    /// counter, which waiters for its locks watch. False when another
    /// server declared this run dead: the server must restart.
    /// Its first beat in a run also sweeps the stages earlier runs left.
    public func beat() throws(PlinthError) -> Bool {
        guard try recordRun(beat: true) else { return false }
        if !stagesSwept {
            _ = try sweepOrphanedStages()
            stagesSwept = true
        }
        return true
    }

    /// Whether the server run that wrote the stage `id` is gone: an earlier
    /// run of this server (a crash restarted every backend), or another
    /// server's run its record no longer names (restarted, or declared
    /// dead). Unknown (an id of another form, no record, this server's id
    /// not read yet) is not gone. Reads only the volatile space: it runs
    /// inside the barrier's wait, which a read of the store would enter
    /// again.
    func stageOwnerGone(_ id: Bytes) -> Bool {
        guard id.count == 24, let me = knownServerID else { return false }
        let server = id.prefix(8).reduce(Int64(0)) { $0 << 8 | Int64($1) }
        let run = id[8..<16].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        if server == me { return run != config.incarnation }
        let now = try? storeCall { () throws(StoreError) -> Int64? in
            try transact(volatile: true) { tr throws(StoreError) in
                try tr.get(Keyspace.Live.serverKey(server), snapshot: true).flatMap(StoredInt.decode)
            }
        }
        guard let recorded = now ?? nil else { return false }
        return recorded != run
    }

    /// The ids of the staged commits in the store (being applied, or left
    /// by a crash and not swept yet).
    public func stagedCommits() throws(PlinthError) -> [Bytes] {
        let store = try openStore().unbarriered
        return try storeCall { () throws(StoreError) in try StagedCommit.stageIDs(store) }
    }

    /// Who writes this server's stages in this run (`Transaction.stageOwner`).
    var stageOwner: Bytes {
        get throws(PlinthError) {
            var b = withUnsafeBytes(of: try server().bigEndian) { Bytes($0) }
            b += withUnsafeBytes(of: config.incarnation.bigEndian) { Bytes($0) }
            return b
        }
    }

    /// The stages this server's earlier runs left: a backend killed while
    /// it staged a commit larger than one store transaction, before its
    /// commit point (a crash restarts every backend and begins a new run,
    /// so every stage of an earlier run that the barrier does not name is
    /// one no one will publish). Returns how many were cleared. A server
    /// that never comes back leaves its own; they are not visible to any
    /// reader either way.
    public func sweepOrphanedStages() throws(PlinthError) -> Int {
        let mine = try stageOwner
        let store = try openStore().unbarriered
        let ids = try stagedCommits()
        var cleared = 0
        for id in ids where id.count == mine.count + 8 && id.prefix(8) == mine.prefix(8) && id[8..<16] != mine[8..<16] {
            if try storeCall({ () throws(StoreError) in try StagedCommit.sweep(store, id: id) }) { cleared += 1 }
        }
        return cleared
    }

    /// A waiter saw no heartbeat of `server` for plinth.server_timeout: that
    /// run of it is dead. Its locks are then free to whoever finds them
    /// (`isRunning`), and the server, if it was only stalled, restarts when
    /// it notices (`beat`); it commits nothing meanwhile (`commit`).
    public func declareDead(server: Int64, incarnation: Int64) throws(PlinthError) {
        try storeCall { () throws(StoreError) in
            try transact(volatile: true) { tr throws(StoreError) in
                let key = Keyspace.Live.serverKey(server)
                if try tr.get(key, snapshot: false).flatMap(StoredInt.decode) == incarnation {
                    try tr.set(key, StoredInt.encode(Keyspace.Live.deadRun(incarnation)))
                }
            }
        }
    }

    /// Before a commit whose locks other servers may have taken.
    func checkNotDeclaredDead() throws(PlinthError) {
        let key = Keyspace.Live.serverKey(try server())
        let me = config.incarnation
        let dead = try storeCall { () throws(StoreError) -> Bool in
            try transact(volatile: true) { tr throws(StoreError) -> Bool in
                try tr.get(key, snapshot: false).flatMap(StoredInt.decode) == Keyspace.Live.deadRun(me)
            }
        }
        if dead { throw Self.declaredDead }
    }

    static let declaredDead = PlinthError(
        sqlstate: .crashShutdown,
        message: "this server was declared dead by another server sharing its store",
        detail: "It sent no heartbeat for longer than plinth.server_timeout, so its row locks were released; it restarts.",
        hint: "Retry the transaction once the server is back.")

    /// Whether a lock's holder still runs. On this server Postgres knows
    /// (`transactionRunning`); elsewhere, its record is still in the store
    /// and its server has not restarted since (a new incarnation).
    func isRunning(_ holder: LockHolder, local: Bool, waitXid: UInt32,
                   _ tr: any StoreTransaction) throws(StoreError) -> Bool {
        if local { return try transactionRunning(UInt32(truncatingIfNeeded: holder.xid)) }
        guard try tr.get(Keyspace.Live.transactionKey(holder), snapshot: false) != nil else { return false }
        if let v = try tr.get(Keyspace.Live.serverKey(holder.server), snapshot: false),
           let now = StoredInt.decode(v), now != holder.incarnation {
            return false
        }
        return true
    }
}
