// FoundationDB's tuple layer: an order-preserving, self-delimiting encoding
// of typed values, as specified by design/tuple.md in the FoundationDB
// repository. Packed tuples compare bytewise (memcmp) in the same order as
// the values they encode, which is what lets the store keep rows and index
// entries sorted without decoding them.
//
// Layout of this file:
//   - TupleElement / UUIDBytes / Tuple / TupleError: the value types.
//   - TupleEncoder: allocation-free appenders (the hot path for key building).
//   - TupleDecoder: bounds-checked decoding and skipping.
//   - strinc: FoundationDB's "first key after every key with this prefix".
//
// Everything here is a pure function of its inputs; nothing allocates except
// the output arrays and the decoded values themselves.

// MARK: - Type codes

/// Type codes of design/tuple.md. Codes not listed here (deprecated 0x03/0x04
/// nested tuples, reserved 0x0a/0x1e big integers, 0x22 long double,
/// 0x23/0x24 decimals, deprecated 0x25 true, 0x31 64-bit id, 0x32 80-bit
/// versionstamp, 0x40-0x4f user codes, 0xff escape) are rejected by the
/// decoder as unknown.
enum TypeCode {
    static let null: UInt8 = 0x00
    static let bytes: UInt8 = 0x01
    static let string: UInt8 = 0x02
    static let nested: UInt8 = 0x05
    /// Negative integer whose magnitude needs 9...255 bytes.
    static let negativeBigInt: UInt8 = 0x0b
    /// 0x0c (8-byte negative) ... 0x14 (zero) ... 0x1c (8-byte positive).
    static let intZero: UInt8 = 0x14
    /// Positive integer whose magnitude needs 9...255 bytes.
    static let positiveBigInt: UInt8 = 0x1d
    static let float: UInt8 = 0x20
    static let double: UInt8 = 0x21
    static let falseValue: UInt8 = 0x26
    static let trueValue: UInt8 = 0x27
    static let uuid: UInt8 = 0x30
    static let versionstamp: UInt8 = 0x33
    /// Never a type code; follows 0x00 to mean "escaped NUL" (in byte
    /// strings) or "null element" (in nested tuples).
    static let escape: UInt8 = 0xff
}

// MARK: - Values

/// The 16 bytes of an RFC 4122 UUID in network (big-endian) byte order.
public struct UUIDBytes: Hashable, Sendable, CustomStringConvertible {
    public typealias Storage = (
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
    )

    /// Stored inline (a homogeneous tuple) so UUIDs never touch the heap.
    public var bytes: Storage

    public init(bytes: Storage) {
        self.bytes = bytes
    }

    /// The UUID with these 16 bytes; nil unless `array` has exactly 16.
    public init?(_ array: [UInt8]) {
        guard array.count == 16 else { return nil }
        self.init(zeroed: ())
        withUnsafeMutableBytes(of: &bytes) { dst in
            for i in 0..<16 { dst[i] = array[i] }
        }
    }

    /// Copies exactly 16 bytes; the caller has checked the length.
    init(copying raw: UnsafeRawBufferPointer) {
        precondition(raw.count == 16, "a UUID is 16 bytes")
        self.init(zeroed: ())
        withUnsafeMutableBytes(of: &bytes) { dst in
            dst.copyMemory(from: raw)
        }
    }

    private init(zeroed: ()) {
        bytes = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// The 16 bytes as an array.
    public var array: [UInt8] {
        withUnsafeBytes(of: bytes) { Array($0) }
    }

    public static func == (a: UUIDBytes, b: UUIDBytes) -> Bool {
        withUnsafeBytes(of: a.bytes) { x in
            withUnsafeBytes(of: b.bytes) { y in x.elementsEqual(y) }
        }
    }

    public func hash(into hasher: inout Hasher) {
        withUnsafeBytes(of: bytes) { hasher.combine(bytes: $0) }
    }

    public var description: String {
        var s = ""
        for (i, b) in array.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { s += "-" }
            s += hexByte(b)
        }
        return s
    }
}

