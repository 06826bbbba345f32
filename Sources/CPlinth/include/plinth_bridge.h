/*
 * plinth_bridge.h — the whole surface shared by the C shim and Swift.
 *
 * Swift imports this header (module CPlinth), so it must not include any
 * Postgres header: Postgres defines types named String, List, Node... that
 * would clash with Swift's. Everything here is plain C.
 *
 * Direction of calls:
 *   Postgres -> C shim (Sources/CPlinth) -> Swift @_cdecl entry points
 *   (declared at the end of this file) -> store.
 * The entry points are declared here, where both compilers see them:
 * Sources/PlinthGlue/Contract.swift checks each declaration against its
 * Swift implementation, so the two sides cannot disagree on a signature.
 * Swift never raises a Postgres error: it records one with plinth_error_set()
 * and returns PLINTH_ERROR; the C entry point raises it after Swift has
 * returned, so ereport's longjmp never crosses a Swift frame.
 */
#ifndef PLINTH_BRIDGE_H
#define PLINTH_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returned by every Swift entry point that can fail. */
typedef enum PlinthStatus
{
	PLINTH_OK = 0,
	PLINTH_ERROR = 1			/* error recorded by plinth_error_set() or
								 * plinth_pg_try() */
} PlinthStatus;

/*
 * Record an error for the C entry point to raise. sqlstate is five
 * characters ("40001"); detail and hint may be NULL. Copies its arguments.
 */
void		plinth_error_set(const char *sqlstate, const char *message,
							 const char *detail, const char *hint);

/*
 * Run fn(arg) inside PG_TRY. Returns true when it finished normally. When it
 * raised a Postgres error, the error is copied, the error state flushed, and
 * false returned; the C entry point re-raises that error once Swift has
 * unwound (plinth_raise_pending). This is the only way Swift calls a Postgres
 * function that can raise.
 */
bool		plinth_pg_try(void (*fn) (void *arg), void *arg);

/*
 * Whether Postgres has an interrupt to process (query cancel,
 * statement_timeout, termination...) that it may process now. Cheap; raises
 * nothing.
 */
bool		plinth_interrupt_pending(void);

/*
 * Whether this server's last heartbeat is recent enough that no other
 * server can have declared it dead (session.c). Cheap; raises nothing.
 */
bool		plinth_liveness_recent(void);

/*
 * Processes pending interrupts (CHECK_FOR_INTERRUPTS) inside plinth_pg_try.
 * Returns true when one raised an error: it waits to be re-raised, and the
 * Swift operation must stop and return PLINTH_ERROR.
 */
bool		plinth_interrupt_raised(void);

/*
 * Whether transaction `xid` of this server is still running
 * (TransactionIdIsInProgress), inside plinth_pg_try. Returns false when that
 * raised an error: it waits to be re-raised.
 */
bool		plinth_transaction_in_progress(uint32_t xid, bool *running);

/*
 * The store's metadata version as of which this server's catalog had every
 * DDL committed to the store, published by its schema worker (schema.c).
 * False when not known. Cheap; raises nothing.
 */
bool		plinth_schema_current_through(int64_t *metadata);

/*
 * The last schema log entry of this database this server's catalog has
 * (INT64_MAX: the database shares no schema), inside plinth_pg_try.
 * Returns false when that raised an error: it waits to be re-raised.
 */
bool		plinth_schema_local_position(int64_t *position);

/* ---- configuration ------------------------------------------------- */

