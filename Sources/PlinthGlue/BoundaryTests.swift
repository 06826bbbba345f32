import CPlinth
import PlinthAM
import PlinthStore


// Entry points behind the plinth_test extension's SQL functions. They prove
// the two directions of the error boundary (test/sql/boundary.sql).

/// Counts Swift frames that were unwound normally after a caught Postgres
/// error: if a longjmp skipped them, this would stay behind the call count.
nonisolated(unsafe) private var unwoundFrames: Int64 = 0

/// A Swift error surfaces as a Postgres ERROR with the given SQLSTATE.
@_cdecl("plinth_swift_test_raise")
public func plinthSwiftTestRaise(_ sqlstate: UnsafePointer<CChar>, _ message: UnsafePointer<CChar>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        throw PlinthError(sqlstate: SQLState(String(cString: sqlstate)), message: String(cString: message),
                          detail: "raised by Swift", hint: nil)
    }
}

/// Swift calls a Postgres function (int4in) that raises on bad input. The
/// shim catches the error; Swift unwinds through `defer` and returns; the C
/// entry point re-raises the original error.
@_cdecl("plinth_swift_test_parse_int4")
public func plinthSwiftTestParseInt4(_ text: UnsafePointer<CChar>, _ result: UnsafeMutablePointer<Int32>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        // An allocation that a longjmp over this frame would leak.
        let scratch = [UInt8](repeating: 0, count: 4096)
        defer { unwoundFrames += 1 }
        var value: Int32 = 0
        guard plinth_pg_parse_int4(text, &value) else { throw .postgresErrorPending }
        result.pointee = value + Int32(scratch.count - 4096)
    }
}

@_cdecl("plinth_swift_test_unwound")
public func plinthSwiftTestUnwound() -> Int64 { unwoundFrames }

/// A store transaction that conflicts at every attempt, run by Plinth's
/// retry loop: it stops on query cancel or statement_timeout, and gives up
/// after `limit` milliseconds with the last error.
@_cdecl("plinth_swift_test_retry_forever")
public func plinthSwiftTestRetryForever(_ limit: Int32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let store = try session.openStore()
        try storeCall { () throws(StoreError) in
            try store.transact(limitMilliseconds: Int(limit)) { _ throws(StoreError) in
                throw StoreError(.notCommitted, "a conflict at every attempt (plinth_test_retry_forever)")
            }
        }
    }
}

/// How many staged commits the store holds (being applied, or left by a
/// crash and not swept yet).
@_cdecl("plinth_swift_test_staged_commits")
public func plinthSwiftTestStagedCommits(_ count: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        count.pointee = Int64(try session.stagedCommits().count)
    }
}

/// How many keys the session's database has in the store (committed),
/// its schema log aside (DDL adds to it; the tests count what relations leave).
@_cdecl("plinth_swift_test_database_keys")
public func plinthSwiftTestDatabaseKeys(_ count: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let d = try session.db()
        let (begin, _) = d.range
        let end = d.schemaLogHeadKey
        count.pointee = try storeCall { () throws(StoreError) -> Int64 in
            var n: Int64 = 0
            var from = begin
            while true {
                let batch = try session.transact { tr throws(StoreError) in
                    try tr.getRange(.firstGreaterOrEqual(from), .firstGreaterOrEqual(end),
                                    options: RangeOptions(limit: 10_000, snapshot: true))
                }
                n += Int64(batch.count)
                guard batch.more, let last = batch.lastKey else { return n }
                from = keyAfter(last)
            }
        }
    }
}