/// One element of a tuple.
///
/// Equality (and hashing) is defined to agree with the packed encoding: two
/// elements are equal exactly when they pack to the same bytes. That differs
/// from the stored types' own `==` in three places, on purpose:
///   - floats and doubles compare by bit pattern, so `-0.0 != 0.0` and a NaN
///     equals itself (the encoding keeps the bit pattern, see below);
///   - strings compare by UTF-8 bytes, not by Unicode canonical equivalence
///     ("é" precomposed and "e" + combining accent pack differently);
///   - `.bigInt` compares by numeric value, so a non-canonical `.bigInt` whose
///     value fits in Int64 equals the corresponding `.int`.
public enum TupleElement: Hashable, Sendable {
    case null
    case bytes([UInt8])
    /// Packed as UTF-8.
    case string(String)
    /// Every integer that fits in Int64.
    case int(Int64)
    /// Integers outside Int64: big-endian magnitude without leading zeros, at
    /// most 255 bytes. Decoding yields `.int` whenever the value fits; use
    /// `TupleElement.integer(negative:magnitude:)` to build canonical values.
    case bigInt(negative: Bool, magnitude: [UInt8])
    /// Packed by bit pattern: NaN payloads and -0.0 survive a round trip.
    case float(Float)
    /// Packed by bit pattern: NaN payloads and -0.0 survive a round trip.
    case double(Double)
    case bool(Bool)
    case uuid(UUIDBytes)
    /// A nested tuple (type code 0x05).
    case tuple([TupleElement])
    /// A complete 96-bit versionstamp (type code 0x33): exactly 12 bytes.
    case versionstamp([UInt8])

    /// The canonical element for the integer `(negative ? -1 : 1) * magnitude`
    /// (`magnitude` big-endian, leading zeros allowed): `.int` when it fits in
    /// Int64, `.bigInt` with the leading zeros stripped otherwise.
    public static func integer<C: Collection>(negative: Bool, magnitude: C) -> TupleElement
    where C.Element == UInt8 {
        let digits = magnitude.drop(while: { $0 == 0 })
        if digits.count <= 8 {
            var m: UInt64 = 0
            for b in digits { m = (m << 8) | UInt64(b) }
            return integer(negative: negative, magnitude: m)
        }
        return .bigInt(negative: negative, magnitude: Array(digits))
    }

    /// The canonical element for a magnitude that fits in 64 bits.
    static func integer(negative: Bool, magnitude m: UInt64) -> TupleElement {
        if negative {
            // -2^63 is Int64.min; two's-complement negation handles it.
            if m <= UInt64(Int64.max) + 1 { return .int(Int64(bitPattern: 0 &- m)) }
        } else if m <= UInt64(Int64.max) {
            return .int(Int64(m))
        }
        return .bigInt(negative: negative, magnitude: bigEndianMinimal(m))
    }

    /// Checks that the element can be packed: big integers need at most 255
    /// magnitude bytes (the length is one byte) and versionstamps exactly 12.
    /// `pack()` traps on elements that fail this check.
    public func validate() throws(TupleError) {
        switch self {
        case .bigInt(_, let magnitude):
            let count = magnitude.drop(while: { $0 == 0 }).count
            if count > 255 { throw .integerTooLarge(byteCount: count) }
        case .versionstamp(let bytes):
            if bytes.count != 12 { throw .invalidVersionstampLength(bytes.count) }
        case .tuple(let elements):
            for e in elements { try e.validate() }
        default:
            break
        }
    }

    // Equality and hashing by packed representation; see the type comment.

    public static func == (a: TupleElement, b: TupleElement) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bytes(x), .bytes(y)): return x == y
        case let (.string(x), .string(y)): return x.utf8.elementsEqual(y.utf8)
        case let (.int(x), .int(y)): return x == y
        case (.int, .bigInt), (.bigInt, .int), (.bigInt, .bigInt):
            return a.integerValue == b.integerValue
        case let (.float(x), .float(y)): return x.bitPattern == y.bitPattern
        case let (.double(x), .double(y)): return x.bitPattern == y.bitPattern
        case let (.bool(x), .bool(y)): return x == y
        case let (.uuid(x), .uuid(y)): return x == y
        case let (.tuple(x), .tuple(y)): return x == y
        case let (.versionstamp(x), .versionstamp(y)): return x == y
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null:
            hasher.combine(0 as UInt8)
        case .bytes(let v):
            hasher.combine(1 as UInt8)
            hasher.combine(v)
        case .string(let v):
            hasher.combine(2 as UInt8)
            hasher.combine(v.utf8.count)
            for b in v.utf8 { hasher.combine(b) }
        case .int, .bigInt:
            hasher.combine(3 as UInt8)
            hasher.combine(integerValue)
        case .float(let v):
            hasher.combine(4 as UInt8)
            hasher.combine(v.bitPattern)
        case .double(let v):
            hasher.combine(5 as UInt8)
            hasher.combine(v.bitPattern)
        case .bool(let v):
            hasher.combine(6 as UInt8)
            hasher.combine(v)
        case .uuid(let v):
            hasher.combine(7 as UInt8)
            hasher.combine(v)
        case .tuple(let v):
            hasher.combine(8 as UInt8)
            hasher.combine(v)
        case .versionstamp(let v):
            hasher.combine(9 as UInt8)
            hasher.combine(v)
        }
    }

    /// The numeric value of `.int`/`.bigInt` in canonical form, compared
    /// structurally (nil for other cases).
    private var integerValue: IntegerValue? {
        switch self {
        case .int(let v):
            return .small(v)
        case .bigInt(let negative, let magnitude):
            switch TupleElement.integer(negative: negative, magnitude: magnitude) {
            case .int(let v): return .small(v)
            case .bigInt(let n, let m): return .big(negative: n, magnitude: m)
            default: return nil
            }
        default:
            return nil
        }
    }

    private enum IntegerValue: Hashable {
        case small(Int64)
        case big(negative: Bool, magnitude: [UInt8])
    }
}

