import Testing
import PlinthStore
import PlinthLMDB

/// Every operation of the store protocol on the embedded engine.
@Suite struct StoreOperationTests {
    @Test func setGetClear() throws {
        let f = try StoreFixture()
        try transact(f.store) { tr throws(StoreError) in
            try tr.set(b("a"), b("1"))
            try tr.set(b("b"), b("2"))
        }
        try transact(f.store) { tr throws(StoreError) in
            #expect(s(try tr.get(b("a"), snapshot: false)) == "1")
            #expect(try tr.get(b("zz"), snapshot: false) == nil)
            try tr.clear(b("a"))
            // Read-your-writes.
            #expect(try tr.get(b("a"), snapshot: false) == nil)
            try tr.set(b("c"), b("3"))
            #expect(s(try tr.get(b("c"), snapshot: false)) == "3")
        }
        try transact(f.store) { tr throws(StoreError) in
            #expect(try tr.get(b("a"), snapshot: false) == nil)
            #expect(s(try tr.get(b("b"), snapshot: false)) == "2")
            #expect(s(try tr.get(b("c"), snapshot: false)) == "3")
            let many = try tr.getMany([b("a"), b("b"), b("c")], snapshot: false)
            #expect(many.map(s) == [nil, "2", "3"])
        }
    }

    @Test func emptyValuesAndBinaryKeys() throws {
        let f = try StoreFixture()
        let key: Bytes = [0, 1, 0, 255, 254]
        try transact(f.store) { tr throws(StoreError) in try tr.set(key, []) }
        try transact(f.store) { tr throws(StoreError) in
            #expect(try tr.get(key, snapshot: false) == [])
        }
    }

    @Test func rangeReadsForwardReverseAndBatched() throws {
        let f = try StoreFixture()
        let keys = (0..<500).map { String(format: "k%04d", $0) }
        try transact(f.store) { tr throws(StoreError) in
            for k in keys { try tr.set(b(k), b("v" + k)) }
        }
        try transact(f.store) { tr throws(StoreError) in
            let all = try readAll(tr, b("k"), b("l"))
            #expect(all.map { s($0.0)! } == keys)
            let batched = try readAll(tr, b("k"), b("l"), batch: 7)
            #expect(batched.map { s($0.0)! } == keys)
            let rev = try readAll(tr, b("k"), b("l"), reverse: true, batch: 13)
            #expect(rev.map { s($0.0)! } == keys.reversed())
            let part = try readAll(tr, b("k0100"), b("k0200"))
            #expect(part.count == 100 && s(part.first!.0) == "k0100" && s(part.last!.0) == "k0199")
            let one = try tr.getRange(.firstGreaterOrEqual(b("k")), .firstGreaterOrEqual(b("l")),
                                      options: RangeOptions(limit: 3))
            #expect(one.count == 3 && one.more)
            let bytes = try tr.getRange(.firstGreaterOrEqual(b("k")), .firstGreaterOrEqual(b("l")),
                                        options: RangeOptions(targetBytes: 100))
            #expect(bytes.count < 500 && bytes.count >= 1 && bytes.more)
            let empty = try tr.getRange(.firstGreaterOrEqual(b("l")), .firstGreaterOrEqual(b("k")), options: RangeOptions())
            #expect(empty.isEmpty && !empty.more)
        }
    }

    @Test func rangeReadsMergeOwnWrites() throws {
        let f = try StoreFixture()
        try transact(f.store) { tr throws(StoreError) in
            for i in stride(from: 0, to: 20, by: 2) { try tr.set(b("r\(i + 10)"), b("old")) }
        }
        try transact(f.store) { tr throws(StoreError) in
            try tr.set(b("r11"), b("new"))       // between snapshot keys
            try tr.set(b("r12"), b("changed"))   // over a snapshot key
            try tr.clear(b("r14"))               // hide a snapshot key
            try tr.clearRange(b("r20"), b("r25"))   // hide several
            try tr.set(b("r21"), b("back"))      // written after the clear
            try tr.atomicOp(.add, b("r28"), [1, 0, 0, 0])   // on top of "old"
            let got = try readAll(tr, b("r"), b("s")).map { "\(s($0.0)!)=\(s($0.1)!.count == 4 && $0.0 == b("r28") ? "sum" : s($0.1)!)" }
            #expect(got == ["r10=old", "r11=new", "r12=changed", "r16=old", "r18=old", "r21=back", "r26=old", "r28=sum"])
            let rev = try readAll(tr, b("r"), b("s"), reverse: true, batch: 2).map { s($0.0)! }
            #expect(rev == ["r28", "r26", "r21", "r18", "r16", "r12", "r11", "r10"])
        }
        try transact(f.store) { tr throws(StoreError) in
            let got = try readAll(tr, b("r"), b("s")).map { s($0.0)! }
            #expect(got == ["r10", "r11", "r12", "r16", "r18", "r21", "r26", "r28"])
        }
    }