/* The settings the store needs, read by the shim from the GUCs. */
typedef struct PlinthConfig
{
	const char *store_path;		/* embedded store directory */
	const char *cluster_file;	/* FoundationDB cluster file; "" = embedded */
	int32_t		api_version;	/* FoundationDB API version */
	const char *fdb_library;	/* libfdb_c to load; "" = the linker's search */
	int32_t		timeout_ms;		/* bound on every store call (FoundationDB) */
	bool		durable;
	int32_t		lifetime_ms;	/* transaction lifetime (embedded) */
	int64_t		map_size_bytes;
	int64_t		write_buffer_bytes; /* plinth.write_buffer_memory */
	const char *spill_directory;	/* where buffered writes spill (base/pgsql_tmp) */
	const char *database_name;	/* the Postgres database of this backend */
	uint32_t	database_oid;
	const char *server_home;	/* "host:data directory" of this server */
	bool		in_recovery;	/* a standby: reads only */
	const char *server_id_path; /* file with this server's identity */
	const char *store_id_path;	/* file naming the store it uses */
	int32_t		backend_id;		/* spreads statistics counters */
	int32_t		server_timeout_ms;	/* plinth.server_timeout */
	int32_t		isolation;		/* XactIsoLevel: XACT_READ_COMMITTED (1) ... */
	int64_t		incarnation;	/* the postmaster's start time */
} PlinthConfig;

/* ---- rows ---------------------------------------------------------- */

/*
 * Bytes a row's tuple header has before the stored part: the shim fills
 * xmin, xmax, cid and ctid (t_choice and t_ctid) in front of what the store
 * returns.
 */
#define PLINTH_OMITTED_HEADER 18

/*
 * A row handed to the shim. `data` points to a MAXALIGNed buffer owned by
 * Swift: PLINTH_OMITTED_HEADER bytes for the shim to fill, then the stored
 * tuple. Valid until the next call on the same scan or fetch.
 */
typedef struct PlinthRow
{
	void	   *data;
	uint32_t	len;			/* including the omitted header */
	int64_t		row_id;
	bool		own;			/* written by this transaction */
	uint32_t	cid;			/* command that wrote it, when own */
	uint32_t	xmin;			/* (sub)transaction that wrote it (0: unknown) */
} PlinthRow;

/* Which own writes a read sees (Postgres snapshot kinds). */
typedef struct PlinthVisibility
{
	bool		all;			/* SnapshotSelf/Dirty: every own write */
	bool		any_version;	/* SnapshotAny: even rows this transaction deleted */
	uint32_t	curcid;			/* MVCC: own writes of commands < curcid;
								 * SnapshotAny: the current command */
	bool		current;		/* SnapshotDirty: the newest committed rows,
								 * not the snapshot's */
	bool		renew;			/* with current, a scan of a table no one
								 * else may write: its store snapshots are
								 * renewed as it goes (no 5-second limit) */
} PlinthVisibility;

/* Transaction events passed to Swift (a subset of XactEvent). */
typedef enum PlinthXactEvent
{
	PLINTH_XACT_PRE_COMMIT = 0,
	PLINTH_XACT_COMMIT,
	PLINTH_XACT_ABORT,
	PLINTH_XACT_PRE_PREPARE
} PlinthXactEvent;

typedef enum PlinthSubXactEvent
{
	PLINTH_SUBXACT_COMMIT = 0,
	PLINTH_SUBXACT_ABORT
} PlinthSubXactEvent;

/* Outcome of delete/update/lock on one row (TM_Result subset). */
typedef enum PlinthModifyResult
{
	PLINTH_MODIFY_OK = 0,
	PLINTH_MODIFY_SELF_MODIFIED,	/* deleted by this transaction, cmax set */
	PLINTH_MODIFY_INVISIBLE,	/* written by a later command */
	PLINTH_MODIFY_NOT_FOUND
} PlinthModifyResult;

typedef struct PlinthModify
{
	PlinthModifyResult result;
	uint32_t	cmax;			/* for SELF_MODIFIED: the command that did it */
	PlinthRow	old;			/* for OK: the row as it was */
} PlinthModify;

/*
 * Whom to wait for before trying again: a running transaction that holds a
 * conflicting row or key lock (RowLocks.swift).
 */
typedef struct PlinthLockWait
{
	bool		blocked;
	bool		local;			/* runs on this server: wait for wait_xid */
	uint32_t	wait_xid;		/* the (sub)transaction that took the lock */
	int64_t		holder_server;
	int64_t		holder_incarnation;
	int64_t		holder_xid;		/* its top-level FullTransactionId */
} PlinthLockWait;

