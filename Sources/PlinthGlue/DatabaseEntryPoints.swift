import CPlinth
import PlinthAM
import PlinthEncoding
#if canImport(Glibc)
import Glibc
#endif

// Entry points of databases and the database log (called by databases.c
// and the schema worker): CREATE / DROP / RENAME / ALTER DATABASE on one
// server, logged at its commit, applied by every server sharing the store.

@_cdecl("plinth_swift_database_create")
public func plinthSwiftDatabaseCreate(_ template: UInt32, _ oid: UInt32, _ name: UnsafePointer<CChar>,
                                      _ templateName: UnsafePointer<CChar>, _ role: UnsafePointer<CChar>,
                                      _ statement: UnsafePointer<CChar>, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        try session.createDatabase(oid, name: String(cString: name), template: template,
                                   templateName: String(cString: templateName), role: String(cString: role),
                                   statement: String(cString: statement), cid: cid, subid: subid)
    }
}

@_cdecl("plinth_swift_database_replay_create")
public func plinthSwiftDatabaseReplayCreate(_ seq: Int64, _ oid: UInt32, _ template: UInt32,
                                            _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        try session.replayCreateDatabase(seq: seq, oid: oid, template: template, cid: cid, subid: subid)
    }
}

@_cdecl("plinth_swift_database_drop")
public func plinthSwiftDatabaseDrop(_ oid: UInt32, _ name: UnsafePointer<CChar>, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.dropDatabase(oid, name: String(cString: name), cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_database_rename")
public func plinthSwiftDatabaseRename(_ oid: UInt32, _ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>,
                                      _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        try session.renameDatabase(oid, from: String(cString: from), to: String(cString: to), cid: cid, subid: subid)
    }
}

@_cdecl("plinth_swift_database_queue")
public func plinthSwiftDatabaseQueue(_ kind: Int32, _ name: UnsafePointer<CChar>, _ other: UnsafePointer<CChar>,
                                     _ role: UnsafePointer<CChar>, _ statement: UnsafePointer<CChar>,
                                     _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        guard let k = DatabaseLogEntry.Kind(rawValue: Int64(kind)) else {
            throw PlinthError(sqlstate: .internalError, message: "unknown database statement kind \(kind)", detail: nil, hint: nil)
        }
        try session.queueDatabaseStatement(k, name: String(cString: name), other: String(cString: other),
                                           role: String(cString: role), statement: String(cString: statement), subid: subid)
    }
}

@_cdecl("plinth_swift_database_pending_log")
public func plinthSwiftDatabasePendingLog() -> Bool {
    session.hasPendingDatabases
}

@_cdecl("plinth_swift_database_log")
public func plinthSwiftDatabaseLog(_ seq: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in seq.pointee = try session.logPendingDatabases() }
}

@_cdecl("plinth_swift_database_wait")
public func plinthSwiftDatabaseWait(_ seq: Int64, _ timeoutMs: Int32, _ interrupted: @convention(c) () -> Bool,
                                    _ gaveUp: UnsafeMutablePointer<Int32>) {
    let lost = session.waitForSchemaReplay(seq, log: Keyspace.databaseLogID,
                                           timeoutNanos: UInt64(max(timeoutMs, 0)) * 1_000_000,
                                           interrupted: { interrupted() })
    gaveUp.pointee = Int32(lost.count)
}

@_cdecl("plinth_swift_database_entries")
public func plinthSwiftDatabaseEntries(_ entries: UnsafeMutablePointer<PlinthDatabaseEntry>, _ capacity: Int,
                                       _ count: UnsafeMutablePointer<Int>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        count.pointee = 0
        // This server takes part in the waits from now on.
        try session.noteDatabaseLogApplied(try session.databaseLogPosition(), durable: false)
        for (i, e) in try session.databaseLogEntries(limit: capacity).enumerated() {
            entries[i] = PlinthDatabaseEntry(seq: e.seq, kind: Int32(e.entry.kind.rawValue), role: strdup(e.entry.role),
                                             statement: strdup(e.entry.statement), name: strdup(e.entry.name),
                                             other: strdup(e.entry.other), template_position: e.entry.templatePosition)
            count.pointee = i + 1
        }
    }
}

@_cdecl("plinth_swift_database_entries_free")
public func plinthSwiftDatabaseEntriesFree(_ entries: UnsafeMutablePointer<PlinthDatabaseEntry>, _ count: Int) {
    for i in 0..<count {
        free(entries[i].role)
        free(entries[i].statement)
        free(entries[i].name)
        free(entries[i].other)
    }
}

@_cdecl("plinth_swift_database_applied")
public func plinthSwiftDatabaseApplied(_ seq: Int64) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.noteDatabaseLogApplied(seq) }
}
