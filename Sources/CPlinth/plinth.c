/*
 * plinth.c — module entry: PG_MODULE_MAGIC, _PG_init, and the extension's
 * smallest SQL-callable functions.
 *
 * The shim's files form a graph without cycles, each calling only those
 * below it:
 *
 *   plinth.c  functions.c  test_functions.c
 *      hooks.c                         transaction and statement life cycle
 *         schema.c                     the schema log shared through the store, its worker
 *         databases.c  sequences.c     databases and sequences shared through the store
 *         tableam.c  indexam.c         the access methods' callbacks
 *            indexes.c                 index maintenance
 *               relation.c  keys.c     relations, TIDs, slots; key elements
 *               locks.c                waiting for a row or key lock's holder
 *               portable.c             values naming types by ids the same on every server
 *                  session.c           settings, shared memory, per-transaction hand-over
 *                     boundary.c       the error boundary
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"

#include "hooks.h"
#include "indexam.h"
#include "indexes.h"
#include "liveness.h"
#include "portable.h"
#include "databases.h"
#include "schema.h"
#include "sequences.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

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
	plinth_define_settings();
	plinth_request_shared_memory();
	plinth_register_hooks();
	plinth_indexes_init();
	plinth_install_btree_dispatch();
	plinth_register_liveness_worker();
	plinth_schema_init();
	plinth_portable_init();
	plinth_databases_init();
	plinth_sequences_init();
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
