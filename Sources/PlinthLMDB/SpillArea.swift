import CLMDB
import PlinthStore
#if canImport(Glibc)
import Glibc
#endif

/// A transaction's spilled writes (`SpillArea`): a private LMDB
/// environment in a directory of its own, never flushed, removed when the
/// transaction's buffer lets it go. Keys of any length the store allows
/// (LongKeys' buckets, as in the store itself).
///
/// Name the directory `pgsql_tmp...` under a Postgres temporary directory:
/// Postgres removes what a crash left there when it restarts.
public final class LMDBSpillArea: SpillArea {
    private let env: LMDBEnvironment
    private let directory: String
    private var dbi: MDB_dbi { env.databases[0] }
    /// Read transaction for lookups, renewed after each put.
    private var reader: LMDBTxn?
    private var readerCurrent = false
    public private(set) var puts = 0

    public init(directory: String) throws(StoreError) {
        self.directory = directory
        do {
            env = try LMDBEnvironment(path: directory, mapSizeBytes: 1 << 40, maxReaders: 4,
                                      flags: UInt32(MDB_NOSYNC) | UInt32(MDB_NOMETASYNC), databases: ["spill"])
        } catch {
            Self.remove(directory)
            throw Self.explained(error, directory)
        }
    }

    deinit {
        reader?.abort()
        // Unlinked while open: the space is freed when the environment
        // closes (after this body).
        Self.remove(directory)
    }

    private static func remove(_ directory: String) {
        unlink(directory + "/data.mdb")
        unlink(directory + "/lock.mdb")
        rmdir(directory)
    }

    private static func explained(_ e: StoreError, _ directory: String) -> StoreError {
        StoreError(code: e.code, message: "could not spill a transaction's writes to \(directory): \(e.message)")
    }

    public func put(_ items: [(key: Bytes, value: Bytes)]) throws(StoreError) {
        guard !items.isEmpty else { return }
        readerCurrent = false
        reader?.reset()
        do throws(StoreError) {
            let w = try env.beginWrite()
            do throws(StoreError) {
                let space = LogicalSpace(txn: w, dbi: dbi)
                for (k, v) in items {
                    try k.withBytes { (kb) throws(StoreError) in
                        try v.withBytes { (vb) throws(StoreError) in try space.put(kb, vb) }
                    }
                }
            } catch {
                w.abort()
                throw error
            }
            // A failed commit has freed its transaction already: no abort.
            try w.commit()
        } catch {
            throw Self.explained(error, directory)
        }
        puts += items.count
    }

    private func read() throws(StoreError) -> LogicalSpace {
        if let r = reader {
            if !readerCurrent {
                try env.renewRead(r)
                readerCurrent = true
            }
            return LogicalSpace(txn: r, dbi: dbi)
        }
        let r = try env.beginRead()
        reader = r
        readerCurrent = true
        return LogicalSpace(txn: r, dbi: dbi)
    }

    public func get(_ key: Bytes) throws(StoreError) -> Bytes? {
        guard puts > 0, key.count <= StoreLimits.keyBytes else { return nil }
        let space = try read()
        return try key.withBytes { (k) throws(StoreError) in try space.get(k).map { Bytes($0) } }
    }

    public func nextKey(in range: KeyRange, after: Bytes?, reverse: Bool) throws(StoreError) -> Bytes? {
        guard puts > 0, !range.isEmpty else { return nil }
        var cur = try LogicalCursor(read())
        if !reverse {
            let from = after ?? range.begin
            try from.withBytes { (f) throws(StoreError) in try cur.seek(atOrAfter: f, strictly: after != nil) }
            guard cur.isValid, range.end.withUnsafeBytes({ compareBytes(cur.key, $0) }) < 0 else { return nil }
        } else {
            let to = after ?? range.end
            try to.withBytes { (t) throws(StoreError) in try cur.seek(before: t) }
            guard cur.isValid, range.begin.withUnsafeBytes({ compareBytes(cur.key, $0) }) >= 0 else { return nil }
        }
        return Bytes(cur.key)
    }

    public func forEach(_ body: (Bytes, Bytes) throws(StoreError) -> Void) throws(StoreError) {
        guard puts > 0 else { return }
        var cur = try LogicalCursor(read())
        try cur.first()
        while cur.isValid {
            try body(Bytes(cur.key), Bytes(cur.value))
            try cur.next()
        }
    }
}
