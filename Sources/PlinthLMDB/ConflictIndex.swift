import CLMDB
import PlinthStore
#if canImport(Glibc)
import Glibc
#endif

/// The embedded engine's resolver: FoundationDB's optimistic concurrency
/// across processes, kept in the store itself and used only inside the write
/// transaction (which LMDB serialises with its writer lock).
///
/// A commit at version V records:
///  - `write_conflicts`: for each key it wrote, key -> V (keys longer than
///    `keyPrefix` bytes are recorded under their prefix: a conservative
///    conflict, never a missed one);
///  - `write_log`: V -> its commit time, the write ranges that are not single
///    keys (clear-range, explicit write-conflict ranges) and the list of keys,
///    so the history can be pruned by age.
/// A transaction that read at version R conflicts when one of its read ranges
/// holds a key recorded with a version > R, or intersects a logged range of a
/// version > R. History older than the retention is pruned; a transaction
/// whose read version is older than what was pruned fails with
/// transaction_too_old, as on FoundationDB.
///
/// The history lives in its own LMDB environment (`conflicts/` in the store
/// directory) that is never flushed to disk: it only matters to transactions
/// in flight, and an operating-system crash ends all of them. After a reboot
/// (a new kernel boot id) the history is recreated empty, with everything
/// before the store's last version counted as pruned. Commits record their
/// history before the data commit, so a crash between the two can never miss
/// a conflict; the history it leaves above the data's last version is
/// discarded by the next writer (`discard`).
struct ConflictIndex {
    static let databaseNames = ["write_conflicts", "write_log", "meta"]
    let env: LMDBEnvironment
    var keys: MDB_dbi { env.databases[0] }
    var log: MDB_dbi { env.databases[1] }
    var meta: MDB_dbi { env.databases[2] }

    static let keyPrefix = 480
    static let prunedThroughKey: Bytes = Array("pruned_through".utf8)
    /// Log entries pruned per commit at most: keeps each commit short.
    static let pruneBatch = 64

    static func truncated(_ key: Bytes) -> Bytes {
        key.count > keyPrefix ? Bytes(key[0..<keyPrefix]) : key
    }

    static func versionKey(_ v: Int64) -> Bytes {
        withUnsafeBytes(of: UInt64(bitPattern: v).bigEndian) { Bytes($0) }
    }

    func prunedThrough(_ txn: LMDBTxn) throws(StoreError) -> Int64 {
        guard let v = try Self.prunedThroughKey.withBytes({ (k) throws(StoreError) in try txn.get(meta, k) }),
              v.count == 8 else { return 0 }
        return Int64(littleEndian: v.loadUnaligned(as: Int64.self))
    }

    /// Throws transaction_too_old or not_committed when the transaction that
    /// read at `readVersion` must not commit.
    func check(_ txn: LMDBTxn, readVersion: Int64, reads: [KeyRange]) throws(StoreError) {
        if readVersion < (try prunedThrough(txn)) {
            throw StoreError(.transactionTooOld)
        }
        guard !reads.isEmpty else { return }
        // Ranges written after our read version.
        let logCursor = try txn.cursor(log)
        defer { logCursor.close() }
        var entry = try Self.versionKey(readVersion + 1).withBytes { (k) throws(StoreError) in try logCursor.get(MDB_SET_RANGE, key: k) }
        while let e = entry {
            var conflict: KeyRange?
            try LogEntry.walkRanges(e.value) { r in
                if conflict == nil && intersectsAny(r, reads) { conflict = r }
            }
            if let conflict {
                throw StoreError(code: StoreError.Code.notCommitted.rawValue,
                                 message: "range [\(printable(conflict.begin)), \(printable(conflict.end))) was written after this transaction read it")
            }
            entry = try logCursor.get(MDB_NEXT)
        }
        // Keys written after our read version.
        let keyCursor = try txn.cursor(keys)
        defer { keyCursor.close() }
        for r in reads {
            let start = Self.truncated(r.begin)
            var e = try start.withBytes { (s) throws(StoreError) in try keyCursor.get(MDB_SET_RANGE, key: s) }
            while let (k, v) = e {
                if r.end.withUnsafeBytes({ compareBytes(k, $0) }) >= 0 { break }
                if v.count == 8 && Int64(littleEndian: v.loadUnaligned(as: Int64.self)) > readVersion {
                    throw StoreError(code: StoreError.Code.notCommitted.rawValue,
                                     message: "key \(printable(Bytes(k))) was written after this transaction read it")
                }
                e = try keyCursor.get(MDB_NEXT)
            }
        }
    }

