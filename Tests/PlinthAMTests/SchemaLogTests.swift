import Testing
import PlinthAM
import PlinthEncoding
import PlinthStore
import PlinthTxn

/// The schema log (SchemaLog.swift) between two servers on one embedded
/// store: what a commit logs, what a rollback does not, how two servers'
/// DDL at once is refused, and what a replay writes.
@Suite struct SchemaLogTests {
    /// Two servers (two identities) on one store, each with its own
    /// database OID for a database of one name.
    final class Servers {
        let a: SessionFixture
        let b = Session()

        init() throws {
            a = try SessionFixture()
            var c = a.session.config
            c.serverIDPath = a.path + "/b_server_id"
            c.serverHome = "test-b:" + a.path
            c.databaseOID = 20000
            b.configure(c)
            try b.useStore(of: a.session)
        }
    }

    func log(_ s: Session, _ statement: String, applied: Int64) throws -> Int64 {
        try s.queueSchemaStatement(role: "r", searchPath: "public", statement: statement, subid: 1)
        let seq = try s.logPendingSchema(applied: applied)
        try s.commit()
        return seq
    }

    @Test func databasesOfOneNameAreOne() throws {
        let s = try Servers()
        #expect(try s.a.session.db().id == s.b.db().id)
        #expect(try s.a.session.server() != s.b.server())
    }

