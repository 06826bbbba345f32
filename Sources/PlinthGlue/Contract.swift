import CPlinth

// The C shim calls the entry points through the declarations in
// plinth_bridge.h; Swift implements them with @_cdecl. Nothing links the
// two but the symbol name, so each pair is checked here: a declaration and
// its implementation of different types do not compile.

private func agree<F>(_ declared: F, _ implemented: F) {}

private func checkContract() {
    agree(plinth_swift_version, plinthSwiftVersion)
    agree(plinth_swift_test_raise, plinthSwiftTestRaise)
    agree(plinth_swift_test_parse_int4, plinthSwiftTestParseInt4)
    agree(plinth_swift_test_unwound, plinthSwiftTestUnwound)
    agree(plinth_swift_test_retry_forever, plinthSwiftTestRetryForever)
    agree(plinth_swift_test_database_keys, plinthSwiftTestDatabaseKeys)

    agree(plinth_swift_configure, plinthSwiftConfigure)
    agree(plinth_swift_set_parallel_worker, plinthSwiftSetParallelWorker)
    agree(plinth_swift_xact_event, plinthSwiftXactEvent)
    agree(plinth_swift_subxact_event, plinthSwiftSubxactEvent)
    agree(plinth_swift_statement_event, plinthSwiftStatementEvent)
    agree(plinth_swift_statement_snapshot, plinthSwiftStatementSnapshot)
    agree(plinth_swift_holder_running, plinthSwiftHolderRunning)
    agree(plinth_swift_declare_server_dead, plinthSwiftDeclareServerDead)
    agree(plinth_swift_server_beat, plinthSwiftServerBeat)
    agree(plinth_swift_statement_start, plinthSwiftStatementStart)
    agree(plinth_swift_statement_end, plinthSwiftStatementEnd)
    agree(plinth_swift_counters, plinthSwiftCounters)

    agree(plinth_swift_relation_lookup, plinthSwiftRelationLookup)
    agree(plinth_swift_relation_create, plinthSwiftRelationCreate)
    agree(plinth_swift_relation_mappings, plinthSwiftRelationMappings)
    agree(plinth_swift_relation_forget, plinthSwiftRelationForget)
    agree(plinth_swift_relation_move, plinthSwiftRelationMove)
    agree(plinth_swift_relation_truncate, plinthSwiftRelationTruncate)
    agree(plinth_swift_relation_stats, plinthSwiftRelationStats)
    agree(plinth_swift_relation_vacuum, plinthSwiftRelationVacuum)
    agree(plinth_swift_database_drop, plinthSwiftDatabaseDrop)
    agree(plinth_swift_claim_server_identity, plinthSwiftClaimServerIdentity)
    agree(plinth_swift_database_rename, plinthSwiftDatabaseRename)
    agree(plinth_swift_process_exit, plinthSwiftProcessExit)

    agree(plinth_swift_schema_begin, plinthSwiftSchemaBegin)
    agree(plinth_swift_schema_end, plinthSwiftSchemaEnd)
    agree(plinth_swift_schema_queue, plinthSwiftSchemaQueue)
    agree(plinth_swift_schema_pending_log, plinthSwiftSchemaPendingLog)
    agree(plinth_swift_schema_log, plinthSwiftSchemaLog)
    agree(plinth_swift_replay_begin, plinthSwiftReplayBegin)
    agree(plinth_swift_schema_start, plinthSwiftSchemaStart)
    agree(plinth_swift_replay_end, plinthSwiftReplayEnd)
    agree(plinth_swift_schema_committed, plinthSwiftSchemaCommitted)
    agree(plinth_swift_schema_pending, plinthSwiftSchemaPending)
    agree(plinth_swift_schema_entries_free, plinthSwiftSchemaEntriesFree)
    agree(plinth_swift_schema_version, plinthSwiftSchemaVersion)
    agree(plinth_swift_schema_head, plinthSwiftSchemaHead)
    agree(plinth_swift_schema_databases, plinthSwiftSchemaDatabases)
    agree(plinth_swift_server_stopping, plinthSwiftServerStopping)

    agree(plinth_swift_insert, plinthSwiftInsert)
    agree(plinth_swift_fetcher_new, plinthSwiftFetcherNew)
    agree(plinth_swift_fetcher_release, plinthSwiftFetcherRelease)
    agree(plinth_swift_fetch, plinthSwiftFetch)
    agree(plinth_swift_delete, plinthSwiftDelete)
    agree(plinth_swift_replace, plinthSwiftReplace)
    agree(plinth_swift_lock, plinthSwiftLock)
    agree(plinth_swift_lock_row, plinthSwiftLockRow)
    agree(plinth_swift_row_moved, plinthSwiftRowMoved)
    agree(plinth_swift_scan_begin, plinthSwiftScanBegin)
    agree(plinth_swift_sampling_renews_snapshot, plinthSwiftSamplingRenewsSnapshot)
    agree(plinth_swift_rows_begin, plinthSwiftRowsBegin)
    agree(plinth_swift_scan_next, plinthSwiftScanNext)
    agree(plinth_swift_scan_release, plinthSwiftScanRelease)

    agree(plinth_swift_index_insert, plinthSwiftIndexInsert)
    agree(plinth_swift_index_delete, plinthSwiftIndexDelete)
    agree(plinth_swift_parent_key_note, plinthSwiftParentKeyNote)
    agree(plinth_swift_index_scan_begin, plinthSwiftIndexScanBegin)
    agree(plinth_swift_index_scan_next, plinthSwiftIndexScanNext)
    agree(plinth_swift_index_scan_mark, plinthSwiftIndexScanMark)
    agree(plinth_swift_index_scan_restore, plinthSwiftIndexScanRestore)
    agree(plinth_swift_index_scan_rows, plinthSwiftIndexScanRows)
    agree(plinth_swift_index_scan_release, plinthSwiftIndexScanRelease)
}
