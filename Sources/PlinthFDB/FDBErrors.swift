import PlinthStore

/// FoundationDB's error predicates (`fdb_error_predicate`), written out so
/// that they can be used — and tested — without libfdb_c. The lists follow
/// the client's implementation of the predicates (fdb_c.cpp, 7.1 to 7.3, plus
/// the throttling codes newer clients added); `fdb_transaction_on_error`
/// remains the authority at run time.
public enum FDBErrors {
    /// The tests of `fdb_error_predicate` (FDBErrorPredicate).
    public enum Predicate: Int32, Sendable, CaseIterable {
        case retryable = 50000
        case maybeCommitted = 50001
        case retryableNotCommitted = 50002
    }

    /// What a retry loop should do after an error.
    public enum Outcome: Sendable, Equatable {
        /// Run the transaction again: it certainly did not commit.
        case retryNotCommitted
        /// Run it again only if it is idempotent: it may have committed.
        case retryMaybeCommitted
        /// Report the error: retrying cannot help.
        case fail
    }

    /// commit_unknown_result, cluster_version_changed.
    static let maybeCommittedCodes: Set<Int32> = [1021, 1039]

    /// not_committed, transaction_too_old, future_version, process_behind,
    /// database_locked, commit_proxy_memory_limit_exceeded,
    /// batch_transaction_throttled, grv_proxy_memory_limit_exceeded,
    /// tag_throttled, proxy_tag_throttled, transaction_throttled_hot_shard.
    static let retryableNotCommittedCodes: Set<Int32> = [1020, 1007, 1009, 1037, 1038, 1042, 1051, 1078,
                                                          1213, 1223, 1235]

    public static func isMaybeCommitted(_ code: Int32) -> Bool { maybeCommittedCodes.contains(code) }

    public static func isRetryableNotCommitted(_ code: Int32) -> Bool { retryableNotCommittedCodes.contains(code) }

    /// Either of the above: the transaction may be run again.
    public static func isRetryable(_ code: Int32) -> Bool { isMaybeCommitted(code) || isRetryableNotCommitted(code) }

    public static func matches(_ predicate: Predicate, _ code: Int32) -> Bool {
        switch predicate {
        case .retryable: return isRetryable(code)
        case .maybeCommitted: return isMaybeCommitted(code)
        case .retryableNotCommitted: return isRetryableNotCommitted(code)
        }
    }

    public static func classify(_ code: Int32) -> Outcome {
        if isRetryableNotCommitted(code) { return .retryNotCommitted }
        if isMaybeCommitted(code) { return .retryMaybeCommitted }
        return .fail
    }

    /// Whether `code` is one of FoundationDB's (fdb_error_t) rather than one
    /// Plinth added from 9000 (`StoreError.Code.storeUnavailable` ...):
    /// only FoundationDB's may be handed to `fdb_transaction_on_error`.
    public static func isFoundationDBCode(_ code: Int32) -> Bool { code > 0 && code < 9000 }

    /// The error for `code`, with FoundationDB's message and, when given,
    /// what Plinth was doing.
    static func error(_ code: Int32, _ context: String? = nil, describe: (Int32) -> String = FDBLibrary.describe) -> StoreError {
        let text = describe(code)
        return StoreError(code: code, message: context.map { "\($0): \(text)" } ?? text)
    }
}
