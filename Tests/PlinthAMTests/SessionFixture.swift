import Foundation
import PlinthAM
import PlinthEncoding
import PlinthStore
import PlinthTxn

/// A session on a fresh embedded store, as a backend would have it (the
/// server identity file lives beside the store).
final class SessionFixture {
    let path = NSTemporaryDirectory() + "plinth-am-test-" + UUID().uuidString
    let session = Session()

    init() throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var c = Session.Config()
        c.storePath = path + "/store"
        c.serverIDPath = path + "/plinth_server_id"
        c.storeIDPath = path + "/plinth_store_id"
        c.serverHome = "test:" + path
        c.databaseOID = 16384
        c.databaseName = "test"
        c.durable = false
        c.mapSizeBytes = 1 << 30
        session.configure(c)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Runs body in a Postgres-like transaction and commits it.
    @discardableResult
    func inTransaction<R>(_ body: (TransactionState) throws -> R) throws -> R {
        let t = try session.transaction()
        do {
            let r = try body(t)
            try session.commit()
            return r
        } catch {
            session.abort()
            throw error
        }
    }

    /// Writes raw bytes at a key, behind the access method's back (a damaged store).
    func poke(_ key: Bytes, _ value: Bytes) throws {
        try session.transact { tr throws(StoreError) in try tr.set(key, value) }
    }

    func db() throws -> Keyspace.Database { try session.db() }
}

/// A stored tuple (a heap tuple from t_infomask2 on) with one attribute and
/// `data` as its data: t_hoff 24, no nulls.
func storedTuple(_ data: Bytes) -> Bytes {
    [0x01, 0x00, 0x00, 0x00, 24, 0x00] + data
}

extension PlinthError: CustomStringConvertible {
    public var description: String { "\(sqlstate.code): \(message)" }
}
