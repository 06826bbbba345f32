import CLMDB
import PlinthStore
#if canImport(Glibc)
import Glibc
#endif

// The one file that calls LMDB. Every mdb_* call goes through here, so that
// errors are mapped in one place and tests can inject faults.

/// Fault injection for tests, per store (tests run in parallel): when set,
/// called before the named operation; a non-zero return is used as that
/// operation's error code (an errno or an LMDB code).
public struct LMDBFaults {
    public enum Operation: Sendable {
        case beginWrite, put, commit
        /// The data commit of a store transaction, after its conflict
        /// history was committed: a failure here is a process killed
        /// between the two.
        case dataCommit
    }
    public var inject: ((Operation) -> Int32)?
    public init(inject: ((Operation) -> Int32)? = nil) { self.inject = inject }

    @inline(__always)
    func fault(_ op: Operation) -> Int32 { inject?(op) ?? 0 }
}

func lmdbError(_ rc: Int32, _ what: String, directory: String? = nil) -> StoreError {
    let text = String(cString: mdb_strerror(rc))
    switch rc {
    case MDB_MAP_FULL:
        return StoreError(.storeFull, "embedded store is full (\(what)): raise plinth.map_size")
    case ENOSPC, EDQUOT:
        return StoreError(.diskFull, "embedded store: no space left on the file system of \(directory ?? "the store") (\(what))")
    case EIO where directory.map(fileSystemIsFull) ?? false:
        // LMDB reports a short write — what a full file system gives — as
        // EIO ("short write, filesystem full?").
        return StoreError(.diskFull, "embedded store: no space left on the file system of \(directory!) (\(what))")
    case MDB_CORRUPTED, MDB_PAGE_NOTFOUND, MDB_INVALID, MDB_VERSION_MISMATCH:
        return StoreError(.storeCorrupted, "embedded store: \(what): \(text)")
    default:
        return StoreError(.storeIOError, "embedded store: \(what): \(text)")
    }
}

@inline(__always)
func check(_ rc: Int32, _ what: @autoclosure () -> String) throws(StoreError) {
    if rc != MDB_SUCCESS { throw lmdbError(rc, what()) }
}

/// Whether the file system holding `directory` has (almost) no room left:
/// less than 1 MB for an unprivileged writer.
func fileSystemIsFull(_ directory: String) -> Bool {
    var st = statvfs()
    guard statvfs(directory, &st) == 0 else { return false }
    return UInt64(st.f_bavail) * UInt64(st.f_frsize) < 1 << 20
}

/// Allocates the blocks of LMDB's lock file (at least `bytes`, its reader
/// table) before LMDB opens it.
func preallocateLockFile(_ path: String, bytes: Int, directory: String) throws(StoreError) {
    let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return }   // LMDB's open reports what is wrong
    var st = stat()
    let rc = fstat(fd, &st) == 0 ? allocateMappedFile(fd, size: max(bytes, Int(st.st_size))) : 0
    close(fd)
    if rc != 0 { throw lmdbError(rc, "allocate \(path)", directory: directory) }
}

/// Gives a file of `size` bytes that will be used through a shared mapping
/// its blocks now: a store page of a mapping that the file system cannot
/// back (a full disk) is SIGBUS for the process that touches it — a
/// crashed backend and every connection restarted — while an allocation
/// that fails here is an error.
func allocateMappedFile(_ fd: Int32, size: Int) -> Int32 {
    let rc = posix_fallocate(fd, 0, off_t(size))
    // File systems without fallocate: the pages are then allocated on use.
    return rc == EOPNOTSUPP || rc == ENOSYS || rc == EINVAL ? 0 : rc
}

@inline(__always)
func mdbVal(_ p: UnsafeRawBufferPointer) -> MDB_val {
    MDB_val(mv_size: p.count, mv_data: UnsafeMutableRawPointer(mutating: p.baseAddress))
}

@inline(__always)
func buffer(_ v: MDB_val) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
}

/// An LMDB environment: one per process and directory, opened after fork
/// (never in the postmaster). It holds a fixed list of named databases.
final class LMDBEnvironment {
    let env: OpaquePointer
    let path: String
    private(set) var databases: [MDB_dbi] = []
    let maxKeySize: Int
    var faults = LMDBFaults()