    /// Takes back the history of commits above `lastCommitted`, the data's
    /// last committed version: a process killed between the history commit
    /// and the data commit leaves its entry behind, at the version the next
    /// data commit will take. Kept, it would make a transaction that read
    /// just below that version conflict with a write that never happened —
    /// and conflict again at every retry, while nothing else commits.
    ///
    /// The keys such a commit recorded had their last real write version
    /// overwritten; they are recorded again at `lastCommitted` (at least
    /// that last write's version, and one the data has: a conflict it adds
    /// is gone at the retry), in the log entry of that version so that they
    /// are pruned with it.
    func discard(_ txn: LMDBTxn, above lastCommitted: Int64) throws(StoreError) {
        var claimed: [Bytes] = []
        let logCursor = try txn.cursor(log)
        defer { logCursor.close() }
        while let e = try logCursor.get(MDB_LAST) {
            guard e.key.count == 8 else { throw StoreError(.storeCorrupted, "embedded store: bad write log key") }
            let version = Int64(bitPattern: UInt64(bigEndian: e.key.loadUnaligned(as: UInt64.self)))
            guard version > lastCommitted else { break }
            var points: [Bytes] = []
            try LogEntry.walkPoints(e.value) { points.append(Bytes($0)) }
            try logCursor.deleteCurrent()
            for p in points {
                let current = try p.withBytes { (k) throws(StoreError) in try txn.get(keys, k).map { Bytes($0) } }
                if let current, current.count == 8,
                   current.withUnsafeBytes({ Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) }) == version {
                    claimed.append(p)
                }
            }
        }
        guard !claimed.isEmpty else { return }
        let stamp = withUnsafeBytes(of: lastCommitted.littleEndian) { Bytes($0) }
        for p in claimed {
            try p.withBytes { (k) throws(StoreError) in
                try stamp.withBytes { (s) throws(StoreError) in try txn.put(keys, k, s) }
            }
        }
        // Into the log entry of lastCommitted, merged with what it holds.
        let key = Self.versionKey(lastCommitted)
        var time = wallClockMilliseconds()
        var ranges: [KeyRange] = []
        var points = claimed
        if let old = try key.withBytes({ (k) throws(StoreError) in try txn.get(log, k).map { Bytes($0) } }) {
            try old.withBytes { (v) throws(StoreError) in
                try LogEntry.walkRanges(v) { ranges.append($0) }   // validates the entry
                time = Int64(littleEndian: v.loadUnaligned(as: Int64.self))
                try LogEntry.walkPoints(v) { points.append(Bytes($0)) }
            }
        }
        let entry = LogEntry.encode(time: time, ranges: ranges, points: points)
        try key.withBytes { (k) throws(StoreError) in
            try entry.withBytes { (e) throws(StoreError) in try txn.put(log, k, e) }
        }
    }

    /// Records the writes of the commit at `version`, then prunes history
    /// older than `retentionMilliseconds`.
    func record(_ txn: LMDBTxn, version: Int64, points: [Bytes], ranges: [KeyRange],
                       retentionMilliseconds: Int) throws(StoreError) {
        var v = version.littleEndian
        let stamp = withUnsafeBytes(of: &v) { Bytes($0) }
        var truncatedPoints: [Bytes] = []
        truncatedPoints.reserveCapacity(points.count)
        for p in points {
            let t = Self.truncated(p)
            truncatedPoints.append(t)
            try t.withBytes { (k) throws(StoreError) in
                try stamp.withBytes { (s) throws(StoreError) in try txn.put(keys, k, s) }
            }
        }
        let now = wallClockMilliseconds()
        let entry = LogEntry.encode(time: now, ranges: ranges, points: truncatedPoints)
        try Self.versionKey(version).withBytes { (k) throws(StoreError) in
            try entry.withBytes { (e) throws(StoreError) in try txn.put(log, k, e) }
        }
        try prune(txn, olderThan: now - Int64(retentionMilliseconds))
    }

    func prune(_ txn: LMDBTxn, olderThan horizon: Int64) throws(StoreError) {
        let logCursor = try txn.cursor(log)
        defer { logCursor.close() }
        var pruned: Int64 = -1
        var n = 0
        var entry = try logCursor.get(MDB_FIRST)
        while let e = entry, n < Self.pruneBatch {
            guard e.value.count >= 8, e.key.count == 8 else { throw StoreError(.storeCorrupted, "embedded store: bad write log entry") }
            let time = Int64(littleEndian: e.value.loadUnaligned(as: Int64.self))
            if time >= horizon { break }
            let version = Int64(bitPattern: UInt64(bigEndian: e.key.loadUnaligned(as: UInt64.self)))
            var points: [Bytes] = []
            try LogEntry.walkPoints(e.value) { points.append(Bytes($0)) }
            for p in points {
                try p.withBytes { (k) throws(StoreError) in
                    if let cur = try txn.get(keys, k), cur.count == 8,
                       Int64(littleEndian: cur.loadUnaligned(as: Int64.self)) == version {
                        try txn.delete(keys, k)
                    }
                }
            }
            try logCursor.deleteCurrent()
            pruned = version
            n += 1
            entry = try logCursor.get(MDB_NEXT)
        }
        if pruned >= 0 { try setPrunedThrough(txn, pruned) }
    }

    func setPrunedThrough(_ txn: LMDBTxn, _ version: Int64) throws(StoreError) {
        let value = withUnsafeBytes(of: version.littleEndian) { Bytes($0) }
        try Self.prunedThroughKey.withBytes { (k) throws(StoreError) in
            try value.withBytes { (b) throws(StoreError) in try txn.put(meta, k, b) }
        }
    }

    /// Opens the history in `directory`, recreating it when it was written
    /// before the last reboot (or cannot be read). `lastVersion` is the
    /// store's last committed version; the caller holds the data
    /// environment's writer lock, so no other process opens it meanwhile.
    static func open(directory: String, lastVersion: Int64, maxReaders: UInt32) throws(StoreError) -> ConflictIndex {
        let env = try NeverFlushed.open(directory: directory, mapSizeBytes: 8 << 30, maxReaders: maxReaders,
                                        databases: databaseNames) { env, txn throws(StoreError) in
            try ConflictIndex(env: env).setPrunedThrough(txn, lastVersion)
        }
        return ConflictIndex(env: env)
    }
}

