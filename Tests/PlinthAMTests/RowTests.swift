import Testing
import PlinthAM
import PlinthEncoding
import PlinthStore
import PlinthTxn

/// Rows in the store: written and read back whole or split, and every
/// damaged value reported as corrupt (XX001, naming the key), never a trap.
@Suite struct RowTests {
    func insert(_ f: SessionFixture, table: Int64, _ tuple: Bytes) throws -> Int64 {
        try f.inTransaction { t in
            try tuple.withUnsafeBytes { try t.insert(table: table, tuple: $0, cid: 0, subid: 1, xid: 700) }
        }
    }

    func fetch(_ f: SessionFixture, table: Int64, _ row: Int64) throws -> Bytes? {
        try f.inTransaction { t in
            let buffer = RowBuffer()
            guard let r = try t.fetch(table: table, row: row, .everyOwnWrite, into: buffer) else { return nil }
            return Bytes(UnsafeRawBufferPointer(start: r.data! + RowFormat.omittedHeaderBytes,
                                                count: r.length - RowFormat.omittedHeaderBytes))
        }
    }

    @Test func inlineAndSplitRowsReadBack() throws {
        let f = try SessionFixture()
        let small = storedTuple(Array("hello".utf8))
        let large = storedTuple(Bytes((0..<250_000).map { UInt8(truncatingIfNeeded: $0 * 7) }))
        let a = try insert(f, table: 7, small)
        let b = try insert(f, table: 7, large)
        #expect(try fetch(f, table: 7, a) == small)
        #expect(try fetch(f, table: 7, b) == large)
        // A scan returns both, in row id order.
        let rows = try f.inTransaction { t in
            let scan = try TableScan(f.session, table: 7, .everyOwnWrite, low: -1, high: -1, reverse: false)
            var out: [Int] = []
            var r = LoadedRow.none
            while try scan.next(&r) { out.append(r.length - RowFormat.omittedHeaderBytes) }
            return out
        }
        #expect(rows == [small.count, large.count])
    }

    /// Damaged row values: a read of each must say the row is corrupt.
    static let damaged: [(String, Bytes)] = {
        var cases: [(String, Bytes)] = []
        cases.append(("empty value", []))
        cases.append(("unknown tag", [9, 1, 2, 3]))
        cases.append(("inline too short", [0, 1, 2]))
        cases.append(("inline header misaligned", [0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 23, 0x00, 1]))
        cases.append(("inline header past the end", [0, 0, 0, 0, 0, 0x01, 0x00, 0x00, 0x00, 248, 0x00]))
        cases.append(("split header: 4 billion chunks", [1, 0xA0, 0x86, 0x01, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]))
        cases.append(("split header: 4 GB tuple", [1, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0xAE, 0, 0, 0, 0, 0, 0]))
        cases.append(("split header: too short to split", [1, 10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]))
        return cases
    }()

    @Test(arguments: damaged)
    func damagedRowIsCorrupt(_ what: String, _ value: Bytes) throws {
        let f = try SessionFixture()
        let row = try insert(f, table: 9, storedTuple([1, 2, 3]))
        try f.poke(try f.db().rowKey(9, row), value)
        do {
            _ = try fetch(f, table: 9, row)
            Issue.record("\(what): read without an error")
        } catch let e as PlinthError {
            #expect(e.sqlstate == .dataCorrupted, "\(what): \(e)")
            #expect(e.message.contains("row \(row) of store table 9"), "\(what): \(e)")
        }
    }

    @Test func damagedChunkIsCorrupt() throws {
        let f = try SessionFixture()
        let row = try insert(f, table: 11, storedTuple(Bytes(repeating: 5, count: 150_000)))
        // Chunk 1 loses a byte.
        try f.poke(try f.db().chunkKey(11, row, 1), [RowFormat.chunk] + Bytes(repeating: 5, count: 10))
        do {
            _ = try fetch(f, table: 11, row)
            Issue.record("a short chunk was read without an error")
        } catch let e as PlinthError {
            #expect(e.sqlstate == .dataCorrupted)
            #expect(e.message.contains("chunk 1 of row \(row)"))
        }
    }

    @Test func rowIDsEndWithAnErrorNotAWrongTID() throws {
        let f = try SessionFixture()
        // The allocator of table 12 near the end of the id space.
        try f.poke(try f.db().rowIdKey(12), StoredInt.encode(RowIDs.maximum - 2))
        var last: Int64 = -1
        do {
            for _ in 0..<10 { last = try insert(f, table: 12, storedTuple([1])) }
            Issue.record("row ids past the maximum were handed out")
        } catch let e as PlinthError {
            #expect(e.sqlstate == .programLimitExceeded)
            #expect(e.message.contains("used up its row ids"))
        }
        #expect(last == RowIDs.maximum)
        // The TID of the last id is valid: block 0xFFFFFFFE, offset 256.
        #expect(RowIDs.maximum / RowIDs.perBlock == 0xFFFF_FFFE)
        #expect(RowIDs.maximum % RowIDs.perBlock + 1 == 256)
    }

    @Test func damagedAllocatorIsCorrupt() throws {
        let f = try SessionFixture()
        try f.poke(try f.db().rowIdKey(13), [1, 2, 3])
        #expect { _ = try insert(f, table: 13, storedTuple([1])) } throws: { e in
            (e as? PlinthError)?.sqlstate == .dataCorrupted
        }
        try f.poke(try f.db().rowIdKey(14), StoredInt.encode(-5))
        #expect { _ = try insert(f, table: 14, storedTuple([1])) } throws: { e in
            (e as? PlinthError)?.sqlstate == .dataCorrupted
        }
    }

    @Test func statisticsCountersSaturate() throws {
        let f = try SessionFixture()
        let db = try f.db()
        try f.session.transact { tr throws(StoreError) in
            try tr.set(db.statsKey(15, shard: 0, field: .rows), StoredInt.encode(.max))
            try tr.set(db.statsKey(15, shard: 1, field: .rows), StoredInt.encode(.max))
            try tr.set(db.statsKey(15, shard: 2, field: .bytes), [1, 2])   // damaged: skipped
        }
        let (rows, bytes) = try f.session.statistics(15)
        #expect(rows == .max)
        #expect(bytes == 0)
    }
}
