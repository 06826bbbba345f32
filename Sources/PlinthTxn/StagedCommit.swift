import PlinthEncoding
import PlinthStore

/// A commit larger than one store transaction (FoundationDB's 10 MB),
/// made atomic in steps (docs/design.md, "Commits larger than the store's
/// transactions"):
///
/// 1. **Stage**: the mutations are written under `Keyspace.stagedCommitPrefix(id)`,
///    about `chunkBytes` per store transaction. No one reads there; a
///    commit that fails or is cancelled here clears its stage, and nothing
///    else changed.
/// 2. **Publish** (the commit point): one store transaction runs the
///    commit's checks, sets the commit barrier to the id and bumps the
///    metadata version. From then on the commit happens whatever fails.
/// 3. **Apply**: the staged mutations move into place, `chunkBytes` per
///    store transaction; each step reads the front of the stage (a read
///    conflict) and clears what it applied, so whoever runs a step — the
///    committing backend, or a reader that found the barrier stalled after
///    a crash (`CommitBarrier`) — each mutation is applied exactly once,
///    range clears and atomic operations first. The last step clears the
///    barrier and bumps the metadata version again.
///
/// Readers never see a part of the commit: every store transaction taken
/// through `CommitBarrier` waits while the barrier is set, and one taken
/// before the publish reads at a version before any applied step.
public enum StagedCommit {
    /// Bytes of mutations per store transaction, staging and applying.
    public static let chunkBytes = 1_000_000

    // Entry kinds, the byte after the stage prefix. Head entries sort first:
    // range clears and atomic operations, applied before any key.
    static let headKind: UInt8 = 1
    static let setKind: UInt8 = 2
    static let clearKind: UInt8 = 3
    /// A key too long to be staged under the prefix: key and value in the value.
    static let longKind: UInt8 = 4
    static let clearRangeCode: Int64 = -1

