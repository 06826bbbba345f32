#if canImport(Glibc)
import Glibc
#endif

/// Every wait of the store — a retry's backoff, a future of FoundationDB —
/// and every retry loop answers query cancel, statement_timeout and backend
/// termination, and gives up after a bounded time.
///
/// Postgres delivers those as a flag that its own code polls
/// (CHECK_FOR_INTERRUPTS). The store knows nothing of Postgres: the glue
/// installs `StoreInterrupts.poll`, which processes a pending interrupt
/// through the error boundary and says whether Postgres wants the wait to
/// stop; the wait then ends with `interrupted`, and the glue raises
/// Postgres's own error (the cancel, the timeout) once Swift has unwound.
public enum StoreInterrupts {
    /// Returns true when the running operation must stop. Called often:
    /// it must be cheap when nothing is pending. Set once per process.
    nonisolated(unsafe) public static var poll: () -> Bool = { false }

    /// Throws `interrupted` when Postgres wants the operation to stop.
    @inline(__always)
    public static func checkpoint() throws(StoreError) {
        if poll() { throw StoreError(.interrupted) }
    }

    /// Longest a wait sleeps between two polls.
    public static let sliceMilliseconds = 10

    /// Sleeps `milliseconds`, polling for interrupts at least every slice.
    public static func sleep(milliseconds: Int) throws(StoreError) {
        var left = max(milliseconds, 0)
        try checkpoint()
        while left > 0 {
            let slice = min(left, sliceMilliseconds)
            usleep(UInt32(slice * 1000))
            left -= slice
            try checkpoint()
        }
    }
}

/// How long a retry loop of Plinth's own short transactions may go on: a
/// store that refuses a transaction for this long is in trouble, and the
/// client is better served by an error than by a wait without end.
public enum RetryPolicy {
    public static let defaultLimitMilliseconds = 30_000
}

extension Store {
    /// Runs `body` in a transaction with FoundationDB's retry loop
    /// (`onError`), for Plinth's own short transactions (ids, allocators,
    /// catalogs). Stops on an interrupt, and after `limitMilliseconds` of
    /// retrying with the last error, saying so.
    /// `volatile`: on the volatile space (`beginVolatileTransaction`).
    public func transact<R>(limitMilliseconds: Int = RetryPolicy.defaultLimitMilliseconds,
                            volatile: Bool = false,
                            counters: ((StoreCounters) -> Void)? = nil,
                            _ body: (any StoreTransaction) throws(StoreError) -> R) throws(StoreError) -> R {
        let tr = volatile ? try beginVolatileTransaction() : try beginTransaction()
        defer { counters?(tr.counters) }
        let start = monotonicMilliseconds()
        var attempts = 0
        while true {
            attempts += 1
            do throws(StoreError) {
                let r = try body(tr)
                _ = try tr.commit()
                return r
            } catch {
                if error.knownCode == .interrupted { throw error }
                let elapsed = monotonicMilliseconds() - start
                if error.isRetryable && elapsed >= limitMilliseconds {
                    var e = error
                    e.message = "gave up after \(attempts) attempts in \(elapsed) ms: \(error.message)"
                    throw e
                }
                try StoreInterrupts.checkpoint()
                try tr.onError(error)
            }
        }
    }
}

/// Milliseconds of a monotonic clock.
public func monotonicMilliseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int(ts.tv_sec) * 1000 + Int(ts.tv_nsec) / 1_000_000
}
