import Foundation
import Testing
import PlinthAM
import PlinthEncoding
import PlinthStore

/// A data directory remembers the store its Plinth tables are in
/// (`plinth_store_id`); pointed at another — the embedded store's directory
/// removed, a cluster cleared — the server refuses it rather than make an
/// empty one and find its tables without rows.
@Suite struct StoreIdentityTests {
    /// A second session of the fixture's server, on the store at `storePath`.
    func session(_ f: SessionFixture, storePath: String) -> Session {
        let s = Session()
        var c = f.session.config
        c.storePath = storePath
        s.configure(c)
        return s
    }

    @Test func anotherStoreIsRefusedUntilTheRecordIsRemoved() throws {
        let f = try SessionFixture()
        try f.inTransaction { _ in }
        let recorded = try #require(FileManager.default.contents(atPath: f.path + "/plinth_store_id"))
        let identity = try f.session.transact { tr throws(StoreError) in try tr.get(Keyspace.storeIdentityKey, snapshot: true) }
        #expect(identity.map { Data($0.prefix(16)) } == recorded)

        // The store's directory gone: a new, empty one would be made there.
        let other = session(f, storePath: f.path + "/store-wiped")
        do {
            _ = try other.openStore()
            Issue.record("a store other than the recorded one was used")
        } catch {
            #expect(error.sqlstate == .objectNotInPrerequisiteState)
            #expect(error.message == "this server's Plinth tables are in another store")
            #expect(error.detail?.contains("s ago (a store found missing is made empty)") == true, "\(error)")
            #expect(error.hint?.contains("plinth_store_id") == true)
        }
        // Refused again (the new store now has an identity of its own).
        #expect(throws: PlinthError.self) { _ = try session(f, storePath: f.path + "/store-wiped").openStore() }

        // The operator chose the new store: removing the record adopts it.
        try FileManager.default.removeItem(atPath: f.path + "/plinth_store_id")
        let adopted = session(f, storePath: f.path + "/store-wiped")
        _ = try adopted.openStore()
        #expect(FileManager.default.contents(atPath: f.path + "/plinth_store_id") != recorded)
    }
}
