import Foundation
import Testing
import PlinthStore
import PlinthLMDB
import PlinthTxn
import PlinthEncoding

func b(_ s: String) -> Bytes { Array(s.utf8) }
func str(_ b: Bytes?) -> String? { b.map { String(decoding: $0, as: UTF8.self) } }

final class TxnFixture {
    let path = NSTemporaryDirectory() + "plinth-txn-test-" + UUID().uuidString
    let store: LMDBStore
    init() throws {
        var o = LMDBStore.Options()
        o.durable = false
        o.mapSizeBytes = 1 << 30
        store = try LMDBStore(path: path, options: o)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }

    func seed(_ pairs: [(String, String)]) throws {
        let t = Transaction(store: store)
        for (k, v) in pairs { try t.put(b(k), b(v), cid: 0, subid: 1) }
        try t.commit()
    }
}

func scanAll(_ t: Transaction, _ vis: Visibility, _ begin: String = "", _ end: String = "\u{7f}", reverse: Bool = false) throws -> [String] {
    let it = t.scan(KeyRange(b(begin), b(end)), vis, reverse: reverse, firstBatch: 2)
    var out: [String] = []
    while let kv = try it.next({ k, v in "\(String(decoding: k, as: UTF8.self))=\(String(decoding: v, as: UTF8.self))" }) {
        out.append(kv)
    }
    return out
}

@Suite struct TransactionTests {
    @Test func statementDoesNotSeeItsOwnChanges() throws {
        let f = try TxnFixture()
        let t = Transaction(store: f.store)
        try t.put(b("a"), b("1"), cid: 0, subid: 1)
        // Command 0 wrote it: command 0 does not see it, command 1 does.
        #expect(try t.get(b("a"), .command(0)) == nil)
        #expect(str(try t.get(b("a"), .command(1))) == "1")
        #expect(str(try t.get(b("a"), .all)) == "1")
        try t.delete(b("a"), prior: b("1"), cid: 1, subid: 1)
        #expect(str(try t.get(b("a"), .command(1))) == "1")
        #expect(try t.get(b("a"), .command(2)) == nil)
        #expect(str(try t.getAnyVersion(b("a"))) == "1")
    }

    @Test func scanMergesStoreAndOwnWrites() throws {
        let f = try TxnFixture()
        try f.seed([("k1", "s1"), ("k3", "s3"), ("k5", "s5"), ("k7", "s7")])
        let t = Transaction(store: f.store)
        try t.put(b("k2"), b("b2"), cid: 1, subid: 1)       // new
        try t.put(b("k3"), b("b3"), cid: 1, subid: 1)       // replaces s3
        try t.delete(b("k5"), prior: b("s5"), cid: 1, subid: 1)
        try t.put(b("k6"), b("later"), cid: 2, subid: 1)    // invisible to command 2
        #expect(try scanAll(t, .command(2)) == ["k1=s1", "k2=b2", "k3=b3", "k7=s7"])
        #expect(try scanAll(t, .command(2), reverse: true) == ["k7=s7", "k3=b3", "k2=b2", "k1=s1"])
        #expect(try scanAll(t, .command(1)) == ["k1=s1", "k3=s3", "k5=s5", "k7=s7"])
        #expect(try scanAll(t, .all) == ["k1=s1", "k2=b2", "k3=b3", "k6=later", "k7=s7"])
        #expect(try scanAll(t, .command(2), "k2", "k6") == ["k2=b2", "k3=b3"])
    }

    @Test func insertIntoTSelectFromTDoublesOnce() throws {
        // The scan of command 1 keeps going while command 1 inserts behind
        // and ahead of it: it must return exactly the rows that existed.
        let f = try TxnFixture()
        try f.seed((0..<50).map { (String(format: "r%03d", $0 * 2), "old") })
        let t = Transaction(store: f.store)
        let it = t.scan(KeyRange(b("r"), b("s")), .command(1), firstBatch: 3)
        var seen = 0
        while let key = try it.next({ k, _ in Bytes(k) }) {
            seen += 1
            let n = Int(String(decoding: key.dropFirst(), as: UTF8.self))!
            try t.put(b(String(format: "r%03d", n + 1)), b("new"), cid: 1, subid: 1, fresh: true)
            try t.put(b(String(format: "r9%03d", n)), b("new"), cid: 1, subid: 1, fresh: true)
        }
        #expect(seen == 50)
        #expect(try scanAll(t, .command(2), "r", "s").count == 150)
    }

