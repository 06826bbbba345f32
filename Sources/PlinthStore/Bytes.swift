@_exported import PlinthEncoding

extension Array where Element == UInt8 {
    /// `withUnsafeBytes` for bodies that throw `StoreError` (the standard
    /// library's version rethrows untyped errors).
    @inlinable @inline(__always)
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(StoreError) -> R) throws(StoreError) -> R {
        let result: Result<R, StoreError> = withUnsafeBytes { p in
            Result { () throws(StoreError) -> R in try body(p) }
        }
        return try result.get()
    }
}
