// Tests of the FoundationDB tuple layer (Sources/PlinthEncoding/Tuple.swift)
// against design/tuple.md: golden vectors, round trips, order preservation
// against an independent reference ordering, self-delimitation, key ranges
// and malformed input.

import Testing
import PlinthEncoding

// MARK: - Helpers

/// Parses "01 66 ff*3" into bytes; "xx*n" repeats a byte n times.
func h(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    for token in text.split(separator: " ") {
        let parts = token.split(separator: "*")
        guard let byte = UInt8(parts[0], radix: 16) else { fatalError("bad hex \(token)") }
        let count = parts.count > 1 ? Int(parts[1])! : 1
        out.append(contentsOf: repeatElement(byte, count: count))
    }
    return out
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}

func utf8(_ s: String) -> [UInt8] { Array(s.utf8) }

/// Big-endian magnitude of 2^bits.
func powerOfTwo(_ bits: Int) -> [UInt8] {
    var m = [UInt8](repeating: 0, count: bits / 8 + 1)
    m[0] = 1 << UInt8(bits % 8)
    return m
}

let u64max = TupleElement.bigInt(negative: false, magnitude: h("ff*8"))

func uuid(_ bytes: [UInt8]) -> UUIDBytes {
    guard let u = UUIDBytes(bytes) else { fatalError("UUID needs 16 bytes") }
    return u
}

/// Decoded values must be canonical: integers that fit are `.int`, big
/// integers have no leading zero byte.
func isCanonical(_ e: TupleElement) -> Bool {
    switch e {
    case .bigInt(let negative, let magnitude):
        guard let first = magnitude.first, first != 0 else { return false }
        if magnitude.count > 8 { return true }
        let m = magnitude.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
        return negative ? m > UInt64(Int64.max) + 1 : m > UInt64(Int64.max)
    case .tuple(let elements):
        return elements.allSatisfy(isCanonical)
    default:
        return true
    }
}

func unpackOrNil(_ bytes: [UInt8]) -> Tuple? { try? Tuple.unpack(bytes) }

// MARK: - Golden vectors

struct Golden: Sendable, CustomTestStringConvertible {
    let name: String
    let tuple: Tuple
    let bytes: [UInt8]
    init(_ name: String, _ elements: [TupleElement], _ hex: String) {
        self.name = name
        self.tuple = Tuple(elements)
        self.bytes = h(hex)
    }
    var testDescription: String { name }
}

let fooBar = utf8("foo\0bar")

