import Testing
import PlinthEncoding

/// Schema log entries (SchemaLog.swift) are read back by every server
/// sharing the store: they round-trip exactly, and anything else decodes
/// to nil rather than trapping.
@Suite struct SchemaLogEntryTests {
    @Test func roundTrips() {
        for e in [SchemaLogEntry(origin: 3, role: "app", searchPath: "\"$user\", public",
                                 statement: "CREATE TABLE t (x int PRIMARY KEY)", storeIDs: [17, 18]),
                  SchemaLogEntry(origin: 1, role: "ü", searchPath: "", statement: "COMMENT ON TABLE t IS 'é\u{0}'",
                                 storeIDs: []),
                  SchemaLogEntry(origin: 4, role: "r", searchPath: "p", statement: "CREATE TABLE u ()", storeIDs: [9],
                                 databaseLogPosition: 12, typeIDs: [21, 22]),
                  // Format 3: logged before types took portable ids.
                  SchemaLogEntry(origin: 4, role: "r", searchPath: "p", statement: "CREATE TYPE e AS ENUM ('a')",
                                 storeIDs: [], databaseLogPosition: 12, typeIDs: nil),
                  // Format 1: logged before sequences took store ids.
                  SchemaLogEntry(origin: 2, role: "r", searchPath: "p", statement: "CREATE SEQUENCE s", storeIDs: [],
                                 sequencesLogged: false)] {
            #expect(SchemaLogEntry.decode(e.encoded) == e)
        }
    }

    @Test func refusesWhatIsNotAnEntry() {
        let good = SchemaLogEntry(origin: 1, role: "r", searchPath: "p", statement: "s", storeIDs: [5]).encoded
        #expect(SchemaLogEntry.decode([]) == nil)
        #expect(SchemaLogEntry.decode(Array(good.dropLast())) == nil)
        // Another format version, format 3 or 4 without its database log
        // position, format 4 without its type ids, or an id that is not
        // an integer.
        #expect(SchemaLogEntry.decode(Tuple([.int(5), .int(1), .string("r"), .string("p"), .string("s"), .int(0)]).pack()) == nil)
        #expect(SchemaLogEntry.decode(Tuple([.int(4), .int(1), .string("r"), .string("p"), .string("s")]).pack()) == nil)
        #expect(SchemaLogEntry.decode(Tuple([.int(4), .int(1), .string("r"), .string("p"), .string("s"), .int(0), .int(3)]).pack()) == nil)
        #expect(SchemaLogEntry.decode(Tuple([.int(4), .int(1), .string("r"), .string("p"), .string("s"), .int(0),
                                             .tuple([.string("x")])]).pack()) == nil)
        #expect(SchemaLogEntry.decode(Tuple([.int(3), .int(1), .string("r"), .string("p"), .string("s")]).pack()) == nil)
        #expect(SchemaLogEntry.decode(Tuple([.int(1), .int(1), .string("r"), .string("p"), .string("s"), .string("x")]).pack()) == nil)
        #expect(SchemaLogEntry.decode(Tuple([.int(1), .string("1"), .string("r"), .string("p"), .string("s")]).pack()) == nil)
    }

    /// Format 2 (before the database log) reads as position 0: replayed at once.
    @Test func readsFormat2() {
        let old = Tuple([.int(2), .int(1), .string("r"), .string("p"), .string("s"), .int(7)]).pack()
        #expect(SchemaLogEntry.decode(old) == SchemaLogEntry(origin: 1, role: "r", searchPath: "p", statement: "s", storeIDs: [7],
                                                             typeIDs: nil))
    }
}

/// Database log entries (DatabaseLog.swift): the same contract.
@Suite struct DatabaseLogEntryTests {
    @Test func roundTrips() {
        for e in [DatabaseLogEntry(kind: .create, origin: 2, role: "app", statement: "CREATE DATABASE \"ü\" TEMPLATE src",
                                   name: "ü", other: "src", databaseID: 41, templatePosition: 7),
                  DatabaseLogEntry(kind: .drop, origin: 1, role: "r", statement: "DROP DATABASE x", name: "x"),
                  DatabaseLogEntry(kind: .rename, origin: 1, role: "r", statement: "ALTER DATABASE a RENAME TO b",
                                   name: "a", other: "b"),
                  DatabaseLogEntry(kind: .alter, origin: 3, role: "", statement: "", name: "")] {
            #expect(DatabaseLogEntry.decode(e.encoded) == e)
        }
    }

    @Test func refusesWhatIsNotAnEntry() {
        let good = DatabaseLogEntry(kind: .drop, origin: 1, role: "r", statement: "s", name: "n").encoded
        #expect(DatabaseLogEntry.decode([]) == nil)
        #expect(DatabaseLogEntry.decode(Array(good.dropLast())) == nil)
        let fields: [TupleElement] = [.int(1), .string("r"), .string("s"), .string("n"), .string(""), .int(0), .int(0)]
        // Another format, an unknown kind, a field of the wrong type or one too many.
        #expect(DatabaseLogEntry.decode(Tuple([.int(2), .int(1)] + fields).pack()) == nil)
        #expect(DatabaseLogEntry.decode(Tuple([.int(1), .int(9)] + fields).pack()) == nil)
        #expect(DatabaseLogEntry.decode(Tuple([.int(1), .string("1")] + fields).pack()) == nil)
        #expect(DatabaseLogEntry.decode(Tuple([.int(1), .int(1)] + fields + [.int(0)]).pack()) == nil)
    }
}