/* The ids a lock is taken under. */
typedef struct PlinthLockIds
{
	uint32_t	subid;			/* SubTransactionId: a savepoint's rollback gives it back */
	uint32_t	wait_xid;		/* GetCurrentTransactionId() */
	int64_t		top_xid;		/* GetTopFullTransactionId() */
} PlinthLockIds;

/* What taking a row's lock found (RowLockOutcome). */
typedef enum PlinthRowLockOutcome
{
	PLINTH_ROW_CURRENT = 0,		/* locked; this transaction sees the newest version */
	PLINTH_ROW_UPDATED,			/* locked; newer version committed since the snapshot */
	PLINTH_ROW_DELETED,			/* locked; deleted since the snapshot */
	PLINTH_ROW_MOVED,			/* locked; moved to row id moved_to since the snapshot */
	PLINTH_ROW_BLOCKED			/* wait for `wait`, then try again */
} PlinthRowLockOutcome;

typedef struct PlinthRowLock
{
	PlinthRowLockOutcome outcome;
	int64_t		moved_to;		/* -1: moved to another partition */
	bool		held;			/* blocked, but a weaker lock is held already */
	bool		newer;			/* current: the version this transaction reads
								 * is newer than its statement's snapshot */
	PlinthLockWait wait;
} PlinthRowLock;

/* Estimates for the planner. */
typedef struct PlinthRelStats
{
	double		rows;
	double		bytes;
	int64_t		row_id_limit;	/* row ids handed out so far (upper bound);
								 * read only when asked for */
} PlinthRelStats;

/* Store work counters (plinth_stat_* functions). */
typedef struct PlinthCounters
{
	int64_t		reads;
	int64_t		range_reads;
	int64_t		round_trips;
	int64_t		bytes_read;
	int64_t		bytes_written;
	int64_t		commits;
	int64_t		conflicts;
} PlinthCounters;

/* A relation's storage as the store maps it (plinth_sweep_orphans). */
typedef struct PlinthMapping
{
	uint32_t	relfilenode;
	int64_t		store_id;
	uint64_t	creator;		/* FullTransactionId that created it; 0: unknown */
} PlinthMapping;

/* ---- index keys ---------------------------------------------------- */

/*
 * One element of an index key, as the shim normalised a Postgres value
 * (keys.c). A column is one element, or a nested group between BEGIN and END
 * markers; Swift makes order-preserving bytes of them (IndexKey.swift).
 */
typedef enum PlinthKeyKind
{
	PLINTH_KEY_NULL = 0,
	PLINTH_KEY_INT,				/* i */
	PLINTH_KEY_UINT,			/* i, as uint64 */
	PLINTH_KEY_DOUBLE,			/* d */
	PLINTH_KEY_BYTES,			/* ptr, len: compared bytewise */
	PLINTH_KEY_DECIMAL,			/* ptr, len: numeric in text form */
	PLINTH_KEY_BEGIN_NESTED,
	PLINTH_KEY_END_NESTED
} PlinthKeyKind;

typedef struct PlinthKeyElement
{
	int32_t		kind;			/* PlinthKeyKind */
	int64_t		i;
	double		d;
	const void *ptr;
	size_t		len;
} PlinthKeyElement;

/* What Swift needs to know of a Plinth index. */
typedef struct PlinthIndexDesc
{
	int64_t		index_id;		/* store id of the index */
	int64_t		table_id;		/* store id of its table */
	int32_t		nkeys;			/* key columns (INCLUDE columns are not in the key) */
	const uint8_t *descending;	/* per key column */
	const uint8_t *nulls_first; /* per key column */
	bool		unique;
	bool		nulls_not_distinct;
	uint32_t	index_oid;		/* for messages */
	const char *name;			/* for messages: the index */
	const char *const *column_names;	/* for messages: per key column */
	const uint8_t *collated;	/* for messages: per key column, 1 when its
								 * strings are keyed by a collation's sort key */
} PlinthIndexDesc;