    @Test func keySelectors() throws {
        let f = try StoreFixture()
        try transact(f.store) { tr throws(StoreError) in
            for k in ["a", "c", "e", "g"] { try tr.set(b(k), b(k)) }
        }
        try transact(f.store) { tr throws(StoreError) in
            #expect(s(try tr.getKey(.firstGreaterOrEqual(b("c")), snapshot: false)) == "c")
            #expect(s(try tr.getKey(.firstGreaterThan(b("c")), snapshot: false)) == "e")
            #expect(s(try tr.getKey(.lastLessThan(b("c")), snapshot: false)) == "a")
            #expect(s(try tr.getKey(.lastLessOrEqual(b("c")), snapshot: false)) == "c")
            #expect(s(try tr.getKey(.firstGreaterOrEqual(b("d")), snapshot: false)) == "e")
            #expect(s(try tr.getKey(KeySelector(key: b("a"), orEqual: false, offset: 3), snapshot: false)) == "e")
            #expect(try tr.getKey(.firstGreaterThan(b("g")), snapshot: false) == [0xFF])
            #expect(try tr.getKey(.lastLessThan(b("a")), snapshot: false) == [])
            // Selectors as range ends: (a, e] = c, e.
            let r = try tr.getRange(.firstGreaterThan(b("a")), .firstGreaterThan(b("e")), options: RangeOptions())
            #expect((0..<r.count).map { s(r.keyBytes($0))! } == ["c", "e"])
        }
    }

    @Test func clearRangeAcrossManyPages() throws {
        let f = try StoreFixture()
        let n = 20_000
        try transact(f.store) { tr throws(StoreError) in
            for i in 0..<n { try tr.set(b(String(format: "x%06d", i)), Bytes(repeating: 7, count: 40)) }
        }
        try transact(f.store) { tr throws(StoreError) in try tr.clearRange(b("x001000"), b("x019000")) }
        try transact(f.store) { tr throws(StoreError) in
            let left = try readAll(tr, b("x"), b("y"))
            #expect(left.count == 2000)
            #expect(s(left[999].0) == "x000999" && s(left[1000].0) == "x019000")
        }
    }

    @Test func atomicOperations() throws {
        let f = try StoreFixture()
        func le(_ x: UInt64) -> Bytes { withUnsafeBytes(of: x.littleEndian) { Bytes($0) } }
        func val(_ v: Bytes?) -> UInt64 { var x: UInt64 = 0; for (i, c) in (v ?? []).enumerated() { x |= UInt64(c) << (8 * UInt64(i)) }; return x }
        try transact(f.store) { tr throws(StoreError) in
            try tr.atomicOp(.add, b("n"), le(5))
            try tr.atomicOp(.add, b("n"), le(7))
            try tr.atomicOp(.max, b("mx"), le(3))
            try tr.atomicOp(.min, b("mn"), le(3))
            try tr.set(b("and"), [0b1100]); try tr.atomicOp(.bitAnd, b("and"), [0b1010])
            try tr.atomicOp(.bitOr, b("or"), [0b0101])
            try tr.set(b("xor"), [0b0110]); try tr.atomicOp(.bitXor, b("xor"), [0b0011])
            try tr.atomicOp(.appendIfFits, b("app"), b("ab"))
            try tr.atomicOp(.appendIfFits, b("app"), b("cd"))
            try tr.atomicOp(.byteMax, b("bmax"), b("m"))
            try tr.atomicOp(.byteMin, b("bmin"), b("m"))
            try tr.set(b("cac"), b("same")); try tr.atomicOp(.compareAndClear, b("cac"), b("same"))
        }
        try transact(f.store) { tr throws(StoreError) in
            try tr.atomicOp(.add, b("n"), le(100))
            try tr.atomicOp(.max, b("mx"), le(9)); try tr.atomicOp(.max, b("mx"), le(4))
            try tr.atomicOp(.min, b("mn"), le(1)); try tr.atomicOp(.min, b("mn"), le(2))
            try tr.atomicOp(.byteMax, b("bmax"), b("z")); try tr.atomicOp(.byteMin, b("bmin"), b("a"))
            // Not yet committed: read-your-writes applies the pending ops.
            #expect(val(try tr.get(b("n"), snapshot: false)) == 112)
        }
        try transact(f.store) { tr throws(StoreError) in
            #expect(val(try tr.get(b("n"), snapshot: false)) == 112)
            #expect(val(try tr.get(b("mx"), snapshot: false)) == 9)
            #expect(val(try tr.get(b("mn"), snapshot: false)) == 1)
            #expect(try tr.get(b("and"), snapshot: false) == [0b1000])
            #expect(try tr.get(b("or"), snapshot: false) == [0b0101])
            #expect(try tr.get(b("xor"), snapshot: false) == [0b0101])
            #expect(s(try tr.get(b("app"), snapshot: false)) == "abcd")
            #expect(s(try tr.get(b("bmax"), snapshot: false)) == "z")
            #expect(s(try tr.get(b("bmin"), snapshot: false)) == "a")
            #expect(try tr.get(b("cac"), snapshot: false) == nil)
        }
    }

