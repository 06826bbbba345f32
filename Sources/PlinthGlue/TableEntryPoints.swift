import CPlinth
import PlinthAM

// The table access method's entry points, called by Sources/CPlinth/tableam.c.
// The shim does everything that touches Postgres structures (slots, tuple
// headers, TIDs); PlinthAM turns row operations into store operations.

@_cdecl("plinth_swift_insert")
public func plinthSwiftInsert(_ table: Int64, _ tuple: UnsafeRawPointer, _ len: Int, _ cid: UInt32, _ subid: UInt32,
                              _ xid: UInt32, _ forUpdate: Bool, _ rowID: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        rowID.pointee = try session.transaction().insert(table: table, tuple: UnsafeRawBufferPointer(start: tuple, count: len),
                                                        cid: cid, subid: subid, xid: xid, forUpdate: forUpdate)
    }
}

@_cdecl("plinth_swift_fetcher_new")
public func plinthSwiftFetcherNew() -> PlinthFetcherHandle { PlinthFetcherHandle(RowBuffer()) }

@_cdecl("plinth_swift_fetcher_release")
public func plinthSwiftFetcherRelease(_ fetcher: PlinthFetcherHandle) { fetcher.release() }

/// Fetches one row by id as `vis` sees it; *found is false when it does not
/// exist for that view.
@_cdecl("plinth_swift_fetch")
public func plinthSwiftFetch(_ table: Int64, _ row: Int64, _ vis: PlinthVisibility, _ fetcher: PlinthFetcherHandle,
                             _ found: UnsafeMutablePointer<Bool>, _ out: UnsafeMutablePointer<PlinthRow>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let r = try session.transaction().fetch(table: table, row: row, ReadVisibility(vis), into: fetcher.buffer)
        found.pointee = r != nil
        if let r { out.pointee = PlinthRow(r) }
    }
}

/// The row id the row `row` has now as `vis` sees it (tuple_get_latest_tid).
@_cdecl("plinth_swift_latest_row")
public func plinthSwiftLatestRow(_ table: Int64, _ row: Int64, _ vis: PlinthVisibility,
                                 _ out: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee = try session.transaction().latestRowID(table: table, row: row, ReadVisibility(vis))
    }
}

/// Deletes a row (DELETE, and the old version of an UPDATE). On success the
/// old row is in the fetcher, for the shim to remove its index entries.
@_cdecl("plinth_swift_delete")
public func plinthSwiftDelete(_ table: Int64, _ row: Int64, _ cid: UInt32, _ subid: UInt32, _ takingBack: Bool,
                              _ fetcher: PlinthFetcherHandle, _ out: UnsafeMutablePointer<PlinthModify>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee = PlinthModify(try session.transaction().delete(table: table, row: row, cid: cid, subid: subid,
                                                                    takingBack: takingBack, into: fetcher.buffer))
    }
}

@_cdecl("plinth_swift_replace")
public func plinthSwiftReplace(_ table: Int64, _ row: Int64, _ tuple: UnsafeRawPointer, _ len: Int, _ cid: UInt32,
                               _ subid: UInt32, _ xid: UInt32, _ out: UnsafeMutablePointer<PlinthModify>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee = PlinthModify(try session.transaction().replace(table: table, row: row,
                                                                     tuple: UnsafeRawBufferPointer(start: tuple, count: len),
                                                                     cid: cid, subid: subid, xid: xid))
    }
}

@_cdecl("plinth_swift_lock")
public func plinthSwiftLock(_ table: Int64, _ row: Int64, _ cid: UInt32, _ exclusive: Bool,
                            _ fetcher: PlinthFetcherHandle, _ out: UnsafeMutablePointer<PlinthModify>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee = PlinthModify(try session.transaction().lock(table: table, row: row, cid: cid, exclusive: exclusive,
                                                                  into: fetcher.buffer))
    }
}

