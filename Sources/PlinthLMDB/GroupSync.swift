import CLMDB
import PlinthStore
#if canImport(Glibc)
import Glibc
#endif

/// Group commit for the embedded engine.
///
/// The data environment runs with MDB_NOMETASYNC: each commit flushes its
/// data pages inside LMDB's writer lock, but not the meta page that makes
/// it current (LMDB still guarantees integrity: data reaches the disk before
/// any meta page that points to it). Before a commit returns, `syncThrough`
/// makes the meta page durable with one fdatasync of the file — which
/// covers every commit made so far, by any process. Committers that arrive
/// while a flush runs find their commit covered and skip theirs: with N
/// concurrent committers, one flush serves them all, and none happens inside
/// the writer lock.
///
/// Shared state, in `sync` beside the data file: the boot id it belongs to
/// and the highest commit version known durable. flock on it serialises the
/// flushes. After a reboot the version recorded is meaningless (commits
/// past the last flush are gone) and is reset.
final class GroupSync {
    private let fd: Int32
    private let state: UnsafeMutablePointer<Int64>   // [0]: durable version
    private static let size = 4096
    private static let bootIDOffset = 64

    init(directory: String) throws(StoreError) {
        let path = directory + "/sync"
        fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StoreError(.storeIOError, "could not open \(path): \(String(cString: strerror(errno)))")
        }
        // A shared mapping: its block is allocated now (a page the file
        // system cannot back is SIGBUS when touched).
        let rc = allocateMappedFile(fd, size: Self.size)
        if rc != 0 || ftruncate(fd, off_t(Self.size)) != 0 {
            let e = rc != 0 ? rc : errno
            close(fd)
            throw lmdbError(e, "size \(path)", directory: directory)
        }
        guard let p = mmap(nil, Self.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else {
            let e = errno
            close(fd)
            throw StoreError(.storeIOError, "could not map \(path): \(String(cString: strerror(e)))")
        }
        state = p.bindMemory(to: Int64.self, capacity: Self.size / 8)
        // A new boot: forget the durable version of the last one.
        flock(fd, LOCK_EX)
        let boot = NeverFlushed.currentBootID() ?? []
        let stored = UnsafeMutableRawPointer(state) + Self.bootIDOffset
        let length = min(boot.count, 64)
        if memcmp(stored, boot, length) != 0 {
            state.pointee = 0
            boot.withUnsafeBytes { stored.copyMemory(from: $0.baseAddress!, byteCount: length) }
        }
        flock(fd, LOCK_UN)
    }

    deinit {
        munmap(state, Self.size)
        close(fd)
    }

    private var durable: Int64 {
        get { UnsafeAtomicLoad(state) }
        set { UnsafeAtomicStore(state, newValue) }
    }

    /// Returns once commit `version` is on disk.
    func syncThrough(_ version: Int64, _ env: LMDBEnvironment) throws(StoreError) {
        if durable >= version { return }
        flock(fd, LOCK_EX)
        defer { flock(fd, LOCK_UN) }
        if durable >= version { return }
        let latest = Int64(env.info().lastTxnID)   // every commit so far: covered by this flush
        try env.sync()
        if latest > durable { durable = latest }
    }
}

@inline(__always)
private func UnsafeAtomicLoad(_ p: UnsafeMutablePointer<Int64>) -> Int64 {
    // An aligned 8-byte access is atomic on the platforms Plinth runs on;
    // the flock around updates orders them.
    UnsafeMutableRawPointer(p).withMemoryRebound(to: Int64.self, capacity: 1) { $0.pointee }
}

@inline(__always)
private func UnsafeAtomicStore(_ p: UnsafeMutablePointer<Int64>, _ v: Int64) {
    p.pointee = v
}
