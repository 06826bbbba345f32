import CPlinth
import PlinthAM
import PlinthEncoding

// The index access method's entry points, called by Sources/CPlinth/indexam.c
// and indexes.c. The shim normalises Postgres datums into key elements
// (keys.c); here they become encoded key columns.

/// Descriptors of the indexes this backend used, by store id: an index's
/// columns never change under one store id (new storage, new id). The
/// shim's description is rebuilt, at a new address, when the index changes
/// otherwise (renamed): that address tells a description still current.
nonisolated(unsafe) private var descriptors: [Int64: (descriptor: IndexDescriptor, from: UnsafePointer<CChar>?)] = [:]

func descriptor(_ d: UnsafePointer<PlinthIndexDesc>) -> IndexDescriptor {
    let p = d.pointee
    if let known = descriptors[p.index_id], known.from == p.name, known.descriptor.table == p.table_id,
       known.descriptor.oid == p.index_oid { return known.descriptor }
    let columns = (0..<Int(p.nkeys)).map {
        IndexKey.Column(descending: p.descending[$0] != 0, nullsFirst: p.nulls_first[$0] != 0)
    }
    let names = (0..<Int(p.nkeys)).map { i in p.column_names.flatMap { $0[i] }.map { String(cString: $0) } ?? "" }
    let collated = (0..<Int(p.nkeys)).map { i in (p.collated?[i] ?? 0) != 0 }
    let made = IndexDescriptor(index: p.index_id, table: p.table_id, columns: columns, unique: p.unique,
                               nullsNotDistinct: p.nulls_not_distinct, oid: p.index_oid,
                               name: p.name.map { String(cString: $0) } ?? "", columnNames: names,
                               collatedColumns: collated)
    if descriptors.count > 10_000 { descriptors.removeAll() }
    descriptors[p.index_id] = (made, p.name)
    return made
}

/// Reads column values from the shim's element array.
struct ElementReader {
    let elems: UnsafePointer<PlinthKeyElement>
    let count: Int
    var i = 0

    init(_ e: UnsafePointer<PlinthKeyElement>?, _ n: Int) {
        elems = e ?? UnsafePointer(bitPattern: 8)!
        count = e == nil ? 0 : n
    }

    mutating func value() -> IndexKey.Value? {
        guard i < count else { return nil }
        let e = elems[i]
        i += 1
        switch PlinthKeyKind(rawValue: UInt32(bitPattern: e.kind)) {
        case PLINTH_KEY_NULL: return .null
        case PLINTH_KEY_INT: return .int(e.i)
        case PLINTH_KEY_UINT: return .uint(UInt64(bitPattern: e.i))
        case PLINTH_KEY_DOUBLE: return .double(e.d)
        case PLINTH_KEY_BYTES:
            return .bytes(e.len == 0 ? [] : Bytes(UnsafeRawBufferPointer(start: e.ptr, count: e.len)))
        case PLINTH_KEY_DECIMAL:
            return .decimal(String(decoding: UnsafeRawBufferPointer(start: e.ptr, count: e.len), as: UTF8.self))
        case PLINTH_KEY_BEGIN_NESTED:
            var inner: [IndexKey.Value] = []
            while i < count {
                if PlinthKeyKind(rawValue: UInt32(bitPattern: elems[i].kind)) == PLINTH_KEY_END_NESTED {
                    i += 1
                    break
                }
                guard let v = value() else { break }
                inner.append(v)
            }
            return .nested(inner)
        default:
            return nil
        }
    }
}

/// The encoded key columns of an entry, and whether one is NULL.
func encodeColumns(_ d: IndexDescriptor, _ elems: UnsafePointer<PlinthKeyElement>?, _ n: Int) throws(PlinthError) -> (Bytes, hasNull: Bool) {
    var r = ElementReader(elems, n)
    var out = Bytes()
    var hasNull = false
    for c in d.columns {
        guard let v = r.value() else {
            throw PlinthError(sqlstate: .internalError, message: "plinth: index key has too few columns")
        }
        if case .null = v { hasNull = true }
        IndexKey.appendColumn(v, c, to: &out)
    }
    return (out, hasNull)
}

extension UniqueCheckKind {
    init(_ c: PlinthUniqueCheck) {
        switch c {
        case PLINTH_UNIQUE_YES: self = .yes
        case PLINTH_UNIQUE_PARTIAL: self = .partial
        case PLINTH_UNIQUE_EXISTING: self = .existing
        default: self = .no
        }
    }
}

@_cdecl("plinth_swift_index_insert")
public func plinthSwiftIndexInsert(_ d: UnsafePointer<PlinthIndexDesc>, _ elems: UnsafePointer<PlinthKeyElement>?, _ n: Int,
                                   _ row: Int64, _ tuple: UnsafeRawPointer, _ tupleLen: Int, _ check: PlinthUniqueCheck,
                                   _ depth: Int32, _ building: Bool, _ cid: UInt32, _ ids: UnsafePointer<PlinthLockIds>,
                                   _ conflict: UnsafeMutablePointer<Bool>,
                                   _ violation: UnsafeMutablePointer<PlinthUniqueViolation>,
                                   _ retry: UnsafeMutablePointer<PlinthLockWait>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        violation.pointee.set(.clear)
        retry.pointee = PlinthLockWait(nil)
        let desc = descriptor(d)
        let (columns, hasNull) = try encodeColumns(desc, elems, n)
        let r = try session.transaction().insertEntry(desc, columns: columns, hasNull: hasNull, row: row,
                                                      tuple: UnsafeRawBufferPointer(start: tuple, count: tupleLen),
                                                      check: UniqueCheckKind(check), depth: depth, building: building,
                                                      cid: cid, lockContext: LockContext(ids))
        conflict.pointee = r.conflict
        violation.pointee.set(r.checks)
        retry.pointee = PlinthLockWait(r.retry)
    }
}

