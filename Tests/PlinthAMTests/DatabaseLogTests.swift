import Testing
import PlinthAM
import PlinthEncoding
import PlinthStore
import PlinthTxn

/// The database log (Databases.swift) between two servers on one embedded
/// store: a database statement is logged by its commit and by nothing
/// else, a server must have applied every entry before it logs DDL of any
/// kind, two servers at once: one fails, and a schema log entry waits for
/// the database log entry its server had reached.
@Suite struct DatabaseLogTests {
    typealias Servers = SchemaLogTests.Servers

    func drop(_ s: Session, _ name: String, subid: UInt32 = 1) throws {
        try s.queueDatabaseStatement(.drop, name: name, other: "", role: "r", statement: "DROP DATABASE \(name)", subid: subid)
    }

    @Test func aCommitLogsItsStatementsAndTheOthersReadThem() throws {
        let s = try Servers()
        try drop(s.a.session, "x")
        try s.a.session.queueDatabaseStatement(.rename, name: "y", other: "z", role: "r",
                                               statement: "ALTER DATABASE y RENAME TO z", subid: 1)
        #expect(try s.a.session.logPendingDatabases() == 2)
        try s.a.session.commit()
        try s.a.session.noteDatabaseLogApplied(2)
        let entries = try s.b.databaseLogEntries(limit: 10)
        #expect(entries.map(\.seq) == [1, 2])
        #expect(entries.map(\.entry.kind) == [.drop, .rename])
        #expect(entries[1].entry.other == "z")
        #expect(try s.a.session.databaseLogEntries(limit: 10).isEmpty)
        // b applies the first: only the second is left for it.
        try s.b.noteDatabaseLogApplied(1)
        #expect(try s.b.databaseLogEntries(limit: 10).map(\.seq) == [2])
        #expect(try s.b.databaseLogPosition() == 1)
    }

    @Test func aRollbackLogsNothing() throws {
        let s = try Servers()
        try drop(s.a.session, "kept")
        try drop(s.a.session, "rolled_back", subid: 2)
        s.a.session.rollbackSchema(subid: 2)
        #expect(try s.a.session.logPendingDatabases() == 1)
        try s.a.session.commit()
        _ = try s.a.session.transaction()
        try drop(s.a.session, "aborted")
        s.a.session.abort()
        #expect(try s.b.databaseLogEntries(limit: 10).map(\.entry.name) == ["kept"])
    }

    @Test func aServerBehindCannotLogAndTwoAtOnceOneFails() throws {
        let s = try Servers()
        try drop(s.a.session, "first")
        _ = try s.a.session.logPendingDatabases()
        try s.a.session.commit()
        try s.a.session.noteDatabaseLogApplied(1)
        // b has not applied entry 1: neither its database statements nor its DDL may be logged.
        try drop(s.b, "second")
        #expect(throws: PlinthError.self) { _ = try s.b.logPendingDatabases() }
        s.b.abort()
        try s.b.queueSchemaStatement(role: "r", searchPath: "", statement: "CREATE TABLE t ()", subid: 1)
        #expect(throws: PlinthError.self) { _ = try s.b.logPendingSchema(applied: 0) }
        s.b.abort()
        try s.b.noteDatabaseLogApplied(1)
        // Both logged at their pre-commit; b commits first, a's commit fails.
        try drop(s.a.session, "from_a")
        _ = try s.a.session.logPendingDatabases()
        try drop(s.b, "from_b")
        #expect(try s.b.logPendingDatabases() == 2)
        try s.b.commit()
        #expect(throws: PlinthError.self) { try s.a.session.commit() }
        s.a.session.abort()
        #expect(try s.a.session.databaseLogEntries(limit: 10).map(\.entry.name) == ["from_b"])
    }

    @Test func aSchemaEntryWaitsForTheDatabaseEntryItsServerHad() throws {
        let s = try Servers()
        try drop(s.a.session, "d")
        _ = try s.a.session.logPendingDatabases()
        try s.a.session.commit()
        try s.a.session.noteDatabaseLogApplied(1)
        try s.a.session.queueSchemaStatement(role: "r", searchPath: "", statement: "CREATE TABLE t ()", subid: 1)
        _ = try s.a.session.logPendingSchema(applied: 0)
        try s.a.session.commit()
        // b has not applied database log entry 1: the schema entry is held back.
        #expect(try s.b.schemaLogEntries(after: 0, limit: 10).isEmpty)
        try s.b.noteDatabaseLogApplied(1)
        let entries = try s.b.schemaLogEntries(after: 0, limit: 10)
        #expect(entries.map(\.entry.statement) == ["CREATE TABLE t ()"])
        #expect(entries[0].entry.databaseLogPosition == 1)
    }

    @Test func aNewDatabaseIsOneIdOnEveryServer() throws {
        let s = try Servers()
        // a creates "fresh" (its template has no Plinth data); b's replay maps its own OID to the same id.
        _ = try s.a.session.transaction()
        try s.a.session.createDatabase(30001, name: "fresh", template: 1, templateName: "template1", role: "r",
                                       statement: "CREATE DATABASE fresh", cid: 0, subid: 1)
        #expect(try s.a.session.logPendingDatabases() == 1)
        try s.a.session.commit()
        let entry = try #require(try s.b.databaseLogEntries(limit: 10).first)
        #expect(entry.entry.kind == .create && entry.entry.databaseID > 0)
        _ = try s.b.transaction()
        try s.b.replayCreateDatabase(seq: entry.seq, oid: 40001, template: 1, cid: 0, subid: 1)
        try s.b.commit()
        let ids = try s.a.inTransaction { t in
            try [Keyspace.databaseKey(server: s.a.session.server(), oid: 30001),
                 Keyspace.databaseKey(server: s.b.server(), oid: 40001),
                 Keyspace.databaseNameKey("fresh")].map { k in try t.txn.get(k, .all).flatMap(StoredInt.decode) }
        }
        #expect(ids == [entry.entry.databaseID, entry.entry.databaseID, entry.entry.databaseID])
    }
}
