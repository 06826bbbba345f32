import CFDB
import PlinthStore

/// FDBFuture handling, all of it: wait (blocking this thread; the network
/// thread fills the future and never calls back into Swift), check the
/// error, extract, and destroy — exactly once, on every path, because
/// destruction is tied to the end of the owning value.
struct Future: ~Copyable {
    private let handle: OpaquePointer

    /// Takes ownership of a future returned by a `cfdb_transaction_*` call.
    init(_ handle: OpaquePointer?) throws(StoreError) {
        guard let handle else { throw StoreError(.internalError, "FoundationDB returned no future") }
        self.handle = handle
    }

    deinit { cfdb_future_destroy(handle) }

    /// Waits until the future is ready; throws its error, if any.
    func wait() throws(StoreError) { try Future.wait(handle) }

    func int64() throws(StoreError) -> Int64 { try Future.int64(handle) }
    func value() throws(StoreError) -> Bytes? { try Future.value(handle) }
    func key() throws(StoreError) -> Bytes { try Future.key(handle) }

    /// The rows of a range read, copied into one batch.
    func keyValues() throws(StoreError) -> KVBatch { try Future.keyValues(handle) }

    // The same on a borrowed handle (FutureList's).

    /// Waits until the future is ready, answering interrupts
    /// (`StoreInterrupts`) and giving up after `FDBWaits.limitMilliseconds`
    /// without an answer: the cluster is unreachable (or the network thread
    /// stopped). Either way the future is cancelled.
    static func wait(_ handle: OpaquePointer) throws(StoreError) {
        try FDBLibrary.checkNetwork()
        if cfdb_future_is_ready(handle) == 0 {
            try check(cfdb_future_arm(handle))
            let start = monotonicMilliseconds()
            while cfdb_future_wait(handle, Int32(FDBWaits.sliceMilliseconds)) == 0 {
                if StoreInterrupts.poll() {
                    cfdb_future_cancel(handle)
                    throw StoreError(.interrupted)
                }
                let waited = monotonicMilliseconds() - start
                if waited >= FDBWaits.limitMilliseconds {
                    cfdb_future_cancel(handle)
                    throw StoreError(.timedOut, "no answer from the FoundationDB cluster in \(waited) ms")
                }
                try FDBLibrary.checkNetwork()
            }
        }
        try check(cfdb_future_get_error(handle))
    }

    static func keyValues(_ handle: OpaquePointer) throws(StoreError) -> KVBatch {
        try wait(handle)
        var rows: UnsafePointer<FDBKeyValue>?
        var count: Int32 = 0
        var more: Int32 = 0
        try check(cfdb_future_get_keyvalue_array(handle, &rows, &count, &more))
        return copyKeyValues(UnsafeBufferPointer(start: rows, count: Int(count)), more: more != 0)
    }

    static func int64(_ handle: OpaquePointer) throws(StoreError) -> Int64 {
        try wait(handle)
        var out: Int64 = 0
        try check(cfdb_future_get_int64(handle, &out))
        return out
    }

    static func value(_ handle: OpaquePointer) throws(StoreError) -> Bytes? {
        try wait(handle)
        var present: Int32 = 0
        var bytes: UnsafePointer<UInt8>?
        var length: Int32 = 0
        try check(cfdb_future_get_value(handle, &present, &bytes, &length))
        guard present != 0 else { return nil }
        return Bytes(UnsafeBufferPointer(start: bytes, count: Int(length)))
    }

    static func key(_ handle: OpaquePointer) throws(StoreError) -> Bytes {
        try wait(handle)
        var bytes: UnsafePointer<UInt8>?
        var length: Int32 = 0
        try check(cfdb_future_get_key(handle, &bytes, &length))
        return Bytes(UnsafeBufferPointer(start: bytes, count: Int(length)))
    }
}

/// How long one wait on the cluster may last (plinth.timeout): a request a
/// healthy cluster answers in milliseconds; past this, the cluster is taken
/// for unreachable. One limit per process (a backend has one store).
public enum FDBWaits {
    nonisolated(unsafe) public static var limitMilliseconds = StoreLimits.defaultLifetimeMilliseconds
    /// Between two polls for interrupts (a signal wakes the wait at once).
    static let sliceMilliseconds = 50
}

/// Futures issued together (getMany): every one is issued before the first
/// is waited on, and all are destroyed together, however the wait ends.
struct FutureList: ~Copyable {
    private(set) var handles: [OpaquePointer] = []

    init(capacity: Int) { handles.reserveCapacity(capacity) }

    deinit { for handle in handles { cfdb_future_destroy(handle) } }

    mutating func append(_ handle: OpaquePointer?) throws(StoreError) {
        guard let handle else { throw StoreError(.internalError, "FoundationDB returned no future") }
        handles.append(handle)
    }
}

/// Throws the error of an fdb_error_t result.
func check(_ code: Int32, _ context: String? = nil) throws(StoreError) {
    if code != 0 { throw FDBErrors.error(code, context) }
}

/// A watch's future (`fdb_transaction_watch`): ready once the key changed,
/// or with an error (too many watches, the transaction failed); destroying
/// it cancels the watch.
final class FDBWatch: StoreWatch {
    private let handle: OpaquePointer

    init(_ handle: OpaquePointer) { self.handle = handle }

    deinit { cfdb_future_destroy(handle) }

    var fired: Bool { cfdb_future_is_ready(handle) != 0 }
}
