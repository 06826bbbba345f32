/// Index keys: order-preserving bytes for the key columns of an index entry
/// (docs/encoding.md, "Index entries").
///
///     <index prefix> <column 1> ... <column n> <row id>
///
/// Each column is a marker — tuple int 0 for a NULL sorting first, 1 for a
/// value, 2 for a NULL sorting last — and, for a value, one tuple element
/// (a nested tuple when the type needs several). A DESC column stores its
/// value element as a byte string holding the element's bytes complemented
/// and followed by 0xFF. Complementing reverses the order of two encodings
/// that differ at some byte; but a tuple encoding can be a proper prefix of
/// a larger one ("" of "\0": 01 00 of 01 00 FF 00), and the larger always
/// continues with FF, complemented 00 — so the terminator FF puts the
/// complemented shorter one after it, as DESC needs. The row id at the end
/// makes every entry unique and names the row.
public enum IndexKey {
    /// A column value as the shim normalised it from a Postgres datum.
    public enum Value: Equatable, Sendable {
        case null
        case int(Int64)
        case uint(UInt64)
        case double(Double)
        case bytes(Bytes)
        /// numeric in its text form ("-12.50", "NaN", "Infinity").
        case decimal(String)
        case nested([Value])
    }

    public struct Column: Sendable, Equatable {
        public var descending: Bool
        public var nullsFirst: Bool
        public init(descending: Bool, nullsFirst: Bool) {
            self.descending = descending
            self.nullsFirst = nullsFirst
        }
    }

    public static let nullFirstMarker: Int64 = 0
    public static let valueMarker: Int64 = 1
    public static let nullLastMarker: Int64 = 2
    /// The bytes every non-NULL column starts with (its marker).
    public static let valuePrefix: Bytes = { var out = Bytes(); TupleEncoder.appendInt(valueMarker, to: &out); return out }()

    /// Appends one column.
    public static func appendColumn(_ v: Value, _ c: Column, to out: inout Bytes) {
        if case .null = v {
            TupleEncoder.appendInt(c.nullsFirst ? nullFirstMarker : nullLastMarker, to: &out)
            return
        }
        TupleEncoder.appendInt(valueMarker, to: &out)
        if !c.descending {
            appendValue(v, to: &out)
        } else {
            var inner = Bytes()
            appendValue(v, to: &inner)
            for i in inner.indices { inner[i] = ~inner[i] }
            inner.append(0xFF)
            TupleEncoder.appendBytes(inner, to: &out)
        }
    }

    static func appendValue(_ v: Value, to out: inout Bytes) {
        switch v {
        case .null: TupleEncoder.appendNull(&out)
        case .int(let i): TupleEncoder.appendInt(i, to: &out)
        case .uint(let u): TupleEncoder.appendUInt(u, to: &out)
        case .double(let d): TupleEncoder.appendDouble(d, to: &out)
        case .bytes(let b): TupleEncoder.appendBytes(b, to: &out)
        case .decimal(let s): TupleEncoder.appendBytes(DecimalKey.encode(s), to: &out)
        case .nested(let vs):
            // A nested tuple (0x05 ... 0x00). A nested null sorts first; types
            // that need NULLs last (array elements, record fields) are given
            // as (marker, value) pairs by the shim.
            out.append(0x05)
            for e in vs {
                if case .null = e { out.append(0x00); out.append(0xFF) } else { appendValue(e, to: &out) }
            }
            out.append(0x00)
        }
    }

    /// The encoded columns of a key (without prefix and row id).
    public static func encode(_ values: [Value], _ columns: [Column]) -> Bytes {
        var out = Bytes()
        for (v, c) in zip(values, columns) { appendColumn(v, c, to: &out) }
        return out
    }

