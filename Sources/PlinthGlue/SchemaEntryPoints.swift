import CPlinth
import PlinthAM
import PlinthStore
#if canImport(Glibc)
import Glibc
#endif

// Entry points of the shared schema (called by schema.c and liveness.c):
// DDL logged as it runs, replayed by the other servers, waited for at commit.

@_cdecl("plinth_swift_schema_begin")
public func plinthSwiftSchemaBegin() {
    session.beginSchemaStatement()
}

@_cdecl("plinth_swift_schema_end")
public func plinthSwiftSchemaEnd() {
    session.endSchemaStatement()
}

@_cdecl("plinth_swift_schema_queue")
public func plinthSwiftSchemaQueue(_ role: UnsafePointer<CChar>, _ searchPath: UnsafePointer<CChar>,
                                   _ statement: UnsafePointer<CChar>, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        try session.queueSchemaStatement(role: String(cString: role), searchPath: String(cString: searchPath),
                                         statement: String(cString: statement), subid: subid)
    }
}

@_cdecl("plinth_swift_portable_ids")
public func plinthSwiftPortableIDs(_ count: Int32, _ ids: UnsafeMutablePointer<Int64>?,
                                   _ mapped: UnsafeMutablePointer<Bool>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let got = try session.portableIDs(count: Int(count))
        mapped.pointee = got != nil
        for (i, id) in (got ?? []).enumerated() { ids?[i] = id }
    }
}

@_cdecl("plinth_swift_schema_pending_log")
public func plinthSwiftSchemaPendingLog() -> Bool {
    session.hasPendingSchema
}

@_cdecl("plinth_swift_schema_log")
public func plinthSwiftSchemaLog(_ applied: Int64, _ relfilenodes: UnsafePointer<UInt32>?, _ count: Int,
                                 _ seq: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let nodes = relfilenodes.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
        seq.pointee = try session.logPendingSchema(applied: applied, stamping: nodes)
    }
}

@_cdecl("plinth_swift_schema_start")
public func plinthSwiftSchemaStart(_ start: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in start.pointee = try session.schemaStart() }
}

@_cdecl("plinth_swift_replay_begin")
public func plinthSwiftReplayBegin(_ seq: Int64) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in _ = try session.beginReplay(seq: seq) }
}

@_cdecl("plinth_swift_replay_end")
public func plinthSwiftReplayEnd() {
    session.endReplay()
}

@_cdecl("plinth_swift_schema_committed")
public func plinthSwiftSchemaCommitted(_ seq: Int64, _ origin: Bool, _ dropped: Bool, _ timeoutMs: Int32,
                                       _ interrupted: @convention(c) () -> Bool,
                                       _ gaveUp: UnsafeMutablePointer<Int32>) {
    // DROP EXTENSION plinth: this server no longer takes part in the
    // database's log (until it has the extension again).
    if dropped { session.forgetSchemaPosition() } else { session.noteSchemaApplied(seq) }
    gaveUp.pointee = 0
    guard origin else { return }
    let lost = session.waitForSchemaReplay(seq, timeoutNanos: UInt64(max(timeoutMs, 0)) * 1_000_000,
                                           interrupted: { interrupted() })
    gaveUp.pointee = Int32(lost.count)
}

@_cdecl("plinth_swift_schema_pending")
public func plinthSwiftSchemaPending(_ applied: Int64, _ entries: UnsafeMutablePointer<PlinthSchemaEntry>,
                                     _ capacity: Int, _ count: UnsafeMutablePointer<Int>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        count.pointee = 0
        // This server takes part in the waits for this database from now on.
        session.noteSchemaApplied(applied)
        for (i, e) in try session.schemaLogEntries(after: applied, limit: capacity).enumerated() {
            entries[i] = PlinthSchemaEntry(seq: e.seq, role: strdup(e.entry.role), search_path: strdup(e.entry.searchPath),
                                           statement: strdup(e.entry.statement))
            count.pointee = i + 1
        }
    }
}

@_cdecl("plinth_swift_schema_entries_free")
public func plinthSwiftSchemaEntriesFree(_ entries: UnsafeMutablePointer<PlinthSchemaEntry>, _ count: Int) {
    for i in 0..<count {
        free(entries[i].role)
        free(entries[i].search_path)
        free(entries[i].statement)
    }
}

@_cdecl("plinth_swift_schema_version")
public func plinthSwiftSchemaVersion(_ version: UnsafeMutablePointer<Int64>,
                                     _ metadata: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in (version.pointee, metadata.pointee) = try session.schemaVersion() }
}

@_cdecl("plinth_swift_schema_head")
public func plinthSwiftSchemaHead(_ head: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in head.pointee = try session.schemaHead() }
}

@_cdecl("plinth_swift_schema_extension_committed")
public func plinthSwiftSchemaExtensionCommitted(_ wait: Bool, _ timeoutMs: Int32, _ interrupted: @convention(c) () -> Bool,
                                                _ gaveUp: UnsafeMutablePointer<Int32>) {
    session.noteExtensionCreated()
    gaveUp.pointee = 0
    guard wait else { return }
    let lost = session.waitForExtension(timeoutNanos: UInt64(max(timeoutMs, 0)) * 1_000_000, interrupted: { interrupted() })
    gaveUp.pointee = Int32(lost.count)
}

@_cdecl("plinth_swift_schema_extension_created")
public func plinthSwiftSchemaExtensionCreated(_ oid: UInt32, _ name: UnsafePointer<CChar>,
                                              _ created: UnsafeMutablePointer<Bool>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        created.pointee = try session.extensionCreated(oid: oid, name: String(cString: name))
    }
}

@_cdecl("plinth_swift_schema_databases")
public func plinthSwiftSchemaDatabases(_ names: UnsafeMutablePointer<CChar>, _ capacity: Int,
                                       _ length: UnsafeMutablePointer<Int>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        var bytes: [UInt8] = []
        for n in try session.databasesToVisit() where !n.utf8.contains(0) {
            bytes += Array(n.utf8)
            bytes.append(0)
        }
        length.pointee = bytes.count
        guard bytes.count <= capacity else { return }
        bytes.withUnsafeBytes { b in UnsafeMutableRawBufferPointer(start: names, count: capacity).copyMemory(from: b) }
    }
}

/// The worker's pass applied what database `name` had pending.
@_cdecl("plinth_swift_schema_database_visited")
public func plinthSwiftSchemaDatabaseVisited(_ name: UnsafePointer<CChar>) {
    session.databaseVisited(String(cString: name))
}

@_cdecl("plinth_swift_server_stopping")
public func plinthSwiftServerStopping() {
    session.serverStopping()
}
