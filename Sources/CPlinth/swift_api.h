/*
 * swift_api.h — the Swift entry points the C shim calls (@_cdecl functions in
 * Sources/PlinthGlue). Every one that can fail returns PlinthStatus; the
 * caller wraps it in PLINTH_CHECK so the error is raised after Swift returned.
 */
#ifndef PLINTH_SWIFT_API_H
#define PLINTH_SWIFT_API_H

#include "plinth_bridge.h"

/* Version.swift */
extern const char *plinth_swift_version(void);

/* BoundaryTests.swift: prove the error boundary (SQL: plinth_test.*) */
extern PlinthStatus plinth_swift_test_raise(const char *sqlstate, const char *message);
extern PlinthStatus plinth_swift_test_parse_int4(const char *text, int32_t *result);
extern int64_t plinth_swift_test_unwound(void);
extern PlinthStatus plinth_swift_test_retry_forever(int32_t limit_ms);

/* TableAM.swift: configuration and handles */
extern void plinth_swift_configure(const PlinthConfig *config);
extern void plinth_swift_release(void *handle);

/* TableAM.swift: relations (store ids of relfilenodes) */
extern PlinthStatus plinth_swift_relation_lookup(uint32_t relfilenode, int64_t *store_id);
extern PlinthStatus plinth_swift_relation_create(uint32_t relfilenode, uint32_t old_relfilenode,
												 uint32_t cid, uint32_t subid, int64_t *store_id);
extern PlinthStatus plinth_swift_relation_forget(uint32_t relfilenode, uint32_t cid, uint32_t subid);
extern PlinthStatus plinth_swift_database_drop(uint32_t database_oid, uint32_t cid, uint32_t subid);
extern PlinthStatus plinth_swift_claim_server_identity(void);
extern PlinthStatus plinth_swift_relation_move(uint32_t old_relfilenode, uint32_t new_relfilenode,
											   uint32_t cid, uint32_t subid);
extern PlinthStatus plinth_swift_relation_truncate(int64_t table, uint32_t cid, uint32_t subid);
extern PlinthStatus plinth_swift_relation_stats(int64_t table, bool with_row_id_limit, PlinthRelStats *stats);

/* TableAM.swift: rows */
extern PlinthStatus plinth_swift_insert(int64_t table, const void *tuple, size_t len,
										uint32_t cid, uint32_t subid, uint32_t xid, int64_t *row_id);
extern void *plinth_swift_fetcher_new(void);
extern PlinthStatus plinth_swift_fetch(int64_t table, int64_t row_id, PlinthVisibility vis,
									   void *fetcher, bool *found, PlinthRow *row);
extern PlinthStatus plinth_swift_prefetch(int64_t table, const int64_t *rows, size_t n);
extern PlinthStatus plinth_swift_delete(int64_t table, int64_t row_id, uint32_t cid, uint32_t subid,
										void *fetcher, PlinthModify *result);
extern PlinthStatus plinth_swift_replace(int64_t table, int64_t row_id, const void *tuple, size_t len,
										 uint32_t cid, uint32_t subid, uint32_t xid, PlinthModify *result);
extern PlinthStatus plinth_swift_lock(int64_t table, int64_t row_id, uint32_t cid, bool exclusive,
									  void *fetcher, PlinthModify *result);

/* TableAM.swift: scans (released with plinth_swift_release) */
extern PlinthStatus plinth_swift_scan_begin(int64_t table, PlinthVisibility vis, int64_t low, int64_t high,
											bool reverse, void **scan);
extern PlinthStatus plinth_swift_rows_begin(int64_t table, PlinthVisibility vis, const int64_t *rows,
											size_t n, void **scan);
extern PlinthStatus plinth_swift_scan_next(void *scan, bool *found, PlinthRow *row);

/* IndexAM.swift: index entries and scans */
extern PlinthStatus plinth_swift_index_insert(const PlinthIndexDesc *index, const PlinthKeyElement *elems, size_t n,
											  int64_t row_id, const void *tuple, size_t tuple_len,
											  PlinthUniqueCheck check, int32_t depth, bool building, uint32_t cid,
											  uint32_t subid, bool *conflict);
extern PlinthStatus plinth_swift_parent_key_note(const PlinthIndexDesc *index, const PlinthKeyElement *elems, size_t n,
												 bool *due);
extern PlinthStatus plinth_swift_parent_keys_read(void);
extern PlinthStatus plinth_swift_unique_checks_run(int32_t min_depth, PlinthUniqueViolation *out, size_t *remaining);
extern PlinthStatus plinth_swift_index_delete(const PlinthIndexDesc *index, const PlinthKeyElement *elems, size_t n,
											  int64_t row_id, uint32_t cid, uint32_t subid);
extern PlinthStatus plinth_swift_index_scan_begin(const PlinthIndexDesc *index, PlinthVisibility vis,
												  const PlinthScanKey *keys, size_t nkeys, bool prefetch_rows,
												  void **scan);
extern PlinthStatus plinth_swift_index_scan_next(void *scan, bool forward, bool *found, int64_t *row_id,
												 void *fetcher, void **tuple, size_t *len);
extern void plinth_swift_index_scan_mark(void *scan);
extern void plinth_swift_index_scan_restore(void *scan);
extern PlinthStatus plinth_swift_index_scan_rows(void *scan, int64_t *rows, size_t cap, size_t *n);

/* TableAM.swift: transactions and counters */
extern PlinthStatus plinth_swift_xact_event(PlinthXactEvent event);
extern void plinth_swift_subxact_event(PlinthSubXactEvent event, uint32_t subid, uint32_t parent);
extern void plinth_swift_set_parallel_worker(bool yes);
extern void plinth_swift_counters(PlinthCounters *session, PlinthCounters *statement);
extern void plinth_swift_statement_start(void);
extern void plinth_swift_statement_end(void);

#endif							/* PLINTH_SWIFT_API_H */