    init(path: String, mapSizeBytes: Int, maxReaders: UInt32, flags: UInt32, databases names: [String]) throws(StoreError) {
        self.path = path
        var e: OpaquePointer?
        try check(mdb_env_create(&e), "mdb_env_create")
        env = e!
        do throws(StoreError) {
            try check(mdb_env_set_maxdbs(env, UInt32(names.count + 1)), "mdb_env_set_maxdbs")
            try check(mdb_env_set_maxreaders(env, maxReaders), "mdb_env_set_maxreaders")
            try check(mdb_env_set_mapsize(env, mapSizeBytes), "mdb_env_set_mapsize")
            if mkdir(path, 0o700) != 0 && errno != EEXIST {
                throw StoreError(.storeUnavailable, "embedded store: cannot create directory \"\(path)\": \(String(cString: strerror(errno)))")
            }
            // The lock file (the reader table) is a shared mapping: its
            // blocks are allocated before LMDB maps it, not when a reader
            // first touches a page on a full disk. Before mdb_env_open only:
            // closing a descriptor of the file afterwards would drop the
            // POSIX locks LMDB holds on it.
            try preallocateLockFile(path + "/lock.mdb", bytes: Int(maxReaders) * 64 + 65_536, directory: path)
            // NOTLS: a read transaction belongs to its MDB_txn, not the thread,
            // so a backend can hold its snapshot while it commits.
            let rc = mdb_env_open(env, path, flags | UInt32(MDB_NOTLS), 0o600)
            if rc != MDB_SUCCESS {
                throw StoreError(rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ? .storeCorrupted : .storeUnavailable,
                                 "embedded store: cannot open \"\(path)\": \(String(cString: mdb_strerror(rc)))")
            }
            maxKeySize = Int(mdb_env_get_maxkeysize(env))
            // Readers left behind by processes that were killed.
            clearStaleReaders()
            let txn = try beginWrite()
            do throws(StoreError) {
                for n in names { databases.append(try txn.openDatabase(n)) }
                try txn.commit()
            } catch {
                txn.abort()
                throw error
            }
        } catch {
            mdb_env_close(env)
            throw error
        }
    }

    deinit { mdb_env_close(env) }

    /// fdatasync of the data file (mdb_env_sync, forced).
    func sync() throws(StoreError) {
        try check(mdb_env_sync(env, 1), "mdb_env_sync")
    }

    func setDurable(_ durable: Bool) {
        _ = mdb_env_set_flags(env, UInt32(MDB_NOSYNC), durable ? 0 : 1)
    }

    /// Frees reader slots of dead processes; returns how many.
    @discardableResult
    func clearStaleReaders() -> Int {
        var dead: Int32 = 0
        _ = mdb_reader_check(env, &dead)
        return Int(dead)
    }

    func beginRead() throws(StoreError) -> LMDBTxn {
        var t: OpaquePointer?
        var rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &t)
        if rc == MDB_MAP_RESIZED {
            // Another process grew the map; adopt its size.
            _ = mdb_env_set_mapsize(env, 0)
            rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &t)
        }
        if rc == MDB_READERS_FULL {
            clearStaleReaders()
            rc = mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &t)
        }
        try check(rc, "begin read transaction")
        return LMDBTxn(t!, env: self)
    }

    /// Renews a reset read transaction (cheaper than a new one).
    func renewRead(_ txn: LMDBTxn) throws(StoreError) {
        var rc = mdb_txn_renew(txn.txn)
        if rc == MDB_MAP_RESIZED {
            _ = mdb_env_set_mapsize(env, 0)
            rc = mdb_txn_renew(txn.txn)
        }
        try check(rc, "renew read transaction")
    }

    /// Begins the write transaction: blocks until this process holds the
    /// store's writer lock (the commit critical section).
    func beginWrite() throws(StoreError) -> LMDBTxn {
        let f = faults.fault(.beginWrite)
        if f != 0 { throw lmdbError(f, "begin write transaction") }
        var t: OpaquePointer?
        var rc = mdb_txn_begin(env, nil, 0, &t)
        if rc == MDB_MAP_RESIZED {
            _ = mdb_env_set_mapsize(env, 0)
            rc = mdb_txn_begin(env, nil, 0, &t)
        }
        try check(rc, "begin write transaction")
        return LMDBTxn(t!, env: self)
    }

    struct Info {
        var mapSize: Int
        var lastPage: Int
        var pageSize: Int
        var lastTxnID: Int
        var readers: Int
    }

    /// The id of the last committed write transaction (no system call).
    func lastTxnID() -> Int64 {
        var i = MDB_envinfo()
        _ = mdb_env_info(env, &i)
        return Int64(i.me_last_txnid)
    }

    func info() -> Info {
        var i = MDB_envinfo()
        _ = mdb_env_info(env, &i)
        var s = MDB_stat()
        _ = mdb_env_stat(env, &s)
        return Info(mapSize: i.me_mapsize, lastPage: i.me_last_pgno, pageSize: Int(s.ms_psize),
                    lastTxnID: i.me_last_txnid, readers: Int(i.me_numreaders))
    }
}

