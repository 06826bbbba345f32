/*
 * session.h — what a backend's session holds on the C side (session.c):
 * the settings, the preload check, the hand-over of the settings to Swift
 * at the start of each transaction that uses the store, and where the
 * running statement stands. Depends only on the boundary.
 */
#ifndef PLINTH_SESSION_H
#define PLINTH_SESSION_H

#include "postgres.h"

#include "boundary.h"
#include "utils/timestamp.h"

/* Settings (GUCs): see README.md "Settings". */
extern char *plinth_data_directory;
extern char *plinth_cluster_file;
extern int	plinth_api_version;
extern char *plinth_fdb_library;
extern int	plinth_timeout_ms;
extern bool plinth_durable;
extern int	plinth_transaction_lifetime_ms;
extern int	plinth_map_size_mb;
extern bool plinth_fault_crash_after_store_commit;
extern int	plinth_server_timeout_ms;
extern bool plinth_single_server;

/* True when loaded through shared_preload_libraries (required). */
extern bool plinth_preloaded;
/* True once this transaction has touched the store (plinth_prepare). */
extern bool plinth_in_use;

/*
 * How many statements are running, one inside another (a function's
 * statement inside the query calling it, a trigger's inside the statement
 * firing it): work a statement leaves for its end is tagged with it.
 * Maintained by the executor and utility hooks (hooks.c).
 */
extern int	plinth_statement_depth;

/*
 * Called for each row inserted into a Plinth table while set: sequences.c's
 * guard of a COPY FROM that fills columns from the server's own copy of a
 * shared sequence.
 */
extern void (*plinth_row_inserted_hook) (void);

extern void plinth_define_settings(void);
extern void plinth_require_preload(void);
extern void plinth_prepare(void);
extern int	plinth_read_isolation(void);
extern void plinth_prepare_worker(void);
extern void plinth_register_worker(const char *name, const char *function, int flags);
extern void plinth_note_beat(TimestampTz began);
extern bool plinth_schema_ready(void);
extern void plinth_set_schema_ready(void);
extern void plinth_note_replay(void);
extern void plinth_set_schema_current(bool known, int64 metadata);
extern TimestampTz plinth_last_replay(void);
extern void plinth_session_at_transaction_end(void);
extern void plinth_request_shared_memory(void);
extern int64 plinth_incarnation(void);
extern Oid	plinth_am_oid(void);

#endif							/* PLINTH_SESSION_H */