/* Uniqueness checks, as Postgres's IndexUniqueCheck. */
typedef enum PlinthUniqueCheck
{
	PLINTH_UNIQUE_NO = 0,
	PLINTH_UNIQUE_YES,
	PLINTH_UNIQUE_PARTIAL,
	PLINTH_UNIQUE_EXISTING
} PlinthUniqueCheck;

/* A uniqueness violation found by checks that waited for their statement's end. */
typedef struct PlinthUniqueViolation
{
	bool		found;
	bool		building;		/* found by CREATE UNIQUE INDEX */
	uint32_t	index_oid;
	const void *tuple;			/* the index tuple of the row's entry */
	size_t		tuple_len;
	PlinthLockWait wait;		/* blocked: wait, then run the checks again */
} PlinthUniqueViolation;

/* Scan key flags. */
#define PLINTH_SK_ISNULL	0x01	/* IS NULL */
#define PLINTH_SK_NOTNULL	0x02	/* IS NOT NULL */
#define PLINTH_SK_INEXACT	0x04	/* cannot bound the scan: the executor rechecks */
#define PLINTH_SK_NEVER		0x08	/* can never be true (NULL argument, empty array) */

/*
 * One scan key: `nvalues` argument values (more than one for = ANY), their
 * elements in `elems[0 .. nelems)`, each value one column's worth.
 */
typedef struct PlinthScanKey
{
	int32_t		column;			/* 0-based key column */
	int32_t		strategy;		/* 1 <, 2 <=, 3 =, 4 >=, 5 >; 0 for the null tests */
	uint32_t	flags;
	int32_t		nvalues;
	const PlinthKeyElement *elems;
	size_t		nelems;
} PlinthScanKey;

/*
 * Points of a statement's life where work it left may be due (uniqueness
 * checks of the rows it inserted, the parent keys of its foreign key
 * checks): Swift decides what runs (StatementWork.swift).
 */
typedef enum PlinthStatementEvent
{
	PLINTH_STATEMENT_EXECUTOR_FINISHING = 0,	/* ExecutorFinish, before AFTER triggers */
	PLINTH_STATEMENT_EXECUTOR_FINISHED,
	PLINTH_STATEMENT_UTILITY_FINISHED,
	PLINTH_STATEMENT_INDEX_BUILT,
	PLINTH_STATEMENT_COPY_BATCH,
	PLINTH_STATEMENT_PRE_COMMIT,
	PLINTH_STATEMENT_UNIQUE_CHECKS	/* the checks from `depth` on, after a wait */
} PlinthStatementEvent;

/* Test support: a Postgres call that raises for bad input (int4in). */
bool		plinth_pg_parse_int4(const char *text, int32_t *result);

/* ---- handles ------------------------------------------------------- */

/*
 * Swift objects the shim holds, each kind its own type so that neither
 * compiler lets one pass for another. A handle is retained until its
 * release function is called; `object` is NULL for none.
 */
typedef struct PlinthRowSourceHandle
{
	void	   *object;			/* a table scan or a list of rows */
} PlinthRowSourceHandle;

typedef struct PlinthIndexScanHandle
{
	void	   *object;
} PlinthIndexScanHandle;

typedef struct PlinthFetcherHandle
{
	void	   *object;			/* a row buffer for single-row fetches */
} PlinthFetcherHandle;

/* ---- Swift entry points -------------------------------------------- */

/*
 * Implemented in Sources/PlinthGlue with @_cdecl. Every one that can fail
 * returns PlinthStatus; the C caller wraps it in PLINTH_CHECK so the error
 * is raised after Swift returned.
 */

/* Version.swift */
const char *plinth_swift_version(void);

/* BoundaryTests.swift: prove the error boundary (SQL: plinth_test_*) */
PlinthStatus plinth_swift_test_raise(const char *sqlstate, const char *message);
PlinthStatus plinth_swift_test_parse_int4(const char *text, int32_t *result);
int64_t		plinth_swift_test_unwound(void);
PlinthStatus plinth_swift_test_retry_forever(int32_t limit_ms);
PlinthStatus plinth_swift_test_database_keys(int64_t *count);
PlinthStatus plinth_swift_test_staged_commits(int64_t *count);

