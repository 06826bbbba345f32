import CPlinth
import PlinthAM
import PlinthStore

// Entry points of the session and its transactions (called by hooks.c and
// session.c): settings, transaction events, statements, counters, and the
// store ids of relations and databases.

@_cdecl("plinth_swift_configure")
public func plinthSwiftConfigure(_ c: UnsafePointer<PlinthConfig>) {
    let p = c.pointee
    var n = Session.Config()
    n.storePath = String(cString: p.store_path)
    n.clusterFile = String(cString: p.cluster_file)
    n.apiVersion = p.api_version
    n.fdbLibrary = String(cString: p.fdb_library)
    n.timeoutMilliseconds = Int(p.timeout_ms)
    n.durable = p.durable
    n.lifetimeMilliseconds = Int(p.lifetime_ms)
    n.mapSizeBytes = Int(p.map_size_bytes)
    n.writeBufferBytes = Int(p.write_buffer_bytes)
    n.spillDirectory = String(cString: p.spill_directory)
    n.databaseName = String(cString: p.database_name)
    n.databaseOID = p.database_oid
    n.serverHome = String(cString: p.server_home)
    n.inRecovery = p.in_recovery
    n.serverIDPath = String(cString: p.server_id_path)
    n.storeIDPath = String(cString: p.store_id_path)
    n.backendID = p.backend_id
    n.serverTimeoutMilliseconds = p.server_timeout_ms
    n.isolation = p.isolation
    n.incarnation = p.incarnation
    session.configure(n)
}

@_cdecl("plinth_swift_process_exit")
public func plinthSwiftProcessExit() {
    session.processExiting()
}

@_cdecl("plinth_swift_set_parallel_worker")
public func plinthSwiftSetParallelWorker(_ yes: Bool) {
    session.isParallelWorker = yes
}

// MARK: transactions

@_cdecl("plinth_swift_xact_event")
public func plinthSwiftXactEvent(_ event: PlinthXactEvent) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        switch event {
        case PLINTH_XACT_PRE_COMMIT:
            try session.commit()
        case PLINTH_XACT_PRE_PREPARE:
            if session.hasTransaction {
                throw PlinthError(sqlstate: .featureNotSupported,
                                  message: "PREPARE TRANSACTION is not supported for transactions that use Plinth tables",
                                  detail: "The store commits a transaction in one step; it cannot hold it prepared.",
                                  hint: "Commit the transaction instead.")
            }
        case PLINTH_XACT_COMMIT, PLINTH_XACT_ABORT:
            session.abort()   // nothing left after a commit; after an error, drop the store transaction
        default:
            break
        }
    }
}

@_cdecl("plinth_swift_subxact_event")
public func plinthSwiftSubxactEvent(_ event: PlinthSubXactEvent, _ subid: UInt32, _ parent: UInt32) {
    guard let t = session.current else { return }
    switch event {
    case PLINTH_SUBXACT_ABORT:
        session.abandonDirectLoads(fromSubid: subid)
        t.txn.rollback(subid: subid)
        session.rollbackSchema(subid: subid)
        // Best effort: a lock left behind is freed when the transaction ends.
        try? t.releaseLocks(subid: subid)
    case PLINTH_SUBXACT_COMMIT:
        t.txn.release(subid: subid, to: parent)
        session.releaseSchema(subid: subid, to: parent)
    default: break
    }
}

@_cdecl("plinth_swift_statement_event")
public func plinthSwiftStatementEvent(_ event: PlinthStatementEvent, _ depth: Int32, _ ids: UnsafePointer<PlinthLockIds>,
                                      _ violation: UnsafeMutablePointer<PlinthUniqueViolation>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        violation.pointee.set(.clear)
        guard let t = session.current else { return }
        let e: StatementWork.Event
        switch event {
        case PLINTH_STATEMENT_EXECUTOR_FINISHING: e = .executorFinishing(depth: depth)
        case PLINTH_STATEMENT_EXECUTOR_FINISHED: e = .executorFinished(depth: depth)
        case PLINTH_STATEMENT_UTILITY_FINISHED: e = .utilityFinished(depth: depth)
        case PLINTH_STATEMENT_INDEX_BUILT: e = .indexBuilt(depth: depth)
        case PLINTH_STATEMENT_COPY_BATCH: e = .copyBatch
        case PLINTH_STATEMENT_UNIQUE_CHECKS: e = .uniqueChecks(depth: depth)
        default: e = .preCommit
        }
        violation.pointee.set(try t.statementEvent(e, LockContext(ids)))
    }
}

/// A statement took its snapshot (ExecutorStart): READ COMMITTED reads a
/// newer one from the store.
@_cdecl("plinth_swift_statement_snapshot")
public func plinthSwiftStatementSnapshot(_ isolation: Int32, _ topLevel: Bool, _ foreignKeyCheck: Bool) {
    session.statementSnapshot(isolation: isolation, topLevel: topLevel, foreignKeyCheck: foreignKeyCheck)
}

/// Whether the holder of a lock on another server still runs (a remote
/// waiter polls this).
@_cdecl("plinth_swift_holder_running")
public func plinthSwiftHolderRunning(_ wait: UnsafePointer<PlinthLockWait>,
                                     _ running: UnsafeMutablePointer<Bool>,
                                     _ beat: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        (running.pointee, beat.pointee) = try session.holderRunning(wait.pointee.holder)
    }
}

