import CFDB
import PlinthStore

/// One option for `fdb_network_set_option`, `fdb_database_set_option` or
/// `fdb_transaction_set_option`: its code and its parameter as the C API
/// takes it.
public struct FDBOption: Equatable, Sendable {
    public var code: Int32
    /// The parameter bytes; nil for options that take none.
    public var parameter: Bytes?

    /// An `Int` option: "value must point to a signed 64-bit integer
    /// (little-endian), and value_length must be 8" (api-c.rst).
    public static func int(_ code: Int32, _ value: Int64) -> FDBOption {
        FDBOption(code: code, parameter: encodeInt64(value))
    }

    /// A `String` option: the UTF-8 bytes, not NUL-terminated.
    public static func string(_ code: Int32, _ value: String) -> FDBOption {
        FDBOption(code: code, parameter: Bytes(value.utf8))
    }

    public static func flag(_ code: Int32) -> FDBOption { FDBOption(code: code, parameter: nil) }

    public static func encodeInt64(_ value: Int64) -> Bytes {
        withUnsafeBytes(of: value.littleEndian) { Bytes($0) }
    }

    /// Calls `body` with the (pointer, length) pair the C API takes.
    func withParameter<R>(_ body: (UnsafePointer<UInt8>?, Int32) -> R) -> R {
        guard let parameter else { return body(nil, 0) }
        return parameter.withUnsafeBufferPointer { body($0.baseAddress, Int32($0.count)) }
    }
}

/// What every transaction of an `FDBStore` is given: how long one wait on
/// the cluster may last (so an unreachable cluster ends in an error, never a
/// hang) and, optionally, FoundationDB's own retry limit and backoff cap
/// that `fdb_transaction_on_error` applies. The retry loop itself is the
/// documented one: on any error call `onError`; it backs off, resets and
/// returns for a retryable error, and rethrows anything else (`FDBErrors`
/// says which is which).
///
/// The timeout bounds each wait (`FDBWaits`), not the transaction:
/// FoundationDB's own TIMEOUT option counts from the transaction's creation
/// and would end healthy long work (a large insert, a slow statement) that
/// FoundationDB itself allows — its only age rule is the read version's 5
/// seconds (transaction_too_old), which both engines apply.
public struct FDBTransactionSettings: Equatable, Sendable {
    /// Milliseconds one wait on the cluster (a read, a commit, a backoff)
    /// may last before the cluster is taken for unreachable.
    public var timeoutMilliseconds: Int
    /// Retries after which `onError` rethrows (nil: FoundationDB's default,
    /// no limit; the timeout still bounds the loop).
    public var retryLimit: Int?
    /// Cap of `onError`'s exponential backoff (nil: FoundationDB's 1,000 ms).
    public var maxRetryDelayMilliseconds: Int?

    public init(timeoutMilliseconds: Int = StoreLimits.defaultLifetimeMilliseconds, retryLimit: Int? = nil,
                maxRetryDelayMilliseconds: Int? = nil) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.retryLimit = retryLimit
        self.maxRetryDelayMilliseconds = maxRetryDelayMilliseconds
    }

    /// FoundationDB's documented ranges, except that a timeout of 0 (none) is
    /// refused: a backend must never wait forever for a cluster.
    public func validate() throws(StoreError) {
        let intMax = Int(Int32.max)
        guard (1...intMax).contains(timeoutMilliseconds) else {
            throw StoreError(code: 2006, message: "Option set with an invalid value: FoundationDB timeout must be 1 to \(intMax) ms, not \(timeoutMilliseconds)")
        }
        if let retryLimit, !(-1...intMax).contains(retryLimit) {
            throw StoreError(code: 2006, message: "Option set with an invalid value: retry limit must be -1 to \(intMax), not \(retryLimit)")
        }
        if let maxRetryDelayMilliseconds, !(0...intMax).contains(maxRetryDelayMilliseconds) {
            throw StoreError(code: 2006, message: "Option set with an invalid value: maximum retry delay must be 0 to \(intMax) ms, not \(maxRetryDelayMilliseconds)")
        }
    }

    /// Set on the database: the defaults of every transaction it creates.
    public var databaseOptions: [FDBOption] {
        var options: [FDBOption] = []
        if let retryLimit { options.append(.int(CFDB_DB_OPTION_TRANSACTION_RETRY_LIMIT, Int64(retryLimit))) }
        if let maxRetryDelayMilliseconds {
            options.append(.int(CFDB_DB_OPTION_TRANSACTION_MAX_RETRY_DELAY, Int64(maxRetryDelayMilliseconds)))
        }
        return options
    }

    /// Set on each transaction when it is created and after `reset` (which
    /// drops per-transaction options), so it never depends on the database
    /// defaults alone.
    public var transactionOptions: [FDBOption] {
        var options: [FDBOption] = []
        if let retryLimit { options.append(.int(CFDB_TR_OPTION_RETRY_LIMIT, Int64(retryLimit))) }
        if let maxRetryDelayMilliseconds {
            options.append(.int(CFDB_TR_OPTION_MAX_RETRY_DELAY, Int64(maxRetryDelayMilliseconds)))
        }
        return options
    }
}

/// Options of the client's network thread, applied once per process before
/// it starts (later opens in the same process cannot change them).
public struct FDBNetworkOptions: Equatable, Sendable {
    /// Directory for the client's trace files (nil: no tracing).
    public var traceDirectory: String?
    /// The logGroup attribute of trace events.
    public var traceLogGroup: String?
    /// "xml" (FoundationDB's default) or "json".
    public var traceFormat: String?
    /// "knob_name=knob_value" settings of the client.
    public var knobs: [String]

    public init(traceDirectory: String? = nil, traceLogGroup: String? = nil, traceFormat: String? = nil,
                knobs: [String] = []) {
        self.traceDirectory = traceDirectory
        self.traceLogGroup = traceLogGroup
        self.traceFormat = traceFormat
        self.knobs = knobs
    }

    public var options: [FDBOption] {
        var options: [FDBOption] = []
        if let traceDirectory { options.append(.string(CFDB_NET_OPTION_TRACE_ENABLE, traceDirectory)) }
        if let traceLogGroup { options.append(.string(CFDB_NET_OPTION_TRACE_LOG_GROUP, traceLogGroup)) }
        if let traceFormat { options.append(.string(CFDB_NET_OPTION_TRACE_FORMAT, traceFormat)) }
        for knob in knobs { options.append(.string(CFDB_NET_OPTION_KNOB, knob)) }
        return options
    }
}

/// Which API versions this binding can select.
public enum FDBAPIVersion {
    /// The ABI of CFDB's declarations: passed to fdb_select_api_version_impl
    /// as header_version, so the client library must support it (7.1+).
    public static let header = Int32(CFDB_HEADER_API_VERSION)
    /// fdb_transaction_get_approximate_size needs 620 (fdb_create_database,
    /// and a timeout that survives onError, 610).
    public static let minimum: Int32 = 620

    /// Checks `requested` against this binding and the loaded library.
    public static func check(requested: Int32, libraryMaximum: Int32, library: String) throws(StoreError) {
        if libraryMaximum < header {
            throw StoreError(.apiVersionNotSupported,
                             "The FoundationDB client library \(library) supports API versions up to \(libraryMaximum); Plinth needs a FoundationDB 7.1 or later client (API version \(header))")
        }
        if requested < minimum || requested > header {
            throw StoreError(.apiVersionNotSupported,
                             "FoundationDB API version \(requested) is not supported: Plinth selects API versions \(minimum) to \(header)")
        }
    }
}