@_cdecl("plinth_swift_lock_row")
public func plinthSwiftLockRow(_ table: Int64, _ row: Int64, _ mode: Int32, _ deferrable: Bool,
                               _ ids: UnsafePointer<PlinthLockIds>,
                               _ out: UnsafeMutablePointer<PlinthRowLock>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let outcome = try session.transaction().lockRow(table: table, row: row,
                                                        mode: RowLockMode(rawValue: UInt8(clamping: mode)) ?? .update,
                                                        deferrable: deferrable, LockContext(ids))
        var r = PlinthRowLock()
        switch outcome {
        case .current:
            r.outcome = PLINTH_ROW_CURRENT
            r.newer = try session.transaction().readsAdoptedVersion(table: table, row: row)
        case .updated: r.outcome = PLINTH_ROW_UPDATED
        case .deleted: r.outcome = PLINTH_ROW_DELETED
        case .moved(let to):
            r.outcome = PLINTH_ROW_MOVED
            r.moved_to = to
        case .blocked(let w):
            r.outcome = PLINTH_ROW_BLOCKED
            r.wait = PlinthLockWait(w)
            r.held = try session.transaction().holdsLock(table: table, row: row)
        }
        out.pointee = r
    }
}

/// Whom a dirty-snapshot reader of the row waits for (`rowWriter`):
/// out->blocked is false when no one is changing it.
@_cdecl("plinth_swift_row_writer")
public func plinthSwiftRowWriter(_ table: Int64, _ row: Int64, _ ids: UnsafePointer<PlinthLockIds>,
                                 _ out: UnsafeMutablePointer<PlinthLockWait>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee = PlinthLockWait(try session.transaction().rowWriter(table: table, row: row, LockContext(ids)))
    }
}

@_cdecl("plinth_swift_row_moved")
public func plinthSwiftRowMoved(_ table: Int64, _ row: Int64, _ to: Int64, _ cid: UInt32, _ subid: UInt32,
                                _ writer: UInt64, _ keyChanged: Bool) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        try session.transaction().markMoved(table: table, row: row, to: to, cid: cid, subid: subid, writer: writer,
                                            keyChanged: keyChanged)
    }
}

// MARK: scans

/// low/high: row id bounds [low, high) or -1 for none.
@_cdecl("plinth_swift_sampling_renews_snapshot")
public func plinthSwiftSamplingRenewsSnapshot() -> PlinthStatus {
    entryPoint { () throws(PlinthError) in session.current?.txn.renewForSampling() }
}

@_cdecl("plinth_swift_scan_begin")
public func plinthSwiftScanBegin(_ table: Int64, _ vis: PlinthVisibility, _ low: Int64, _ high: Int64, _ reverse: Bool,
                                 _ out: UnsafeMutablePointer<PlinthRowSourceHandle>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee = PlinthRowSourceHandle(try TableScan(session, table: table, ReadVisibility(vis), low: low, high: high,
                                                          reverse: reverse))
    }
}

@_cdecl("plinth_swift_rows_begin")
public func plinthSwiftRowsBegin(_ table: Int64, _ vis: PlinthVisibility, _ rows: UnsafePointer<Int64>, _ n: Int,
                                 _ out: UnsafeMutablePointer<PlinthRowSourceHandle>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        out.pointee = PlinthRowSourceHandle(try RowListScan(session, table: table, ReadVisibility(vis),
                                                            rows: Array(UnsafeBufferPointer(start: rows, count: n))))
    }
}

@_cdecl("plinth_swift_scan_next")
public func plinthSwiftScanNext(_ scan: PlinthRowSourceHandle, _ found: UnsafeMutablePointer<Bool>,
                                _ out: UnsafeMutablePointer<PlinthRow>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        var row = LoadedRow.none
        found.pointee = try scan.source.next(&row)
        out.pointee = PlinthRow(row)
    }
}

@_cdecl("plinth_swift_scan_release")
public func plinthSwiftScanRelease(_ scan: PlinthRowSourceHandle) { scan.release() }