@_cdecl("plinth_swift_declare_server_dead")
public func plinthSwiftDeclareServerDead(_ wait: UnsafePointer<PlinthLockWait>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        try session.declareDead(server: wait.pointee.holder_server, incarnation: wait.pointee.holder_incarnation)
    }
}

@_cdecl("plinth_swift_server_beat")
public func plinthSwiftServerBeat(_ alive: UnsafeMutablePointer<Bool>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in alive.pointee = try session.beat() }
}

// MARK: counters

@_cdecl("plinth_swift_counters")
public func plinthSwiftCounters(_ sessionCounters: UnsafeMutablePointer<PlinthCounters>,
                                _ statement: UnsafeMutablePointer<PlinthCounters>) {
    sessionCounters.pointee = PlinthCounters(session.counters)
    statement.pointee = PlinthCounters(session.lastStatement)
}

@_cdecl("plinth_swift_statement_start")
public func plinthSwiftStatementStart() { session.statementStarted() }

@_cdecl("plinth_swift_statement_end")
public func plinthSwiftStatementEnd() { session.statementEnded() }

extension PlinthCounters {
    init(_ c: StoreCounters) {
        self.init(reads: c.reads, range_reads: c.rangeReads, round_trips: c.roundTrips, bytes_read: c.bytesRead,
                  bytes_written: c.bytesWritten, commits: c.commits, conflicts: c.conflicts)
    }
}

// MARK: relations and databases

@_cdecl("plinth_swift_relation_lookup")
public func plinthSwiftRelationLookup(_ relfilenode: UInt32, _ id: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in id.pointee = try session.storeID(relfilenode: relfilenode) ?? -1 }
}

@_cdecl("plinth_swift_fence_writers")
public func plinthSwiftFenceWriters(_ table: Int64, _ topXid: UInt64, _ statement: Bool) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        try session.fenceWriters(table: table, topXid: Int64(bitPattern: topXid), statement: statement)
    }
}

@_cdecl("plinth_swift_index_build")
public func plinthSwiftIndexBuild(_ index: Int64, _ relfilenode: UInt32, _ cid: UInt32, _ subid: UInt32,
                                  _ done: Bool) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        if done {
            try session.endIndexBuild(index: index, cid: cid)
        } else {
            try session.beginIndexBuild(index: index, relfilenode: relfilenode, subid: subid)
        }
    }
}

@_cdecl("plinth_swift_relation_create")
public func plinthSwiftRelationCreate(_ relfilenode: UInt32, _ old: UInt32, _ cid: UInt32, _ subid: UInt32,
                                      _ creator: UInt64, _ id: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        id.pointee = try session.createStorage(relfilenode: relfilenode, replacing: old, cid: cid, subid: subid,
                                               creator: creator)
    }
}

/// Every relfilenode this server's database maps to a store id (committed),
/// `capacity` at most; *count says how many there are.
@_cdecl("plinth_swift_relation_mappings")
public func plinthSwiftRelationMappings(_ out: UnsafeMutablePointer<PlinthMapping>?, _ capacity: Int,
                                        _ count: UnsafeMutablePointer<Int>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let all = try session.storageMappings()
        count.pointee = all.count
        for (i, m) in all.prefix(capacity).enumerated() {
            out?[i] = PlinthMapping(relfilenode: m.relfilenode, store_id: m.storeID, creator: m.creator)
        }
    }
}

@_cdecl("plinth_swift_relation_forget")
public func plinthSwiftRelationForget(_ relfilenode: UInt32, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.dropStorage(relfilenode: relfilenode, cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_relation_move")
public func plinthSwiftRelationMove(_ old: UInt32, _ new: UInt32, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.moveStorage(from: old, to: new, cid: cid, subid: subid) }
}

@_cdecl("plinth_swift_relation_truncate")
public func plinthSwiftRelationTruncate(_ table: Int64, _ cid: UInt32, _ subid: UInt32) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.truncate(table: table, cid: cid, subid: subid) }
}

/// VACUUM: the marks of moved rows no running transaction can follow.
@_cdecl("plinth_swift_relation_vacuum")
public func plinthSwiftRelationVacuum(_ table: Int64, _ horizon: UInt64, _ removed: UnsafeMutablePointer<Int64>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        removed.pointee = try session.vacuumMovedRows(table: table, horizon: horizon)
    }
}

@_cdecl("plinth_swift_relation_stats")
public func plinthSwiftRelationStats(_ table: Int64, _ withRowIDLimit: Bool,
                                     _ out: UnsafeMutablePointer<PlinthRelStats>) -> PlinthStatus {
    entryPoint { () throws(PlinthError) in
        let (rows, bytes) = try session.statistics(table)
        out.pointee = PlinthRelStats(rows: Double(rows), bytes: Double(bytes),
                                     row_id_limit: withRowIDLimit ? try session.rowIDLimit(table) : 0)
    }
}

@_cdecl("plinth_swift_claim_server_identity")
public func plinthSwiftClaimServerIdentity() -> PlinthStatus {
    entryPoint { () throws(PlinthError) in try session.claimServerIdentity() }
}
