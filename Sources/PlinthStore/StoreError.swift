/// An error of the store, with FoundationDB's meaning and, where FoundationDB
/// has one, its error code. Both engines report the same errors for the same
/// situations, so the layers above never need to know which engine runs.
public struct StoreError: Error, Equatable, CustomStringConvertible, Sendable {
    /// FoundationDB error code (fdb_error_t). Errors that FoundationDB does
    /// not have (the embedded engine's file system, say) use codes from 9000.
    public var code: Int32
    public var message: String

    public init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    public init(_ code: Code, _ message: String? = nil) {
        self.code = code.rawValue
        self.message = message ?? code.defaultMessage
    }

    public var description: String { "\(message) (store error \(code))" }

    /// An error is its code; the message is detail (it may name a key).
    public static func == (a: StoreError, b: StoreError) -> Bool { a.code == b.code }

    public var knownCode: Code? { Code(rawValue: code) }

    /// FoundationDB's `fdb_error_predicate(FDB_ERROR_PREDICATE_RETRYABLE)`:
    /// the whole transaction may be run again.
    public var isRetryable: Bool {
        switch knownCode {
        case .notCommitted, .transactionTooOld, .futureVersion, .commitUnknownResult,
             .processBehind, .tagThrottled, .databaseLocked, .clusterVersionChanged,
             .proxyMemoryLimitExceeded, .batchTransactionThrottled, .grvProxyMemoryLimitExceeded:
            return true
        default:
            return false
        }
    }

    /// Retryable, and certainly not committed (FDB_ERROR_PREDICATE_RETRYABLE_NOT_COMMITTED):
    /// every retryable error but the two that may have committed
    /// (FDB_ERROR_PREDICATE_MAYBE_COMMITTED).
    public var isRetryableNotCommitted: Bool {
        isRetryable && knownCode != .commitUnknownResult && knownCode != .clusterVersionChanged
    }

    /// The FoundationDB error codes Plinth handles by name.
    public enum Code: Int32, Sendable {
        case operationFailed = 1000
        case timedOut = 1004
        case transactionTooOld = 1007
        case futureVersion = 1009
        case notCommitted = 1020
        case commitUnknownResult = 1021
        case transactionCancelled = 1025
        case transactionTimedOut = 1031
        case processBehind = 1037
        case databaseLocked = 1038
        case clusterVersionChanged = 1039
        case proxyMemoryLimitExceeded = 1042
        case batchTransactionThrottled = 1051
        case grvProxyMemoryLimitExceeded = 1078
        case tagThrottled = 1213
        case usedDuringCommit = 2017
        case invalidMutationType = 2018
        case transactionTooLarge = 2101
        case keyTooLarge = 2102
        case valueTooLarge = 2103
        case apiVersionNotSupported = 2203
        case networkAlreadySetup = 2009
        case clientInvalidOperation = 2000
        case keyOutsideLegalRange = 2004
        case invertedRange = 2005
        case internalError = 4100
        // Not FoundationDB's: the embedded engine and the binding.
        case storeUnavailable = 9001     // cannot open the store (files, library, cluster)
        case storeIOError = 9002         // the engine's file system failed
        case storeFull = 9003            // the embedded store reached plinth.map_size
        case storeCorrupted = 9004
        case interrupted = 9005          // query cancel, statement_timeout or termination stopped a wait
        case rowIDsExhausted = 9006      // a table handed out its last row id
        case diskFull = 9007             // the embedded store's file system has no room

        var defaultMessage: String {
            switch self {
            case .operationFailed: return "Operation failed"
            case .timedOut: return "Operation timed out"
            case .transactionTooOld: return "Transaction is too old to perform reads or be committed"
            case .futureVersion: return "Request for future version"
            case .notCommitted: return "Transaction not committed due to conflict with another transaction"
            case .commitUnknownResult: return "Transaction may or may not have committed"
            case .transactionCancelled: return "Operation aborted because the transaction was cancelled"
            case .transactionTimedOut: return "Operation aborted because the transaction timed out"
            case .processBehind: return "Storage process does not have recent mutations"
            case .databaseLocked: return "Database is locked"
            case .clusterVersionChanged: return "The protocol version of the cluster has changed"
            case .proxyMemoryLimitExceeded: return "Proxy commit memory limit exceeded"
            case .batchTransactionThrottled: return "Batch GRV request rate limit exceeded"
            case .grvProxyMemoryLimitExceeded: return "GRV proxy memory limit exceeded"
            case .tagThrottled: return "Transaction tag is being throttled"
            case .usedDuringCommit: return "Operation issued while a commit was outstanding"
            case .invalidMutationType: return "Unrecognized atomic mutation type"
            case .transactionTooLarge: return "Transaction exceeds byte limit"
            case .keyTooLarge: return "Key length exceeds limit"
            case .valueTooLarge: return "Value length exceeds limit"
            case .apiVersionNotSupported: return "API version not supported"
            case .networkAlreadySetup: return "Network can be configured only once"
            case .clientInvalidOperation: return "Invalid API call"
            case .keyOutsideLegalRange: return "Key outside legal range"
            case .invertedRange: return "Range begin key larger than end key"
            case .internalError: return "An internal error occurred"
            case .storeUnavailable: return "The store cannot be opened"
            case .storeIOError: return "The store's file system operation failed"
            case .storeFull: return "The store is full"
            case .storeCorrupted: return "The store's files are corrupted"
            case .interrupted: return "The operation was interrupted"
            case .rowIDsExhausted: return "The table has handed out all its row ids"
            case .diskFull: return "No space left on the store's file system"
            }
        }
    }
}