/// A FoundationDB tuple: an ordered list of elements whose packing sorts like
/// the tuples themselves.
public struct Tuple: Hashable, Sendable, ExpressibleByArrayLiteral {
    public var elements: [TupleElement]

    public init(_ elements: [TupleElement]) {
        self.elements = elements
    }

    public init(arrayLiteral elements: TupleElement...) {
        self.elements = elements
    }

    /// The tuple encoding. Traps if an element fails `validate()` (a big
    /// integer over 255 bytes or a versionstamp that is not 12 bytes): those
    /// are programming errors, not data errors.
    public func pack() -> [UInt8] {
        var out: [UInt8] = []
        pack(into: &out)
        return out
    }

    /// Appends the encoding to `out` (e.g. after a key prefix).
    public func pack(into out: inout [UInt8]) {
        for element in elements {
            TupleEncoder.append(element, to: &out)
        }
    }

    public static func unpack(_ bytes: [UInt8]) throws(TupleError) -> Tuple {
        // Array.withUnsafeBytes only rethrows untyped errors; carry the typed
        // error out through a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(TupleError) -> Tuple in try unpack(raw) }
        }
        return try result.get()
    }

    public static func unpack(_ bytes: UnsafeRawBufferPointer) throws(TupleError) -> Tuple {
        var elements: [TupleElement] = []
        var offset = 0
        while offset < bytes.count {
            let (element, next) = try TupleDecoder.decodeElement(bytes, at: offset)
            elements.append(element)
            offset = next
        }
        return Tuple(elements)
    }

    /// The range of every key that has this tuple's packing as a strict
    /// prefix: [pack()+0x00, pack()+0xFF). It holds the packings of every
    /// tuple that extends this one, and not the packing of this tuple itself.
    public func range() -> (begin: [UInt8], end: [UInt8]) {
        var begin = pack()
        var end = begin
        begin.append(0x00)
        end.append(0xff)
        return (begin, end)
    }

    /// See `TupleElement.validate()`.
    public func validate() throws(TupleError) {
        for e in elements { try e.validate() }
    }
}

public enum TupleError: Error, Equatable, Sendable {
    /// The element starting at `offset` runs past the end of the input.
    case truncated(offset: Int)
    /// The byte at `offset` is not a type code this decoder accepts.
    case unknownTypeCode(UInt8, offset: Int)
    /// The string element starting at `offset` is not valid UTF-8.
    case invalidUTF8(offset: Int)
    /// A typed fast path (e.g. `decodeInt`) found another type at `offset`.
    case unexpectedTypeCode(UInt8, offset: Int)
    /// `decodeInt`/`decodeUInt`: the integer at `offset` does not fit.
    case integerOverflow(offset: Int)
    /// The nested tuple at `offset` exceeds `TupleDecoder.maxNestingDepth`.
    case nestingTooDeep(offset: Int)
    /// `validate()`: a big integer's magnitude needs more than 255 bytes.
    case integerTooLarge(byteCount: Int)
    /// `validate()`: a versionstamp must be exactly 12 bytes.
    case invalidVersionstampLength(Int)
}

// MARK: - Encoding

/// Appends tuple-encoded elements to a byte array without creating
/// `TupleElement` values; this is how the storage layer builds keys. Apart
/// from growing `out`, nothing here allocates.
public enum TupleEncoder {
    public static func appendNull(_ out: inout [UInt8]) {
        out.append(TypeCode.null)
    }

