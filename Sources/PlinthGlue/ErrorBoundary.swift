import CPlinth


/// An error on its way to Postgres: raised by the C entry point as an
/// ordinary `ereport(ERROR)` once the Swift frames have returned.
struct PlinthError: Error {
    var sqlstate: SQLState
    var message: String
    var detail: String? = nil
    var hint: String? = nil

    /// A Postgres error was caught by `plinth_pg_try` and is waiting in the
    /// shim; raising it needs nothing from Swift.
    static let postgresErrorPending = PlinthError(sqlstate: .internalError, message: "")
    var isPostgresErrorPending: Bool { message.isEmpty && sqlstate == .internalError }
}

/// Runs the body of a `@_cdecl` entry point: success is PLINTH_OK; a thrown
/// error is recorded in the shim and PLINTH_ERROR returned, for the C caller
/// to raise. Nothing here may call into Postgres.
@inline(__always)
func entryPoint(_ body: () throws(PlinthError) -> Void) -> PlinthStatus {
    do {
        try body()
        return PLINTH_OK
    } catch {
        if !error.isPostgresErrorPending {
            recordError(error)
        }
        return PLINTH_ERROR
    }
}

func recordError(_ error: PlinthError) {
    error.sqlstate.code.withCString { code in
        error.message.withCString { message in
            withOptionalCString(error.detail) { detail in
                withOptionalCString(error.hint) { hint in
                    plinth_error_set(code, message, detail, hint)
                }
            }
        }
    }
}

func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
}