/// Every example of design/tuple.md, then hand-checked encodings.
let goldens: [Golden] = [
    // design/tuple.md test cases and examples.
    Golden("spec: byte string foo\\0bar", [.bytes(fooBar)], "01 66 6f 6f 00 ff 62 61 72 00"),
    Golden("spec: unicode string", [.string("F\u{00d4}O\u{0000}bar")], "02 46 c3 94 4f 00 ff 62 61 72 00"),
    Golden("spec: nested tuple", [.tuple([.bytes(fooBar), .null, .tuple([])])],
           "05 01 66 6f 6f 00 ff 62 61 72 00 00 ff 05 00 00"),
    Golden("spec: empty nested tuple", [.tuple([])], "05 00"),
    Golden("spec: nested tuple holding null", [.tuple([.null])], "05 00 ff 00"),
    Golden("spec: -1", [.int(-1)], "13 fe"),
    Golden("spec: -5551212", [.int(-5551212)], "11 ab 4b 93"),
    Golden("spec: -42f", [.float(-42)], "20 3d d7 ff ff"),
    Golden("spec: false", [.bool(false)], "26"),
    Golden("spec: true", [.bool(true)], "27"),

    // Null, bytes, strings.
    Golden("empty tuple", [], ""),
    Golden("null", [.null], "00"),
    Golden("two nulls", [.null, .null], "00 00"),
    Golden("empty bytes", [.bytes([])], "01 00"),
    Golden("bytes 00", [.bytes([0])], "01 00 ff 00"),
    Golden("bytes 00 00", [.bytes([0, 0])], "01 00 ff 00 ff 00"),
    Golden("bytes ff", [.bytes([0xff])], "01 ff 00"),
    Golden("bytes 00 ff", [.bytes([0x00, 0xff])], "01 00 ff ff 00"),
    Golden("empty string", [.string("")], "02 00"),
    Golden("string foo\\0bar", [.string("foo\0bar")], "02 66 6f 6f 00 ff 62 61 72 00"),
    Golden("string U+10FFFF", [.string("\u{10FFFF}")], "02 f4 8f bf bf 00"),
    Golden("string e + combining acute", [.string("e\u{301}")], "02 65 cc 81 00"),
    Golden("string precomposed e acute", [.string("\u{e9}")], "02 c3 a9 00"),

    // Integers: minimal length, ones' complement negatives.
    Golden("0", [.int(0)], "14"),
    Golden("1", [.int(1)], "15 01"),
    Golden("-1", [.int(-1)], "13 fe"),
    Golden("255", [.int(255)], "15 ff"),
    Golden("-255", [.int(-255)], "13 00"),
    Golden("256", [.int(256)], "16 01 00"),
    Golden("-256", [.int(-256)], "12 fe ff"),
    Golden("65535", [.int(65535)], "16 ff ff"),
    Golden("-65535", [.int(-65535)], "12 00 00"),
    Golden("65536", [.int(65536)], "17 01 00 00"),
    Golden("-65536", [.int(-65536)], "11 fe ff ff"),
    Golden("2^32", [.int(1 << 32)], "19 01 00 00 00 00"),
    Golden("-2^32", [.int(-(1 << 32))], "0f fe ff ff ff ff"),
    Golden("Int64.max", [.int(.max)], "1c 7f ff*7"),
    Golden("Int64.max - 1", [.int(.max - 1)], "1c 7f ff*6 fe"),
    Golden("Int64.min", [.int(.min)], "0c 7f ff*7"),
    Golden("Int64.min + 1", [.int(.min + 1)], "0c 80 00*7"),

    // Integers outside Int64 that still fit 8 magnitude bytes: codes 0x0c/0x1c.
    Golden("2^63", [.bigInt(negative: false, magnitude: h("80 00*7"))], "1c 80 00*7"),
    Golden("UInt64.max", [u64max], "1c ff*8"),
    Golden("-(2^63 + 1)", [.bigInt(negative: true, magnitude: h("80 00*6 01"))], "0c 7f ff*6 fe"),
    Golden("-(2^64 - 1)", [.bigInt(negative: true, magnitude: h("ff*8"))], "0c 00*8"),

    // Arbitrary precision: 0x1d length magnitude / 0x0b ~length ~magnitude.
    Golden("2^64", [.bigInt(negative: false, magnitude: powerOfTwo(64))], "1d 09 01 00*8"),
    Golden("2^64 + 1", [.bigInt(negative: false, magnitude: h("01 00*7 01"))], "1d 09 01 00*7 01"),
    Golden("-(2^64)", [.bigInt(negative: true, magnitude: powerOfTwo(64))], "0b f6 fe ff*8"),
    Golden("-(2^64 + 1)", [.bigInt(negative: true, magnitude: h("01 00*7 01"))], "0b f6 fe ff*7 fe"),
    Golden("2^72", [.bigInt(negative: false, magnitude: powerOfTwo(72))], "1d 0a 01 00*9"),
    Golden("-(2^72)", [.bigInt(negative: true, magnitude: powerOfTwo(72))], "0b f5 fe ff*9"),
    Golden("2^2040 - 1 (255 bytes)", [.bigInt(negative: false, magnitude: h("ff*255"))], "1d ff ff*255"),
    Golden("-(2^2040 - 1) (255 bytes)", [.bigInt(negative: true, magnitude: h("ff*255"))], "0b 00 00*255"),
    Golden("2^2032 (255 bytes)", [.bigInt(negative: false, magnitude: powerOfTwo(2032))], "1d ff 01 00*254"),

    // Floats: big-endian bits; negatives fully inverted, others sign-flipped.
    Golden("0f", [.float(0)], "20 80 00 00 00"),
    Golden("-0f", [.float(-0.0)], "20 7f ff ff ff"),
    Golden("1f", [.float(1)], "20 bf 80 00 00"),
    Golden("-1f", [.float(-1)], "20 40 7f ff ff"),
    Golden("+inf f", [.float(.infinity)], "20 ff 80 00 00"),
    Golden("-inf f", [.float(-.infinity)], "20 00 7f ff ff"),
    Golden("NaN f", [.float(Float(bitPattern: 0x7fc0_0000))], "20 ff c0 00 00"),
    Golden("-NaN f", [.float(Float(bitPattern: 0xffc0_0000))], "20 00 3f ff ff"),
    Golden("signaling NaN f with payload", [.float(Float(bitPattern: 0x7f80_0001))], "20 ff 80 00 01"),
    Golden("-NaN f all ones", [.float(Float(bitPattern: 0xffff_ffff))], "20 00 00 00 00"),
    Golden("least subnormal f", [.float(Float(bitPattern: 1))], "20 80 00 00 01"),
    Golden("-least subnormal f", [.float(Float(bitPattern: 0x8000_0001))], "20 7f ff ff fe"),

    // Doubles.
    Golden("0d", [.double(0)], "21 80 00*7"),
    Golden("-0d", [.double(-0.0)], "21 7f ff*7"),
    Golden("1d", [.double(1)], "21 bf f0 00*6"),
    Golden("-1d", [.double(-1)], "21 40 0f ff*6"),
    Golden("-42d", [.double(-42)], "21 3f ba ff*6"),
    Golden("+inf d", [.double(.infinity)], "21 ff f0 00*6"),
    Golden("-inf d", [.double(-.infinity)], "21 00 0f ff*6"),
    Golden("NaN d", [.double(Double(bitPattern: 0x7ff8_0000_0000_0000))], "21 ff f8 00*6"),
    Golden("-NaN d", [.double(Double(bitPattern: 0xfff8_0000_0000_0000))], "21 00 07 ff*6"),
    Golden("NaN d with payload", [.double(Double(bitPattern: 0x7ff8_0000_0000_0123))], "21 ff f8 00 00 00 00 01 23"),

    // UUID and versionstamp: fixed-length raw bytes.
    Golden("uuid", [.uuid(uuid(h("00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff")))],
           "30 00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff"),
    Golden("uuid with zeros (not escaped)", [.uuid(uuid(h("00*16")))], "30 00*16"),
    Golden("versionstamp", [.versionstamp(h("00 00 00 00 00 00 00 01 00 02 00 03"))],
           "33 00 00 00 00 00 00 00 01 00 02 00 03"),

    // Tuples of several elements and nesting.
    Golden("(\"foo\", 1, nil)", [.string("foo"), .int(1), .null], "02 66 6f 6f 00 15 01 00"),
    Golden("nested then top-level null", [.tuple([]), .null], "05 00 00"),
    Golden("doubly nested null", [.tuple([.tuple([.null])])], "05 05 00 ff 00 00"),
    Golden("nested mix", [.tuple([.int(1), .string("a"), .bool(true), .null, .bytes([0])])],
           "05 15 01 02 61 00 27 00 ff 01 00 ff 00 00"),
    Golden("nested int zero is not a terminator", [.tuple([.int(0)])], "05 14 00"),
    Golden("nested -255 contains a 00 byte", [.tuple([.int(-255)])], "05 13 00 00"),
]

@Test(arguments: goldens)
func goldenPack(_ g: Golden) {
    #expect(hexString(g.tuple.pack()) == hexString(g.bytes))
}

@Test(arguments: goldens)
func goldenUnpack(_ g: Golden) throws {
    let decoded = try Tuple.unpack(g.bytes)
    #expect(decoded == g.tuple)
    #expect(decoded.elements.allSatisfy(isCanonical))
    // Round trip in the other direction too.
    #expect(decoded.pack() == g.bytes)
    // The pointer entry point agrees with the array one.
    let viaPointer = try g.bytes.withUnsafeBytes { try Tuple.unpack($0) }
    #expect(viaPointer == decoded)
}

/// Encodings other bindings may write (non-minimal integers, Python's 0x1d
/// form of 2^64-1) decode to the canonical value.
@Test(arguments: [
    ("1d 08 ff*8", u64max),                                              // Python: 2^64-1
    ("0b f7 00*8", TupleElement.bigInt(negative: true, magnitude: h("ff*8"))), // Python: -(2^64-1)
    ("15 00", .int(0)),
    ("13 ff", .int(0)),
    ("16 00 01", .int(1)),
    ("12 ff fe", .int(-1)),
    ("1d 00", .int(0)),
    ("0b ff", .int(0)),
    ("1d 09 00*8 05", .int(5)),
    ("0b f6 ff*8 fa", .int(-5)),
    ("1d 08 7f ff*7", .int(.max)),
    ("0b f7 7f ff*7", .int(.min)),
    ("1d 0a 00 01 00*8", .bigInt(negative: false, magnitude: powerOfTwo(64))),
] as [(String, TupleElement)])
func lenientDecoding(_ hex: String, _ expected: TupleElement) throws {
    let decoded = try Tuple.unpack(h(hex))
    #expect(decoded.elements.count == 1)
    let element = try #require(decoded.elements.first)
    #expect(element == expected)
    #expect(isCanonical(element))
    #expect("\(element)" == "\(expected)")  // structurally identical, not just equal
}

