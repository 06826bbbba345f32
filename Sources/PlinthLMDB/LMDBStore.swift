import CLMDB
import PlinthStore

/// The embedded engine: FoundationDB's transaction model on LMDB, shared by
/// every process that opens the same directory. Open it in each process
/// after fork; one instance per process and directory.
public final class LMDBStore: Store {
    public struct Options: Sendable {
        /// Largest the store file may grow (LMDB map size): address space,
        /// not disk.
        public var mapSizeBytes: Int = 256 << 30
        /// Flush every commit to disk before it returns (off: may lose the
        /// last commits in an operating-system crash, never in a process crash).
        public var durable: Bool = true
        /// How long a transaction may live, from its read version
        /// (FoundationDB: 5 s).
        public var lifetimeMilliseconds: Int = StoreLimits.defaultLifetimeMilliseconds
        /// Processes (Postgres backends, on every server sharing the store)
        /// that may hold a transaction at the same time.
        public var maxReaders: UInt32 = 1024
        public init() {}
    }

    public var engineName: String { "embedded" }
    /// The data: `data` (the logical key space, see LongKeys) and `meta`.
    let env: LMDBEnvironment
    var data: MDB_dbi { env.databases[0] }
    var meta: MDB_dbi { env.databases[1] }
    static let lastCommitKey: Bytes = Array("last_commit".utf8)
    /// The resolver's history (ConflictIndex), in its own environment.
    let conflicts: ConflictIndex
    /// Row locks and transaction records (VolatileSpace.swift).
    let volatile: VolatileSpace
    let groupSync: GroupSync
    public var options: Options {
        didSet { if options.durable != oldValue.durable { env.setDurable(options.durable) } }
    }
    /// Failures injected by tests into both environments (LMDB.swift).
    public var faults = LMDBFaults() {
        didSet {
            env.faults = faults
            conflicts.env.faults = faults
            volatile.env.faults = faults
        }
    }
    /// A reset read transaction kept for the next transaction (renewing is
    /// cheaper than beginning).
    private var idleReader: LMDBTxn?
    private var commitsSinceReaderCheck = 0

    public init(path: String, options: Options = Options()) throws(StoreError) {
        self.options = options
        // Durable: data pages are flushed in the commit, the meta page by
        // GroupSync, shared by concurrent committers.
        env = try LMDBEnvironment(path: path, mapSizeBytes: options.mapSizeBytes, maxReaders: options.maxReaders,
                                  flags: UInt32(MDB_NOMETASYNC) | (options.durable ? 0 : UInt32(MDB_NOSYNC)),
                                  databases: ["data", "meta"])
        groupSync = try GroupSync(directory: path)
        // Holding the writer lock, so that the history is validated (and
        // recreated after a reboot) by one process at a time.
        let w = try env.beginWrite()
        defer { w.abort() }
        conflicts = try ConflictIndex.open(directory: path + "/conflicts", lastVersion: w.id - 1,
                                           maxReaders: options.maxReaders)
        volatile = try VolatileSpace(directory: path + "/volatile", maxReaders: options.maxReaders)
    }

    deinit {
        idleReader?.abort()
    }

    public func beginTransaction() throws(StoreError) -> any StoreTransaction {
        LMDBTransaction(store: self)
    }

    public func beginVolatileTransaction() throws(StoreError) -> any StoreTransaction {
        LMDBVolatileTransaction(space: volatile)
    }

    /// The last committed transaction id, from the shared meta page.
    public func latestVersionHint() -> Int64? { env.lastTxnID() }

    // Read transactions, reused.
    func acquireReader() throws(StoreError) -> LMDBTxn {
        if let r = idleReader {
            idleReader = nil
            do {
                try env.renewRead(r)
                return r
            } catch {
                r.abort()
            }
        }
        return try env.beginRead()
    }

    func releaseReader(_ r: LMDBTxn) {
        if idleReader == nil {
            r.reset()
            idleReader = r
        } else {
            r.abort()
        }
    }

    /// Returns once commit `version` is durable (at once when not durable).
    func makeDurable(_ version: Int64) throws(StoreError) {
        guard options.durable else { return }
        try groupSync.syncThrough(version, env)
    }

    func noteCommit() {
        commitsSinceReaderCheck += 1
        if commitsSinceReaderCheck >= 1000 {
            commitsSinceReaderCheck = 0
            env.clearStaleReaders()
        }
    }

    /// Disk and map figures, for monitoring and benchmarks.
    public struct Usage: Sendable {
        public var fileBytes: Int
        public var mapBytes: Int
        public var readers: Int
        public var lastVersion: Int64
    }

    public func usage() -> Usage {
        let i = env.info()
        return Usage(fileBytes: (i.lastPage + 1) * i.pageSize, mapBytes: i.mapSize,
                     readers: i.readers, lastVersion: Int64(i.lastTxnID))
    }
}