/// LMDB environments that only serve processes now running (the conflict
/// history, the volatile space): never flushed to disk, and recreated empty
/// after a reboot, which ended every such process. The kernel's boot id,
/// kept in the last database (which must be "meta"), tells a reboot.
/// (Without a boot id to tell one, the environment is kept durable instead.)
/// Not MDB_WRITEMAP: pages written through the map of a file on a full disk
/// are SIGBUS, where LMDB's own writes return an error.
enum NeverFlushed {
    static let bootIDKey: Bytes = Array("boot_id".utf8)

    /// Opens (or recreates) the environment; `initialize` writes what a new
    /// one starts with. The caller makes sure no other process opens the
    /// same directory meanwhile, or that a race only recreates it twice
    /// before any process used it.
    static func open(directory: String, mapSizeBytes: Int, maxReaders: UInt32, databases: [String],
                     initialize: (LMDBEnvironment, LMDBTxn) throws(StoreError) -> Void) throws(StoreError) -> LMDBEnvironment {
        precondition(databases.last == "meta")
        let boot = currentBootID()
        let flags = boot == nil ? 0 : UInt32(MDB_NOSYNC) | UInt32(MDB_NOMETASYNC)
        if let env = try? LMDBEnvironment(path: directory, mapSizeBytes: mapSizeBytes, maxReaders: maxReaders,
                                          flags: flags, databases: databases) {
            let txn = try env.beginWrite()
            let stored = try bootIDKey.withBytes { (k) throws(StoreError) in
                try txn.get(env.databases[databases.count - 1], k).map { Bytes($0) }
            }
            txn.abort()
            if boot == nil || stored == boot { return env }
        }
        // Written before this boot, or unreadable: start afresh.
        for f in ["data.mdb", "lock.mdb"] { unlink(directory + "/" + f) }
        let env = try LMDBEnvironment(path: directory, mapSizeBytes: mapSizeBytes, maxReaders: maxReaders,
                                      flags: flags, databases: databases)
        let txn = try env.beginWrite()
        do throws(StoreError) {
            try initialize(env, txn)
            if let boot {
                try bootIDKey.withBytes { (k) throws(StoreError) in
                    try boot.withBytes { (b) throws(StoreError) in try txn.put(env.databases[databases.count - 1], k, b) }
                }
            }
            try txn.commit()
        } catch {
            txn.abort()
            throw error
        }
        return env
    }