// MARK: - Equality semantics

@Test func equalityFollowsThePackedBytes() {
    #expect(TupleElement.double(-0.0) != .double(0.0))
    #expect(TupleElement.float(-0.0) != .float(0.0))
    #expect(TupleElement.double(.nan) == .double(.nan))
    #expect(TupleElement.double(Double(bitPattern: 0x7ff8_0000_0000_0001)) != .double(.nan))
    #expect(TupleElement.float(1) != .double(1))
    // Swift's String == uses canonical equivalence; the encoding does not.
    #expect("\u{e9}" == "e\u{301}")
    #expect(TupleElement.string("\u{e9}") != .string("e\u{301}"))
    // Non-canonical big integers equal the canonical value and hash alike.
    let loose = TupleElement.bigInt(negative: false, magnitude: [0, 0, 7])
    #expect(loose == .int(7))
    #expect(loose.hashValue == TupleElement.int(7).hashValue)
    #expect(Tuple([loose]).pack() == Tuple([.int(7)]).pack())
    #expect(TupleElement.bigInt(negative: true, magnitude: []) == .int(0))
    #expect(TupleElement.bigInt(negative: true, magnitude: h("80 00*7")) == .int(.min))
    #expect(Set<TupleElement>([.double(0), .double(-0.0), .double(.nan), .double(.nan)]).count == 3)
}

@Test func canonicalIntegerConstructor() {
    #expect("\(TupleElement.integer(negative: false, magnitude: h("00 00 01")))" == "1")
    #expect("\(TupleElement.integer(negative: true, magnitude: h("80 00*7")))" == "\(TupleElement.int(.min))")
    #expect("\(TupleElement.integer(negative: true, magnitude: h("80 00*6 01")))"
            == "\(TupleElement.bigInt(negative: true, magnitude: h("80 00*6 01")))")
    #expect("\(TupleElement.integer(negative: false, magnitude: h("00 80 00*7")))"
            == "\(TupleElement.bigInt(negative: false, magnitude: h("80 00*7")))")
    #expect("\(TupleElement.integer(negative: true, magnitude: [UInt8]()))" == "0")
}

@Test func validation() throws {
    try Tuple([.bigInt(negative: false, magnitude: h("ff*255")), .versionstamp(h("00*12"))]).validate()
    try Tuple([.bigInt(negative: false, magnitude: h("00 ff*255"))]).validate()  // leading zero is not significant
    #expect(throws: TupleError.integerTooLarge(byteCount: 256)) {
        try Tuple([.tuple([.bigInt(negative: true, magnitude: powerOfTwo(2040))])]).validate()
    }
    #expect(throws: TupleError.invalidVersionstampLength(10)) {
        try Tuple([.versionstamp(h("00*10"))]).validate()
    }
}

// MARK: - Low-level encoder and decoder

let interestingInts: [Int64] = [
    0, 1, -1, 2, -2, 127, -127, 128, -128, 255, -255, 256, -256, 257, -257,
    65535, -65535, 65536, -65536, 1 << 24, -(1 << 24), (1 << 32) - 1, -((1 << 32) - 1),
    1 << 32, -(1 << 32), 1 << 48, -(1 << 48), (1 << 56) - 1, -((1 << 56) - 1), 1 << 56, -(1 << 56),
    .max, .max - 1, .min, .min + 1, -5551212,
]

@Test func intEncoderAndFastDecoder() throws {
    var rng = SplitMix64(seed: 0x1A7)
    var values = interestingInts
    for _ in 0..<5000 {
        values.append(Int64(bitPattern: rng.next()) >> Int64(rng.next() % 64))
    }
    for v in values {
        var out: [UInt8] = [0xAA]  // appenders must append, never overwrite
        TupleEncoder.appendInt(v, to: &out)
        #expect(out.first == 0xAA)
        #expect(Array(out.dropFirst()) == Tuple([.int(v)]).pack())
        let (decoded, end) = try out.withUnsafeBytes { try TupleDecoder.decodeInt($0, at: 1) }
        #expect(decoded == v)
        #expect(end == out.count)
        let skipped = try out.withUnsafeBytes { try TupleDecoder.skipElement($0, at: 1) }
        #expect(skipped == out.count)
        // Minimal length: exactly the bytes the magnitude needs.
        let needed = (64 - v.magnitude.leadingZeroBitCount + 7) / 8
        #expect(out.count == 2 + needed)
    }
}