    /// A new commit id: its owner (`Transaction.stageOwner`: the server and
    /// its run, so that a stage left by a crash can be told from one being
    /// written), then random bytes (ids are never reused, on any server).
    public static func newID(owner: Bytes = []) -> Bytes {
        var g = SystemRandomNumberGenerator()
        return owner + (0..<(owner.isEmpty ? 16 : 8)).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    // MARK: stage

    /// Writes the commit's mutations — `mutations` calls its argument once
    /// for each, in the order the one-step commit would apply them — to the
    /// stage of `id`.
    public static func stage(_ store: any Store, id: Bytes, chunkBytes: Int = chunkBytes, counters: @escaping (StoreCounters) -> Void,
                             _ mutations: ((StagedMutation) throws(StoreError) -> Void) throws(StoreError) -> Void) throws(StoreError) {
        let prefix = Keyspace.stagedCommitPrefix(id)
        var pending: [(Bytes, Bytes)] = []
        var pendingBytes = 0
        var seq: UInt64 = 0
        func flush() throws(StoreError) {
            guard !pending.isEmpty else { return }
            // Before the commit point, a cancel stops the commit.
            try StoreInterrupts.checkpoint()
            let batch = pending
            try store.transact(counters: counters) { t throws(StoreError) in
                for (k, v) in batch { try t.set(k, v) }
            }
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }
        func add(_ key: Bytes, _ value: Bytes) throws(StoreError) {
            pending.append((key, value))
            pendingBytes += CommitSize.set(key: key.count, value: value.count)
            if pendingBytes >= chunkBytes { try flush() }
        }
        func numbered(_ kind: UInt8) -> Bytes {
            seq += 1
            return prefix + [kind] + withUnsafeBytes(of: seq.bigEndian) { Bytes($0) }
        }
        try mutations { m throws(StoreError) in
            switch m {
            case .clearRange(let b, let e):
                try add(numbered(headKind), Tuple([.int(clearRangeCode), .bytes(b), .bytes(e)]).pack())
            case .atomic(let op, let k, let p):
                try add(numbered(headKind), Tuple([.int(Int64(op.rawValue)), .bytes(k), .bytes(p)]).pack())
            case .set(let k, let v):
                if prefix.count + 1 + k.count <= StoreLimits.keyBytes {
                    try add(prefix + [setKind] + k, v)
                } else {
                    let packed = Tuple([.bytes(k), .bytes(v)]).pack()
                    guard packed.count <= StoreLimits.valueBytes else {
                        throw StoreError(.valueTooLarge, "a key of \(k.count) bytes with a value of \(v.count) bytes cannot be staged")
                    }
                    try add(numbered(longKind), packed)
                }
            case .clear(let k):
                if prefix.count + 1 + k.count <= StoreLimits.keyBytes {
                    try add(prefix + [clearKind] + k, [])
                } else {
                    try add(numbered(longKind), Tuple([.bytes(k)]).pack())
                }
            }
        }
        try flush()
    }

    /// Forgets a stage that was never published (the commit failed).
    public static func discard(_ store: any Store, id: Bytes) {
        let (b, e) = Keyspace.prefixRange(Keyspace.stagedCommitPrefix(id))
        _ = try? store.transact { t throws(StoreError) in try t.clearRange(b, e) }
    }

    // MARK: orphans

    /// The ids of the stages in the store, in key order: the first key of
    /// each, then a jump past its prefix (one read per stage).
    public static func stageIDs(_ store: any Store, limit: Int = 10_000) throws(StoreError) -> [Bytes] {
        let all = Keyspace.stagedCommitsPrefix
        let (_, end) = Keyspace.prefixRange(all)
        var from = all
        var ids: [Bytes] = []
        while ids.count < limit {
            let first = try store.transact { t throws(StoreError) in try t.getRangeAll(from, end, limit: 1, snapshot: true) }
            guard let key = first.first?.key else { break }
            guard let id = stageID(key, after: all.count) else {
                throw StoreError(.storeCorrupted, "a key under the staged commits' prefix names no stage")
            }
            ids.append(id)
            from = Keyspace.stagedCommitPrefix(id) + [0xFF]
        }
        return ids
    }

    /// The id a key under `stagedCommitsPrefix` belongs to: the tuple layer's
    /// byte string (0x01, the bytes with 0x00 as 0x00 0xFF, then 0x00).
    static func stageID(_ key: Bytes, after start: Int) -> Bytes? {
        guard key.count > start, key[start] == 0x01 else { return nil }
        var id: Bytes = []
        var i = start + 1
        while i < key.count {
            if key[i] == 0x00 {
                if i + 1 < key.count, key[i + 1] == 0xFF {
                    id.append(0x00)
                    i += 2
                    continue
                }
                return id
            }
            id.append(key[i])
            i += 1
        }
        return nil
    }

    /// Clears the stage of `id`, whose committer is gone, unless it was
    /// published (the barrier names it: it is applied, not dropped). The
    /// barrier is read in the clearing transaction, so a publish of it
    /// cannot slip between. True when cleared.
    @discardableResult
    public static func sweep(_ store: any Store, id: Bytes) throws(StoreError) -> Bool {
        let (b, e) = Keyspace.prefixRange(Keyspace.stagedCommitPrefix(id))
        return try store.transact { t throws(StoreError) -> Bool in
            if let v = try t.get(Keyspace.commitBarrierKey, snapshot: false), CommitBarrier.parse(v)?.id == id { return false }
            try t.clearRange(b, e)
            return true
        }
    }

    // MARK: publish

    /// The commit point: in one store transaction, waits until no other
    /// staged commit is being applied, runs `checks` (the commit's own
    /// checks; they may read, adding read conflicts), sets the barrier to
    /// `id` and bumps the metadata version. Returns the commit version.
    public static func publish(_ store: any Store, id: Bytes, stallMilliseconds: Int = CommitBarrier.defaultStallMilliseconds,
                               committerGone: ((Bytes) -> Bool)? = nil,
                               counters: @escaping (StoreCounters) -> Void,
                               checks: (any StoreTransaction) throws(StoreError) -> Void) throws(StoreError) -> Int64 {
        var waiter = CommitBarrier.Waiter(stallMilliseconds: stallMilliseconds, committerGone: committerGone)
        while true {
            let t = try store.beginTransaction()
            defer { counters(t.counters) }
            var verdict: StoreError?
            do throws(StoreError) {
                if let other = try t.get(Keyspace.commitBarrierKey, snapshot: false) {
                    // An earlier attempt whose result was unknown did commit.
                    if CommitBarrier.parse(other)?.id == id { return try t.getReadVersion() }
                    // Another staged commit is being applied: its rows must be
                    // in place before this commit's checks read anything.
                    t.cancel()
                    try waiter.waitOrHelp(store, barrier: other, counters: counters)
                    continue
                }
                do throws(StoreError) { try checks(t) } catch {
                    verdict = error
                    throw error
                }
                try t.set(Keyspace.commitBarrierKey, CommitBarrier.value(id: id, step: 0))
                try t.bumpMetadataVersion()
                return try t.commit()
            } catch {
                // The commit's own verdict (a conflict its checks found) is not retried.
                if let verdict { throw verdict }
                if !error.isRetryable || error.knownCode == .interrupted { throw error }
                try StoreInterrupts.checkpoint()
                try t.onError(error)
            }
        }
    }

    // MARK: apply

    /// Moves the published stage of `id` into place and clears the
    /// barrier. Idempotent, and safe to run from several processes at once.
    public static func apply(_ store: any Store, id: Bytes, chunkBytes: Int = chunkBytes,
                             counters: @escaping (StoreCounters) -> Void) throws(StoreError) {
        let prefix = Keyspace.stagedCommitPrefix(id)
        let (begin, end) = Keyspace.prefixRange(prefix)
        var step: Int64 = 0
        while true {
            step += 1
            let done = try store.transact(counters: counters) { t throws(StoreError) -> Bool in
                // Checked in every step: a step that finds another commit's id
                // (this one finished, and the next was published) stops.
                guard let barrier = try t.get(Keyspace.commitBarrierKey, snapshot: false),
                      CommitBarrier.parse(barrier)?.id == id else { return true }
                let batch = try t.getRange(.firstGreaterOrEqual(begin), .firstGreaterOrEqual(end),
                                           options: RangeOptions(targetBytes: chunkBytes, snapshot: false, mode: .wantAll))
                if batch.isEmpty {
                    try t.clear(Keyspace.commitBarrierKey)
                    try t.bumpMetadataVersion()
                    return true
                }
                let headOnly = batch.key(0).dropFirst(prefix.count).first == headKind
                var applied = 0
                for i in 0..<batch.count {
                    let key = batch.key(i)
                    let kind = key.dropFirst(prefix.count).first
                    // Range clears and atomic operations go before any key.
                    if headOnly && kind != headKind { break }
                    try applyEntry(t, key: key, kind: kind, rest: key.dropFirst(prefix.count + 1), value: batch.value(i))
                    applied = i + 1
                }
                // The first entry is always applied (a head entry leads a head-only batch).
                guard applied > 0 else { throw StoreError(.storeCorrupted, "a staged commit's step applied nothing") }
                try t.clearRange(begin, keyAfter(batch.keyBytes(applied - 1)))
                try t.set(Keyspace.commitBarrierKey, CommitBarrier.value(id: id, step: step))
                return false
            }
            if done { return }
        }
    }

    private static func applyEntry(_ t: any StoreTransaction, key: ArraySlice<UInt8>, kind: UInt8?, rest: ArraySlice<UInt8>,
                                   value: ArraySlice<UInt8>) throws(StoreError) {
        var corrupt: StoreError { StoreError(.storeCorrupted, "a staged commit's entry is not one this build wrote: \(Bytes(key))") }
        switch kind {
        case setKind: try t.set(Bytes(rest), Bytes(value))
        case clearKind: try t.clear(Bytes(rest))
        case headKind:
            guard let e = try? Tuple.unpack(Bytes(value)).elements, e.count == 3,
                  case .int(let code) = e[0], case .bytes(let a) = e[1], case .bytes(let b) = e[2] else { throw corrupt }
            if code == clearRangeCode {
                try t.clearRange(a, b)
            } else {
                guard let op = MutationType(rawValue: Int32(truncatingIfNeeded: code)) else { throw corrupt }
                try t.atomicOp(op, a, b)
            }
        case longKind:
            guard let e = try? Tuple.unpack(Bytes(value)).elements, case .bytes(let k) = e.first else { throw corrupt }
            if e.count == 2, case .bytes(let v) = e[1] { try t.set(k, v) } else { try t.clear(k) }
        default: throw corrupt
        }
    }
}

/// One mutation of a commit, as the stage keeps it.
public enum StagedMutation {
    case set(Bytes, Bytes)
    case clear(Bytes)
    case clearRange(Bytes, Bytes)
    case atomic(MutationType, Bytes, Bytes)
}