    @Test func aCommitLogsItsStatementsInOrder() throws {
        let s = try Servers()
        s.a.session.beginSchemaStatement()
        let id = try s.a.session.createStorage(relfilenode: 500, replacing: 0, cid: 0, subid: 1)
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "public", statement: "CREATE TABLE t ()", subid: 1)
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "public", statement: "COMMENT ON TABLE t IS 'x'", subid: 2)
        #expect(try s.a.session.logPendingSchema(applied: 0) == 2)
        try s.a.session.commit()
        let entries = try s.b.schemaLogEntries(after: 0, limit: 10)
        #expect(entries.map(\.seq) == [1, 2])
        #expect(entries.map(\.entry.statement) == ["CREATE TABLE t ()", "COMMENT ON TABLE t IS 'x'"])
        #expect(entries[0].entry.storeIDs == [id])
        #expect(entries[1].entry.storeIDs == [])
        #expect(try s.b.schemaLogEntries(after: 2, limit: 10).isEmpty)
        #expect(try s.b.schemaLogEntries(after: Int64.max, limit: 10).isEmpty)
    }

    @Test func aRollbackLogsNothing() throws {
        let s = try Servers()
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "kept", subid: 1)
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "rolled back", subid: 2)
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "rolled back too", subid: 3)
        s.a.session.releaseSchema(subid: 3, to: 2)
        s.a.session.rollbackSchema(subid: 2)
        #expect(try s.a.session.logPendingSchema(applied: 0) == 1)
        try s.a.session.commit()
        _ = try s.a.session.transaction()
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "aborted", subid: 1)
        s.a.session.abort()
        #expect(try s.b.schemaLogEntries(after: 0, limit: 10).map(\.entry.statement) == ["kept"])
    }

    @Test func twoServersAtOnceOneFails() throws {
        let s = try Servers()
        // a has logged (at its pre-commit) but not committed; b commits first.
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "from a", subid: 1)
        #expect(try s.a.session.logPendingSchema(applied: 0) == 1)
        #expect(try log(s.b, "from b", applied: 0) == 1)
        #expect(throws: PlinthError.self) { try s.a.session.commit() }
        s.a.session.abort()
        // A server that has not applied b's entry may not log after it.
        let e = #expect(throws: PlinthError.self) { try log(s.a.session, "again", applied: 0) }
        #expect(e?.sqlstate == .serializationFailure)
        s.a.session.abort()
        #expect(try log(s.a.session, "again", applied: 1) == 2)
        #expect(try s.b.schemaLogEntries(after: 0, limit: 10).map(\.entry.statement) == ["from b", "again"])
    }

    @Test func aReplayTakesTheLoggedIdsAndWritesNoData() throws {
        let s = try Servers()
        s.a.session.beginSchemaStatement()
        let id = try s.a.session.createStorage(relfilenode: 700, replacing: 0, cid: 0, subid: 1)
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "CREATE TABLE t ()", subid: 1)
        let seq = try s.a.session.logPendingSchema(applied: 0)
        try s.a.session.commit()
        let row = storedTuple([42])
        try s.a.inTransaction { t in
            _ = try row.withUnsafeBytes { try t.insert(table: id, tuple: $0, cid: 0, subid: 1, xid: 10) }
        }
        let rowsBefore = try s.a.session.statistics(id).rows

        // b replays: its own relfilenode maps to a's store id, and what the
        // statement writes to the table stays out of the store.
        _ = try s.b.beginReplay(seq: seq)
        #expect(try s.b.createStorage(relfilenode: 900, replacing: 0, cid: 0, subid: 1) == id)
        #expect(throws: PlinthError.self) { try s.b.createStorage(relfilenode: 901, replacing: 0, cid: 0, subid: 1) }
        let t = try s.b.transaction()
        _ = try row.withUnsafeBytes { try t.insert(table: id, tuple: $0, cid: 0, subid: 1, xid: 11) }
        try s.b.commit()
        s.b.endReplay()
        #expect(try s.b.storeID(relfilenode: 900) == id)
        #expect(try s.b.statistics(id).rows == rowsBefore)
        let (begin, end) = Keyspace.prefixRange(try s.a.db().rowPrefix(id))
        let stored = try s.a.session.transact { tr throws(StoreError) in
            try tr.getRange(.firstGreaterOrEqual(begin), .firstGreaterOrEqual(end),
                            options: RangeOptions(limit: 100, snapshot: true)).count
        }
        #expect(stored == 1)
    }

    /// A writer on b that began before a's DDL on its table commits after
    /// it: it fails unless b's catalog had the change (DefinitionGuard).
    @Test func aWriterThatMissedAnotherServersDDLFails() throws {
        let s = try Servers()
        s.a.session.beginSchemaStatement()
        let id = try s.a.session.createStorage(relfilenode: 600, replacing: 0, cid: 0, subid: 1)
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "CREATE TABLE t ()", subid: 1)
        #expect(try s.a.session.logPendingSchema(applied: 0) == 1)
        try s.a.session.commit()
        _ = try s.b.beginReplay(seq: 1)
        _ = try s.b.createStorage(relfilenode: 800, replacing: 0, cid: 0, subid: 1)
        try s.b.commit()
        s.b.endReplay()
        let before = try s.a.session.transact { tr throws(StoreError) in try tr.metadataVersion(snapshot: true) }

        // b, whose catalog is current as of `before`, writes t.
        var applied: Int64 = 1
        s.b.schemaCurrentThrough = { before ?? 0 }
        s.b.localSchemaPosition = { applied }
        func write(_ xid: UInt32) throws {
            let t = try s.b.transaction()
            _ = try storedTuple([1]).withUnsafeBytes { try t.insert(table: id, tuple: $0, cid: 0, subid: 1, xid: xid) }
        }
        // No DDL since: the commit reads no stamp.
        try write(20)
        s.b.statementStarted()
        try s.b.commit()
        #expect(s.b.lastStatement.reads == 0)

        // a changes t (entry 2) while b's transaction runs.
        try write(21)
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "ALTER TABLE t ADD CHECK (false)", subid: 1)
        #expect(try s.a.session.logPendingSchema(applied: 1, stamping: [600]) == 2)
        try s.a.session.commit()
        let e = #expect(throws: PlinthError.self) { try s.b.commit() }
        #expect(e?.sqlstate == .serializationFailure)
        #expect(e?.message.contains("schema change") == true)
        s.b.abort()

        // Once b's catalog has entry 2, its writers commit (the stamp is read).
        applied = 2
        try write(22)
        s.b.statementStarted()
        try s.b.commit()
        #expect(s.b.lastStatement.reads == 1)

        // A writer of another table is not held up by t's stamp.
        s.a.session.beginSchemaStatement()
        let other = try s.a.session.createStorage(relfilenode: 601, replacing: 0, cid: 0, subid: 1)
        try s.a.session.commit()
        applied = 1
        let t = try s.b.transaction()
        _ = try storedTuple([1]).withUnsafeBytes { try t.insert(table: other, tuple: $0, cid: 0, subid: 1, xid: 23) }
        try s.b.commit()
    }

    /// Storage a TRUNCATE or rewrite dropped is stamped: a writer that
    /// still uses it fails.
    @Test func droppedStorageIsStamped() throws {
        let s = try Servers()
        let old = try s.a.session.createStorage(relfilenode: 610, replacing: 0, cid: 0, subid: 1)
        try s.a.session.commit()
        s.b.schemaCurrentThrough = { nil }
        s.b.localSchemaPosition = { 0 }
        let t = try s.b.transaction()
        _ = try storedTuple([1]).withUnsafeBytes { try t.insert(table: old, tuple: $0, cid: 0, subid: 1, xid: 30) }

        s.a.session.beginSchemaStatement()
        _ = try s.a.session.createStorage(relfilenode: 611, replacing: 610, cid: 0, subid: 1)
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "TRUNCATE t", subid: 1)
        #expect(try s.a.session.logPendingSchema(applied: 0) == 1)
        try s.a.session.commit()
        let e = #expect(throws: PlinthError.self) { try s.b.commit() }
        #expect(e?.sqlstate == .serializationFailure)
        s.b.abort()
    }
}