@Test func uintEncoderAndFastDecoder() throws {
    var rng = SplitMix64(seed: 0x0B1)
    var values: [UInt64] = [0, 1, 255, 256, UInt64(Int64.max), UInt64(Int64.max) + 1, .max - 1, .max]
    for _ in 0..<5000 { values.append(rng.next() >> (rng.next() % 64)) }
    for v in values {
        var out: [UInt8] = []
        TupleEncoder.appendUInt(v, to: &out)
        var magnitude: [UInt8] = []
        withUnsafeBytes(of: v.bigEndian) { magnitude = Array($0) }
        // Same bytes as the canonical element for that value.
        #expect(out == Tuple([.integer(negative: false, magnitude: magnitude)]).pack())
        if v > UInt64(Int64.max) { #expect(out.first == 0x1c) }
        let (decoded, end) = try out.withUnsafeBytes { try TupleDecoder.decodeUInt($0, at: 0) }
        #expect(decoded == v)
        #expect(end == out.count)
    }
}

@Test func byteAndStringEncodersAgree() {
    var rng = SplitMix64(seed: 0xB17E5)
    for _ in 0..<500 {
        let bytes = rng.bytes()
        var fromArray: [UInt8] = [], fromPointer: [UInt8] = []
        TupleEncoder.appendBytes(bytes, to: &fromArray)
        bytes.withUnsafeBytes { TupleEncoder.appendBytes($0, to: &fromPointer) }
        #expect(fromArray == fromPointer)
        #expect(fromArray == Tuple([.bytes(bytes)]).pack())
        let string = rng.string()
        var fromString: [UInt8] = []
        TupleEncoder.appendString(string, to: &fromString)
        var asBytes: [UInt8] = []
        TupleEncoder.appendBytes(utf8(string), to: &asBytes)
        asBytes[0] = 0x02
        #expect(fromString == asBytes)
    }
}

@Test func otherEncodersMatchPack() {
    var out: [UInt8] = []
    TupleEncoder.appendNull(&out)
    TupleEncoder.appendFloat(-42, to: &out)
    TupleEncoder.appendDouble(.infinity, to: &out)
    TupleEncoder.appendBool(false, to: &out)
    TupleEncoder.appendUUID(uuid(h("01*16")), to: &out)
    TupleEncoder.appendVersionstamp(h("02*12"), to: &out)
    TupleEncoder.appendBigInt(negative: true, magnitude: h("00 00 01 00*8"), to: &out)
    TupleEncoder.appendNested([.null, .int(1)], to: &out)
    TupleEncoder.append(.string("x"), to: &out)
    let expected = Tuple([
        .null, .float(-42), .double(.infinity), .bool(false), .uuid(uuid(h("01*16"))),
        .versionstamp(h("02*12")), .bigInt(negative: true, magnitude: powerOfTwo(64)),
        .tuple([.null, .int(1)]), .string("x"),
    ])
    #expect(out == expected.pack())
    var prefixed: [UInt8] = [9, 9]
    expected.pack(into: &prefixed)
    #expect(prefixed == [9, 9] + out)
}

@Test func decodeElementWalksATuple() throws {
    let t = Tuple([.string("a\0b"), .tuple([.null, .bytes([0, 0xff])]), .int(-300), .double(0.5)])
    let packed = t.pack()
    try packed.withUnsafeBytes { raw in
        var offset = 0
        var elements: [TupleElement] = []
        while offset < raw.count {
            let (element, next) = try TupleDecoder.decodeElement(raw, at: offset)
            #expect(try TupleDecoder.skipElement(raw, at: offset) == next)
            #expect(next > offset)
            elements.append(element)
            offset = next
        }
        #expect(offset == raw.count)
        #expect(Tuple(elements) == t)
    }
}

@Test func bitPatternsSurviveRoundTrip() throws {
    var rng = SplitMix64(seed: 0xF10A7)
    var floats: [UInt32] = [0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0xffc0_0000,
                            0x7f80_0001, 0xff80_0001, 0x7fff_ffff, 0xffff_ffff, 1, 0x8000_0001]
    var doubles: [UInt64] = [0, 0x8000_0000_0000_0000, 0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000,
                             0x7ff8_0000_0000_0000, 0xfff8_0000_0000_0000, 0x7ff0_0000_0000_0001,
                             0xfff0_0000_0000_0001, 0x7fff_ffff_ffff_ffff, .max, 1, 0x8000_0000_0000_0001]
    for _ in 0..<3000 {
        floats.append(UInt32(truncatingIfNeeded: rng.next()))
        doubles.append(rng.next())
    }
    for bits in floats {
        let decoded = try Tuple.unpack(Tuple([.float(Float(bitPattern: bits))]).pack())
        guard case .float(let f)? = decoded.elements.first else { Issue.record("not a float"); continue }
        #expect(f.bitPattern == bits)
    }
    for bits in doubles {
        let decoded = try Tuple.unpack(Tuple([.double(Double(bitPattern: bits))]).pack())
        guard case .double(let d)? = decoded.elements.first else { Issue.record("not a double"); continue }
        #expect(d.bitPattern == bits)
    }
}

// MARK: - Random generation

/// Tuple elements and bytes biased towards what matters to escaping and order
/// (SplitMix64 itself is in PlinthEncoding).
extension SplitMix64 {
    /// A byte biased towards the values that matter to escaping and order.
    mutating func byte() -> UInt8 {
        switch below(10) {
        case 0, 1, 2: return 0x00
        case 3, 4: return 0xff
        case 5: return 0x01
        case 6: return 0xfe
        default: return UInt8(truncatingIfNeeded: next())
        }
    }

    mutating func bytes() -> [UInt8] {
        let count: Int
        switch below(20) {
        case 0: count = 200 + below(200)  // long
        case 1...5: count = below(40)
        default: count = below(6)
        }
        return (0..<count).map { _ in byte() }
    }

    mutating func string() -> String {
        let pool: [Unicode.Scalar] = ["a", "b", "\0", "\u{01}", "\u{7f}", "\u{80}", "\u{e9}", "\u{301}",
                                      "\u{7ff}", "\u{800}", "\u{fffd}", "\u{ffff}", "\u{10000}",
                                      "\u{1F600}", "\u{10FFFF}"]
        var scalars = String.UnicodeScalarView()
        for _ in 0..<below(7) {
            if chance(70) {
                scalars.append(pick(pool))
            } else if let s = Unicode.Scalar(UInt32(below(0x11_0000))) {  // nil for surrogates
                scalars.append(s)
            }
        }
        return String(scalars)
    }

    mutating func int() -> Int64 {
        chance(40) ? pick(interestingInts) : Int64(bitPattern: next()) >> Int64(below(64))
    }

    /// An integer outside Int64: 8 magnitude bytes just past the Int64 range,
    /// or 9...32 bytes, occasionally the 255-byte maximum.
    mutating func bigInt() -> TupleElement {
        let negative = chance(50)
        var magnitude: [UInt8]
        switch below(10) {
        case 0, 1, 2:
            var m = next() | (1 << 63)
            if negative && m == 1 << 63 { m += 1 }  // -2^63 is an Int64
            magnitude = []
            withUnsafeBytes(of: m.bigEndian) { magnitude = Array($0) }
        case 3:
            magnitude = [UInt8](repeating: byte(), count: 255)
            magnitude[0] = 1 + UInt8(below(255))
        default:
            magnitude = (0..<(9 + below(24))).map { _ in byte() }
            magnitude[0] = 1 + UInt8(below(255))
        }
        return .bigInt(negative: negative, magnitude: magnitude)
    }

    mutating func float() -> Float {
        let specials: [UInt32] = [0, 0x8000_0000, 0x3f80_0000, 0xbf80_0000, 0x7f80_0000, 0xff80_0000,
                                  0x7fc0_0000, 0xffc0_0000, 0x7f80_0001, 0xff80_0001, 0x7fff_ffff,
                                  0xffff_ffff, 1, 0x8000_0001, 0x7f7f_ffff, 0xff7f_ffff, 0x0080_0000]
        return Float(bitPattern: chance(40) ? pick(specials) : UInt32(truncatingIfNeeded: next()))
    }

    mutating func double() -> Double {
        let specials: [UInt64] = [0, 0x8000_0000_0000_0000, 0x3ff0_0000_0000_0000, 0xbff0_0000_0000_0000,
                                  0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 0x7ff8_0000_0000_0000,
                                  0xfff8_0000_0000_0000, 0x7ff0_0000_0000_0001, 0xfff0_0000_0000_0001,
                                  0x7fff_ffff_ffff_ffff, .max, 1, 0x8000_0000_0000_0001,
                                  0x7fef_ffff_ffff_ffff, 0xffef_ffff_ffff_ffff]
        return Double(bitPattern: chance(40) ? pick(specials) : next())
    }

    mutating func fixed(_ count: Int) -> [UInt8] { (0..<count).map { _ in byte() } }

    /// Kinds: 0 null, 1 bytes, 2 string, 3 int, 4 bigInt, 5 float, 6 double,
    /// 7 bool, 8 uuid, 9 nested tuple, 10 versionstamp.
    mutating func element(kind: Int, depth: Int) -> TupleElement {
        switch kind {
        case 0: return .null
        case 1: return .bytes(bytes())
        case 2: return .string(string())
        case 3: return .int(int())
        case 4: return bigInt()
        case 5: return .float(float())
        case 6: return .double(double())
        case 7: return .bool(chance(50))
        case 8: return .uuid(uuid(fixed(16)))
        case 9: return .tuple(elements(depth: depth + 1))
        default: return .versionstamp(fixed(12))
        }
    }

    mutating func element(depth: Int) -> TupleElement {
        // Keep nesting shallow so the corpus stays small.
        var kind = below(11)
        if depth >= 3 && kind == 9 { kind = below(9) }
        return element(kind: kind, depth: depth)
    }

    mutating func elements(depth: Int) -> [TupleElement] {
        (0..<below(depth == 0 ? 6 : 4)).map { _ in element(depth: depth) }
    }
}

func kind(_ e: TupleElement) -> Int {
    switch e {
    case .null: return 0
    case .bytes: return 1
    case .string: return 2
    case .int: return 3
    case .bigInt: return 4
    case .float: return 5
    case .double: return 6
    case .bool: return 7
    case .uuid: return 8
    case .tuple: return 9
    case .versionstamp: return 10
    }
}

/// A mutation of `e` of the same kind, so that comparisons within one type
/// are well represented: nested tuples keep a prefix, bytes share a prefix.
func nearby(_ e: TupleElement, _ rng: inout SplitMix64, depth: Int) -> TupleElement {
    switch e {
    case .tuple(let inner):
        return .tuple(derive(inner, &rng, depth: depth + 1))
    case .bytes(let b):
        return .bytes(Array(b.prefix(rng.below(b.count + 1))) + rng.bytes())
    case .string(let s):
        return .string(String(s.unicodeScalars.prefix(rng.below(s.unicodeScalars.count + 1))) + rng.string())
    case .int, .bigInt:
        return rng.chance(50) ? rng.element(kind: 3, depth: depth) : rng.bigInt()
    default:
        return rng.element(kind: kind(e), depth: depth)
    }
}

/// A tuple sharing a prefix with `base`: keep some elements, maybe perturb
/// the next one, then add random ones.
func derive(_ base: [TupleElement], _ rng: inout SplitMix64, depth: Int) -> [TupleElement] {
    let keep = rng.below(base.count + 1)
    var result = Array(base.prefix(keep))
    if keep < base.count && rng.chance(70) {
        result.append(nearby(base[keep], &rng, depth: depth))
    }
    if depth < 3 {
        for _ in 0..<rng.below(3) { result.append(rng.element(depth: depth)) }
    }
    return result
}

func corpus(seed: UInt64, count: Int) -> [Tuple] {
    var rng = SplitMix64(seed: seed)
    var tuples: [Tuple] = [[], [.null], [.null, .null], [.bytes([])], [.bytes([0])], [.tuple([])], [.tuple([.null])]]
    while tuples.count < count {
        if tuples.count < count / 3 || rng.chance(30) {
            tuples.append(Tuple(rng.elements(depth: 0)))
        } else {
            let base = tuples[rng.below(tuples.count)]
            tuples.append(Tuple(derive(base.elements, &rng, depth: 0)))
        }
    }
    return tuples
}

// MARK: - Reference ordering (design/tuple.md), computed on values

func sign<T: Comparable>(_ a: T, _ b: T) -> Int { a < b ? -1 : (a == b ? 0 : 1) }

func lexCompare(_ a: [UInt8], _ b: [UInt8]) -> Int {
    for (x, y) in zip(a, b) where x != y { return x < y ? -1 : 1 }
    return sign(a.count, b.count)
}

/// Order across types is by type code; all integers share one numeric order.
func typeRank(_ e: TupleElement) -> Int {
    switch e {
    case .null: return 0x00
    case .bytes: return 0x01
    case .string: return 0x02
    case .tuple: return 0x05
    case .int, .bigInt: return 0x14
    case .float: return 0x20
    case .double: return 0x21
    case .bool: return 0x26
    case .uuid: return 0x30
    case .versionstamp: return 0x33
    }
}

/// Sign and big-endian magnitude without leading zeros (zero: not negative, empty).
func signMagnitude(_ e: TupleElement) -> (negative: Bool, magnitude: [UInt8]) {
    switch e {
    case .int(let v):
        var m: [UInt8] = []
        withUnsafeBytes(of: v.magnitude.bigEndian) { m = Array($0.drop(while: { $0 == 0 })) }
        return (v < 0, m)
    case .bigInt(let negative, let magnitude):
        let m = Array(magnitude.drop(while: { $0 == 0 }))
        return (negative && !m.isEmpty, m)
    default:
        fatalError("not an integer")
    }
}

func integerCompare(_ a: TupleElement, _ b: TupleElement) -> Int {
    let (na, ma) = signMagnitude(a), (nb, mb) = signMagnitude(b)
    let sa = ma.isEmpty ? 0 : (na ? -1 : 1), sb = mb.isEmpty ? 0 : (nb ? -1 : 1)
    if sa != sb { return sign(sa, sb) }
    // Same sign: longer magnitude is larger, then bytewise.
    let magnitudeOrder = ma.count != mb.count ? sign(ma.count, mb.count) : lexCompare(ma, mb)
    return sa < 0 ? -magnitudeOrder : magnitudeOrder
}

/// IEEE 754 totalOrder from the fields: negative-signed values first, larger
/// magnitudes (exponent, then significand bits, NaN payloads included) further
/// from zero. Independent of the encoder's bit transform.
func totalOrderCompare<F: BinaryFloatingPoint>(_ x: F, _ y: F) -> Int {
    if x.sign != y.sign { return x.sign == .minus ? -1 : 1 }
    var c = sign(x.exponentBitPattern, y.exponentBitPattern)
    if c == 0 { c = sign(x.significandBitPattern, y.significandBitPattern) }
    return x.sign == .minus ? -c : c
}

func refCompare(_ a: TupleElement, _ b: TupleElement) -> Int {
    let ra = typeRank(a), rb = typeRank(b)
    if ra != rb { return sign(ra, rb) }
    switch (a, b) {
    case (.null, .null): return 0
    case let (.bytes(x), .bytes(y)): return lexCompare(x, y)
    case let (.string(x), .string(y)): return lexCompare(utf8(x), utf8(y))
    case let (.tuple(x), .tuple(y)): return refCompare(x, y)
    case let (.float(x), .float(y)): return totalOrderCompare(x, y)
    case let (.double(x), .double(y)): return totalOrderCompare(x, y)
    case let (.bool(x), .bool(y)): return sign(x ? 1 : 0, y ? 1 : 0)
    case let (.uuid(x), .uuid(y)): return lexCompare(x.array, y.array)
    case let (.versionstamp(x), .versionstamp(y)): return lexCompare(x, y)
    default: return integerCompare(a, b)
    }
}

/// Element by element; a proper prefix sorts first.
func refCompare(_ a: [TupleElement], _ b: [TupleElement]) -> Int {
    for (x, y) in zip(a, b) {
        let c = refCompare(x, y)
        if c != 0 { return c }
    }
    return sign(a.count, b.count)
}

// MARK: - Properties

@Test(arguments: [UInt64(1), 2, 3])
func packingPreservesOrder(seed: UInt64) throws {
    let tuples = corpus(seed: seed, count: 2500)
    let packed = tuples.map { $0.pack() }

    // Every tuple round-trips and decodes canonically.
    for (t, p) in zip(tuples, packed) {
        let back = try Tuple.unpack(p)
        #expect(back == t)
        #expect(back.elements.allSatisfy(isCanonical))
    }

    // Sort by packed bytes; neighbours must agree with the reference order,
    // equal bytes exactly when the reference says equal.
    let order = packed.indices.sorted { packed[$0].lexicographicallyPrecedes(packed[$1]) }
    var checked = 0
    for (i, j) in zip(order, order.dropFirst()) {
        let c = refCompare(tuples[i].elements, tuples[j].elements)
        let bytesEqual = packed[i] == packed[j]
        #expect(c <= 0, "\(tuples[i]) should not sort after \(tuples[j])")
        #expect((c == 0) == bytesEqual, "\(tuples[i]) vs \(tuples[j])")
        #expect(bytesEqual == (tuples[i] == tuples[j]))
        checked += 1
    }
    #expect(checked == tuples.count - 1)

    // And random pairs directly, both directions.
    var rng = SplitMix64(seed: seed &* 31)
    for _ in 0..<20_000 {
        let i = rng.below(tuples.count), j = rng.below(tuples.count)
        let byBytes = lexCompare(packed[i], packed[j])
        let byValue = refCompare(tuples[i].elements, tuples[j].elements)
        #expect(byBytes == byValue, "\(tuples[i]) vs \(tuples[j])")
    }
}

/// The reference float order is the standard's totalOrder.
@Test func referenceFloatOrderIsIEEETotalOrder() {
    var rng = SplitMix64(seed: 77)
    for _ in 0..<20_000 {
        let x = rng.double(), y = rng.double()
        let c = totalOrderCompare(x, y)
        #expect((c <= 0) == x.isTotallyOrdered(belowOrEqualTo: y))
        let f = rng.float(), g = rng.float()
        #expect((totalOrderCompare(f, g) <= 0) == f.isTotallyOrdered(belowOrEqualTo: g))
    }
}

/// The encoding is self-delimiting: a decoder finds the end of every element
/// no matter what follows it. It is not prefix-free in the naive sense:
/// ("a") packs to 01 61 00, a proper prefix of ("a\0") = 01 61 00 ff 00, and
/// (()) = 05 00 is a prefix of ((nil,)) = 05 00 ff 00. What holds is that the
/// byte after such a prefix is always the escape 0xFF, which is never a type
/// code, so no packed tuple's elements can be read with different boundaries.
@Test func selfDelimitingAndEscapePrefixes() throws {
    #expect(Tuple([.bytes(utf8("a\0"))]).pack().starts(with: Tuple([.bytes(utf8("a"))]).pack()))
    #expect(Tuple([.tuple([.null])]).pack().starts(with: Tuple([.tuple([])]).pack()))

    var rng = SplitMix64(seed: 99)
    var elements = corpus(seed: 4, count: 1500).flatMap(\.elements)
    // Pairs known to share prefixes.
    elements += [.bytes([]), .bytes([0]), .bytes([0, 0]), .bytes([0, 0xff]), .bytes([0xff]),
                 .string(""), .string("\0"), .tuple([]), .tuple([.null]), .tuple([.null, .null]),
                 .tuple([.tuple([])]), .tuple([.tuple([.null])]), .tuple([.bytes([])]), .tuple([.bytes([0])])]
    let packed = elements.map { Tuple([$0]).pack() }
    var properPrefixes = 0
    for _ in 0..<40_000 {
        var i = rng.below(elements.count), j = rng.below(elements.count)
        if rng.chance(20) { i = elements.count - 1 - rng.below(14); j = elements.count - 1 - rng.below(14) }
        let (a, b) = (packed[i], packed[j])
        if a.count < b.count && b.starts(with: a) {
            properPrefixes += 1
            #expect(b[a.count] == 0xff, "\(elements[i]) is a prefix of \(elements[j])")
        }
        if a == b { #expect(elements[i] == elements[j]) }
        // Concatenations split back at the original boundary.
        let joined = a + b
        let end = try joined.withUnsafeBytes { try TupleDecoder.skipElement($0, at: 0) }
        #expect(end == a.count)
        #expect(try Tuple.unpack(joined) == Tuple([elements[i], elements[j]]))
    }
    #expect(properPrefixes > 0)  // the interesting case was exercised
}

// MARK: - strinc and range()

@Test func strincExamples() {
    #expect(strinc([0x01, 0x02]) == [0x01, 0x03])
    #expect(strinc([0x00]) == [0x01])
    #expect(strinc([0x01, 0xff]) == [0x02])
    #expect(strinc([0x01, 0xfe, 0xff, 0xff]) == [0x01, 0xff])
    #expect(strinc([0x61, 0x62, 0x63]) == [0x61, 0x62, 0x64])
    #expect(strinc([0xff, 0x00]) == [0xff, 0x01])
    #expect(strinc([0xff]) == nil)
    #expect(strinc([0xff, 0xff]) == nil)
    #expect(strinc([]) == nil)
}

@Test func strincIsTheEndOfThePrefixRange() throws {
    var rng = SplitMix64(seed: 5)
    for _ in 0..<5000 {
        let prefix = rng.fixed(rng.below(5))
        guard let end = strinc(prefix) else {
            #expect(prefix.allSatisfy { $0 == 0xff })
            continue
        }
        #expect(prefix.lexicographicallyPrecedes(end))
        #expect(!end.starts(with: prefix))
        for _ in 0..<10 {
            // Keys near the prefix: a piece of it plus random bytes.
            let key = Array(prefix.prefix(rng.below(prefix.count + 1))) + rng.fixed(rng.below(4))
            let inRange = !key.lexicographicallyPrecedes(prefix) && key.lexicographicallyPrecedes(end)
            #expect(inRange == key.starts(with: prefix), "prefix \(prefix) key \(key)")
        }
    }
}

@Test func rangeExamples() {
    let t: Tuple = [.string("users"), .int(7)]
    let (begin, end) = t.range()
    #expect(begin == t.pack() + [0x00])
    #expect(end == t.pack() + [0xff])
    let inside = Tuple([.string("users"), .int(7), .null]).pack()
    #expect(!inside.lexicographicallyPrecedes(begin) && inside.lexicographicallyPrecedes(end))
    #expect(t.pack().lexicographicallyPrecedes(begin))  // the tuple itself is outside
    let empty = Tuple([]).range()
    #expect(empty.begin == [0x00] && empty.end == [0xff])
    // ("a\0") extends the packing of ("a") but not the tuple: it is outside.
    let a = Tuple([.bytes(utf8("a"))]).range()
    let aNul = Tuple([.bytes(utf8("a\0"))]).pack()
    #expect(!aNul.lexicographicallyPrecedes(a.end))
}

/// range() holds exactly the tuples that extend this one element-wise.
@Test func rangeHoldsExactlyTheExtensions() {
    let tuples = corpus(seed: 6, count: 2000)
    let packed = tuples.map { $0.pack() }
    var rng = SplitMix64(seed: 60)
    var hits = 0
    for _ in 0..<150 {
        let t = tuples[rng.below(tuples.count)]
        let (begin, end) = t.range()
        for (u, p) in zip(tuples, packed) {
            let inRange = !p.lexicographicallyPrecedes(begin) && p.lexicographicallyPrecedes(end)
            let extends = u.elements.count > t.elements.count
                && Array(u.elements.prefix(t.elements.count)) == t.elements
            #expect(inRange == extends, "\(u) in range of \(t)")
            if inRange { hits += 1 }
        }
    }
    #expect(hits > 150)
}

// MARK: - Malformed input

struct BadInput: Sendable, CustomTestStringConvertible {
    let hex: String
    let error: TupleError
    init(_ hex: String, _ error: TupleError) { self.hex = hex; self.error = error }
    var testDescription: String { "\(hex) -> \(error)" }
}

let badInputs: [BadInput] = [
    // Truncated: the offset is that of the element that runs out.
    BadInput("01", .truncated(offset: 0)),
    BadInput("01 61", .truncated(offset: 0)),
    BadInput("01 61 00 ff", .truncated(offset: 0)),   // escaped NUL, then no terminator
    BadInput("02 61", .truncated(offset: 0)),
    BadInput("14 15", .truncated(offset: 1)),
    BadInput("1c 01 02 03", .truncated(offset: 0)),
    BadInput("0c", .truncated(offset: 0)),
    BadInput("13", .truncated(offset: 0)),
    BadInput("1d", .truncated(offset: 0)),
    BadInput("1d 09 01", .truncated(offset: 0)),
    BadInput("0b", .truncated(offset: 0)),
    BadInput("0b f6 00", .truncated(offset: 0)),
    BadInput("20 00 00 00", .truncated(offset: 0)),
    BadInput("21 00*7", .truncated(offset: 0)),
    BadInput("30 00*15", .truncated(offset: 0)),
    BadInput("33 00*11", .truncated(offset: 0)),
    BadInput("05", .truncated(offset: 0)),
    BadInput("05 15 01", .truncated(offset: 0)),
    BadInput("05 00 ff", .truncated(offset: 0)),     // nested null, then no terminator
    BadInput("05 05 00", .truncated(offset: 0)),
    BadInput("05 01 61", .truncated(offset: 1)),
    BadInput("05 05 16 01", .truncated(offset: 2)),
    // Unknown type codes: deprecated, reserved, user and escape codes.
    BadInput("03 00", .unknownTypeCode(0x03, offset: 0)),
    BadInput("04", .unknownTypeCode(0x04, offset: 0)),
    BadInput("06", .unknownTypeCode(0x06, offset: 0)),
    BadInput("0a 00", .unknownTypeCode(0x0a, offset: 0)),
    BadInput("1e 00", .unknownTypeCode(0x1e, offset: 0)),
    BadInput("22 00*10", .unknownTypeCode(0x22, offset: 0)),
    BadInput("23", .unknownTypeCode(0x23, offset: 0)),
    BadInput("24", .unknownTypeCode(0x24, offset: 0)),
    BadInput("25", .unknownTypeCode(0x25, offset: 0)),
    BadInput("28", .unknownTypeCode(0x28, offset: 0)),
    BadInput("31 00*8", .unknownTypeCode(0x31, offset: 0)),
    BadInput("32 00*10", .unknownTypeCode(0x32, offset: 0)),
    BadInput("40", .unknownTypeCode(0x40, offset: 0)),
    BadInput("4f", .unknownTypeCode(0x4f, offset: 0)),
    BadInput("ff", .unknownTypeCode(0xff, offset: 0)),
    BadInput("14 40", .unknownTypeCode(0x40, offset: 1)),
    BadInput("00 ff", .unknownTypeCode(0xff, offset: 1)),  // 00 ff is a null only inside a nested tuple
    BadInput("05 03 00", .unknownTypeCode(0x03, offset: 1)),
    // Strings must be valid UTF-8.
    BadInput("02 ff 00", .invalidUTF8(offset: 0)),
    BadInput("02 c3 00", .invalidUTF8(offset: 0)),                 // cut multi-byte sequence
    BadInput("02 c0 80 00", .invalidUTF8(offset: 0)),              // overlong NUL
    BadInput("02 ed a0 80 00", .invalidUTF8(offset: 0)),           // UTF-16 surrogate
    BadInput("02 f4 90 80 80 00", .invalidUTF8(offset: 0)),        // above U+10FFFF
    BadInput("14 02 61 00 ff ff 00", .invalidUTF8(offset: 1)),     // "a\0" then a stray 0xff
    BadInput("05 02 80 00 00", .invalidUTF8(offset: 1)),
]

@Test(arguments: badInputs)
func malformedInputIsRejected(_ input: BadInput) {
    let bytes = h(input.hex)
    #expect(throws: input.error) { try Tuple.unpack(bytes) }
    // skipElement agrees on structure (it does not validate UTF-8).
    if case .invalidUTF8 = input.error { return }
    let skipResult = bytes.withUnsafeBytes { raw -> Result<Int, TupleError> in
        var offset = 0
        return Result { () throws(TupleError) -> Int in
            while offset < raw.count { offset = try TupleDecoder.skipElement(raw, at: offset) }
            return offset
        }
    }
    #expect(skipResult == .failure(input.error))
}

@Test func nestingDepthIsBounded() throws {
    let depth = TupleDecoder.maxNestingDepth
    let deepest = [UInt8](repeating: 0x05, count: depth) + [UInt8](repeating: 0x00, count: depth)
    var value = TupleElement.tuple([])
    for _ in 1..<depth { value = .tuple([value]) }
    #expect(try Tuple.unpack(deepest) == Tuple([value]))
    #expect(Tuple([value]).pack() == deepest)
    let tooDeep = [UInt8](repeating: 0x05, count: depth + 1) + [UInt8](repeating: 0x00, count: depth + 1)
    #expect(throws: TupleError.nestingTooDeep(offset: depth)) { try Tuple.unpack(tooDeep) }
    #expect(throws: TupleError.nestingTooDeep(offset: depth)) {
        try tooDeep.withUnsafeBytes { try TupleDecoder.skipElement($0, at: 0) }
    }
    // Hostile input far deeper than any stack could take is refused cheaply.
    let hostile = [UInt8](repeating: 0x05, count: 1_000_000)
    #expect(throws: TupleError.nestingTooDeep(offset: depth)) { try Tuple.unpack(hostile) }
}

@Test func fastIntDecoderErrors() throws {
    func decodeInt(_ hex: String) throws(TupleError) -> Int64 {
        let bytes = h(hex)
        let r = bytes.withUnsafeBytes { raw in
            Result { () throws(TupleError) -> Int64 in try TupleDecoder.decodeInt(raw, at: 0).0 }
        }
        return try r.get()
    }
    #expect(throws: TupleError.unexpectedTypeCode(0x02, offset: 0)) { try decodeInt("02 00") }
    #expect(throws: TupleError.unexpectedTypeCode(0x1d, offset: 0)) { try decodeInt("1d 09 01 00*8") }
    #expect(throws: TupleError.unexpectedTypeCode(0x0b, offset: 0)) { try decodeInt("0b f6 fe ff*8") }
    #expect(throws: TupleError.integerOverflow(offset: 0)) { try decodeInt("1c 80 00*7") }
    #expect(throws: TupleError.integerOverflow(offset: 0)) { try decodeInt("0c 7f ff*6 fe") }
    #expect(throws: TupleError.truncated(offset: 0)) { try decodeInt("") }
    #expect(throws: TupleError.truncated(offset: 0)) { try decodeInt("16 01") }
    #expect(try decodeInt("0c 7f ff*7") == .min)
    #expect(try decodeInt("1c 7f ff*7") == .max)
    #expect(try decodeInt("15 00") == 0)

    let negative = h("13 fe")
    #expect(throws: TupleError.integerOverflow(offset: 0)) {
        try negative.withUnsafeBytes { try TupleDecoder.decodeUInt($0, at: 0) }
    }
}