    /// Codes 0x0c...0x1c: the minimal number of big-endian bytes; negatives
    /// are stored as the ones' complement of the magnitude in that many bytes
    /// so that they sort below zero and in numeric order.
    public static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        if v >= 0 {
            appendNonNegative(UInt64(v), &out)
        } else {
            // `magnitude` of Int64.min is 2^63, which fits in UInt64.
            appendNegative(magnitude: v.magnitude, &out)
        }
    }

    /// Values above Int64.max use the 8-byte positive code 0x1c, exactly as
    /// an arbitrary-precision integer of that value would.
    public static func appendUInt(_ v: UInt64, to out: inout [UInt8]) {
        appendNonNegative(v, &out)
    }

    /// Any integer given as sign and big-endian magnitude (leading zeros
    /// allowed). Magnitudes of up to 8 bytes use codes 0x0c...0x1c; larger
    /// ones 0x1d (length byte, magnitude) or 0x0b (complemented length byte,
    /// complemented magnitude). Traps above 255 significant bytes.
    public static func appendBigInt(negative: Bool, magnitude: [UInt8], to out: inout [UInt8]) {
        var start = 0
        while start < magnitude.count && magnitude[start] == 0 { start += 1 }
        let length = magnitude.count - start
        if length <= 8 {
            var m: UInt64 = 0
            for i in start..<magnitude.count { m = (m << 8) | UInt64(magnitude[i]) }
            if negative { appendNegative(magnitude: m, &out) } else { appendNonNegative(m, &out) }
            return
        }
        precondition(length <= 255, "tuple integers are limited to 255 magnitude bytes")
        if negative {
            // Complementing the length too makes longer (more negative)
            // numbers sort first.
            out.append(TypeCode.negativeBigInt)
            out.append(UInt8(length) ^ 0xff)
            for i in start..<magnitude.count { out.append(magnitude[i] ^ 0xff) }
        } else {
            out.append(TypeCode.positiveBigInt)
            out.append(UInt8(length))
            for i in start..<magnitude.count { out.append(magnitude[i]) }
        }
    }

    /// Code 0x01, the bytes with each 0x00 escaped as 0x00 0xFF, then 0x00.
    public static func appendBytes(_ v: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.append(TypeCode.bytes)
        appendEscaped(v, &out)
        out.append(0x00)
    }

    public static func appendBytes(_ v: [UInt8], to out: inout [UInt8]) {
        v.withUnsafeBytes { appendBytes($0, to: &out) }
    }

    /// Code 0x02, the UTF-8 bytes escaped as for byte strings, then 0x00.
    public static func appendString(_ v: String, to out: inout [UInt8]) {
        out.append(TypeCode.string)
        // Native strings expose their UTF-8 storage directly; the fallback
        // covers any other representation without allocating either.
        let done: Void? = v.utf8.withContiguousStorageIfAvailable { buffer in
            appendEscaped(UnsafeRawBufferPointer(buffer), &out)
        }
        if done == nil {
            for b in v.utf8 {
                out.append(b)
                if b == 0x00 { out.append(TypeCode.escape) }
            }
        }
        out.append(0x00)
    }

    /// Code 0x20 and the transformed big-endian bit pattern (see `sortableBits`).
    public static func appendFloat(_ v: Float, to out: inout [UInt8]) {
        out.append(TypeCode.float)
        appendFixed(sortableBits(v.bitPattern), &out)
    }

    /// Code 0x21 and the transformed big-endian bit pattern (see `sortableBits`).
    public static func appendDouble(_ v: Double, to out: inout [UInt8]) {
        out.append(TypeCode.double)
        appendFixed(sortableBits(v.bitPattern), &out)
    }

    /// 0x26 for false, 0x27 for true (so false sorts first).
    public static func appendBool(_ v: Bool, to out: inout [UInt8]) {
        out.append(v ? TypeCode.trueValue : TypeCode.falseValue)
    }

    /// Code 0x30 and the 16 bytes as they are (network byte order).
    public static func appendUUID(_ v: UUIDBytes, to out: inout [UInt8]) {
        out.append(TypeCode.uuid)
        withUnsafeBytes(of: v.bytes) { out.append(contentsOf: $0) }
    }

    /// Code 0x33 and the 12 bytes of a complete versionstamp. Traps unless
    /// `v` has exactly 12 bytes.
    public static func appendVersionstamp(_ v: [UInt8], to out: inout [UInt8]) {
        precondition(v.count == 12, "a versionstamp is 12 bytes")
        out.append(TypeCode.versionstamp)
        out.append(contentsOf: v)
    }

    /// Code 0x05, the elements, then 0x00. A null inside a nested tuple is
    /// written 0x00 0xFF so that it cannot be mistaken for the terminator;
    /// nothing else is escaped, because the decoder steps over every other
    /// element by its own length rules.
    public static func appendNested(_ elements: [TupleElement], to out: inout [UInt8]) {
        out.append(TypeCode.nested)
        for element in elements {
            if case .null = element {
                out.append(TypeCode.null)
                out.append(TypeCode.escape)
            } else {
                append(element, to: &out)
            }
        }
        out.append(0x00)
    }

    /// Appends one element as a top-level tuple member.
    public static func append(_ element: TupleElement, to out: inout [UInt8]) {
        switch element {
        case .null: appendNull(&out)
        case .bytes(let v): appendBytes(v, to: &out)
        case .string(let v): appendString(v, to: &out)
        case .int(let v): appendInt(v, to: &out)
        case .bigInt(let negative, let magnitude): appendBigInt(negative: negative, magnitude: magnitude, to: &out)
        case .float(let v): appendFloat(v, to: &out)
        case .double(let v): appendDouble(v, to: &out)
        case .bool(let v): appendBool(v, to: &out)
        case .uuid(let v): appendUUID(v, to: &out)
        case .tuple(let v): appendNested(v, to: &out)
        case .versionstamp(let v): appendVersionstamp(v, to: &out)
        }
    }

    // MARK: helpers

    /// Codes 0x14...0x1c: minimal big-endian bytes.
    static func appendNonNegative(_ m: UInt64, _ out: inout [UInt8]) {
        let n = byteLength(m)
        out.append(TypeCode.intZero + UInt8(n))
        appendBigEndian(m, byteCount: n, &out)
    }

    /// Codes 0x0c...0x13 for -magnitude, magnitude in 1...UInt64.max. The low
    /// n bytes of ~m are the n-byte ones' complement of m.
    static func appendNegative(magnitude m: UInt64, _ out: inout [UInt8]) {
        let n = byteLength(m)
        out.append(TypeCode.intZero - UInt8(n))
        appendBigEndian(~m, byteCount: n, &out)
    }

    /// Bytes needed for `m` (0 for zero).
    @inline(__always)
    static func byteLength(_ m: UInt64) -> Int {
        (UInt64.bitWidth - m.leadingZeroBitCount + 7) / 8
    }

    /// The low `byteCount` bytes of `v`, most significant first.
    @inline(__always)
    static func appendBigEndian(_ v: UInt64, byteCount: Int, _ out: inout [UInt8]) {
        var shift = (byteCount - 1) * 8
        while shift >= 0 {
            out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift)))
            shift -= 8
        }
    }

    @inline(__always)
    static func appendFixed<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.bigEndian) { out.append(contentsOf: $0) }
    }

    /// Makes IEEE bit patterns sort as unsigned integers: negative values
    /// (sign bit set) have every bit inverted, so larger magnitudes sort
    /// lower; non-negative values get the sign bit set, so they sort above all
    /// negatives. The result is IEEE 754 totalOrder, NaNs included; -0.0
    /// sorts just below +0.0.
    @inline(__always)
    static func sortableBits<T: FixedWidthInteger & UnsignedInteger>(_ bits: T) -> T {
        let sign: T = 1 << (T.bitWidth - 1)
        return bits & sign != 0 ? ~bits : bits ^ sign
    }

    /// Each byte, with 0x00 followed by the escape byte 0xFF.
    @inline(__always)
    static func appendEscaped(_ v: UnsafeRawBufferPointer, _ out: inout [UInt8]) {
        for b in v {
            out.append(b)
            if b == 0x00 { out.append(TypeCode.escape) }
        }
    }
}