/* SessionEntryPoints.swift: settings, transactions, statements, counters */
void		plinth_swift_configure(const PlinthConfig *config);
void		plinth_swift_set_parallel_worker(bool yes);
/* The process exits (on_proc_exit): the store's network stops. Never fails. */
void		plinth_swift_process_exit(void);
PlinthStatus plinth_swift_xact_event(PlinthXactEvent event);
void		plinth_swift_subxact_event(PlinthSubXactEvent event, uint32_t subid, uint32_t parent);
PlinthStatus plinth_swift_statement_event(PlinthStatementEvent event, int32_t depth, const PlinthLockIds *ids,
										  PlinthUniqueViolation *violation);
void		plinth_swift_statement_snapshot(int32_t isolation, bool top_level, bool foreign_key_check);
/* `beat`: the holder's server's heartbeat counter (0: none yet). */
PlinthStatus plinth_swift_holder_running(const PlinthLockWait *wait, bool *running, int64_t *beat);
/* The holder's server sent no heartbeat for plinth.server_timeout. */
PlinthStatus plinth_swift_declare_server_dead(const PlinthLockWait *wait);
/* The liveness worker's heartbeat; `alive` false: declared dead, restart. */
PlinthStatus plinth_swift_server_beat(bool *alive);
void		plinth_swift_statement_start(void);
void		plinth_swift_statement_end(void);
void		plinth_swift_counters(PlinthCounters *session, PlinthCounters *statement);

/* SessionEntryPoints.swift: relations (store ids of relfilenodes), databases */
PlinthStatus plinth_swift_relation_lookup(uint32_t relfilenode, int64_t *store_id);
/*
 * A scan under ShareLock or stronger: other servers' writers of the table
 * fail until this transaction ends (`statement`: until the transaction that
 * logs the running DDL statement ends, for a concurrent index build).
 */
PlinthStatus plinth_swift_fence_writers(int64_t table_id, uint64_t top_xid, bool statement);
/* An index build into new storage begins (done false) or ends: its entries may go straight to the store. */
PlinthStatus plinth_swift_index_build(int64_t index_id, uint32_t relfilenode, uint32_t cid, uint32_t subid, bool done);
PlinthStatus plinth_swift_relation_create(uint32_t relfilenode, uint32_t old_relfilenode,
										  uint32_t cid, uint32_t subid, uint64_t creator, int64_t *store_id);
PlinthStatus plinth_swift_relation_mappings(PlinthMapping *mappings, size_t capacity, size_t *count);
PlinthStatus plinth_swift_relation_forget(uint32_t relfilenode, uint32_t cid, uint32_t subid);
PlinthStatus plinth_swift_relation_move(uint32_t old_relfilenode, uint32_t new_relfilenode,
										uint32_t cid, uint32_t subid);
PlinthStatus plinth_swift_relation_truncate(int64_t table, uint32_t cid, uint32_t subid);
PlinthStatus plinth_swift_relation_stats(int64_t table, bool with_row_id_limit, PlinthRelStats *stats);
PlinthStatus plinth_swift_relation_vacuum(int64_t table, uint64_t horizon, int64_t *removed);
PlinthStatus plinth_swift_claim_server_identity(void);

/* DatabaseEntryPoints.swift: databases, and the database log shared by the servers of a store */
typedef enum PlinthDatabaseKind
{
	PLINTH_DATABASE_CREATE = 1,
	PLINTH_DATABASE_DROP = 2,
	PLINTH_DATABASE_RENAME = 3,
	PLINTH_DATABASE_ALTER = 4
} PlinthDatabaseKind;

typedef struct PlinthDatabaseEntry
{
	int64_t		seq;
	int32_t		kind;			/* PlinthDatabaseKind */
	char	   *role;			/* malloc'ed by Swift: plinth_swift_database_entries_free */
	char	   *statement;
	char	   *name;			/* a rename's old name */
	char	   *other;			/* CREATE: the template; RENAME: the new name */
	int64_t		template_position;	/* CREATE: the template's schema log entry to copy it at (0: none) */
} PlinthDatabaseEntry;