    /// The byte length of each column of an encoded key starting at `offset`,
    /// for `n` columns: used to filter entries on columns after the range.
    public static func columnSpans(_ key: UnsafeRawBufferPointer, from offset: Int, count n: Int) -> [Range<Int>]? {
        var spans: [Range<Int>] = []
        spans.reserveCapacity(n)
        var o = offset
        for _ in 0..<n {
            let start = o
            guard let (marker, next) = try? TupleDecoder.decodeInt(key, at: o) else { return nil }
            o = next
            if marker == valueMarker {
                guard let end = try? TupleDecoder.skipElement(key, at: o) else { return nil }
                o = end
            }
            spans.append(start..<o)
        }
        return spans
    }
}

/// An order-preserving encoding of decimal numbers (Postgres numeric), from
/// their text form: byte order is numeric order, and equal values (1.5 and
/// 1.50) encode equally.
///
///   -Infinity < negatives < zero < positives < Infinity < NaN
///
/// A finite non-zero number d1.d2d3... x 10^e is (sign, exponent, digits):
/// a sign byte, the decimal exponent as 4 bytes (complemented for
/// negatives), then the significant digits as bytes '1'+d (complemented,
/// with a terminator that sorts after every digit, for negatives).
public enum DecimalKey {
    static let negInfinity: UInt8 = 0x01
    static let negative: UInt8 = 0x02
    static let zero: UInt8 = 0x03
    static let positive: UInt8 = 0x04
    static let posInfinity: UInt8 = 0x05
    static let nan: UInt8 = 0x06

    public static func encode(_ text: String) -> Bytes {
        switch text {
        case "NaN": return [nan]
        case "Infinity": return [posInfinity]
        case "-Infinity": return [negInfinity]
        default: break
        }
        var neg = false
        var intPart: [UInt8] = [], fracPart: [UInt8] = []
        var seenPoint = false
        var exp10 = 0
        var chars = Array(text.utf8)
        if let eIndex = chars.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            exp10 = Int(String(decoding: chars[(eIndex + 1)...], as: UTF8.self)) ?? 0
            chars = Array(chars[..<eIndex])
        }
        for c in chars {
            switch c {
            case UInt8(ascii: "-"): neg = true
            case UInt8(ascii: "+"): break
            case UInt8(ascii: "."): seenPoint = true
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if seenPoint { fracPart.append(c - UInt8(ascii: "0")) } else { intPart.append(c - UInt8(ascii: "0")) }
            default: break
            }
        }
        // Significant digits and the exponent of the first one.
        var digits = intPart + fracPart
        var exponent = intPart.count + exp10
        while let f = digits.first, f == 0 {
            digits.removeFirst()
            exponent -= 1
        }
        while let l = digits.last, l == 0 { digits.removeLast() }
        if digits.isEmpty { return [zero] }
        var out: Bytes = [neg ? negative : positive]
        let e = UInt32(bitPattern: Int32(exponent)) ^ 0x8000_0000   // order-preserving signed
        let eb = neg ? ~e : e
        withUnsafeBytes(of: eb.bigEndian) { out.append(contentsOf: $0) }
        for d in digits { out.append(neg ? ~(d + 1) : d + 1) }
        out.append(neg ? 0xFF : 0x00)
        return out
    }
}

/// The value of an index entry: Postgres's index tuple (IndexTupleData: a
/// 6-byte TID, 2 bytes of t_info — size and flags — then an optional null
/// bitmap and the data), handed back to Postgres for index-only scans and
/// messages. Stored bytes are untrusted: `check` accepts only a tuple whose
/// size is its length and whose data starts inside it.
public enum IndexTupleFormat {
    public static func check(_ t: Bytes) -> Bool {
        t.withUnsafeBytes { check($0) }
    }

    public static func check(_ t: UnsafeRawBufferPointer) -> Bool {
        guard t.count >= 8 else { return false }
        let info = UInt16(littleEndian: t.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        let size = Int(info & 0x1FFF)                      // INDEX_SIZE_MASK
        let dataOffset = info & 0x8000 != 0 ? 16 : 8       // MAXALIGN(8 + null bitmap of INDEX_MAX_KEYS bits)
        return size == t.count && dataOffset <= size
    }
}
