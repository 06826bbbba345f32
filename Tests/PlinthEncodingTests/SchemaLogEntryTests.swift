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
        // Another format version, or an id that is not an integer.
        #expect(SchemaLogEntry.decode(Tuple([.int(3), .int(1), .string("r"), .string("p"), .string("s")]).pack()) == nil)
        #expect(SchemaLogEntry.decode(Tuple([.int(1), .int(1), .string("r"), .string("p"), .string("s"), .string("x")]).pack()) == nil)
        #expect(SchemaLogEntry.decode(Tuple([.int(1), .string("1"), .string("r"), .string("p"), .string("s")]).pack()) == nil)
    }
}
