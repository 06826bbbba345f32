import Testing
import PlinthStore

/// The store protocol's contract as functions of `any Store`, so the same
/// checks run on every engine: the embedded one always, FoundationDB when a
/// cluster is configured (FDBConformanceTests).
///
/// Each case works only under its own random key prefix, which it clears
/// afterwards: a real cluster is shared. So no case may assume the key space
/// is empty outside its prefix (selectors past the prefix find whatever is
/// there), and every case that expects a conflict takes its read version
/// before the conflicting commit, as FoundationDB needs.
struct ConformanceCase: Sendable, CustomTestStringConvertible {
    let name: String
    let body: @Sendable (any Store, Prefix) throws -> Void
    var testDescription: String { name }

    init(_ name: String, _ body: @escaping @Sendable (any Store, Prefix) throws -> Void) {
        self.name = name
        self.body = body
    }

    /// Runs the case under a fresh prefix and clears the prefix afterwards.
    func run(on store: any Store) throws {
        let p = Prefix()
        defer { try? transact(store) { tr throws(StoreError) in try tr.clearRange(p.begin, p.end) } }
        try body(store, p)
    }
}

/// A test's own part of the key space: "plinth-test/<random>/".
struct Prefix: Sendable {
    let begin: Bytes
    init() {
        let tag = String(UInt64.random(in: 0...UInt64.max), radix: 16)
        begin = Array("plinth-test/\(tag)/".utf8)
    }
    /// The first key after every key of the prefix ('/' + 1 = '0').
    var end: Bytes { var e = begin; e[e.count - 1] += 1; return e }
    subscript(_ suffix: String) -> Bytes { begin + Array(suffix.utf8) }
    subscript(_ suffix: Bytes) -> Bytes { begin + suffix }
    /// The suffix of a key of this prefix, as text.
    func name(_ key: Bytes) -> String { String(decoding: key.dropFirst(begin.count), as: UTF8.self) }
}

private func expectConflict(_ tr: any StoreTransaction, sourceLocation: SourceLocation = #_sourceLocation) {
    do throws(StoreError) {
        _ = try tr.commit()
        Issue.record("expected a conflict", sourceLocation: sourceLocation)
    } catch {
        #expect(error.knownCode == .notCommitted, sourceLocation: sourceLocation)
        #expect(error.isRetryable, sourceLocation: sourceLocation)
    }
}

// FoundationDB 7.3's count (NativeAPI Transaction::getSize): 56 bytes per
// mutation (sizeof(MutationRef)) and 32 per conflict range (sizeof(KeyRangeRef)),
// plus the bytes of their keys and values.
private func mutation(_ p1: Int, _ p2: Int) -> Int { 44 + p1 + p2 }
private func range(_ b: Int, _ e: Int) -> Int { 24 + b + e }

/// A transaction whose size is `10,000,000 + extra` bytes by FoundationDB's
/// count: what `prologue` does (it returns what that costs), then sets of
/// distinct keys with values chosen to reach the total exactly.
private func sizedTransaction(_ store: any Store, _ p: Prefix, extra: Int,
                              _ prologue: (any StoreTransaction, Prefix) throws -> Int) throws -> any StoreTransaction {
    let tr = try store.beginTransaction()
    var left = StoreLimits.transactionBytes + extra - (try prologue(tr, p))
    var i = 0
    while left > 0 {
        let key = p["fill/\(1000 + i)"]
        let cost = mutation(key.count, 0) + range(key.count, key.count + 1)   // a set of an empty value
        let value = min(left - cost, 99_000)
        precondition(value >= 0, "the last set cannot fit: adjust the prologue")
        try tr.set(key, Bytes(repeating: UInt8(i % 251), count: value))
        left -= cost + value
        i += 1
    }
    return tr
}

/// Exactly 10,000,000 bytes commits; one byte more is transaction_too_large.
private func sizeBoundary(_ store: any Store, _ p: Prefix,
                          _ prologue: (any StoreTransaction, Prefix) throws -> Int) throws {
    let over = try sizedTransaction(store, p, extra: 1, prologue)
    do throws(StoreError) {
        _ = try over.commit()
        Issue.record("a transaction of 10,000,001 bytes committed")
    } catch {
        #expect(error.knownCode == .transactionTooLarge, "\(error)")
    }
    let exact = try sizedTransaction(store, p, extra: 0, prologue)
    #expect(try exact.commit() > 0, "a transaction of exactly 10,000,000 bytes was refused")
}

private func le(_ x: UInt64) -> Bytes { withUnsafeBytes(of: x.littleEndian) { Bytes($0) } }
private func val(_ v: Bytes?) -> UInt64 {
    var x: UInt64 = 0
    for (i, c) in (v ?? []).enumerated() { x |= UInt64(c) << (8 * UInt64(i)) }
    return x
}

enum StoreConformance {
    static let all: [ConformanceCase] = operations + conflicts + limits

