/// One batch of key-value pairs from a range read, kept in a single buffer:
/// one allocation per batch rather than two per row.
public struct KVBatch: Sendable {
    /// Keys and values back to back.
    @usableFromInline var _buffer: Bytes
    public var buffer: Bytes { _buffer }
    /// Per entry: key start, key length, value start, value length.
    @usableFromInline var offsets: [Int32]
    /// Whether the range holds more rows past this batch.
    public var more: Bool

    public init(reservingBytes: Int = 0, reservingCount: Int = 0) {
        _buffer = []
        _buffer.reserveCapacity(reservingBytes)
        offsets = []
        offsets.reserveCapacity(reservingCount * 4)
        more = false
    }

    @inlinable public var count: Int { offsets.count / 4 }
    public var isEmpty: Bool { offsets.isEmpty }

    @inlinable
    public mutating func append(key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let ks = _buffer.count
        _buffer.append(contentsOf: key)
        let vs = _buffer.count
        _buffer.append(contentsOf: value)
        offsets.append(Int32(ks)); offsets.append(Int32(key.count))
        offsets.append(Int32(vs)); offsets.append(Int32(value.count))
    }

    public mutating func append(key: Bytes, value: Bytes) {
        key.withUnsafeBytes { k in value.withUnsafeBytes { v in append(key: k, value: v) } }
    }

    @inlinable public func key(_ i: Int) -> ArraySlice<UInt8> {
        let s = Int(offsets[4 * i]), n = Int(offsets[4 * i + 1])
        return _buffer[s..<(s + n)]
    }

    @inlinable public func value(_ i: Int) -> ArraySlice<UInt8> {
        let s = Int(offsets[4 * i + 2]), n = Int(offsets[4 * i + 3])
        return _buffer[s..<(s + n)]
    }

    public func keyBytes(_ i: Int) -> Bytes { Bytes(key(i)) }
    public func valueBytes(_ i: Int) -> Bytes { Bytes(value(i)) }

    /// Borrow key and value of entry i without copying. Do not escape the
    /// pointers.
    @inlinable public func withEntry<R>(_ i: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let ks = Int(offsets[4 * i]), kn = Int(offsets[4 * i + 1])
        let vs = Int(offsets[4 * i + 2]), vn = Int(offsets[4 * i + 3])
        return try _buffer.withUnsafeBytes { p in
            try body(UnsafeRawBufferPointer(rebasing: p[ks..<(ks + kn)]),
                     UnsafeRawBufferPointer(rebasing: p[vs..<(vs + vn)]))
        }
    }

    public var lastKey: Bytes? { count == 0 ? nil : keyBytes(count - 1) }

    /// Total bytes of keys and values.
    @inlinable public var byteCount: Int { _buffer.count }
}