// MARK: - Decoding

/// Decodes tuple-encoded elements from a buffer. Every read is bounds-checked
/// against the buffer and reported as `TupleError`, so arbitrary (corrupt or
/// hostile) input cannot crash the decoder.
///
/// Decoding is lenient where the official bindings are: integers need not use
/// the minimal length (0x15 0x00 decodes as 0), and 0x0b/0x1d integers may
/// hold values that would fit in 8 bytes (the Python binding writes 2^64-1 as
/// 0x1d 0x08 0xff...). Decoded integers are always canonical.
public enum TupleDecoder {
    /// Nested tuples deeper than this are rejected, which bounds the recursion
    /// (and the recursive destruction of the decoded value) on hostile input.
    public static let maxNestingDepth = 256

    /// Decodes one element starting at `offset`, returns it and the offset just past it.
    public static func decodeElement(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(TupleError) -> (TupleElement, Int) {
        precondition(offset >= 0, "negative tuple offset")
        return try decode(bytes, at: offset, depth: 0)
    }

    /// Returns the offset just past the element starting at `offset`, without
    /// materialising it. Checks the structure exactly as `decodeElement` does,
    /// but not the UTF-8 validity of strings.
    public static func skipElement(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(TupleError) -> Int {
        precondition(offset >= 0, "negative tuple offset")
        return try skip(bytes, at: offset, depth: 0)
    }

    /// Fast path: decode an integer element (codes 0x0c...0x1c) at offset.
    /// Throws `unexpectedTypeCode` for any other code (big integers included)
    /// and `integerOverflow` for values outside Int64.
    public static func decodeInt(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(TupleError) -> (Int64, Int) {
        let (negative, m, end) = try decodeSmallInt(bytes, at: offset)
        if negative {
            guard m <= UInt64(Int64.max) + 1 else { throw .integerOverflow(offset: offset) }
            return (Int64(bitPattern: 0 &- m), end)
        }
        guard m <= UInt64(Int64.max) else { throw .integerOverflow(offset: offset) }
        return (Int64(m), end)
    }

    /// Fast path for `TupleEncoder.appendUInt`: a non-negative integer
    /// (codes 0x14...0x1c) at offset.
    public static func decodeUInt(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(TupleError) -> (UInt64, Int) {
        let (negative, m, end) = try decodeSmallInt(bytes, at: offset)
        guard !negative || m == 0 else { throw .integerOverflow(offset: offset) }
        return (m, end)
    }

    // MARK: helpers

    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, depth: Int) throws(TupleError) -> (TupleElement, Int) {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        let code = bytes[offset]
        switch code {
        case TypeCode.null:
            return (.null, offset + 1)

        case TypeCode.bytes:
            let (end, escapes) = try scanEscaped(bytes, element: offset)
            return (.bytes(unescape(bytes, from: offset + 1, to: end, escapes: escapes)), end + 1)

        case TypeCode.string:
            let (end, escapes) = try scanEscaped(bytes, element: offset)
            let utf8: String?
            if escapes == 0 {
                utf8 = String(validating: UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<end]), as: UTF8.self)
            } else {
                utf8 = String(validating: unescape(bytes, from: offset + 1, to: end, escapes: escapes), as: UTF8.self)
            }
            guard let string = utf8 else { throw .invalidUTF8(offset: offset) }
            return (.string(string), end + 1)

        case TypeCode.nested:
            guard depth < maxNestingDepth else { throw .nestingTooDeep(offset: offset) }
            var elements: [TupleElement] = []
            var i = offset + 1
            while true {
                guard i < bytes.count else { throw .truncated(offset: offset) }
                if bytes[i] == 0x00 {
                    // 0x00 0xFF is a null element; a bare 0x00 ends the tuple.
                    if i + 1 < bytes.count && bytes[i + 1] == TypeCode.escape {
                        elements.append(.null)
                        i += 2
                        continue
                    }
                    return (.tuple(elements), i + 1)
                }
                let (element, next) = try decode(bytes, at: i, depth: depth + 1)
                elements.append(element)
                i = next
            }

        case TypeCode.negativeBigInt, TypeCode.positiveBigInt:
            let (start, end) = try bigIntBounds(bytes, at: offset)
            let negative = code == TypeCode.negativeBigInt
            var digits = start
            if negative {
                // Leading 0xFF bytes are complemented leading zeros.
                while digits < end && bytes[digits] == 0xff { digits += 1 }
            } else {
                while digits < end && bytes[digits] == 0x00 { digits += 1 }
            }
            if end - digits <= 8 {
                var m: UInt64 = 0
                for i in digits..<end { m = (m << 8) | UInt64(negative ? bytes[i] ^ 0xff : bytes[i]) }
                return (TupleElement.integer(negative: negative, magnitude: m), end)
            }
            var magnitude = [UInt8](repeating: 0, count: end - digits)
            for i in digits..<end { magnitude[i - digits] = negative ? bytes[i] ^ 0xff : bytes[i] }
            return (.bigInt(negative: negative, magnitude: magnitude), end)

        case TypeCode.intZero - 8 ... TypeCode.intZero + 8:
            let (negative, m, end) = try decodeSmallInt(bytes, at: offset)
            return (TupleElement.integer(negative: negative, magnitude: m), end)

        case TypeCode.float:
            let end = try fixedEnd(bytes, at: offset, count: 4)
            let bits = UInt32(truncatingIfNeeded: readBigEndian(bytes, from: offset + 1, count: 4))
            return (.float(Float(bitPattern: originalBits(bits))), end)

        case TypeCode.double:
            let end = try fixedEnd(bytes, at: offset, count: 8)
            let bits = readBigEndian(bytes, from: offset + 1, count: 8)
            return (.double(Double(bitPattern: originalBits(bits))), end)

        case TypeCode.falseValue:
            return (.bool(false), offset + 1)

        case TypeCode.trueValue:
            return (.bool(true), offset + 1)

        case TypeCode.uuid:
            let end = try fixedEnd(bytes, at: offset, count: 16)
            return (.uuid(UUIDBytes(copying: UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<end]))), end)

        case TypeCode.versionstamp:
            let end = try fixedEnd(bytes, at: offset, count: 12)
            return (.versionstamp(Array(UnsafeRawBufferPointer(rebasing: bytes[(offset + 1)..<end]))), end)

        default:
            throw .unknownTypeCode(code, offset: offset)
        }
    }

    /// Mirrors `decode` case by case, computing only the end offset.
    static func skip(_ bytes: UnsafeRawBufferPointer, at offset: Int, depth: Int) throws(TupleError) -> Int {
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        let code = bytes[offset]
        switch code {
        case TypeCode.null, TypeCode.falseValue, TypeCode.trueValue:
            return offset + 1
        case TypeCode.bytes, TypeCode.string:
            return try scanEscaped(bytes, element: offset).end + 1
        case TypeCode.nested:
            guard depth < maxNestingDepth else { throw .nestingTooDeep(offset: offset) }
            var i = offset + 1
            while true {
                guard i < bytes.count else { throw .truncated(offset: offset) }
                if bytes[i] == 0x00 {
                    if i + 1 < bytes.count && bytes[i + 1] == TypeCode.escape {
                        i += 2
                        continue
                    }
                    return i + 1
                }
                i = try skip(bytes, at: i, depth: depth + 1)
            }
        case TypeCode.negativeBigInt, TypeCode.positiveBigInt:
            return try bigIntBounds(bytes, at: offset).end
        case TypeCode.intZero - 8 ... TypeCode.intZero + 8:
            return try fixedEnd(bytes, at: offset, count: abs(Int(code) - Int(TypeCode.intZero)))
        case TypeCode.float:
            return try fixedEnd(bytes, at: offset, count: 4)
        case TypeCode.double:
            return try fixedEnd(bytes, at: offset, count: 8)
        case TypeCode.uuid:
            return try fixedEnd(bytes, at: offset, count: 16)
        case TypeCode.versionstamp:
            return try fixedEnd(bytes, at: offset, count: 12)
        default:
            throw .unknownTypeCode(code, offset: offset)
        }
    }

    /// Codes 0x0c...0x1c: sign, magnitude (up to 2^64-1) and end offset.
    @inline(__always)
    static func decodeSmallInt(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(TupleError) -> (negative: Bool, magnitude: UInt64, end: Int) {
        precondition(offset >= 0, "negative tuple offset")
        guard offset < bytes.count else { throw .truncated(offset: offset) }
        let code = bytes[offset]
        guard code >= TypeCode.intZero - 8 && code <= TypeCode.intZero + 8 else {
            throw .unexpectedTypeCode(code, offset: offset)
        }
        let n = abs(Int(code) - Int(TypeCode.intZero))
        let end = try fixedEnd(bytes, at: offset, count: n)
        let raw = readBigEndian(bytes, from: offset + 1, count: n)
        if code >= TypeCode.intZero {
            return (false, raw, end)
        }
        // Undo the n-byte ones' complement: m = (2^(8n) - 1) - raw.
        let mask: UInt64 = n == 8 ? .max : (1 << UInt64(8 * n)) - 1
        return (true, mask ^ raw, end)
    }

    /// Offset of the terminating 0x00 of the byte string or string starting at
    /// `element`, and how many escaped 0x00 bytes precede it.
    @inline(__always)
    static func scanEscaped(_ bytes: UnsafeRawBufferPointer, element: Int) throws(TupleError) -> (end: Int, escapes: Int) {
        var i = element + 1
        var escapes = 0
        while i < bytes.count {
            if bytes[i] == 0x00 {
                if i + 1 < bytes.count && bytes[i + 1] == TypeCode.escape {
                    escapes += 1
                    i += 2
                    continue
                }
                return (i, escapes)
            }
            i += 1
        }
        throw .truncated(offset: element)
    }

    /// The content bytes in [from, to) with each 0x00 0xFF reduced to 0x00.
    static func unescape(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int, escapes: Int) -> [UInt8] {
        if escapes == 0 {
            return Array(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        }
        var result: [UInt8] = []
        result.reserveCapacity(end - start - escapes)
        var i = start
        while i < end {
            let b = bytes[i]
            result.append(b)
            // scanEscaped guaranteed every 0x00 before `end` is followed by 0xFF.
            i += b == 0x00 ? 2 : 1
        }
        return result
    }

    /// Bounds of the magnitude bytes of a 0x0b/0x1d integer at `offset`.
    @inline(__always)
    static func bigIntBounds(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(TupleError) -> (start: Int, end: Int) {
        guard offset + 1 < bytes.count else { throw .truncated(offset: offset) }
        let lengthByte = bytes[offset + 1]
        let length = Int(bytes[offset] == TypeCode.negativeBigInt ? lengthByte ^ 0xff : lengthByte)
        let start = offset + 2
        guard length <= bytes.count - start else { throw .truncated(offset: offset) }
        return (start, start + length)
    }

    /// End of an element made of its code and `count` payload bytes.
    @inline(__always)
    static func fixedEnd(_ bytes: UnsafeRawBufferPointer, at offset: Int, count: Int) throws(TupleError) -> Int {
        guard count < bytes.count - offset else { throw .truncated(offset: offset) }
        return offset + 1 + count
    }

    @inline(__always)
    static func readBigEndian(_ bytes: UnsafeRawBufferPointer, from start: Int, count: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in start..<(start + count) { v = (v << 8) | UInt64(bytes[i]) }
        return v
    }

    /// Inverse of `TupleEncoder.sortableBits`: a set top bit means the value
    /// was non-negative (only its sign bit was flipped).
    @inline(__always)
    static func originalBits<T: FixedWidthInteger & UnsignedInteger>(_ bits: T) -> T {
        let sign: T = 1 << (T.bitWidth - 1)
        return bits & sign != 0 ? bits ^ sign : ~bits
    }
}

// MARK: - Key ranges

/// FoundationDB's strinc: the first key that does not have `prefix` as a
/// prefix (strip trailing 0xFF bytes, increment the last byte); nil if
/// `prefix` is empty or all 0xFF, since no such key exists.
public func strinc(_ prefix: [UInt8]) -> [UInt8]? {
    guard let last = prefix.lastIndex(where: { $0 != 0xff }) else { return nil }
    var result = Array(prefix[...last])
    result[last] += 1
    return result
}

// MARK: - Descriptions (for diagnostics and test failures)

extension TupleElement: CustomStringConvertible {
    public var description: String {
        switch self {
        case .null: return "nil"
        case .bytes(let v): return "b\"" + v.map(hexByte).joined() + "\""
        case .string(let v): return String(reflecting: v)
        case .int(let v): return String(v)
        case .bigInt(let negative, let magnitude):
            return (negative ? "-" : "") + "0x" + magnitude.map(hexByte).joined()
        case .float(let v): return "\(v)f(0x\(String(v.bitPattern, radix: 16)))"
        case .double(let v): return "\(v)(0x\(String(v.bitPattern, radix: 16)))"
        case .bool(let v): return String(v)
        case .uuid(let v): return "uuid(\(v))"
        case .tuple(let v): return "(" + v.map(\.description).joined(separator: ", ") + (v.count == 1 ? ",)" : ")")
        case .versionstamp(let v): return "vs(" + v.map(hexByte).joined() + ")"
        }
    }
}

extension Tuple: CustomStringConvertible {
    public var description: String { TupleElement.tuple(elements).description }
}

/// Two lowercase hex digits.
public func hexByte(_ b: UInt8) -> String {
    let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
    return String([digits[Int(b >> 4)], digits[Int(b & 0x0f)]])
}

/// The minimal big-endian bytes of a non-zero value.
func bigEndianMinimal(_ m: UInt64) -> [UInt8] {
    let n = TupleEncoder.byteLength(m)
    var result = [UInt8](repeating: 0, count: n)
    for i in 0..<n { result[i] = UInt8(truncatingIfNeeded: m >> UInt64(8 * (n - 1 - i))) }
    return result
}