    // MARK: operations

    static let operations: [ConformanceCase] = [
        ConformanceCase("set, get, clear, read-your-writes, getMany") { store, p in
            try transact(store) { tr throws(StoreError) in
                try tr.set(p["a"], b("1"))
                try tr.set(p["b"], b("2"))
            }
            try transact(store) { tr throws(StoreError) in
                #expect(s(try tr.get(p["a"], snapshot: false)) == "1")
                #expect(try tr.get(p["zz"], snapshot: false) == nil)
                try tr.clear(p["a"])
                #expect(try tr.get(p["a"], snapshot: false) == nil)
                try tr.set(p["c"], b("3"))
                #expect(s(try tr.get(p["c"], snapshot: false)) == "3")
                #expect(s(try tr.get(p["c"], snapshot: true)) == "3")   // snapshot reads see own writes too
            }
            try transact(store) { tr throws(StoreError) in
                let many = try tr.getMany([p["a"], p["b"], p["c"], p["b"], p["none"]], snapshot: false)
                #expect(many.map(s) == [nil, "2", "3", "2", nil])
                #expect(try tr.getMany([], snapshot: false).isEmpty)
            }
        },

        ConformanceCase("empty values and binary keys") { store, p in
            let key = p[[0, 1, 0, 255, 254]]
            try transact(store) { tr throws(StoreError) in try tr.set(key, []) }
            try transact(store) { tr throws(StoreError) in #expect(try tr.get(key, snapshot: false) == []) }
        },

        ConformanceCase("range reads: forward, reverse, batched, limited") { store, p in
            let names = (0..<300).map { "k" + String(1000 + $0).dropFirst() }
            try transact(store) { tr throws(StoreError) in
                for n in names { try tr.set(p[n], b("v" + n)) }
            }
            try transact(store) { tr throws(StoreError) in
                let all = try readAll(tr, p.begin, p.end)
                #expect(all.map { p.name($0.0) } == names)
                #expect(all.allSatisfy { s($0.1) == "v" + p.name($0.0) })
                #expect(try readAll(tr, p.begin, p.end, batch: 7).map { p.name($0.0) } == names)
                #expect(try readAll(tr, p.begin, p.end, reverse: true, batch: 13).map { p.name($0.0) } == names.reversed())
                let part = try readAll(tr, p["k100"], p["k200"])
                #expect(part.count == 100 && p.name(part.first!.0) == "k100" && p.name(part.last!.0) == "k199")

                let limited = try tr.getRange(.firstGreaterOrEqual(p.begin), .firstGreaterOrEqual(p.end),
                                              options: RangeOptions(limit: 3))
                #expect((1...3).contains(limited.count) && limited.more)
                let exact = try tr.getRange(.firstGreaterOrEqual(p.begin), .firstGreaterOrEqual(p.end),
                                            options: RangeOptions(limit: 3, mode: .exact))
                #expect(exact.count == 3 && exact.more)
                #expect((0..<3).map { p.name(exact.keyBytes($0)) } == ["k000", "k001", "k002"])
                let reversed = try tr.getRange(.firstGreaterOrEqual(p.begin), .firstGreaterOrEqual(p.end),
                                               options: RangeOptions(limit: 2, reverse: true, mode: .exact))
                #expect((0..<reversed.count).map { p.name(reversed.keyBytes($0)) } == ["k299", "k298"])
                let small = try tr.getRange(.firstGreaterOrEqual(p.begin), .firstGreaterOrEqual(p.end),
                                            options: RangeOptions(targetBytes: 100))
                #expect(small.count >= 1 && small.count < names.count && small.more)
                let wantAll = try tr.getRange(.firstGreaterOrEqual(p.begin), .firstGreaterOrEqual(p.end),
                                              options: RangeOptions(limit: 1000, mode: .wantAll))
                #expect(wantAll.count <= names.count && wantAll.count >= 1)
                let inverted = try tr.getRange(.firstGreaterOrEqual(p["l"]), .firstGreaterOrEqual(p["k"]),
                                               options: RangeOptions())
                #expect(inverted.isEmpty && !inverted.more)
            }
        },

        ConformanceCase("range reads merge own writes") { store, p in
            try transact(store) { tr throws(StoreError) in
                for i in stride(from: 0, to: 20, by: 2) { try tr.set(p["r\(i + 10)"], b("old")) }
            }
            try transact(store) { tr throws(StoreError) in
                try tr.set(p["r11"], b("new"))
                try tr.set(p["r12"], b("changed"))
                try tr.clear(p["r14"])
                try tr.clearRange(p["r20"], p["r25"])
                try tr.set(p["r21"], b("back"))
                try tr.atomicOp(.add, p["r28"], [1, 0, 0, 0])
                let rows = try readAll(tr, p.begin, p.end)
                #expect(rows.map { p.name($0.0) } == ["r10", "r11", "r12", "r16", "r18", "r21", "r26", "r28"])
                #expect(rows.dropLast().map { s($0.1)! } == ["old", "new", "changed", "old", "old", "back", "old"])
                // "old" widened to the operand's 4 bytes, plus 1 in the low byte.
                #expect(rows.last?.1 == [0x70, 0x6C, 0x64, 0])
                let rev = try readAll(tr, p.begin, p.end, reverse: true, batch: 2).map { p.name($0.0) }
                #expect(rev == ["r28", "r26", "r21", "r18", "r16", "r12", "r11", "r10"])
            }
            try transact(store) { tr throws(StoreError) in
                let got = try readAll(tr, p.begin, p.end).map { p.name($0.0) }
                #expect(got == ["r10", "r11", "r12", "r16", "r18", "r21", "r26", "r28"])
            }
        },

        ConformanceCase("getRanges: many first batches in one round trip, own writes merged") { store, p in
            try transact(store) { tr throws(StoreError) in
                for i in 0..<10 { try tr.set(p["a\(i)"], b("a\(i)")) }
                try tr.set(p["b0"], b("b0"))
            }
            let tr = try store.beginTransaction()
            try tr.set(p["c5"], b("own"))
            try tr.clear(p["b0"])
            let ranges = [KeyRange(p["a"], p["b"]), KeyRange(p["b"], p["c"]), KeyRange(p["c"], p["d"]),
                          KeyRange(p["z"], p["z0"])]
            let got = try tr.getRanges(ranges, options: RangeOptions(limit: 4, mode: .exact))
            #expect(got.count == 4)
            #expect((0..<got[0].count).map { p.name(got[0].keyBytes($0)) } == ["a0", "a1", "a2", "a3"] && got[0].more)
            #expect(got[1].isEmpty && !got[1].more)
            #expect(got[2].count == 1 && s(got[2].valueBytes(0)) == "own")
            #expect(got[3].isEmpty)
            #expect(tr.counters.roundTrips == 1 && tr.counters.rangeReads == 4)
            #expect(try tr.getRanges([], options: RangeOptions(limit: 4)).isEmpty)
            tr.cancel()
        },

        ConformanceCase("getRanges conflicts as each range read would") { store, p in
            let reader = try store.beginTransaction()
            let got = try reader.getRanges([KeyRange(p["u/1/"], p["u/10"]), KeyRange(p["u/2/"], p["u/20"])],
                                           options: RangeOptions(limit: 2))
            #expect(got.allSatisfy { $0.isEmpty })
            try transact(store) { tr throws(StoreError) in try tr.set(p["u/2/new"], b("row")) }
            try reader.set(p["u/1/mine"], b("row"))
            expectConflict(reader)
        },

        ConformanceCase("nearby reads: one span read, getRanges' and getMany's answers, conflicts on the ranges only") { store, p in
            try transact(store) { tr throws(StoreError) in
                for k in ["l/1/x", "l/3/y", "l/3/z", "l/5/a", "r/3", "r/4", "r/5"] { try tr.set(p[k], b(k)) }
            }
            let ranges = [KeyRange(p["l/3/"], p["l/30"]), KeyRange(p["l/1/"], p["l/10"]), KeyRange(p["l/4/"], p["l/40"])]
            func names(_ got: [KVBatch]) -> [[String]] { got.map { g in (0..<g.count).map { p.name(g.keyBytes($0)) } } }
            let reader = try store.beginTransaction()
            let got = try reader.getRangesNearby(ranges, spanLimit: 10, snapshot: false)
            #expect(names(got) == [["l/3/y", "l/3/z"], ["l/1/x"], []] && got.allSatisfy { !$0.more })
            #expect(reader.counters.rangeReads == 1 && reader.counters.roundTrips == 1)
            let second = try store.beginTransaction()
            _ = try second.getRangesNearby(ranges, spanLimit: 10, snapshot: false)
            // More pairs in the span than the limit: one request per range.
            let sparse = try store.beginTransaction()
            // (FoundationDB may answer a range in parts, `more` set.)
            let parts = try sparse.getRangesNearby(ranges, spanLimit: 2, snapshot: false)
            #expect(zip(names(parts), names(got)).allSatisfy { part, all in all.starts(with: part) })
            #expect(zip(parts, names(got)).allSatisfy { $0.more || $0.count == $1.count })
            #expect(sparse.counters.rangeReads == 4)
            sparse.cancel()
            let keys = [p["r/5"], p["r/3"], p["r/0"], p["r/5"]]
            for limit in [10, 1] {
                let r = try store.beginTransaction()
                #expect(try r.getManyNearby(keys, spanLimit: limit) == [b("r/5"), b("r/3"), nil, b("r/5")])
                r.cancel()
            }
            // A span past what the store answers at once (FoundationDB:
            // about 80 kB) is read on, still not key by key.
            try transact(store) { tr throws(StoreError) in
                for i in 0..<20 { try tr.set(p["big/\(i + 10)"], Bytes(repeating: UInt8(i), count: 10_000)) }
            }
            let wide = try store.beginTransaction()
            let bigKeys = (0..<20).map { p["big/\($0 + 10)"] }
            #expect(try wide.getManyNearby(bigKeys, spanLimit: 30) == (0..<20).map { Bytes(repeating: UInt8($0), count: 10_000) })
            #expect(wide.counters.reads == 0 && wide.counters.rangeReads < 10)
            wide.cancel()
            // Row ids close enough together to be read as a span, or not.
            #expect(nearbySpanLimit(ids: [7, 5, 9, 6]) == nearbySpanLimit(count: 4))
            #expect(nearbySpanLimit(ids: [1, 5_000]) == 0 && nearbySpanLimit(ids: [3]) == 0)
            // A write between the ranges is no conflict; one in a range is.
            try transact(store) { tr throws(StoreError) in try tr.set(p["l/2/other"], b("1")) }
            try reader.set(p["w/1"], b("1"))
            _ = try reader.commit()
            try transact(store) { tr throws(StoreError) in try tr.set(p["l/4/other"], b("1")) }
            try second.set(p["w/2"], b("1"))
            expectConflict(second)
        },

        ConformanceCase("key selectors") { store, p in
            try transact(store) { tr throws(StoreError) in
                for k in ["a", "c", "e", "g"] { try tr.set(p[k], b(k)) }
            }
            try transact(store) { tr throws(StoreError) in
                func key(_ sel: KeySelector) throws(StoreError) -> String { p.name(try tr.getKey(sel, snapshot: false)) }
                #expect(try key(.firstGreaterOrEqual(p["c"])) == "c")
                #expect(try key(.firstGreaterThan(p["c"])) == "e")
                #expect(try key(.lastLessThan(p["c"])) == "a")
                #expect(try key(.lastLessOrEqual(p["c"])) == "c")
                #expect(try key(.firstGreaterOrEqual(p["d"])) == "e")
                #expect(try key(KeySelector(key: p["a"], orEqual: false, offset: 3)) == "e")
                #expect(try key(KeySelector(key: p["g"], orEqual: true, offset: -1)) == "e")
                // Past the prefix: whatever the key space holds there, never a key of ours.
                #expect(compareBytes(try tr.getKey(.firstGreaterThan(p["g"]), snapshot: false), p.end) >= 0)
                #expect(compareBytes(try tr.getKey(.lastLessThan(p["a"]), snapshot: false), p.begin) < 0)
                // Selectors as range ends: (a, e] = c, e.
                let r = try tr.getRange(.firstGreaterThan(p["a"]), .firstGreaterThan(p["e"]), options: RangeOptions())
                #expect((0..<r.count).map { p.name(r.keyBytes($0)) } == ["c", "e"])
            }
        },

        ConformanceCase("clear a range of many keys") { store, p in
            try transact(store) { tr throws(StoreError) in
                for i in 0..<2000 { try tr.set(p["x" + String(10000 + i).dropFirst()], Bytes(repeating: 7, count: 40)) }
            }
            try transact(store) { tr throws(StoreError) in try tr.clearRange(p["x0100"], p["x1900"]) }
            try transact(store) { tr throws(StoreError) in
                let left = try readAll(tr, p.begin, p.end)
                #expect(left.count == 200)
                #expect(p.name(left[99].0) == "x0099" && p.name(left[100].0) == "x1900")
            }
        },

        ConformanceCase("atomic operations") { store, p in
            try transact(store) { tr throws(StoreError) in
                try tr.atomicOp(.add, p["n"], le(5))
                try tr.atomicOp(.add, p["n"], le(7))
                try tr.atomicOp(.max, p["mx"], le(3))
                try tr.atomicOp(.min, p["mn"], le(3))
                try tr.set(p["and"], [0b1100]); try tr.atomicOp(.bitAnd, p["and"], [0b1010])
                try tr.atomicOp(.bitOr, p["or"], [0b0101])
                try tr.set(p["xor"], [0b0110]); try tr.atomicOp(.bitXor, p["xor"], [0b0011])
                try tr.atomicOp(.appendIfFits, p["app"], b("ab"))
                try tr.atomicOp(.appendIfFits, p["app"], b("cd"))
                try tr.atomicOp(.byteMax, p["bmax"], b("m"))
                try tr.atomicOp(.byteMin, p["bmin"], b("m"))
                try tr.set(p["cac"], b("same")); try tr.atomicOp(.compareAndClear, p["cac"], b("same"))
                try tr.set(p["cak"], b("kept")); try tr.atomicOp(.compareAndClear, p["cak"], b("other"))
            }
            try transact(store) { tr throws(StoreError) in
                try tr.atomicOp(.add, p["n"], le(100))
                try tr.atomicOp(.max, p["mx"], le(9)); try tr.atomicOp(.max, p["mx"], le(4))
                try tr.atomicOp(.min, p["mn"], le(1)); try tr.atomicOp(.min, p["mn"], le(2))
                try tr.atomicOp(.byteMax, p["bmax"], b("z")); try tr.atomicOp(.byteMin, p["bmin"], b("a"))
                // Not yet committed: read-your-writes applies the pending operations.
                #expect(val(try tr.get(p["n"], snapshot: false)) == 112)
            }
            try transact(store) { tr throws(StoreError) in
                #expect(val(try tr.get(p["n"], snapshot: false)) == 112)
                #expect(val(try tr.get(p["mx"], snapshot: false)) == 9)
                #expect(val(try tr.get(p["mn"], snapshot: false)) == 1)
                #expect(try tr.get(p["and"], snapshot: false) == [0b1000])
                #expect(try tr.get(p["or"], snapshot: false) == [0b0101])
                #expect(try tr.get(p["xor"], snapshot: false) == [0b0101])
                #expect(s(try tr.get(p["app"], snapshot: false)) == "abcd")
                #expect(s(try tr.get(p["bmax"], snapshot: false)) == "z")
                #expect(s(try tr.get(p["bmin"], snapshot: false)) == "a")
                #expect(try tr.get(p["cac"], snapshot: false) == nil)
                #expect(s(try tr.get(p["cak"], snapshot: false)) == "kept")
            }
        },

        ConformanceCase("read-only commit returns -1") { store, p in
            let tr = try store.beginTransaction()
            _ = try tr.get(p["nothing"], snapshot: false)
            _ = try tr.getRange(.firstGreaterOrEqual(p.begin), .firstGreaterOrEqual(p.end), options: RangeOptions())
            #expect(try tr.commit() == -1)
        },

        ConformanceCase("commit versions increase") { store, p in
            var last: Int64 = 0
            for i in 0..<5 {
                let tr = try store.beginTransaction()
                let rv = try tr.getReadVersion()
                #expect(rv >= last)
                try tr.set(p["v\(i)"], b("x"))
                let cv = try tr.commit()
                #expect(cv > rv && cv > last)
                last = cv
            }
        },

        ConformanceCase("reset and cancel") { store, p in
            let tr = try store.beginTransaction()
            try tr.set(p["gone"], b("x"))
            tr.reset()
            #expect(try tr.commit() == -1)
            let t2 = try store.beginTransaction()
            t2.cancel()
            #expect(throws: StoreError(.transactionCancelled)) { try t2.get(p["a"], snapshot: false) }
            #expect(throws: StoreError.self) { try t2.set(p["a"], b("x")) }
            t2.reset()
            try t2.set(p["after-reset"], b("x"))
            #expect(try t2.commit() > 0)
            try transact(store) { tr throws(StoreError) in
                #expect(try tr.get(p["gone"], snapshot: false) == nil)
                #expect(s(try tr.get(p["after-reset"], snapshot: false)) == "x")
            }
        },

        ConformanceCase("counters count round trips") { store, p in
            let tr = try store.beginTransaction()
            _ = try tr.getMany([p["a"], p["b"], p["c"]], snapshot: false)
            _ = try tr.getRange(.firstGreaterOrEqual(p.begin), .firstGreaterOrEqual(p.end), options: RangeOptions())
            #expect(tr.counters.reads == 3)
            #expect(tr.counters.rangeReads == 1)
            #expect(tr.counters.roundTrips == 2)
            try tr.set(p["w"], b("12345"))
            #expect(tr.approximateSize > 0)
            _ = try tr.commit()
            #expect(tr.counters.commits == 1 && tr.counters.roundTrips == 3)
            #expect(tr.counters.bytesWritten >= Int64(p["w"].count + 5))
        },
    ]

    // MARK: serializability

    static let conflicts: [ConformanceCase] = [
        ConformanceCase("read-only: reads its snapshot as any transaction does, also after a reset") { store, p in
            try transact(store) { tr throws(StoreError) in
                try tr.set(p["a"], b("1"))
                try tr.set(p["b"], b("2"))
            }
            let r = try store.beginTransaction()
            r.readOnly()
            #expect(try r.get(p["a"], snapshot: true) == b("1"))
            _ = try r.metadataVersion(snapshot: true)
            try transact(store) { tr throws(StoreError) in try tr.set(p["a"], b("changed")) }
            #expect(try r.get(p["a"], snapshot: true) == b("1"))
            #expect(try r.getMany([p["a"], p["b"]], snapshot: true) == [b("1"), b("2")])
            #expect(try readAll(r, p["a"], p["c"]).map { $0.1 } == [b("1"), b("2")])
            // Its read conflicts still count (SELECT ... FOR UPDATE adds them).
            try r.addReadConflictRange(p["a"], p["b"])
            r.reset()
            #expect(try r.get(p["a"], snapshot: true) == b("changed"))
            r.cancel()
        },

        ConformanceCase("metadata version: changes with each bump, a read conflict unless snapshot") { store, p in
            // A real cluster's version may be anything, and other tests may bump it.
            let before = try transact(store) { tr throws(StoreError) in try tr.metadataVersion(snapshot: true) }
            try transact(store) { tr throws(StoreError) in
                try tr.set(p["ddl"], b("1"))
                try tr.bumpMetadataVersion()
            }
            let after = try transact(store) { tr throws(StoreError) in try tr.metadataVersion(snapshot: true) }
            #expect(after != nil && after != before)
            // Read it, and another commit bumps it: a conflict.
            let reader = try store.beginTransaction()
            #expect(try reader.metadataVersion(snapshot: false) == after)
            try transact(store) { tr throws(StoreError) in try tr.bumpMetadataVersion() }
            try reader.set(p["w"], b("1"))
            expectConflict(reader)
            // Read as a snapshot: no conflict.
            let snap = try store.beginTransaction()
            _ = try snap.metadataVersion(snapshot: true)
            try transact(store) { tr throws(StoreError) in try tr.bumpMetadataVersion() }
            try snap.set(p["w"], b("2"))
            #expect(try snap.commit() > 0)
        },

        ConformanceCase("read-write conflict") { store, p in
            try transact(store) { tr throws(StoreError) in try tr.set(p["x"], b("0")) }
            let t1 = try store.beginTransaction()
            _ = try t1.get(p["x"], snapshot: false)
            try transact(store) { tr throws(StoreError) in try tr.set(p["x"], b("1")) }
            try t1.set(p["y"], b("depends on x"))
            expectConflict(t1)
            #expect(t1.counters.conflicts == 1)
        },

        ConformanceCase("write skew is a conflict") { store, p in
            // Two doctors on call each check the other is, then leave: under
            // snapshot isolation both succeed; serializable must refuse one.
            try transact(store) { tr throws(StoreError) in
                try tr.set(p["oncall/alice"], b("1"))
                try tr.set(p["oncall/bob"], b("1"))
            }
            let a = try store.beginTransaction()
            let bob = try store.beginTransaction()
            #expect(try readAll(a, p["oncall/"], p["oncall0"]).count == 2)
            #expect(try readAll(bob, p["oncall/"], p["oncall0"]).count == 2)
            try a.clear(p["oncall/alice"])
            try bob.clear(p["oncall/bob"])
            #expect(try a.commit() > 0)
            expectConflict(bob)
        },

        ConformanceCase("phantom insert conflicts with a range read") { store, p in
            let reader = try store.beginTransaction()
            let seen = try readAll(reader, p["t/"], p["t0"])
            #expect(seen.isEmpty)
            try transact(store) { tr throws(StoreError) in try tr.set(p["t/new"], b("row")) }
            try reader.set(p["count"], b("\(seen.count)"))
            expectConflict(reader)
        },

        ConformanceCase("a limited range read conflicts only over what it read") { store, p in
            try transact(store) { tr throws(StoreError) in
                for i in 0..<10 { try tr.set(p["q\(i)"], b("v")) }
            }
            let t1 = try store.beginTransaction()
            let r = try t1.getRange(.firstGreaterOrEqual(p["q"]), .firstGreaterOrEqual(p["r"]),
                                    options: RangeOptions(limit: 3, mode: .exact))
            #expect(r.count == 3 && r.more)
            try transact(store) { tr throws(StoreError) in try tr.set(p["q9"], b("changed")) }
            try t1.set(p["out"], b("x"))
            #expect(try t1.commit() > 0)
        },

        ConformanceCase("blind writes never conflict") { store, p in
            let t1 = try store.beginTransaction()
            let t2 = try store.beginTransaction()
            _ = try t1.getReadVersion()
            _ = try t2.getReadVersion()
            try t1.set(p["same"], b("1"))
            try t2.set(p["same"], b("2"))
            #expect(try t2.commit() > 0)
            #expect(try t1.commit() > 0)
            try transact(store) { tr throws(StoreError) in #expect(s(try tr.get(p["same"], snapshot: false)) == "1") }
        },

        ConformanceCase("snapshot reads add no conflict") { store, p in
            let t1 = try store.beginTransaction()
            _ = try t1.get(p["k"], snapshot: true)
            _ = try t1.getRange(.firstGreaterOrEqual(p.begin), .firstGreaterOrEqual(p.end),
                                options: RangeOptions(snapshot: true))
            try transact(store) { tr throws(StoreError) in try tr.set(p["k"], b("x")) }
            try t1.set(p["other"], b("y"))
            #expect(try t1.commit() > 0)
        },

        ConformanceCase("atomic operations add no read conflict") { store, p in
            let t1 = try store.beginTransaction()
            let t2 = try store.beginTransaction()
            _ = try t1.getReadVersion(); _ = try t2.getReadVersion()
            try t1.atomicOp(.add, p["counter"], [1])
            try t2.atomicOp(.add, p["counter"], [1])
            #expect(try t1.commit() > 0)
            #expect(try t2.commit() > 0)
            try transact(store) { tr throws(StoreError) in #expect(try tr.get(p["counter"], snapshot: false) == [2]) }
        },

        ConformanceCase("a clear range conflicts with readers") { store, p in
            try transact(store) { tr throws(StoreError) in try tr.set(p["m5"], b("v")) }
            let t1 = try store.beginTransaction()
            _ = try t1.get(p["m5"], snapshot: false)
            try transact(store) { tr throws(StoreError) in try tr.clearRange(p["m"], p["n"]) }
            try t1.set(p["z"], b("w"))
            expectConflict(t1)
        },

        ConformanceCase("explicit conflict ranges") { store, p in
            let t1 = try store.beginTransaction()
            _ = try t1.getReadVersion()
            try t1.addReadConflictRange(p["lock/"], p["lock0"])
            try t1.set(p["a"], b("1"))
            try transact(store) { tr throws(StoreError) in try tr.addWriteConflictRange(p["lock/x"], p["lock/y"]) }
            expectConflict(t1)
            // A write-conflict range alone makes the commit a real one.
            let t2 = try store.beginTransaction()
            try t2.addWriteConflictRange(p["w"], keyAfter(p["w"]))
            #expect(try t2.commit() > 0)
            let t3 = try store.beginTransaction()
            #expect(throws: StoreError(.invertedRange)) { try t3.addReadConflictRange(p["b"], p["a"]) }
            #expect(throws: StoreError(.invertedRange)) { try t3.addWriteConflictRange(p["b"], p["a"]) }
        },

        ConformanceCase("own writes do not conflict with themselves") { store, p in
            let t1 = try store.beginTransaction()
            _ = try t1.get(p["self"], snapshot: false)
            try t1.set(p["self"], b("1"))
            #expect(try t1.commit() > 0)
        },

        ConformanceCase("onError retries a conflict and rethrows the rest") { store, p in
            try transact(store) { tr throws(StoreError) in try tr.set(p["balance"], b("10")) }
            let t1 = try store.beginTransaction()
            #expect(s(try t1.get(p["balance"], snapshot: false)) == "10")
            try transact(store) { tr throws(StoreError) in try tr.set(p["balance"], b("20")) }
            try t1.set(p["balance"], b("11"))
            var failure: StoreError?
            do throws(StoreError) { _ = try t1.commit() } catch { failure = error }
            #expect(failure?.knownCode == .notCommitted)
            // The retry step resets the transaction: the next attempt sees the new value.
            try t1.onError(failure ?? StoreError(.notCommitted))
            #expect(s(try t1.get(p["balance"], snapshot: false)) == "20")
            try t1.set(p["balance"], b("21"))
            #expect(try t1.commit() > 0)
            let t2 = try store.beginTransaction()
            #expect(throws: StoreError(.valueTooLarge)) { try t2.onError(StoreError(.valueTooLarge)) }
            #expect(throws: StoreError(.storeUnavailable)) { try t2.onError(StoreError(.storeUnavailable)) }
            try transact(store) { tr throws(StoreError) in #expect(s(try tr.get(p["balance"], snapshot: false)) == "21") }
        },
    ]

    // MARK: limits

    static let limits: [ConformanceCase] = [
        ConformanceCase("key limit") { store, p in
            let tr = try store.beginTransaction()
            let longest = p[Bytes(repeating: 1, count: StoreLimits.keyBytes - p.begin.count)]
            try tr.set(longest, b("ok"))
            #expect(throws: StoreError(.keyTooLarge, "Key length 10001 exceeds limit of 10000 bytes")) {
                try tr.set(longest + [1], b("x"))
            }
            // Reads never fail for a key's length (FoundationDB): a key
            // longer than any can be is absent.
            #expect(try tr.get(longest + Bytes(repeating: 1, count: 20), snapshot: false) == nil)
            _ = try tr.getRange(.firstGreaterOrEqual(longest + Bytes(repeating: 1, count: 20)),
                                .firstGreaterOrEqual(p.end), options: RangeOptions())
            #expect(try tr.commit() > 0)
            try transact(store) { t throws(StoreError) in #expect(s(try t.get(longest, snapshot: false)) == "ok") }
        },

        ConformanceCase("value limit") { store, p in
            let tr = try store.beginTransaction()
            try tr.set(p["big"], Bytes(repeating: 1, count: StoreLimits.valueBytes))
            do throws(StoreError) {
                try tr.set(p["bigger"], Bytes(repeating: 1, count: StoreLimits.valueBytes + 1))
                Issue.record("value over the limit accepted")
            } catch {
                #expect(error == StoreError(.valueTooLarge, "Value length 100001 exceeds limit of 100000 bytes"))
                #expect(!error.isRetryable)
            }
            do throws(StoreError) {
                try tr.atomicOp(.appendIfFits, p["big"], Bytes(repeating: 1, count: StoreLimits.valueBytes + 1))
                Issue.record("operand over the limit accepted")
            } catch {
                #expect(error.knownCode == .valueTooLarge)
            }
            #expect(try tr.commit() > 0)
        },

        ConformanceCase("transaction size limit") { store, p in
            let tr = try store.beginTransaction()
            let value = Bytes(repeating: 9, count: 90_000)
            for i in 0..<112 { try tr.set(p["chunk\(i)"], value) }   // about 10.1 MB
            do throws(StoreError) {
                _ = try tr.commit()
                Issue.record("a transaction over 10 MB committed")
            } catch {
                #expect(error.knownCode == .transactionTooLarge)
                #expect(!error.isRetryable)
            }
            try transact(store) { t throws(StoreError) in #expect(try t.get(p["chunk0"], snapshot: false) == nil) }
        },

        // The boundary of the size limit, exactly as FoundationDB 7.3 counts
        // (CommitSize): each case builds a transaction of 10,000,000 bytes by
        // FoundationDB's formula, which commits, and the same plus one byte,
        // which is refused — on both engines. The formula is written out here
        // from FoundationDB's source, not taken from the engine under test.
        ConformanceCase("size limit, exactly: sets") { store, p in
            try sizeBoundary(store, p) { _, _ in 0 }
        },

        ConformanceCase("size limit, exactly: read conflicts count, merged where they touch") { store, p in
            try sizeBoundary(store, p) { tr, p in
                // A point read: [k, k\0). A range read that finds nothing:
                // its whole range. Two touching range reads: one range.
                _ = try tr.get(p["r/point"], snapshot: false)
                _ = try tr.getRange(.firstGreaterOrEqual(p["r/a"]), .firstGreaterOrEqual(p["r/b"]), options: RangeOptions())
                _ = try tr.getRange(.firstGreaterOrEqual(p["r/b"]), .firstGreaterOrEqual(p["r/c"]), options: RangeOptions())
                // Reads of keys this transaction wrote add no conflict.
                try tr.set(p["r/own"], b("v"))
                _ = try tr.get(p["r/own"], snapshot: false)
                return range(p["r/point"].count, p["r/point"].count + 1) + range(p["r/a"].count, p["r/c"].count)
                    + mutation(p["r/own"].count, 1) + range(p["r/own"].count, p["r/own"].count + 1)
            }
        },

        ConformanceCase("size limit, exactly: clears, and a set that splits a cleared range") { store, p in
            try sizeBoundary(store, p) { tr, p in
                let (c0, c5, c9, d) = (p["c/0"], p["c/5"], p["c/9"], p["d"])
                try tr.set(c5, b("early"))              // removed by the clear below
                try tr.clearRange(c0, c9)
                try tr.set(c5, b("late"))               // splits the cleared range
                try tr.clear(d)
                try tr.set(p["twice"], Bytes(repeating: 1, count: 500))
                try tr.set(p["twice"], b("last"))       // only the last set counts
                return mutation(c0.count, c5.count) + mutation(c5.count + 1, c9.count) + mutation(c5.count, 4)
                    + range(c0.count, c9.count)                        // [c0, c9) covers c5's own range
                    + mutation(d.count, d.count + 1) + range(d.count, d.count + 1)
                    + mutation(p["twice"].count, 4) + range(p["twice"].count, p["twice"].count + 1)
            }
        },

        ConformanceCase("size limit: a transaction that only reads is never refused") { store, p in
            let tr = try store.beginTransaction()
            // Read 1,000 at a time: one round trip each, well within 5 s.
            let keys = (0..<40_000).map { p["read/\($0)/" + String(repeating: "x", count: 200)] }
            for i in stride(from: 0, to: keys.count, by: 1000) { _ = try tr.getMany(Array(keys[i..<(i + 1000)]), snapshot: false) }
            #expect(try tr.commit() == -1)   // over 10 MB of read conflicts
        },

        ConformanceCase("system keys are not writable, ranges not inverted") { store, p in
            let tr = try store.beginTransaction()
            #expect(throws: StoreError.self) { try tr.set([0xFF, 1], b("x")) }
            do throws(StoreError) { try tr.set([0xFF, 1], b("x")) } catch { #expect(error.knownCode == .keyOutsideLegalRange) }
            do throws(StoreError) { try tr.clear([0xFF]) } catch { #expect(error.knownCode == .keyOutsideLegalRange) }
            do throws(StoreError) { try tr.atomicOp(.add, [0xFF, 2], [1]) } catch { #expect(error.knownCode == .keyOutsideLegalRange) }
            #expect(throws: StoreError(.invertedRange)) { try tr.clearRange(p["b"], p["a"]) }
            try tr.clearRange(p["a"], p["a"])   // empty: nothing to do
            #expect(try tr.commit() == -1)
        },
    ]
}