    @Test func addCarriesAndWidens() {
        #expect(applyAtomic(.add, existing: [0xFF, 0xFF], param: [1, 0, 0]) == [0, 0, 1])
        #expect(applyAtomic(.add, existing: [0xFF, 0xFF, 0x01], param: [1]) == [0])
        #expect(applyAtomic(.add, existing: nil, param: [5, 0]) == [5, 0])
    }

    @Test func readOnlyCommitIsFree() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        _ = try tr.get(b("nothing"), snapshot: false)
        #expect(try tr.commit() == -1)
    }

    @Test func commitVersionsIncrease() throws {
        let f = try StoreFixture()
        var last: Int64 = 0
        for i in 0..<5 {
            let tr = try f.store.beginTransaction()
            let rv = try tr.getReadVersion()
            #expect(rv >= last)
            try tr.set(b("v\(i)"), b("x"))
            let cv = try tr.commit()
            #expect(cv > rv && cv > last)
            last = cv
        }
    }

    @Test func longKeysKeepTheirOrder() throws {
        let f = try StoreFixture()
        // Keys around and far past LMDB's 511-byte limit, sharing long prefixes.
        var keys: [Bytes] = []
        let base = Bytes(repeating: UInt8(ascii: "p"), count: 470)
        for len in [0, 5, 9, 10, 11, 12, 30, 600, 3000, 9000] {
            for tail in [UInt8(0), 1, 0x7f, 0xff] {
                keys.append(base + Bytes(repeating: tail, count: len))
            }
        }
        keys.append(Bytes(repeating: 0x71, count: 10_000))
        keys = Array(Set(keys)).sorted { compareBytes($0, $1) < 0 }
        try transact(f.store) { tr throws(StoreError) in
            for (i, k) in keys.enumerated() { try tr.set(k, b("\(i)")) }
        }
        try transact(f.store) { tr throws(StoreError) in
            for (i, k) in keys.enumerated() { #expect(s(try tr.get(k, snapshot: false)) == "\(i)") }
            let all = try readAll(tr, [], [0xFF], batch: 3)
            #expect(all.map { $0.0 } == keys)
            let rev = try readAll(tr, [], [0xFF], reverse: true, batch: 5)
            #expect(rev.map { $0.0 } == keys.reversed())
            // A range that starts and ends inside one bucket.
            let mid = try readAll(tr, keys[10], keys[20])
            #expect(mid.map { $0.0 } == Array(keys[10..<20]))
            try tr.clear(keys[15])
            try tr.clearRange(keys[30], keys[35])
        }
        try transact(f.store) { tr throws(StoreError) in
            let all = try readAll(tr, [], [0xFF]).map { $0.0 }
            var expected = keys
            expected.removeSubrange(30..<35)
            expected.remove(at: 15)
            #expect(all == expected)
        }
    }

    @Test func durableAcrossReopen() throws {
        let f = try StoreFixture()
        try transact(f.store) { tr throws(StoreError) in try tr.set(b("kept"), b("yes")) }
        let other = try f.reopen()
        try transact(other) { tr throws(StoreError) in
            #expect(s(try tr.get(b("kept"), snapshot: false)) == "yes")
        }
    }

    @Test func resetAndCancel() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        try tr.set(b("gone"), b("x"))
        tr.reset()
        #expect(try tr.commit() == -1)
        let t2 = try f.store.beginTransaction()
        t2.cancel()
        #expect(throws: StoreError(.transactionCancelled)) { try t2.get(b("a"), snapshot: false) }
        try transact(f.store) { tr throws(StoreError) in #expect(try tr.get(b("gone"), snapshot: false) == nil) }
    }

    @Test func countersCountRoundTrips() throws {
        let f = try StoreFixture()
        let tr = try f.store.beginTransaction()
        _ = try tr.getMany([b("a"), b("b"), b("c")], snapshot: false)
        _ = try tr.getRange(.firstGreaterOrEqual(b("a")), .firstGreaterOrEqual(b("z")), options: RangeOptions())
        #expect(tr.counters.reads == 3)
        #expect(tr.counters.rangeReads == 1)
        #expect(tr.counters.roundTrips == 2)
    }
}