@_cdecl("plinth_swift_index_delete")
public func plinthSwiftIndexDelete(_ d: UnsafePointer<PlinthIndexDesc>, _ elems: UnsafePointer<PlinthKeyElement>?, _ n: Int,
                                   _ row: Int64, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let desc = descriptor(d)
        try session.transaction().deleteEntry(desc, columns: try encodeColumns(desc, elems, n).0, row: row, cid: cid, subid: subid)
    }
}

/// Notes a parent key a foreign key check will look up (the parent's
/// unique index and the key's elements); the noted keys are read together.
@_cdecl("plinth_swift_parent_key_note")
public func plinthSwiftParentKeyNote(_ d: UnsafePointer<PlinthIndexDesc>, _ elems: UnsafePointer<PlinthKeyElement>?,
                                     _ n: Int, _ ids: UnsafePointer<PlinthLockIds>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let desc = descriptor(d)
        try session.transaction().noteParentKey(desc, columns: try encodeColumns(desc, elems, n).0, LockContext(ids))
    }
}

// MARK: scans

extension ScanKeySpec {
    init(_ k: PlinthScanKey) {
        let flags = k.flags
        let kind: Kind
        if flags & UInt32(PLINTH_SK_NEVER) != 0 { kind = .never }
        else if flags & UInt32(PLINTH_SK_INEXACT) != 0 { kind = .inexact }
        else if flags & UInt32(PLINTH_SK_ISNULL) != 0 { kind = .isNull }
        else if flags & UInt32(PLINTH_SK_NOTNULL) != 0 { kind = .isNotNull }
        else {
            var r = ElementReader(k.elems, k.nelems)
            var values: [IndexKey.Value] = []
            for _ in 0..<Int(k.nvalues) {
                guard let v = r.value() else { break }
                values.append(v)
            }
            kind = .compare(strategy: Int(k.strategy), values: values)
        }
        self.init(column: Int(k.column), kind: kind)
    }
}

@_cdecl("plinth_swift_index_scan_begin")
public func plinthSwiftIndexScanBegin(_ d: UnsafePointer<PlinthIndexDesc>, _ vis: PlinthVisibility,
                                      _ keys: UnsafePointer<PlinthScanKey>?, _ nkeys: Int, _ prefetchRows: Bool,
                                      _ out: UnsafeMutablePointer<PlinthIndexScanHandle>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let specs = (0..<(keys == nil ? 0 : nkeys)).map { ScanKeySpec(keys![$0]) }
        out.pointee = PlinthIndexScanHandle(try IndexScan(session, descriptor(d), ReadVisibility(vis), keys: specs,
                                                          prefetchRows: prefetchRows))
    }
}

/// The next entry: its row id and index tuple (copied into the fetcher's
/// buffer, valid until the next call).
@_cdecl("plinth_swift_index_scan_next")
public func plinthSwiftIndexScanNext(_ scan: PlinthIndexScanHandle, _ forward: Bool, _ found: UnsafeMutablePointer<Bool>,
                                     _ row: UnsafeMutablePointer<Int64>, _ fetcher: PlinthFetcherHandle,
                                     _ tuple: UnsafeMutablePointer<UnsafeMutableRawPointer?>,
                                     _ len: UnsafeMutablePointer<Int>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let buffer = fetcher.buffer
        found.pointee = try scan.scan.next(forward: forward) { r, t in
            row.pointee = r
            buffer.reserve(t.count)
            t.withUnsafeBytes { if $0.count > 0 { buffer.base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
            tuple.pointee = buffer.base
            len.pointee = t.count
        }
    }
}

@_cdecl("plinth_swift_index_scan_mark")
public func plinthSwiftIndexScanMark(_ scan: PlinthIndexScanHandle) { scan.scan.markPosition() }

@_cdecl("plinth_swift_index_scan_restore")
public func plinthSwiftIndexScanRestore(_ scan: PlinthIndexScanHandle) { scan.scan.restorePosition() }

/// Every entry's row id, for a bitmap scan: up to `cap` per call.
@_cdecl("plinth_swift_index_scan_rows")
public func plinthSwiftIndexScanRows(_ scan: PlinthIndexScanHandle, _ rows: UnsafeMutablePointer<Int64>, _ cap: Int,
                                     _ n: UnsafeMutablePointer<Int>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in n.pointee = try scan.scan.nextRows(into: rows, capacity: cap) }
}

@_cdecl("plinth_swift_index_scan_release")
public func plinthSwiftIndexScanRelease(_ scan: PlinthIndexScanHandle) { scan.release() }
