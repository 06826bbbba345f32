import Testing
import PlinthAM
import PlinthEncoding
import PlinthStore
import PlinthTxn

/// Index entries, uniqueness checks that wait for their statement's end,
/// and scans, on the embedded store.
@Suite struct IndexTests {
    let column = IndexKey.Column(descending: false, nullsFirst: false)

    func index(_ id: Int64, unique: Bool = true) -> IndexDescriptor {
        IndexDescriptor(index: id, table: 100, columns: [column], unique: unique, nullsNotDistinct: false, oid: 5000)
    }

    /// A minimal index tuple (8-byte header, size in t_info) for row `row`.
    func indexTuple() -> Bytes { [0, 0, 0, 0, 0, 0, 16, 0] + Bytes(repeating: 0, count: 8) }

    func insert(_ t: TransactionState, _ d: IndexDescriptor, _ v: IndexKey.Value, row: Int64,
                check: UniqueCheckKind = .yes, depth: Int32 = 1) throws -> (conflict: Bool, violation: UniqueViolation?) {
        let tuple = indexTuple()
        let r = try tuple.withUnsafeBytes {
            try t.insertEntry(d, columns: IndexKey.encode([v], [column]), hasNull: false, row: row, tuple: $0,
                              check: check, depth: depth, building: false, cid: 0, lockContext: lockContext)
        }
        return (r.conflict, r.checks.violation)
    }

    let lockContext = LockContext(subid: 1, waitXid: 100, topXid: 100)

    func rows(_ f: SessionFixture, _ d: IndexDescriptor, _ keys: [ScanKeySpec]) throws -> [Int64] {
        try f.inTransaction { _ in
            let scan = try IndexScan(f.session, d, .everyOwnWrite, keys: keys, prefetchRows: false)
            var out: [Int64] = []
            while try scan.next(forward: true, { r, _ in out.append(r) }) {}
            return out
        }
    }

    @Test func duplicateIsFoundWhenTheStatementEnds() throws {
        let f = try SessionFixture()
        let d = index(1)
        let t = try f.session.transaction()
        // Two rows of a statement at depth 1 with one key: nothing is read yet.
        #expect(try insert(t, d, .int(7), row: 1).violation == nil)
        #expect(try insert(t, d, .int(7), row: 2).violation == nil)
        // A nested statement's end (depth 2) does not run its caller's checks.
        #expect(try t.statementEvent(.executorFinished(depth: 1), lockContext).violation == nil)
        // The statement's own end does, before its AFTER triggers.
        let v = try t.statementEvent(.executorFinishing(depth: 0), lockContext).violation
        #expect(v?.indexOID == 5000)
        #expect(v?.tuple.count == 16)
        f.session.abort()
    }

    @Test func rowsOfAnUpdateAreCheckedAtOnce() throws {
        let f = try SessionFixture()
        let d = index(2)
        try f.inTransaction { t in _ = try insert(t, d, .int(1), row: 1) }
        let t = try f.session.transaction()
        // The new version of a row an UPDATE moved to row id 2.
        let tuple = storedTuple([1])
        let newRow = try tuple.withUnsafeBytes { try t.insert(table: 100, tuple: $0, cid: 0, subid: 1, xid: 1, forUpdate: true) }
        #expect(try insert(t, d, .int(1), row: newRow).conflict)
        f.session.abort()
    }

    @Test func statementWorkIsDueWhereItBelongs() throws {
        let f = try SessionFixture()
        let t = try f.session.transaction()
        // Nothing waits: nothing is due.
        #expect(t.work.due(at: .preCommit) == StatementWork.Due())
        _ = try insert(t, index(3), .int(1), row: 1, depth: 2)
        #expect(t.work.due(at: .executorFinishing(depth: 1)).uniqueChecksFrom == 2)
        #expect(t.work.due(at: .utilityFinished(depth: 0)).uniqueChecksFrom == 1)
        #expect(t.work.due(at: .indexBuilt(depth: 2)).uniqueChecksFrom == 2)
        #expect(t.work.due(at: .preCommit).uniqueChecksFrom == 0)
        #expect(t.work.due(at: .copyBatch).uniqueChecksFrom == nil)
        f.session.abort()
    }

    @Test func searchValuesLongerThanAnyKeyFindNothing() throws {
        let f = try SessionFixture()
        let d = index(4, unique: false)
        let long = Bytes(repeating: UInt8(ascii: "x"), count: 20_000)
        try f.inTransaction { t in
            _ = try insert(t, d, .bytes(Array("a".utf8)), row: 1, check: .no)
            _ = try insert(t, d, .bytes(Array("y".utf8)), row: 2, check: .no)
        }
        // = a value no entry can hold: no rows, no error (heap returns none).
        #expect(try rows(f, d, [ScanKeySpec(column: 0, kind: .compare(strategy: 3, values: [.bytes(long)]))]) == [])
        // > and < the long value: the range is read clamped, filtered exactly.
        #expect(try rows(f, d, [ScanKeySpec(column: 0, kind: .compare(strategy: 5, values: [.bytes(long)]))]) == [2])
        #expect(try rows(f, d, [ScanKeySpec(column: 0, kind: .compare(strategy: 1, values: [.bytes(long)]))]) == [1])
        // An IN list with a long value finds the short one.
        #expect(try rows(f, d, [ScanKeySpec(column: 0, kind: .compare(strategy: 3, values: [.bytes(long), .bytes(Array("y".utf8))]))]) == [2])
    }

    @Test func damagedEntryIsCorrupt() throws {
        let f = try SessionFixture()
        let d = index(5, unique: false)
        try f.inTransaction { t in _ = try insert(t, d, .int(1), row: 1, check: .no) }
        var key = try f.db().indexPrefix(5) + IndexKey.encode([.int(1)], [column])
        TupleEncoder.appendInt(1, to: &key)
        try f.poke(key, [1, 2, 3])
        #expect { _ = try rows(f, d, []) } throws: { e in (e as? PlinthError)?.sqlstate == .dataCorrupted }
    }
}