/* CREATE DATABASE ran: the new database's id, mapping and template data; logged at the commit. */
PlinthStatus plinth_swift_database_create(uint32_t template_oid, uint32_t database_oid, const char *name,
										  const char *template_name, const char *role, const char *statement,
										  uint32_t cid, uint32_t subid);
/* A replayed CREATE DATABASE (plinth.replay_database): this server's mappings of the entry's database. */
PlinthStatus plinth_swift_database_replay_create(int64_t seq, uint32_t database_oid, uint32_t template_oid,
												 uint32_t cid, uint32_t subid);
PlinthStatus plinth_swift_database_drop(uint32_t database_oid, const char *name, uint32_t cid, uint32_t subid);
PlinthStatus plinth_swift_database_rename(uint32_t database_oid, const char *from, const char *to,
										  uint32_t cid, uint32_t subid);
/* DROP, RENAME or ALTER DATABASE ran: logged at the commit. */
PlinthStatus plinth_swift_database_queue(int32_t kind, const char *name, const char *other, const char *role,
										 const char *statement, uint32_t subid);
bool		plinth_swift_database_pending_log(void);
/* At pre-commit, before the schema log's: the statements to the database log. */
PlinthStatus plinth_swift_database_log(int64_t *seq);
/* After the origin's commit and plinth_swift_database_applied: never fails; `gave_up`: servers no longer waited for. */
void		plinth_swift_database_wait(int64_t seq, int32_t timeout_ms, bool (*interrupted) (void), int32_t *gave_up);
/* The worker's: the entries after this server's position. */
PlinthStatus plinth_swift_database_entries(PlinthDatabaseEntry *entries, size_t capacity, size_t *count);
void		plinth_swift_database_entries_free(PlinthDatabaseEntry *entries, size_t count);
/* This server's catalog has entry `seq` (after Postgres's commit of it, or of its replay). */
PlinthStatus plinth_swift_database_applied(int64_t seq);

/* SchemaEntryPoints.swift: the schema log shared by the servers of a store */
typedef struct PlinthSchemaEntry
{
	int64_t		seq;
	char	   *role;			/* malloc'ed by Swift: plinth_swift_schema_entries_free */
	char	   *search_path;
	char	   *statement;
} PlinthSchemaEntry;

void		plinth_swift_schema_begin(void);
void		plinth_swift_schema_end(void);
PlinthStatus plinth_swift_schema_queue(const char *role, const char *search_path, const char *statement,
									   uint32_t subid);
bool		plinth_swift_schema_pending_log(void);
/*
 * Portable ids for the `count` pg_type and pg_enum rows the DDL statement
 * that just ran created (portable.c), into `ids`: the replayed entry's, or
 * new ones for the statement's log entry. `*mapped` false: a replayed entry
 * older than format 4, whose rows stay unmapped.
 */
PlinthStatus plinth_swift_portable_ids(int32_t count, int64_t *ids, bool *mapped);
/*
 * At pre-commit. `applied`: where this server's catalog stands (-1: unknown,
 * the extension is being dropped). `relfilenodes`: the relations whose
 * writers this DDL would wait for (DefinitionGuard.swift).
 */
PlinthStatus plinth_swift_schema_log(int64_t applied, const uint32_t *relfilenodes, size_t count, int64_t *seq);
PlinthStatus plinth_swift_replay_begin(int64_t seq);
/* Where a new plinth.schema_applied starts (plinth_schema_start). */
PlinthStatus plinth_swift_schema_start(int64_t *start);
void		plinth_swift_replay_end(void);
/* After Postgres's commit: never fails; `gave_up`: servers no longer waited for. */
void		plinth_swift_schema_committed(int64_t seq, bool origin, bool dropped, int32_t timeout_ms,
										  bool (*interrupted) (void), int32_t *gave_up);
