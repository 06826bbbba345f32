import CPlinth
import PlinthAM
import PlinthEncoding

// Swift objects handed to the shim, each kind in its own handle type
// (plinth_bridge.h): retained when handed out, released by the shim.

extension PlinthRowSourceHandle {
    init(_ source: RowSource) { self.init(object: Unmanaged.passRetained(source).toOpaque()) }
    var source: RowSource { Unmanaged<RowSource>.fromOpaque(object!).takeUnretainedValue() }
    func release() { if let object { Unmanaged<RowSource>.fromOpaque(object).release() } }
}

extension PlinthIndexScanHandle {
    init(_ scan: IndexScan) { self.init(object: Unmanaged.passRetained(scan).toOpaque()) }
    var scan: IndexScan { Unmanaged<IndexScan>.fromOpaque(object!).takeUnretainedValue() }
    func release() { if let object { Unmanaged<IndexScan>.fromOpaque(object).release() } }
}

extension PlinthFetcherHandle {
    init(_ buffer: RowBuffer) { self.init(object: Unmanaged.passRetained(buffer).toOpaque()) }
    var buffer: RowBuffer { Unmanaged<RowBuffer>.fromOpaque(object!).takeUnretainedValue() }
    func release() { if let object { Unmanaged<RowBuffer>.fromOpaque(object).release() } }
}

extension PlinthRow {
    init(_ r: LoadedRow) {
        self.init(data: r.data, len: UInt32(r.length), row_id: r.rowID, own: r.own, cid: r.cid, xmin: r.xmin)
    }
}

extension ReadVisibility {
    init(_ v: PlinthVisibility) {
        self.init(all: v.all, anyVersion: v.any_version, curcid: v.curcid, current: v.current, renew: v.renew)
    }
}

extension PlinthModify {
    init(_ outcome: ModifyOutcome) {
        switch outcome {
        case .ok(let row): self.init(result: PLINTH_MODIFY_OK, cmax: 0, old: PlinthRow(row))
        case .selfModified(let cmax): self.init(result: PLINTH_MODIFY_SELF_MODIFIED, cmax: cmax, old: PlinthRow())
        case .invisible(let row): self.init(result: PLINTH_MODIFY_INVISIBLE, cmax: 0, old: row.map(PlinthRow.init) ?? PlinthRow())
        case .notFound: self.init(result: PLINTH_MODIFY_NOT_FOUND, cmax: 0, old: PlinthRow())
        }
    }
}

extension PlinthUniqueViolation {
    mutating func set(_ outcome: UniqueOutcome) {
        found = false
        wait = PlinthLockWait(nil)
        switch outcome {
        case .clear:
            break
        case .violation(let v):
            found = true
            building = v.building
            index_oid = v.indexOID
            tuple = v.tuple.baseAddress
            tuple_len = v.tuple.count
        case .wait(let w):
            wait = PlinthLockWait(w)
        }
    }
}

extension PlinthLockWait {
    init(_ attempt: LockAttempt?) {
        self.init()
        guard case .blocked(let h, let w, let local)? = attempt else { return }
        blocked = true
        self.local = local
        wait_xid = w
        holder_server = h.server
        holder_incarnation = h.incarnation
        holder_xid = h.xid
    }

    var holder: LockHolder { LockHolder(server: holder_server, incarnation: holder_incarnation, xid: holder_xid) }
}

extension LockContext {
    init(_ ids: UnsafePointer<PlinthLockIds>) {
        self.init(subid: ids.pointee.subid, waitXid: ids.pointee.wait_xid, topXid: ids.pointee.top_xid)
    }
}
