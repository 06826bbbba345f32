import Testing
import PlinthEncoding

@Suite struct IndexKeyTests {
    func less(_ a: Bytes, _ b: Bytes) -> Bool { compareBytes(a, b) < 0 }

    @Test func decimalsSortNumerically() {
        let values = ["-Infinity", "-1e10", "-123.45", "-123.4", "-1", "-0.5", "-0.001", "0", "0.001", "0.5",
                      "1", "1.05", "1.5", "2", "9.99", "10", "10.5", "123.4", "123.45", "1e10", "Infinity", "NaN"]
        let enc = values.map(DecimalKey.encode)
        for i in 0..<(enc.count - 1) {
            #expect(less(enc[i], enc[i + 1]), "\(values[i]) < \(values[i + 1])")
        }
        #expect(DecimalKey.encode("1.5") == DecimalKey.encode("1.50"))
        #expect(DecimalKey.encode("-0.0") == DecimalKey.encode("0"))
        #expect(DecimalKey.encode("00100") == DecimalKey.encode("1e2"))
    }

    @Test func decimalsPropertyOrder() {
        var rng = SystemRandomNumberGenerator()
        var pairs: [(Double, String)] = []
        for _ in 0..<2000 {
            let n = Int.random(in: -1_000_000...1_000_000, using: &rng)
            let scale = Int.random(in: 0...4, using: &rng)
            var s = String(abs(n))
            if scale > 0 {
                while s.count <= scale { s = "0" + s }
                s.insert(".", at: s.index(s.endIndex, offsetBy: -scale))
            }
            if n < 0 { s = "-" + s }
            pairs.append((Double(s)!, s))
        }
        for _ in 0..<5000 {
            let a = pairs.randomElement(using: &rng)!, b = pairs.randomElement(using: &rng)!
            let ea = DecimalKey.encode(a.1), eb = DecimalKey.encode(b.1)
            if a.0 < b.0 { #expect(less(ea, eb), "\(a.1) < \(b.1)") }
            if a.0 == b.0 { #expect(ea == eb, "\(a.1) == \(b.1)") }
        }
    }

    @Test func markersAndDirections() {
        let asc = IndexKey.Column(descending: false, nullsFirst: false)
        let desc = IndexKey.Column(descending: true, nullsFirst: true)
        let k = { (v: IndexKey.Value, c: IndexKey.Column) in IndexKey.encode([v], [c]) }
        // ASC NULLS LAST: values, then null.
        #expect(less(k(.int(-5), asc), k(.int(3), asc)))
        #expect(less(k(.int(1_000_000), asc), k(.null, asc)))
        // DESC NULLS FIRST: null, then values descending.
        #expect(less(k(.null, desc), k(.int(3), desc)))
        #expect(less(k(.int(3), desc), k(.int(-5), desc)))
        #expect(less(k(.bytes([1, 2, 3]), desc), k(.bytes([1, 2]), desc)))
        #expect(less(k(.bytes([1, 2]), asc), k(.bytes([1, 2, 3]), asc)))
        // Multicolumn: the first column decides.
        let two = [asc, desc]
        #expect(less(IndexKey.encode([.int(1), .int(0)], two), IndexKey.encode([.int(2), .int(9)], two)))
        #expect(less(IndexKey.encode([.int(1), .int(9)], two), IndexKey.encode([.int(1), .int(0)], two)))
    }

    @Test func descendingHandlesEncodingsThatArePrefixes() {
        // "" encodes as a prefix of "\0"; DESC must still put "\0" first.
        let desc = IndexKey.Column(descending: true, nullsFirst: false)
        let asc = IndexKey.Column(descending: false, nullsFirst: false)
        let values: [Bytes] = [[], [0], [0, 0], [0, 1], [1], [0xFF], [0xFF, 0]]
        for a in values {
            for b in values where compareBytes(a, b) < 0 {
                #expect(less(IndexKey.encode([.bytes(a)], [asc]), IndexKey.encode([.bytes(b)], [asc])))
                #expect(less(IndexKey.encode([.bytes(b)], [desc]), IndexKey.encode([.bytes(a)], [desc])), "\(b) before \(a)")
            }
        }
        let n1 = IndexKey.Value.nested([.bytes([1])]), n2 = IndexKey.Value.nested([.bytes([1]), .null])
        #expect(less(IndexKey.encode([n2], [desc]), IndexKey.encode([n1], [desc])))
    }

    @Test func nestedValuesCompareElementWise() {
        let c = IndexKey.Column(descending: false, nullsFirst: false)
        let a = IndexKey.encode([.nested([.bytes([1]), .bytes([5])])], [c])
        let b = IndexKey.encode([.nested([.bytes([1]), .bytes([6])])], [c])
        let shorter = IndexKey.encode([.nested([.bytes([1])])], [c])
        #expect(less(a, b))
        #expect(less(shorter, a))
    }

    @Test func columnSpansFindEachColumn() {
        let cols = [IndexKey.Column(descending: false, nullsFirst: false), IndexKey.Column(descending: true, nullsFirst: false),
                    IndexKey.Column(descending: false, nullsFirst: true)]
        let key = IndexKey.encode([.int(7), .bytes([0, 1, 0xFF]), .null], cols)
        let spans = key.withUnsafeBytes { IndexKey.columnSpans($0, from: 0, count: 3) }!
        #expect(spans.count == 3)
        #expect(Bytes(key[spans[0]]) == IndexKey.encode([.int(7)], [cols[0]]))
        #expect(Bytes(key[spans[1]]) == IndexKey.encode([.bytes([0, 1, 0xFF])], [cols[1]]))
        #expect(Bytes(key[spans[2]]) == IndexKey.encode([.null], [cols[2]]))
    }
}