PlinthStatus plinth_swift_schema_pending(int64_t applied, PlinthSchemaEntry *entries, size_t capacity, size_t *count);
void		plinth_swift_schema_entries_free(PlinthSchemaEntry *entries, size_t count);
/* DDL statements logged in the whole store, and the store's metadata version (0: never bumped). */
PlinthStatus plinth_swift_schema_version(int64_t *version, int64_t *metadata);
/* The last entry of this database's log. */
PlinthStatus plinth_swift_schema_head(int64_t *head);
/*
 * After CREATE EXTENSION plinth's commit: this server has it; then (`wait`:
 * the server that created it first) waits for the servers that have this
 * database to create it too.
 */
void		plinth_swift_schema_extension_committed(bool wait, int32_t timeout_ms, bool (*interrupted) (void),
													int32_t *gave_up);
/* Whether the servers sharing this server's database have the extension there (the worker creates it then). */
PlinthStatus plinth_swift_schema_extension_created(uint32_t database_oid, const char *name, bool *created);
/*
 * Names of the store's databases the worker's pass must visit (entries to
 * apply, an extension to create), each ended by a NUL; `length` >
 * `capacity`: call again.
 */
PlinthStatus plinth_swift_schema_databases(char *names, size_t capacity, size_t *length);
/* The pass applied everything the database had pending when listed. */
void		plinth_swift_schema_database_visited(const char *name);
/* The server stops: others no longer wait for it (liveness worker). */
void		plinth_swift_server_stopping(void);

/* SequenceEntryPoints.swift: sequences shared by the servers of a store (sequences.c) */
typedef struct PlinthSequenceDefinition
{
	int64_t		increment;
	int64_t		min;
	int64_t		max;
	bool		cycle;
} PlinthSequenceDefinition;

typedef enum PlinthSequenceLimit
{
	PLINTH_SEQUENCE_OK = 0,
	PLINTH_SEQUENCE_REACHED_MAXIMUM = 1,
	PLINTH_SEQUENCE_REACHED_MINIMUM = 2
} PlinthSequenceLimit;

/* Values first, first + increment, ... last: `count` of them. */
typedef struct PlinthSequenceLease
{
	int64_t		first;
	int64_t		last;
	int64_t		count;
	int32_t		limit;			/* PlinthSequenceLimit: not OK, no value */
} PlinthSequenceLease;

PlinthStatus plinth_swift_sequence_create(uint32_t oid, uint32_t cid, uint32_t subid);
/* *store_id 0: the sequence is this server's own. */
PlinthStatus plinth_swift_sequence_lookup(uint32_t oid, int64_t *store_id);
PlinthStatus plinth_swift_sequence_drop(uint32_t oid, uint32_t cid, uint32_t subid);
PlinthStatus plinth_swift_sequence_restart(int64_t store_id, uint32_t cid, uint32_t subid);
/* *found false: the store has no state yet; the catalog's stands. */
PlinthStatus plinth_swift_sequence_state(int64_t store_id, bool *found, int64_t *last, bool *is_called);
PlinthStatus plinth_swift_sequence_lease(int64_t store_id, const PlinthSequenceDefinition *definition,
										 int64_t local_last, bool local_is_called, int64_t count,
										 PlinthSequenceLease *lease);
PlinthStatus plinth_swift_sequence_set(int64_t store_id, int64_t last, bool is_called, bool only_forward,
									   bool ascending);
/* Values leased up to `leased_last` and used up to `last_used` go back, if no one leased since. */
PlinthStatus plinth_swift_sequence_give_back(int64_t store_id, int64_t leased_last, int64_t last_used);

/* TableEntryPoints.swift: rows */
PlinthStatus plinth_swift_insert(int64_t table, const void *tuple, size_t len, uint32_t cid, uint32_t subid,
								 uint32_t xid, bool for_update, int64_t *row_id);
PlinthFetcherHandle plinth_swift_fetcher_new(void);
void		plinth_swift_fetcher_release(PlinthFetcherHandle fetcher);
PlinthStatus plinth_swift_fetch(int64_t table, int64_t row_id, PlinthVisibility vis, PlinthFetcherHandle fetcher,
								bool *found, PlinthRow *row);