    @Test func savepointsUndoExactlyTheirWork() throws {
        let f = try TxnFixture()
        try f.seed([("x", "committed")])
        let t = Transaction(store: f.store)
        try t.put(b("a"), b("top"), cid: 0, subid: 1)
        // SAVEPOINT s1 (subid 2)
        try t.put(b("b"), b("in s1"), cid: 1, subid: 2)
        try t.delete(b("x"), prior: b("committed"), cid: 1, subid: 2)
        // SAVEPOINT s2 (subid 3) inside s1
        try t.put(b("c"), b("in s2"), cid: 2, subid: 3)
        try t.clearRange(KeyRange(b("a"), b("b\u{0}")), cid: 2, subid: 3)
        #expect(try scanAll(t, .command(3)) == ["c=in s2"])
        // ROLLBACK TO s2: s2's writes go, s1's stay.
        t.rollback(subid: 3)
        #expect(try scanAll(t, .command(3)) == ["a=top", "b=in s1"])
        // RELEASE s1 then roll back the parent's savepoint at subid 2 again:
        // nothing of the released work survives a rollback of its parent.
        t.release(subid: 2, to: 1)
        #expect(try scanAll(t, .command(3)) == ["a=top", "b=in s1"])
        try t.commit()
        let r = Transaction(store: f.store)
        #expect(try scanAll(r, .command(0)) == ["a=top", "b=in s1"])
    }

    @Test func rollbackToSavepointRestoresDeletedRow() throws {
        let f = try TxnFixture()
        try f.seed([("row", "v")])
        let t = Transaction(store: f.store)
        try t.delete(b("row"), prior: b("v"), cid: 0, subid: 2)
        #expect(try t.get(b("row"), .command(1)) == nil)
        t.rollback(subid: 2)
        #expect(str(try t.get(b("row"), .command(1))) == "v")
        try t.commit()
        #expect(str(try Transaction(store: f.store).get(b("row"), .all)) == "v")
    }

    @Test func truncateThenInsertInOneTransaction() throws {
        let f = try TxnFixture()
        try f.seed([("t/1", "a"), ("t/2", "b"), ("u/1", "other")])
        let t = Transaction(store: f.store)
        try t.clearRange(KeyRange(b("t/"), b("t0")), cid: 0, subid: 1)
        try t.put(b("t/3"), b("c"), cid: 1, subid: 1, fresh: true)
        #expect(try scanAll(t, .command(2)) == ["t/3=c", "u/1=other"])
        #expect(try t.get(b("t/1"), .command(2)) == nil)
        try t.commit()
        #expect(try scanAll(Transaction(store: f.store), .all) == ["t/3=c", "u/1=other"])
    }

    @Test func insertThenDeleteLeavesNoMutation() throws {
        let f = try TxnFixture()
        let t = Transaction(store: f.store)
        try t.put(b("n"), b("v"), cid: 0, subid: 1, fresh: true)
        try t.delete(b("n"), prior: nil, cid: 1, subid: 1)
        var muts = 0
        try t.buffer.finalMutations { _ throws(StoreError) in muts += 1 }
        #expect(muts == 0)
    }

    @Test func serializableAcrossTransactions() throws {
        let f = try TxnFixture()
        try f.seed([("acct/a", "100"), ("acct/b", "100")])
        let t1 = Transaction(store: f.store)
        let t2 = Transaction(store: f.store)
        _ = try scanAll(t1, .command(0), "acct/", "acct0")
        _ = try scanAll(t2, .command(0), "acct/", "acct0")
        try t1.put(b("acct/a"), b("0"), cid: 0, subid: 1)
        try t2.put(b("acct/b"), b("0"), cid: 0, subid: 1)
        try t1.commit()
        #expect(throws: StoreError(.notCommitted)) { try t2.commit() }
    }

    @Test func writeSizeLimitFailsTheWriteThatCrossesIt() throws {
        let f = try TxnFixture()
        let t = Transaction(store: f.store)
        let v = Bytes(repeating: 1, count: 90_000)
        var failedAt = -1
        for i in 0..<200 {
            do { try t.put(b("big\(i)"), v, cid: 0, subid: 1) } catch {
                #expect(error.knownCode == .transactionTooLarge)
                failedAt = i
                break
            }
        }
        #expect(failedAt > 100 && failedAt < 120)
    }

