/*
 * plinth.c — module entry: PG_MODULE_MAGIC, _PG_init (settings, callbacks,
 * hooks) and the extension's small SQL-callable functions.
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "plinth_am.h"

PG_MODULE_MAGIC;

/* Settings: see README.md "Settings". */
char	   *plinth_data_directory = NULL;
char	   *plinth_cluster_file = NULL;
int			plinth_api_version = 710;
char	   *plinth_fdb_library = NULL;
int			plinth_timeout_ms = 5000;
bool		plinth_durable = true;
int			plinth_transaction_lifetime_ms = 5000;
int			plinth_map_size_mb = 262144;
bool		plinth_bulk_load = false;

/* True when loaded through shared_preload_libraries (required). */
bool		plinth_preloaded = false;

void		_PG_init(void);

static void
define_settings(void)
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
							"Embedded store: how long a transaction may run (FoundationDB: 5 s).",
							NULL,
							&plinth_transaction_lifetime_ms, 5000, 100, 3600 * 1000,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("plinth.map_size",
							"Embedded store: largest size the store file may reach.",
							"Address space only; the file grows with live data.",
							&plinth_map_size_mb, 262144, 64, INT_MAX,
							PGC_POSTMASTER, GUC_UNIT_MB, NULL, NULL, NULL);
	DefineCustomBoolVariable("plinth.bulk_load",
							 "Write to the store in batches, so that a transaction may write any amount.",
							 "For loads (COPY, INSERT ... SELECT, CREATE INDEX, pg_restore) past the store's "
							 "10 MB transaction limit. The transaction is then not atomic (what was written "
							 "stays if it fails) nor serializable.",
							 &plinth_bulk_load, false,
							 PGC_USERSET, 0, NULL, NULL, NULL);
	MarkGUCPrefixReserved("plinth");
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
	{
		/*
		 * Loaded on demand (CREATE EXTENSION, or a table's handler) in a
		 * server that did not preload us: define nothing that needs the
		 * postmaster; plinth_check_preloaded() and the handlers refuse to
		 * work.
		 */
		return;
	}
	plinth_preloaded = true;
	define_settings();
	plinth_register_callbacks();
	plinth_install_btree_dispatch();
}

/* Called first by the extension script: refuse without the preload. */
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

PG_FUNCTION_INFO_V1(plinth_check_preloaded);
Datum
plinth_check_preloaded(PG_FUNCTION_ARGS)
{
	plinth_require_preload();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(plinth_version);
Datum
plinth_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(plinth_swift_version()));
}