PlinthStatus plinth_swift_latest_row(int64_t table, int64_t row_id, PlinthVisibility vis, int64_t *latest);
PlinthStatus plinth_swift_delete(int64_t table, int64_t row_id, uint32_t cid, uint32_t subid, bool taking_back,
								 PlinthFetcherHandle fetcher, PlinthModify *result);
PlinthStatus plinth_swift_replace(int64_t table, int64_t row_id, const void *tuple, size_t len,
								  uint32_t cid, uint32_t subid, uint32_t xid, PlinthModify *result);
PlinthStatus plinth_swift_lock(int64_t table, int64_t row_id, uint32_t cid, bool exclusive,
							   PlinthFetcherHandle fetcher, PlinthModify *result);
PlinthStatus plinth_swift_lock_row(int64_t table, int64_t row_id, int32_t mode, bool deferrable,
								   const PlinthLockIds *ids, PlinthRowLock *result);
PlinthStatus plinth_swift_row_moved(int64_t table, int64_t row_id, int64_t to, uint32_t cid, uint32_t subid,
									uint64_t writer, bool key_changed);
/* Who is updating or deleting the row (a dirty-snapshot reader waits for it); takes no lock. */
PlinthStatus plinth_swift_row_writer(int64_t table, int64_t row_id, const PlinthLockIds *ids, PlinthLockWait *wait);

/* TableEntryPoints.swift: scans (released with plinth_swift_scan_release) */
/* ANALYZE, between sampled blocks: a sample needs no single snapshot. */
PlinthStatus plinth_swift_sampling_renews_snapshot(void);
PlinthStatus plinth_swift_scan_begin(int64_t table, PlinthVisibility vis, int64_t low, int64_t high,
									 bool reverse, PlinthRowSourceHandle *scan);
PlinthStatus plinth_swift_rows_begin(int64_t table, PlinthVisibility vis, const int64_t *rows,
									 size_t n, PlinthRowSourceHandle *scan);
PlinthStatus plinth_swift_scan_next(PlinthRowSourceHandle scan, bool *found, PlinthRow *row);
void		plinth_swift_scan_release(PlinthRowSourceHandle scan);

/* IndexEntryPoints.swift: index entries */
PlinthStatus plinth_swift_index_insert(const PlinthIndexDesc *index, const PlinthKeyElement *elems, size_t n,
									   int64_t row_id, const void *tuple, size_t tuple_len,
									   PlinthUniqueCheck check, int32_t depth, bool building, uint32_t cid,
									   const PlinthLockIds *ids, bool *conflict, PlinthUniqueViolation *violation,
									   PlinthLockWait *retry);
PlinthStatus plinth_swift_index_delete(const PlinthIndexDesc *index, const PlinthKeyElement *elems, size_t n,
									   int64_t row_id, uint32_t cid, uint32_t subid);
PlinthStatus plinth_swift_parent_key_note(const PlinthIndexDesc *index, const PlinthKeyElement *elems, size_t n,
										  const PlinthLockIds *ids);

/* IndexEntryPoints.swift: index scans (released with plinth_swift_index_scan_release) */
PlinthStatus plinth_swift_index_scan_begin(const PlinthIndexDesc *index, PlinthVisibility vis,
										   const PlinthScanKey *keys, size_t nkeys, bool prefetch_rows,
										   PlinthIndexScanHandle *scan);
PlinthStatus plinth_swift_index_scan_next(PlinthIndexScanHandle scan, bool forward, bool *found, int64_t *row_id,
										  PlinthFetcherHandle fetcher, void **tuple, size_t *len);
void		plinth_swift_index_scan_mark(PlinthIndexScanHandle scan);
void		plinth_swift_index_scan_restore(PlinthIndexScanHandle scan);
PlinthStatus plinth_swift_index_scan_rows(PlinthIndexScanHandle scan, int64_t *rows, size_t cap, size_t *n);
void		plinth_swift_index_scan_release(PlinthIndexScanHandle scan);

#endif							/* PLINTH_BRIDGE_H */
