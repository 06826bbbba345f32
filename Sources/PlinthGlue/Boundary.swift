import CPlinth
import PlinthAM
import PlinthStore

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
            // A store refused at open reached here through one of Plinth's
            // own transactions, which keep only its message: report it whole.
            if let refusal = session.openRefusal, refusal.message == error.message {
                recordError(refusal)
            } else {
                recordError(error)
            }
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

/// The backend's session: one per process, set up on first use, when it
/// also makes every store wait answer Postgres's interrupts (query cancel,
/// statement_timeout, termination), processed through the boundary.
nonisolated(unsafe) let session: Session = {
    StoreInterrupts.poll = { plinth_interrupt_pending() && plinth_interrupt_raised() }
    let s = Session()
    s.livenessRecent = { plinth_liveness_recent() }
    s.schemaCurrentThrough = {
        var v: Int64 = 0
        return plinth_schema_current_through(&v) ? v : nil
    }
    s.localSchemaPosition = { () throws(StoreError) -> Int64 in
        var p: Int64 = 0
        // An error raised by Postgres waits to be re-raised.
        guard plinth_schema_local_position(&p) else { throw StoreError(.interrupted) }
        return p
    }
    s.transactionRunning = { (xid) throws(StoreError) -> Bool in
        var running = true
        // An error raised by Postgres waits to be re-raised, as an interrupt's does.
        guard plinth_transaction_in_progress(xid, &running) else { throw StoreError(.interrupted) }
        return running
    }
    return s
}()
