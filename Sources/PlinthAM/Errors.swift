import PlinthStore
import PlinthEncoding

extension PlinthError {
    /// How a store error reaches the client: the SQLSTATE that clients and
    /// ORMs already act on, a message that names the cause, and a hint.
    public init(_ e: StoreError) {
        let fdb = "store error \(e.code)"
        switch e.knownCode {
        case .notCommitted:
            self.init(sqlstate: .serializationFailure,
                      message: "could not serialize access due to a concurrent update",
                      detail: "A transaction that committed after this one read has written what it read: \(e.message) (\(fdb): not_committed).",
                      hint: "The transaction might succeed if retried.")
        case .transactionTooOld, .futureVersion, .processBehind:
            self.init(sqlstate: .transactionTooOld,
                      message: "transaction is too old: it ran longer than the store allows",
                      detail: "\(e.message) (\(fdb)).",
                      hint: "A transaction may run for plinth.transaction_lifetime (FoundationDB: 5 s) from its first read. Retry it, or split long work into shorter transactions.")
        case .transactionTimedOut, .timedOut:
            self.init(sqlstate: .queryCanceled,
                      message: "store operation timed out",
                      detail: "\(e.message) (\(fdb)).",
                      hint: "Check that the store (FoundationDB cluster) is reachable.")
        case .commitUnknownResult:
            self.init(sqlstate: SQLState("08007"),
                      message: "the store could not tell whether the transaction committed",
                      detail: "\(e.message) (\(fdb)).",
                      hint: "Check whether its changes are present before retrying it.")
        case .transactionTooLarge:
            self.init(sqlstate: .programLimitExceeded,
                      message: "transaction is too large for the store",
                      detail: "\(e.message) (\(fdb)).",
                      hint: "A SERIALIZABLE transaction may write at most 10 MB (FoundationDB's limit: its reads and writes are checked in one store transaction). At READ COMMITTED or REPEATABLE READ a transaction commits any size; or split the work into smaller transactions.")
        case .keyTooLarge:
            self.init(sqlstate: .programLimitExceeded,
                      message: "key is too large for the store",
                      detail: "\(e.message) (\(fdb)).",
                      hint: "Index keys may be at most 10,000 bytes (FoundationDB's limit). Index a shorter expression, such as a hash or a prefix of the value.")
        case .valueTooLarge:
            self.init(sqlstate: .programLimitExceeded, message: "value is too large for the store",
                      detail: "\(e.message) (\(fdb)).", hint: nil)
        case .storeFull:
            self.init(sqlstate: .diskFull, message: e.message, detail: "(\(fdb))",
                      hint: "Raise plinth.map_size and restart the server. What the store holds stays readable.")
        case .diskFull:
            self.init(sqlstate: .diskFull, message: e.message, detail: "(\(fdb))",
                      hint: "Free space on that file system: the store takes writes again as soon as there is room, and stays readable meanwhile.")
        case .storeIOError:
            self.init(sqlstate: .ioError, message: e.message, detail: "(\(fdb))", hint: nil)
        case .storeCorrupted:
            self.init(sqlstate: .dataCorrupted, message: e.message, detail: "(\(fdb))", hint: nil)
        case .storeUnavailable, .apiVersionNotSupported:
            self.init(sqlstate: SQLState("58000"), message: e.message, detail: "(\(fdb))",
                      hint: "Check plinth.data_directory, or plinth.cluster_file and the FoundationDB client library.")
        case .rowIDsExhausted:
            self.init(sqlstate: .programLimitExceeded, message: "table has used up its row ids",
                      detail: "\(e.message) (\(fdb)).",
                      hint: "Row ids are never reused. Copy the table (VACUUM FULL, or CREATE TABLE ... AS): the copy starts its row ids afresh.")
        case .interrupted:
            // Postgres's own error (the cancel, the timeout) was caught by
            // the boundary and is raised instead of this one.
            self.init(sqlstate: .queryCanceled, message: "canceling statement: the store operation was interrupted",
                      detail: nil, hint: nil)
        case .transactionCancelled:
            self.init(sqlstate: .queryCanceled, message: e.message, detail: "(\(fdb))", hint: nil)
        default:
            self.init(sqlstate: .internalError, message: "store error: \(e.message)", detail: "(\(fdb))", hint: nil)
        }
    }
}

/// Runs store work inside an entry point: store errors become Postgres
/// errors with the right SQLSTATE.
@inline(__always)
public func storeCall<R>(_ body: () throws(StoreError) -> R) throws(PlinthError) -> R {
    do {
        return try body()
    } catch {
        throw PlinthError(error)
    }
}

/// Store bytes that are not what Plinth writes: the store is damaged (a
/// disk, a bug, another writer). Reported as data corruption (XX001) with
/// the key, never trusted further.
public func corruptValue(_ key: Bytes, _ what: String) -> StoreError {
    StoreError(.storeCorrupted, "\(what) at key \(printable(key)) is malformed")
}