/// An LMDB transaction handle. Pointers it returns stay valid until the
/// transaction ends (read) or until the next write to the same page (write).
struct LMDBTxn {
    let txn: OpaquePointer
    unowned let env: LMDBEnvironment

    init(_ txn: OpaquePointer, env: LMDBEnvironment) {
        self.txn = txn
        self.env = env
    }

    var id: Int64 { Int64(mdb_txn_id(txn)) }

    func openDatabase(_ name: String) throws(StoreError) -> MDB_dbi {
        var dbi: MDB_dbi = 0
        try check(mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi), "open database \(name)")
        return dbi
    }

    func get(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws(StoreError) -> UnsafeRawBufferPointer? {
        var k = mdbVal(key)
        var v = MDB_val()
        let rc = mdb_get(txn, dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "get")
        return buffer(v)
    }

    func put(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flags: UInt32 = 0) throws(StoreError) {
        let f = env.faults.fault(.put)
        if f != 0 { throw lmdbError(f, "put") }
        var k = mdbVal(key)
        var v = mdbVal(value)
        try check(mdb_put(txn, dbi, &k, &v, flags), "put")
    }

    /// Deletes `key`; false when it was absent.
    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws(StoreError) -> Bool {
        var k = mdbVal(key)
        let rc = mdb_del(txn, dbi, &k, nil)
        if rc == MDB_NOTFOUND { return false }
        try check(rc, "delete")
        return true
    }

    func commit() throws(StoreError) {
        let f = env.faults.fault(.commit)
        if f != 0 {
            mdb_txn_abort(txn)
            throw lmdbError(f, "commit", directory: env.path)
        }
        let rc = mdb_txn_commit(txn)
        if rc != MDB_SUCCESS { throw lmdbError(rc, "commit", directory: env.path) }
    }

    func abort() { mdb_txn_abort(txn) }
    func reset() { mdb_txn_reset(txn) }

    func cursor(_ dbi: MDB_dbi) throws(StoreError) -> LMDBCursor {
        var c: OpaquePointer?
        try check(mdb_cursor_open(txn, dbi, &c), "cursor")
        return LMDBCursor(c!)
    }
}

/// A raw LMDB cursor over physical keys.
struct LMDBCursor {
    let cursor: OpaquePointer
    init(_ c: OpaquePointer) { cursor = c }

    func close() { mdb_cursor_close(cursor) }

    /// Positions with `op`; returns the entry or nil at the end.
    func get(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil) throws(StoreError)
        -> (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)? {
        // LMDB rejects empty keys; the first key at or after "" is the first key.
        if op == MDB_SET_RANGE, let key, key.count == 0 { return try get(MDB_FIRST) }
        var k = key.map(mdbVal) ?? MDB_val()
        var v = MDB_val()
        let rc = mdb_cursor_get(cursor, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try check(rc, "cursor")
        return (buffer(k), buffer(v))
    }

    func deleteCurrent() throws(StoreError) {
        try check(mdb_cursor_del(cursor, 0), "cursor delete")
    }

    func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flags: UInt32) throws(StoreError) {
        var k = mdbVal(key)
        var v = mdbVal(value)
        try check(mdb_cursor_put(cursor, &k, &v, flags), "cursor put")
    }
}
