import CFDB
import PlinthStore

/// The FoundationDB engine: the store protocol mapped onto FoundationDB's C
/// client, loaded at run time (docs/foundationdb.md).
///
/// Open it in the process that uses it, after fork (a Postgres backend, not
/// the postmaster): the client's network thread is started by the first open
/// in a process and belongs to that process. Everything is synchronous: each
/// call waits on its future, answering interrupts, for at most the timeout,
/// so an unreachable cluster ends in an error rather than a hang.
public final class FDBStore: Store {
    public var engineName: String { "foundationdb" }
    /// Row locks are ordinary keys here (`Keyspace.live`).
    public var volatileSpaceIsData: Bool { true }

    /// The cluster file given to open (nil: FoundationDB's default).
    public let clusterFile: String?
    public let apiVersion: Int32
    /// Options of the transactions begun from now on; the timeout also
    /// bounds each wait on the cluster (`FDBWaits`).
    public var settings: FDBTransactionSettings {
        didSet { FDBWaits.limitMilliseconds = settings.timeoutMilliseconds }
    }

    let database: OpaquePointer

    private init(database: OpaquePointer, clusterFile: String?, apiVersion: Int32, settings: FDBTransactionSettings) {
        self.database = database
        self.clusterFile = clusterFile
        self.apiVersion = apiVersion
        self.settings = settings
        FDBWaits.limitMilliseconds = settings.timeoutMilliseconds
    }

    deinit {
        // Transactions hold their store, so none outlives the database.
        cfdb_database_destroy(database)
    }

    /// Opens the cluster named by `clusterFile` (nil or empty: the
    /// FDB_CLUSTER_FILE environment variable, else
    /// /etc/foundationdb/fdb.cluster) and checks that it answers within
    /// `timeoutMilliseconds`.
    ///
    /// - libraryPath: libfdb_c to load (nil: libfdb_c.so, then libfdb_c.so.7).
    ///   A missing library is `storeUnavailable`, with what to install.
    /// - apiVersion: 620 to 710 (`apiVersionNotSupported` otherwise, or when
    ///   the library is older than 7.1). Fixed per process by the first open.
    /// - network: client options, applied by the first open in the process.
    /// The process is about to exit: the network thread stops now, while
    /// the process can still run it down (`cfdb_stop_network`). After this
    /// no store of this process may be used.
    public static func stopNetwork() {
        cfdb_stop_network()
    }

    public static func open(clusterFile: String?, apiVersion: Int32 = 710, libraryPath: String? = nil,
                            timeoutMilliseconds: Int = 5000,
                            network: FDBNetworkOptions = FDBNetworkOptions()) throws(StoreError) -> FDBStore {
        try open(clusterFile: clusterFile, apiVersion: apiVersion, libraryPath: libraryPath,
                 settings: FDBTransactionSettings(timeoutMilliseconds: timeoutMilliseconds), network: network)
    }

    /// `open` with every transaction setting (timeout, retry limit, backoff cap).
    public static func open(clusterFile: String?, apiVersion: Int32 = 710, libraryPath: String? = nil,
                            settings: FDBTransactionSettings,
                            network: FDBNetworkOptions = FDBNetworkOptions()) throws(StoreError) -> FDBStore {
        try settings.validate()
        try FDBLibrary.prepare(path: libraryPath, apiVersion: apiVersion, network: network)

        let file = clusterFile.flatMap { $0.isEmpty ? nil : $0 }
        let cluster = describeCluster(file)
        var handle: OpaquePointer?
        let created: Int32
        if let file { created = cfdb_create_database(file, &handle) } else { created = cfdb_create_database(nil, &handle) }
        guard created == 0, let database = handle else {
            throw StoreError(.storeUnavailable, "Cannot open the FoundationDB cluster (\(cluster)): \(FDBLibrary.describe(created)) (error \(created))")
        }
        let store = FDBStore(database: database, clusterFile: file, apiVersion: apiVersion, settings: settings)
        for option in settings.databaseOptions {
            try check(option.withParameter { cfdb_database_set_option(database, option.code, $0, $1) },
                      "database option \(option.code)")
        }

        // The first read version, under the timeout: an unreachable or
        // misconfigured cluster fails here, at open, within the timeout.
        do {
            let probe = try store.makeTransaction()
            _ = try probe.getReadVersion()
        } catch {
            let why = error.knownCode == .transactionTimedOut || error.knownCode == .timedOut
                ? "no answer within \(settings.timeoutMilliseconds) ms"
                : error.message
            throw StoreError(.storeUnavailable, "Cannot reach the FoundationDB cluster (\(cluster)): \(why) (error \(error.code))")
        }
        return store
    }

    public func beginTransaction() throws(StoreError) -> any StoreTransaction {
        try makeTransaction()
    }

    func makeTransaction() throws(StoreError) -> FDBStoreTransaction {
        try settings.validate()
        var handle: OpaquePointer?
        try check(cfdb_database_create_transaction(database, &handle))
        guard let handle else { throw StoreError(.internalError, "FoundationDB returned no transaction") }
        return try FDBStoreTransaction(store: self, handle: handle, settings: settings)
    }

    /// The client library in use, for messages and monitoring.
    public static var clientVersion: String? {
        guard cfdb_loaded_path() != nil else { return nil }
        return String(cString: cfdb_get_client_version())
    }

    static func describeCluster(_ file: String?) -> String {
        file.map { "cluster file \($0)" }
            ?? "default cluster file: FDB_CLUSTER_FILE, else /etc/foundationdb/fdb.cluster"
    }
}