    @Test func prefetchMakesLaterReadsFree() throws {
        let f = try TxnFixture()
        try f.seed((0..<10).map { ("p\($0)", "v") })
        let t = Transaction(store: f.store)
        try t.prefetch((0..<10).map { b("p\($0)") })
        let trips = t.counters.roundTrips
        for i in 0..<10 { #expect(str(try t.get(b("p\(i)"), .command(0))) == "v") }
        #expect(t.counters.roundTrips == trips)
        #expect(trips == 1)
    }

    /// scanMany reads the first batch of every range in one round trip and
    /// then walks each range as scan would: own writes merged, by command,
    /// later batches read on demand.
    @Test func scanManyIsOneRoundTripThenScans() throws {
        let f = try TxnFixture()
        try f.seed((0..<9).map { ("a/\($0)", "s") } + [("b/1", "s"), ("c/1", "s")])
        let t = Transaction(store: f.store)
        try t.put(b("b/2"), b("own"), cid: 0, subid: 1)
        try t.delete(b("c/1"), prior: nil, cid: 0, subid: 1)
        try t.put(b("d/1"), b("later"), cid: 1, subid: 1)
        let before = t.counters.roundTrips
        let ranges = ["a/", "b/", "c/", "d/"].map { KeyRange(b($0), b(String($0.dropLast()) + "0")) }
        let its = try t.scanMany(ranges, .command(1), firstBatch: 2)
        #expect(t.counters.roundTrips == before + 1)
        func rest(_ it: ScanIterator) throws -> [String] {
            var out: [String] = []
            while let k = try it.next({ k, _ in String(decoding: k, as: UTF8.self) }) { out.append(k) }
            return out
        }
        #expect(try rest(its[1]) == ["b/1", "b/2"])
        #expect(try rest(its[2]).isEmpty)
        #expect(try rest(its[3]).isEmpty)            // written by a later command
        #expect(t.counters.roundTrips == before + 1)
        #expect(try rest(its[0]) == (0..<9).map { "a/\($0)" })   // past its first batch: more reads
        #expect(t.counters.roundTrips > before + 1)
        t.abort()
    }

    /// Ranges read ahead serve the first batch of a later scan of exactly
    /// that range: no round trip, and own writes since still merged.
    @Test func prefetchedRangesServeScans() throws {
        let f = try TxnFixture()
        try f.seed([("p/1", "a"), ("p/2", "b"), ("q/1", "c")])
        let t = Transaction(store: f.store)
        let pr = KeyRange(b("p/"), b("p0")), qr = KeyRange(b("q/"), b("q0"))
        let got = try t.prefetchRanges([pr, qr, pr], firstBatch: 4)
        #expect(got.map { $0.count } == [2, 1, 2])
        try t.put(b("p/3"), b("own"), cid: 0, subid: 1)
        let before = t.counters.roundTrips
        #expect(try scanAll(t, .command(1), "p/", "p0") == ["p/1=a", "p/2=b", "p/3=own"])
        #expect(try scanAll(t, .command(1), "q/", "q0") == ["q/1=c"])
        #expect(t.counters.roundTrips == before)
        #expect(try scanAll(t, .command(1), "p/1", "p0") == ["p/1=a", "p/2=b", "p/3=own"])   // not the same range
        // Its first batch (2 entries) reaches its limit: as on FoundationDB,
        // that says there may be more, and a second read finds none.
        #expect(t.counters.roundTrips == before + 2)
        t.abort()
    }

    /// Point reads conflict with later writes of the keys they read —
    /// present or absent — and with nothing else.
    @Test func pointReadsConflictExactly() throws {
        let f = try TxnFixture()
        try f.seed([("k/a", "1"), ("k/b", "1")])
        func race(read: String, write: String) throws -> Bool {
            let t1 = Transaction(store: f.store)
            _ = try t1.get(b(read), .command(0))
            let t2 = Transaction(store: f.store)
            try t2.put(b(write), b("2"), cid: 0, subid: 1)
            try t2.commit()
            try t1.put(b("k/out"), b("x"), cid: 0, subid: 1)
            do { try t1.commit(); return false } catch { #expect(error.knownCode == .notCommitted); return true }
        }
        #expect(try race(read: "k/a", write: "k/a"))
        #expect(try race(read: "k/zz", write: "k/zz"))      // absent when read
        #expect(try !race(read: "k/a", write: "k/b"))
        let t3 = Transaction(store: f.store)
        _ = try t3.getMany([b("k/a"), b("k/c")], .command(0))
        let t4 = Transaction(store: f.store)
        try t4.put(b("k/c"), b("new"), cid: 0, subid: 1)
        try t4.commit()
        try t3.put(b("k/out"), b("y"), cid: 0, subid: 1)
        #expect(throws: StoreError(.notCommitted)) { try t3.commit() }
    }

    /// Past the limit, a transaction's point reads widen to their parents'
    /// ranges: still conflicting with writes of what was read, and now with
    /// writes next to it; other parents stay free.
    @Test func manyPointReadsWidenToTheirParents() throws {
        let f = try TxnFixture()
        func key(_ table: Int64, _ row: Int64) -> Bytes { Tuple([.string("pl"), .int(table), .int(row)]).pack() }
        let t1 = Transaction(store: f.store)
        let n = Transaction.pointConflictLimit + 10
        try t1.prefetch((0..<Int64(n)).map { key(1, $0 * 2) })
        let t2 = Transaction(store: f.store)
        try t2.put(key(2, 5), b("other table"), cid: 0, subid: 1)
        try t2.commit()
        let t3 = Transaction(store: f.store)
        try t3.put(key(1, 1), b("between two reads"), cid: 0, subid: 1)
        try t3.commit()
        try t1.put(key(3, 0), b("x"), cid: 0, subid: 1)
        #expect(throws: StoreError(.notCommitted)) { try t1.commit() }

        let t4 = Transaction(store: f.store)
        try t4.prefetch((0..<Int64(n)).map { key(1, $0 * 2) })
        let t5 = Transaction(store: f.store)
        try t5.put(key(2, 6), b("other table"), cid: 0, subid: 1)
        try t5.commit()
        try t4.put(key(3, 1), b("x"), cid: 0, subid: 1)
        try t4.commit()
    }
}
