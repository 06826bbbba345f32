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

    static func wait(_ handle: OpaquePointer) throws(StoreError) {
        try FDBLibrary.checkNetwork()
        // Non-zero only in exceptional conditions (out of memory); the
        // future's own error comes from fdb_future_get_error.
        try check(cfdb_future_block_until_ready(handle))
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
