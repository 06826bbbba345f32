#if canImport(Glibc)
import Glibc
#endif

/// Keys and values are plain byte arrays, ordered lexicographically by
/// unsigned byte (memcmp order, then length): the order of FoundationDB and
/// LMDB.
public typealias Bytes = [UInt8]

/// Lexicographic comparison: negative, zero or positive.
@inlinable @inline(__always)
public func compareBytes(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return Int(c) }
    }
    return a.count - b.count
}

@inlinable @inline(__always)
public func compareBytes(_ a: Bytes, _ b: Bytes) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareBytes(pa, pb) } }
}

@inlinable @inline(__always)
public func compareBytes(_ a: ArraySlice<UInt8>, _ b: Bytes) -> Int {
    a.withUnsafeBytes { pa in b.withUnsafeBytes { pb in compareBytes(pa, pb) } }
}

@inlinable @inline(__always)
public func bytesLess(_ a: Bytes, _ b: Bytes) -> Bool { compareBytes(a, b) < 0 }

/// The first key after `key` in key order: key + 0x00. A single-key range is
/// [key, keyAfter(key)).
@inlinable @inline(__always)
public func keyAfter(_ key: Bytes) -> Bytes {
    var k = key
    k.append(0)
    return k
}

/// Whether `key` starts with `prefix`.
public func hasPrefix(_ key: Bytes, _ prefix: Bytes) -> Bool {
    guard key.count >= prefix.count else { return false }
    return key.withUnsafeBytes { k in
        prefix.withUnsafeBytes { p in
            p.count == 0 || memcmp(k.baseAddress!, p.baseAddress!, p.count) == 0
        }
    }
}

/// Printable form of a key for error messages: printable ASCII as is, the
/// rest as \xNN (FoundationDB's printable()).
public func printable(_ bytes: Bytes, limit: Int = 120) -> String {
    var s = ""
    for b in bytes.prefix(limit) {
        if b >= 0x20 && b < 0x7f && b != UInt8(ascii: "\\") {
            s.unicodeScalars.append(UnicodeScalar(b))
        } else {
            let hex = Array("0123456789abcdef".unicodeScalars)
            s += "\\x"
            s.unicodeScalars.append(hex[Int(b >> 4)])
            s.unicodeScalars.append(hex[Int(b & 15)])
        }
    }
    if bytes.count > limit { s += "..." }
    return s
}