/// Arbitrary bytes never crash the decoder; whatever decodes re-packs to
/// something that decodes to the same value, and skip agrees with decode.
@Test func randomBytesAreHandledSafely() throws {
    var rng = SplitMix64(seed: 0xBAD)
    let codes: [UInt8] = [0x00, 0x01, 0x02, 0x05, 0x0b, 0x0c, 0x13, 0x14, 0x15, 0x1c, 0x1d,
                          0x20, 0x21, 0x26, 0x27, 0x30, 0x33, 0xff, 0xfe, 0x80]
    let valid = corpus(seed: 8, count: 300).map { $0.pack() }
    for round in 0..<20_000 {
        var bytes: [UInt8]
        if round % 2 == 0 {
            bytes = (0..<rng.below(24)).map { _ in rng.chance(50) ? rng.pick(codes) : rng.byte() }
        } else {
            // A valid packing, cut short or with one byte changed.
            bytes = rng.pick(valid)
            if !bytes.isEmpty {
                if rng.chance(50) { bytes = Array(bytes.prefix(rng.below(bytes.count))) }
                else { bytes[rng.below(bytes.count)] = rng.chance(50) ? rng.pick(codes) : rng.byte() }
            }
        }
        let decoded: Tuple
        do {
            decoded = try Tuple.unpack(bytes)
        } catch {
            continue
        }
        #expect(decoded.elements.allSatisfy(isCanonical))
        #expect(try Tuple.unpack(decoded.pack()) == decoded)
        try bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let next = try TupleDecoder.decodeElement(raw, at: offset).1
                #expect(try TupleDecoder.skipElement(raw, at: offset) == next)
                offset = next
            }
        }
    }
}
