/*
 * session.c — the settings, the preload check, and the hand-over to Swift at
 * the start of each transaction that uses the store (plinth_prepare).
 */
#include "postgres.h"

#include <limits.h>
#include <unistd.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "commands/defrem.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "port/atomics.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "session.h"

/* Settings: see README.md "Settings". */
char	   *plinth_data_directory = NULL;
char	   *plinth_cluster_file = NULL;
int			plinth_api_version = 710;
char	   *plinth_fdb_library = NULL;
int			plinth_timeout_ms = 5000;
bool		plinth_durable = true;
int			plinth_transaction_lifetime_ms = 5000;
int			plinth_map_size_mb = 262144;
int			plinth_write_buffer_kb = 65536;
int			plinth_server_timeout_ms = 10000;
bool		plinth_single_server = false;
bool		plinth_fault_crash_after_store_commit = false;

bool		plinth_preloaded = false;
bool		plinth_in_use = false;
int			plinth_statement_depth = 0;
void		(*plinth_row_inserted_hook) (void) = NULL;

void
plinth_define_settings(void)
{
	DefineCustomStringVariable("plinth.data_directory",
							   "Directory of the embedded store.",
							   "Empty means \"plinth\" inside the Postgres data directory. "
							   "Several Postgres servers on one machine may share one directory.",
							   &plinth_data_directory, "",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("plinth.cluster_file",
							   "FoundationDB cluster file; empty keeps the embedded store.",
							   "\"default\" means FoundationDB's own choice: the FDB_CLUSTER_FILE "
							   "environment variable, else /etc/foundationdb/fdb.cluster.",
							   &plinth_cluster_file, "",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plinth.api_version",
							"FoundationDB API version to select.",
							"710 (FoundationDB 7.1) is the newest Plinth is written against; "
							"any 7.1 or later client library serves it.",
							&plinth_api_version, 710, 620, 710,
							PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("plinth.fdb_library",
							   "Path of FoundationDB's client library, libfdb_c.",
							   "Empty means libfdb_c.so, then libfdb_c.so.7, on the dynamic linker's search path.",
							   &plinth_fdb_library, "",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plinth.timeout",
							"FoundationDB: longest a store transaction may wait on the cluster.",
							"An unreachable cluster then gives an error, never a hang.",
							&plinth_timeout_ms, 5000, 100, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("plinth.durable",
							 "Embedded store: flush every commit to disk before acknowledging it.",
							 "Off trades durability after an operating-system crash for speed; "
							 "a process crash never loses an acknowledged commit either way.",
							 &plinth_durable, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("plinth.transaction_lifetime",
							"Embedded store: how long a SERIALIZABLE transaction that writes may run from its first read (FoundationDB: 5 s).",
							"Snapshot reads (READ COMMITTED statements, REPEATABLE READ, SERIALIZABLE READ ONLY) "
							"are not bound by it on the embedded store.",
							&plinth_transaction_lifetime_ms, 5000, 100, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("plinth.write_buffer_memory",
							"Memory a transaction's buffered writes may use before they spill to a temporary file.",
							"Past it, rows and index entries the transaction wrote move to a file under "
							"base/pgsql_tmp, read from there until the commit sends them to the store "
							"(READ COMMITTED and REPEATABLE READ; SERIALIZABLE writes at most 10 MB).",
							&plinth_write_buffer_kb, 65536, 64, INT_MAX / 1024,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("plinth.map_size",
							"Embedded store: largest size the store file may reach.",
							"Address space only; the file grows with live data.",
							&plinth_map_size_mb, 262144, 64, INT_MAX,
							PGC_POSTMASTER, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomIntVariable("plinth.server_timeout",
							"How long a server may send no heartbeat before servers sharing its store "
							"declare it dead and take its row locks.",
							"A server declared dead that was only stalled restarts when it notices. "
							"0: never (a lock of a server that died is freed when that server restarts). "
							"Also how long a commit larger than one store transaction may make no "
							"progress before a reader finishes it (10 s when 0).",
							&plinth_server_timeout_ms, 10000, 0, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("plinth.single_server",
							 "This store is used by this server only: indexes Postgres keeps in local files "
							 "(GIN, GiST, SP-GiST, BRIN, hash) may index Plinth tables.",
							 "Off, they are refused on Plinth tables: the other servers sharing the store would "
							 "neither see nor maintain them.",
							 &plinth_single_server, false,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	/*
	 * A fault for the end-to-end tests: the backend kills itself between
	 * the store's commit and Postgres's (the window the orphan sweep is
	 * for). Hidden, superuser only.
	 */
	DefineCustomBoolVariable("plinth.fault_crash_after_store_commit",
							 "Testing only: kill the backend between the store's commit and Postgres's.",
							 NULL,
							 &plinth_fault_crash_after_store_commit, false,
							 PGC_SUSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	MarkGUCPrefixReserved("plinth");
}

/* Called first by the extension script and the handlers: refuse without the preload. */
void
plinth_require_preload(void)
{
	if (!plinth_preloaded)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("plinth must be loaded via shared_preload_libraries"),
				 errhint("Add plinth to shared_preload_libraries in postgresql.conf "
						 "(shared_preload_libraries = 'plinth') and restart the server.")));
}

/*
 * The process exits, Postgres's cleanup done (transactions aborted, locks
 * released): FoundationDB's network thread is stopped while the process
 * still can. From exit()'s own handlers, libfdb_c's stop crashes now and
 * then (it traces with thread-local state exit() has already destroyed),
 * and a backend that crashes restarts every connection.
 */
static void
plinth_at_process_exit(int code, Datum arg)
{
	plinth_swift_process_exit();
}

/*
 * Hands Swift the current settings (they may change with SET and SIGHUP);
 * `database_name` is empty in a process connected to no database.
 */
static void
plinth_configure(const char *database_name)
{
	static bool paths_known = false;
	static char store_path[MAXPGPATH];
	static char server_id_path[MAXPGPATH];
	static char store_id_path[MAXPGPATH];
	static char server_home[MAXPGPATH + 300];
	static char spill_directory[MAXPGPATH];
	PlinthConfig config;

	if (!paths_known)
	{
		paths_known = true;
		/* The store's last words come before exit() (plinth_swift_process_exit). */
		on_proc_exit(plinth_at_process_exit, 0);
		if (plinth_data_directory != NULL && plinth_data_directory[0] != '\0')
			strlcpy(store_path, plinth_data_directory, MAXPGPATH);
		else
			snprintf(store_path, MAXPGPATH, "%s/plinth", DataDir);
		snprintf(server_id_path, MAXPGPATH, "%s/plinth_server_id", DataDir);
		snprintf(store_id_path, MAXPGPATH, "%s/plinth_store_id", DataDir);
		/* Postgres removes pgsql_tmp* entries there when it restarts. */
		snprintf(spill_directory, MAXPGPATH, "%s/base/%s", DataDir, PG_TEMP_FILES_DIR);
		{
			char		host[256] = "";

			(void) gethostname(host, sizeof(host) - 1);
			snprintf(server_home, sizeof(server_home), "%s:%s", host, DataDir);
		}
	}
	config.store_path = store_path;
	config.cluster_file = plinth_cluster_file ? plinth_cluster_file : "";
	config.api_version = plinth_api_version;
	config.fdb_library = plinth_fdb_library ? plinth_fdb_library : "";
	config.timeout_ms = plinth_timeout_ms;
	config.durable = plinth_durable;
	config.lifetime_ms = plinth_transaction_lifetime_ms;
	config.map_size_bytes = (int64) plinth_map_size_mb * 1024 * 1024;
	config.write_buffer_bytes = (int64) plinth_write_buffer_kb * 1024;
	config.spill_directory = spill_directory;
	config.database_name = database_name;
	config.database_oid = MyDatabaseId;
	config.server_home = server_home;
	config.in_recovery = RecoveryInProgress();
	config.server_id_path = server_id_path;
	config.store_id_path = store_id_path;
	config.backend_id = MyBackendId;
	config.server_timeout_ms = plinth_server_timeout_ms;
	config.isolation = plinth_read_isolation();
	config.incarnation = plinth_incarnation();
	plinth_swift_configure(&config);
}

/*
 * The isolation level Plinth reads at: Postgres's, except that a
 * SERIALIZABLE READ ONLY transaction (pg_dump --serializable-deferrable, a
 * report) reads as REPEATABLE READ does, one store snapshot without conflict
 * ranges. It is serializable all the same: every SERIALIZABLE writer commits
 * in the store's order, and a snapshot holds a prefix of that order. It also
 * reads for any time on the embedded store (docs/design.md, "Transactions").
 */
int
plinth_read_isolation(void)
{
	return XactIsoLevel == XACT_SERIALIZABLE && XactReadOnly ? XACT_REPEATABLE_READ : XactIsoLevel;
}

/*
 * Makes the store ready for this transaction: the settings are handed over
 * once per transaction.
 */
void
plinth_prepare(void)
{
	static char *database_name = NULL;

	if (plinth_in_use)
		return;
	plinth_require_preload();
	if (database_name == NULL)
	{
		char	   *name = get_database_name(MyDatabaseId);

		if (name == NULL)
			elog(ERROR, "plinth: database %u has no name", MyDatabaseId);
		database_name = MemoryContextStrdup(TopMemoryContext, name);
	}
	plinth_configure(database_name);
	plinth_swift_set_parallel_worker(IsParallelWorker());
	plinth_in_use = true;
}

/* The liveness worker's settings: no database. */
void
plinth_prepare_worker(void)
{
	plinth_configure("");
}

/*
 * This run of the server, for row locks (RowLocks.swift): the time its
 * shared memory was set up, again after a crash restart — transaction ids
 * may be reused then, so a lock holder is told apart by its run.
 */
typedef struct PlinthShared
{
	int64		incarnation;
	/* When the last heartbeat that reached the store began (liveness.c). */
	pg_atomic_uint64 last_beat;
	/* The schema worker applied every database's log once since start (schema.c). */
	pg_atomic_uint32 schema_ready;
	/* When the latest replay of another server's DDL began to commit (schema.c). */
	pg_atomic_uint64 last_replay;
	/*
	 * The store's metadata version as of which this server's catalog had
	 * every DDL of the store (schema.c), valid when schema_current_known.
	 */
	slock_t		schema_current_lock;
	bool		schema_current_known;
	int64		schema_current;
} PlinthShared;

static PlinthShared *plinth_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static void
plinth_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(PlinthShared)));
}

static void
plinth_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	plinth_shared = ShmemInitStruct("plinth", sizeof(PlinthShared), &found);
	if (!found)
	{
		plinth_shared->incarnation = (int64) GetCurrentTimestamp();
		pg_atomic_init_u64(&plinth_shared->last_beat, 0);
		pg_atomic_init_u32(&plinth_shared->schema_ready, 0);
		pg_atomic_init_u64(&plinth_shared->last_replay, 0);
		SpinLockInit(&plinth_shared->schema_current_lock);
		plinth_shared->schema_current_known = false;
		plinth_shared->schema_current = 0;
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * A background worker of Plinth (from _PG_init, in the postmaster):
 * started once recovery is done, restarted a second after it exits.
 * `flags` add to shared memory access (a database connection, say).
 */
void
plinth_register_worker(const char *name, const char *function, int flags)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | flags;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "plinth", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, function, BGW_MAXLEN);
	strlcpy(worker.bgw_name, name, BGW_MAXLEN);
	strlcpy(worker.bgw_type, name, BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* From _PG_init, in the postmaster. */
void
plinth_request_shared_memory(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = plinth_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = plinth_shmem_startup;
}

int64
plinth_incarnation(void)
{
	return plinth_shared != NULL ? plinth_shared->incarnation : (int64) PgStartTime;
}

/* Whether this run's schema worker has caught up once (and so ever since). */
bool
plinth_schema_ready(void)
{
	return plinth_shared != NULL && pg_atomic_read_u32(&plinth_shared->schema_ready) != 0;
}

void
plinth_set_schema_ready(void)
{
	if (plinth_shared != NULL)
		pg_atomic_write_u32(&plinth_shared->schema_ready, 1);
}

/*
 * Published by the schema worker: every DDL committed to the store up to
 * metadata version `metadata` is in this server's catalog (`known` false:
 * not known, while it catches up).
 */
void
plinth_set_schema_current(bool known, int64 metadata)
{
	if (plinth_shared == NULL)
		return;
	SpinLockAcquire(&plinth_shared->schema_current_lock);
	plinth_shared->schema_current_known = known;
	plinth_shared->schema_current = metadata;
	SpinLockRelease(&plinth_shared->schema_current_lock);
}

/* The bridge's (plinth_bridge.h): read by every writing commit. */
bool
plinth_schema_current_through(int64_t *metadata)
{
	bool		known;

	if (plinth_shared == NULL)
		return false;
	SpinLockAcquire(&plinth_shared->schema_current_lock);
	known = plinth_shared->schema_current_known;
	*metadata = plinth_shared->schema_current;
	SpinLockRelease(&plinth_shared->schema_current_lock);
	return known;
}

/* A replay begins to commit: statements planned before may have used the old catalog. */
void
plinth_note_replay(void)
{
	if (plinth_shared != NULL)
		pg_atomic_write_u64(&plinth_shared->last_replay, (uint64) GetCurrentTimestamp());
}

TimestampTz
plinth_last_replay(void)
{
	return plinth_shared != NULL ? (TimestampTz) pg_atomic_read_u64(&plinth_shared->last_replay) : 0;
}

void
plinth_note_beat(TimestampTz began)
{
	if (plinth_shared != NULL)
		pg_atomic_write_u64(&plinth_shared->last_beat, (uint64) began);
}

/*
 * Whether this server's heartbeat reached the store recently enough that
 * no other server can have declared it dead yet: a waiter declares that
 * only after seeing no beat for plinth.server_timeout, so within half of it
 * since the last beat began, none has. Else the caller asks the store.
 */
bool
plinth_liveness_recent(void)
{
	uint64		last;

	if (plinth_server_timeout_ms <= 0)
		return true;
	if (plinth_shared == NULL)
		return false;
	last = pg_atomic_read_u64(&plinth_shared->last_beat);
	return last != 0 &&
		!TimestampDifferenceExceeds((TimestampTz) last, GetCurrentTimestamp(), plinth_server_timeout_ms / 2);
}

void
plinth_session_at_transaction_end(void)
{
	plinth_in_use = false;
	plinth_statement_depth = 0;
}

/*
 * The OID of the plinth table access method in this database, or
 * InvalidOid; cached, and forgotten when pg_am changes (DROP EXTENSION).
 */
static Oid	am_oid = InvalidOid;
static bool am_oid_known = false;

static void
am_oid_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	am_oid_known = false;
}

Oid
plinth_am_oid(void)
{
	static bool registered = false;

	if (!registered)
	{
		CacheRegisterSyscacheCallback(AMOID, am_oid_invalidate, (Datum) 0);
		registered = true;
	}
	if (!am_oid_known)
	{
		am_oid = get_table_am_oid("plinth", true);
		am_oid_known = true;
	}
	return am_oid;
}