    /// The kernel's boot id: changes at every boot.
    static func currentBootID() -> Bytes? {
        let fd = Glibc.open("/proc/sys/kernel/random/boot_id", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = Bytes(repeating: 0, count: 64)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, 64) }
        return n > 0 ? Bytes(buf[0..<n]) : nil
    }
}

/// write_log value: i64 commit time (ms), u32 range count, ranges as
/// (u32 length, begin, u32 length, end), u32 key count, keys as (u16 length,
/// key). Little-endian. Ranges come first: the conflict check reads only them.
enum LogEntry {
    static func encode(time: Int64, ranges: [KeyRange], points: [Bytes]) -> Bytes {
        var out = Bytes()
        func put<T: FixedWidthInteger>(_ x: T) { withUnsafeBytes(of: x.littleEndian) { out.append(contentsOf: $0) } }
        put(time)
        put(UInt32(ranges.count))
        for r in ranges {
            put(UInt32(r.begin.count)); out.append(contentsOf: r.begin)
            put(UInt32(r.end.count)); out.append(contentsOf: r.end)
        }
        put(UInt32(points.count))
        for p in points { put(UInt16(p.count)); out.append(contentsOf: p) }
        return out
    }

    private static func corrupt() -> StoreError { StoreError(.storeCorrupted, "embedded store: bad write log entry") }

    /// Offset of the point list; calls body for each range on the way.
    @discardableResult
    static func walkRanges(_ v: UnsafeRawBufferPointer, _ body: (KeyRange) -> Void) throws(StoreError) -> Int {
        guard v.count >= 12 else { throw corrupt() }
        let n = Int(v.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian)
        var o = 12
        for _ in 0..<n {
            guard o + 4 <= v.count else { throw corrupt() }
            let bl = Int(v.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian)
            guard o + 4 + bl + 4 <= v.count else { throw corrupt() }
            let b = Bytes(v[(o + 4)..<(o + 4 + bl)])
            o += 4 + bl
            let el = Int(v.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian)
            guard o + 4 + el <= v.count else { throw corrupt() }
            let e = Bytes(v[(o + 4)..<(o + 4 + el)])
            o += 4 + el
            body(KeyRange(b, e))
        }
        return o
    }

    static func walkPoints(_ v: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) throws(StoreError) {
        var o = try walkRanges(v) { _ in }
        guard o + 4 <= v.count else { throw corrupt() }
        let n = Int(v.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian)
        o += 4
        for _ in 0..<n {
            guard o + 2 <= v.count else { throw corrupt() }
            let l = Int(v.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian)
            guard o + 2 + l <= v.count else { throw corrupt() }
            body(UnsafeRawBufferPointer(rebasing: v[(o + 2)..<(o + 2 + l)]))
            o += 2 + l
        }
        guard o == v.count else { throw corrupt() }
    }
}

func wallClockMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}

/// A coarse clock (a few ms of resolution, a few ns to read): enough for
/// transaction lifetimes.
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
