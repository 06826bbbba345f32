/*
 * schema.c — one schema for every server sharing a store.
 *
 * Each server's catalog is a cache of its databases' schema logs in the
 * store (SchemaLog.swift). A DDL statement is logged by the server that
 * runs it, in its own transaction, and its position is recorded in the
 * catalog in that same transaction (plinth.schema_applied, a heap table of
 * the extension), so that a crash between the store's commit and
 * Postgres's leaves an entry this server replays when it restarts. The
 * other servers' "plinth schema" worker replays each entry through an
 * ordinary connection to its own server, with plinth.replay set: the
 * statement runs as it ran first (role, search_path, text), its new
 * storage takes the store ids the first server gave it, and table data is
 * neither read nor written (it is in the store already). After its commit,
 * the first server waits until every live server has applied the entry.
 * Depends on the session.
 */
#include "postgres.h"

#include <limits.h>
#include <postgresql/libpq-fe.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "catalog/storage.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "libpq/pqsignal.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/relfilenodemap.h"
#include "utils/syscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "session.h"
#include "databases.h"
#include "schema.h"
#include "portable.h"
#include "relation.h"

int			plinth_replay_seq = 0;
bool		plinth_schema_worker = false;

/* A logged or replayed statement is running (statements it runs are its own). */
static int	schema_depth = 0;
/* Relations the logged statement touched, temporary or not. */
static int	temp_relations = 0;
static int	shared_relations = 0;
/* The entry this transaction logged or replayed, for its commit. */
static int64 pending_seq = 0;
static bool pending_origin = false;
/* This transaction created the extension (not the worker): the others follow before the commit returns. */
static bool pending_extension = false;
/* This transaction dropped the extension: this server has no position in the database's log any more. */
static bool pending_extension_dropped = false;

/*
 * A rebuild that commits transactions of its own — VACUUM FULL, CLUSTER of
 * every clustered table or of a partitioned one, REINDEX of a schema, a
 * database or a partitioned relation — is logged in parts: each of its
 * transactions that gave Plinth relations new storage logs, with its own
 * commit, the statement that rebuilds just those (rebuild_part_text).
 * Logged once at its end instead, each table's new storage would be
 * committed and its old storage dropped long before the other servers
 * heard of it: their writers would go on writing the dropped storage (lost
 * rows), and a rebuild failing halfway would leave them mapping tables to
 * storage that no longer holds their rows. T_Invalid: not such a statement.
 */
static NodeTag rebuild_kind = T_Invalid;
/* The transactions of its own the rebuild committed so far. */
static int	rebuild_commits = 0;
/* The role that runs it (a rebuild runs each table as its owner). */
static Oid	rebuild_role = InvalidOid;

/*
 * Statements that change no shared schema: transaction control, session
 * state, reads and data, and what belongs to one server (its databases,
 * tablespaces, configuration, replication). VACUUM only with FULL (it
 * gives tables new storage).
 */
static bool
is_shared_ddl(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_TransactionStmt:
		case T_VariableSetStmt:
		case T_VariableShowStmt:
		case T_ExplainStmt:
		case T_CopyStmt:
		case T_PrepareStmt:
		case T_ExecuteStmt:
		case T_DeallocateStmt:
		case T_DeclareCursorStmt:
		case T_FetchStmt:
		case T_ClosePortalStmt:
		case T_ListenStmt:
		case T_NotifyStmt:
		case T_UnlistenStmt:
		case T_LockStmt:
		case T_CheckPointStmt:
		case T_DiscardStmt:
		case T_LoadStmt:
		case T_DoStmt:
		case T_CallStmt:
		case T_ConstraintsSetStmt:
		case T_AlterSystemStmt:
		case T_CreateTableSpaceStmt:
		case T_DropTableSpaceStmt:
		case T_AlterTableSpaceOptionsStmt:
		case T_CreatedbStmt:
		case T_DropdbStmt:
		case T_AlterDatabaseStmt:
		case T_AlterDatabaseSetStmt:
		case T_AlterDatabaseRefreshCollStmt:
		case T_CreateSubscriptionStmt:
		case T_AlterSubscriptionStmt:
		case T_DropSubscriptionStmt:
		case T_CreatePublicationStmt:
		case T_AlterPublicationStmt:
		case T_CreateEventTrigStmt:
		case T_AlterEventTrigStmt:
			return false;
		case T_VacuumStmt:
			{
				VacuumStmt *v = (VacuumStmt *) stmt;
				ListCell   *lc;

				if (!v->is_vacuumcmd)
					return false;
				foreach(lc, v->options)
				{
					DefElem    *opt = lfirst_node(DefElem, lc);

					if (strcmp(opt->defname, "full") == 0)
						return defGetBoolean(opt);
				}
				return false;
			}
		case T_RenameStmt:
			return ((RenameStmt *) stmt)->renameType != OBJECT_DATABASE &&
				((RenameStmt *) stmt)->renameType != OBJECT_TABLESPACE;
		case T_AlterOwnerStmt:
			return ((AlterOwnerStmt *) stmt)->objectType != OBJECT_DATABASE &&
				((AlterOwnerStmt *) stmt)->objectType != OBJECT_TABLESPACE;
		default:
			return true;
	}
}

/* A statement that creates a temporary object only (it stays local). */
static bool
creates_temporary(Node *stmt)
{
	RangeVar   *rel = NULL;

	switch (nodeTag(stmt))
	{
		case T_CreateStmt:
			rel = ((CreateStmt *) stmt)->relation;
			break;
		case T_CreateTableAsStmt:
			rel = ((CreateTableAsStmt *) stmt)->into->rel;
			break;
		case T_ViewStmt:
			rel = ((ViewStmt *) stmt)->view;
			break;
		case T_CreateSeqStmt:
			rel = ((CreateSeqStmt *) stmt)->sequence;
			break;
		case T_IndexStmt:
			{
				Oid			relid = RangeVarGetRelid(((IndexStmt *) stmt)->relation, NoLock, true);

				return OidIsValid(relid) && get_rel_persistence(relid) == RELPERSISTENCE_TEMP;
			}
		default:
			return false;
	}
	return rel != NULL && rel->relpersistence == RELPERSISTENCE_TEMP;
}

/* CREATE INDEX CONCURRENTLY or REINDEX (CONCURRENTLY). */
static bool
is_concurrent_build(Node *stmt)
{
	ListCell   *lc;

	if (IsA(stmt, IndexStmt))
		return ((IndexStmt *) stmt)->concurrent;
	if (!IsA(stmt, ReindexStmt))
		return false;
	foreach(lc, ((ReindexStmt *) stmt)->params)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "concurrently") == 0)
			return defGetBoolean(opt);
	}
	return false;
}

/* The kind of rebuild `stmt` is, if it may commit transactions of its own (rebuild_kind). */
static NodeTag
rebuild_in_parts(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_VacuumStmt:		/* with FULL: is_shared_ddl lets no other VACUUM through */
		case T_ClusterStmt:
			return nodeTag(stmt);
		case T_ReindexStmt:
			/* CONCURRENTLY runs its phases in transactions of their own: logged whole. */
			return is_concurrent_build(stmt) ? T_Invalid : T_ReindexStmt;
		default:
			return T_Invalid;
	}
}

/* A Plinth table, or an index of one. */
static bool
is_plinth_relation(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	bool		plinth;

	if (!HeapTupleIsValid(tup))
		return false;
	plinth = plinth_class_is_plinth((Form_pg_class) GETSTRUCT(tup), relid);
	ReleaseSysCache(tup);
	return plinth;
}

static char *
qualified_relation_name(Oid relid)
{
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), get_rel_name(relid));
}

/* The index CLUSTER marked clustered on `table` (InvalidOid if none). */
static Oid
clustered_index(Oid table)
{
	Relation	rel = relation_open(table, NoLock);	/* the rebuild holds it */
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	Oid			found = InvalidOid;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(tup))
			continue;
		if (((Form_pg_index) GETSTRUCT(tup))->indisclustered)
			found = lfirst_oid(lc);
		ReleaseSysCache(tup);
	}
	list_free(indexes);
	relation_close(rel, NoLock);
	return found;
}

/*
 * What one transaction of a rebuild (rebuild_kind) gave new Plinth storage,
 * as the statement that rebuilds just that on another server: the
 * relations smgr would delete were the transaction to abort, by their
 * tables. NULL if none. Postgres rebuilds one table per transaction:
 * VACUUM FULL and CLUSTER a table with its indexes, REINDEX a table's
 * indexes or one index.
 */
static char *
rebuild_part_text(void)
{
	RelFileNode *nodes;
	int			n = smgrGetPendingDeletes(false, &nodes);
	Oid			table = InvalidOid;
	Oid			index = InvalidOid;
	int			indexes = 0;
	Oid			clustered;

	for (int i = 0; i < n; i++)
	{
		Oid			relid;
		Oid			owner;

		if (nodes[i].dbNode != MyDatabaseId)
			continue;
		relid = RelidByRelfilenode(nodes[i].spcNode == MyDatabaseTableSpace ? InvalidOid : nodes[i].spcNode,
								   nodes[i].relNode);
		if (!OidIsValid(relid))
			continue;
		if (!is_plinth_relation(relid))
			continue;			/* heap's (a toast table among them) stays on this server */
		owner = get_rel_relkind(relid) == RELKIND_INDEX ? IndexGetRelation(relid, false) : relid;
		if (OidIsValid(table) && owner != table)
			elog(ERROR, "one transaction of a rebuild gave new storage to two tables, %u and %u", table, owner);
		table = owner;
		if (relid != owner)
		{
			index = relid;
			indexes++;
		}
	}
	if (n > 0)
		pfree(nodes);
	if (!OidIsValid(table))
		return NULL;
	switch (rebuild_kind)
	{
		case T_VacuumStmt:
			return psprintf("VACUUM (FULL) %s", qualified_relation_name(table));
		case T_ClusterStmt:
			clustered = clustered_index(table);
			if (!OidIsValid(clustered))	/* storage as VACUUM FULL gives it */
				return psprintf("VACUUM (FULL) %s", qualified_relation_name(table));
			return psprintf("CLUSTER %s USING %s", qualified_relation_name(table),
							quote_identifier(get_rel_name(clustered)));
		default:
			if (indexes == 1)
				return psprintf("REINDEX INDEX %s", qualified_relation_name(index));
			return psprintf("REINDEX TABLE %s", qualified_relation_name(table));
	}
}

/*
 * Pre-commit of one of a rebuild's own transactions: what it rebuilt goes
 * to the log with it (plinth_schema_pre_commit logs it, stamping the
 * storage dropped and the table it holds against writers).
 */
static void
queue_rebuild_part(void)
{
	char	   *text = rebuild_part_text();

	rebuild_commits++;
	if (text != NULL)
	{
		plinth_prepare();
		PLINTH_CHECK(plinth_swift_schema_queue(GetUserNameFromId(rebuild_role, false),
											   GetConfigOption("search_path", false, false), text,
											   (uint32) GetCurrentSubTransactionId()));
		pending_origin = true;
	}
	/* The next transaction's new storage is the next part's. */
	plinth_swift_schema_begin();
}

/*
 * The server's schema lock of the database, held exclusively by a
 * replayed statement and by the commit of a transaction that logs DDL,
 * from its pre-commit until its commit is done: this server's entries go
 * to the log one at a time, each after every entry its catalog has. The
 * worker's query of what is pending takes it shared, and so never sees an
 * entry logged here but not yet committed here. Released at commit, before
 * waiting for the other servers.
 */
static bool schema_lock_held = false;

static void
schema_lock_exclusive(void)
{
	if (schema_lock_held)
		return;
	LockDatabaseObject(DatabaseRelationId, MyDatabaseId, 1, ExclusiveLock);
	schema_lock_held = true;
}

/* plinth.schema_applied exists here: the extension is at 0.2 or later. */
static Oid
applied_table(void)
{
	Oid			nsp = get_namespace_oid("plinth", true);

	return OidIsValid(nsp) ? get_relname_relid("schema_applied", nsp) : InvalidOid;
}

/* From _PG_init, in the postmaster: the setting and the worker. */
void
plinth_schema_init(void)
{
	/*
	 * Set by the "plinth schema" worker on its own connections: the DDL
	 * statement that follows replays that schema log entry.
	 */
	DefineCustomIntVariable("plinth.replay",
							"Internal: the schema log entry the next DDL statement replays.",
							NULL,
							&plinth_replay_seq, 0, 0, INT_MAX,
							PGC_SUSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	/* Set on the worker's connections: they apply the log, they do not wait for it. */
	DefineCustomBoolVariable("plinth.schema_worker",
							 "Internal: this connection is the \"plinth schema\" worker's.",
							 NULL,
							 &plinth_schema_worker, false,
							 PGC_SU_BACKEND, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
	plinth_register_worker("plinth schema", "plinth_schema_main", BGWORKER_BACKEND_DATABASE_CONNECTION);
}

PlinthSchemaMode
plinth_schema_statement_begin(PlannedStmt *pstmt)
{
	if (!plinth_preloaded || schema_depth > 0 || creating_extension || IsBinaryUpgrade ||
		RecoveryInProgress() || !is_shared_ddl(pstmt->utilityStmt))
		return PLINTH_SCHEMA_NONE;
	if (!OidIsValid(plinth_am_oid()) || !OidIsValid(applied_table()))
		return PLINTH_SCHEMA_NONE;
	if (plinth_replay_seq > 0)
	{
		if (plinth_statement_depth > 0)
			return PLINTH_SCHEMA_NONE;
		schema_lock_exclusive();
		plinth_prepare();
		PLINTH_CHECK(plinth_swift_replay_begin(plinth_replay_seq));
		schema_depth++;
		return PLINTH_SCHEMA_REPLAY;
	}
	if (creates_temporary(pstmt->utilityStmt))
		return PLINTH_SCHEMA_NONE;
	plinth_prepare();
	plinth_swift_schema_begin();
	temp_relations = shared_relations = 0;
	rebuild_kind = rebuild_in_parts(pstmt->utilityStmt);
	/* Its scans fence other servers' writers off the table until it is logged (relation.c). */
	plinth_concurrent_build = is_concurrent_build(pstmt->utilityStmt);
	rebuild_commits = 0;
	rebuild_role = GetUserId();
	schema_depth++;
	return PLINTH_SCHEMA_LOG;
}

/*
 * Records in the catalog, with this transaction, the entry it applies. The
 * newest committed row is updated in place, as Postgres updates its own
 * catalogs: under this server's schema lock nobody else changes it, so
 * neither the transaction's snapshot (REPEATABLE READ would fail it as a
 * concurrent update) nor the role (which may not use the plinth schema)
 * nor a publication of all tables (which would want a replica identity)
 * has a say in it, as they would in an UPDATE statement.
 */
static void
set_local_applied(int64 seq)
{
	Relation	rel = table_open(applied_table(), RowExclusiveLock);
	TableScanDesc scan;
	HeapTuple	tup;
	HeapTuple	newtup;
	Datum		values[2] = {ObjectIdGetDatum(MyDatabaseId), Int64GetDatum(seq)};
	bool		nulls[2] = {false, false};
	bool		replace[2] = {true, true};

	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID || RelationGetDescr(rel)->natts != 2)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("plinth.schema_applied must be a heap table of two columns")));
	schema_lock_exclusive();
	InvalidateCatalogSnapshot();
	scan = table_beginscan_catalog(rel, 0, NULL);
	tup = heap_getnext(scan, ForwardScanDirection);
	if (tup == NULL)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("plinth.schema_applied must hold one row")));
	newtup = heap_modify_tuple(tup, RelationGetDescr(rel), values, nulls, replace);
	simple_heap_update(rel, &tup->t_self, newtup);
	table_endscan(scan);
	table_close(rel, RowExclusiveLock);
	/* A second entry in this transaction finds this version. */
	CommandCounterIncrement();
}

/*
 * The entry this server's catalog has reached in this database: the newest
 * committed row of plinth.schema_applied, read with a fresh catalog
 * snapshot rather than the transaction's (a backend's first statement may
 * be BEGIN, and SET TRANSACTION ISOLATION LEVEL must still follow it; the
 * worker's query took its snapshot before it waited for the schema lock).
 * A copy of another database (CREATE DATABASE ... TEMPLATE, another OID)
 * has the template's row, and the template's catalog and schema log up to
 * that entry (Databases.swift).
 */
static int64
get_local_applied(void)
{
	Relation	rel = table_open(applied_table(), AccessShareLock);
	TableScanDesc scan;
	HeapTuple	tup;
	int64		applied = -1;

	if (rel->rd_rel->relam != HEAP_TABLE_AM_OID)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("plinth.schema_applied must be a heap table")));
	InvalidateCatalogSnapshot();
	scan = table_beginscan_catalog(rel, 0, NULL);
	if ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		datoid_null;
		bool		seq_null;
		Datum		datoid = heap_getattr(tup, 1, RelationGetDescr(rel), &datoid_null);
		Datum		seq = heap_getattr(tup, 2, RelationGetDescr(rel), &seq_null);

		if (!datoid_null && !seq_null)
			applied = DatumGetInt64(seq);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	if (applied < 0)
		ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						errmsg("plinth.schema_applied must hold one row")));
	return applied;
}

/* The bridge's (plinth_bridge.h): get_local_applied for Swift's definition guard. */
static void
local_position_body(void *arg)
{
	*(int64_t *) arg = OidIsValid(applied_table()) ? get_local_applied() : INT64_MAX;
}

bool
plinth_schema_local_position(int64_t *position)
{
	return plinth_pg_try(local_position_body, position);
}

/*
 * The relfilenodes of the relations this transaction holds a lock on that
 * conflicts with a writer's RowExclusiveLock: on one server, Postgres
 * keeps their writers off until this DDL commits; the definition guard
 * (DefinitionGuard.swift) does it for the writers of other servers.
 * Relations dropped are gone from the catalog: their dropped storage is
 * stamped instead. Strong locks are never fast-path locks, so the shared
 * lock table has them all.
 */
static uint32 *
strongly_locked_relfilenodes(size_t *count)
{
	const LOCKMASK strong = LOCKBIT_ON(ShareLock) | LOCKBIT_ON(ShareRowExclusiveLock) |
		LOCKBIT_ON(ExclusiveLock) | LOCKBIT_ON(AccessExclusiveLock);
	LockData   *locks = GetLockStatusData();
	uint32	   *nodes = palloc(sizeof(uint32) * Max(locks->nelements, 1));

	*count = 0;
	for (int i = 0; i < locks->nelements; i++)
	{
		LockInstanceData *l = &locks->locks[i];
		HeapTuple	tup;

		if (l->pid != MyProcPid || l->locktag.locktag_type != LOCKTAG_RELATION ||
			l->locktag.locktag_field1 != MyDatabaseId || (l->holdMask & strong) == 0)
			continue;
		tup = SearchSysCache1(RELOID, ObjectIdGetDatum(l->locktag.locktag_field2));
		if (!HeapTupleIsValid(tup))
			continue;
		{
			Form_pg_class form = (Form_pg_class) GETSTRUCT(tup);

			if (OidIsValid(form->relfilenode) && form->relpersistence != RELPERSISTENCE_TEMP)
				nodes[(*count)++] = form->relfilenode;
		}
		ReleaseSysCache(tup);
	}
	return nodes;
}

/* The statement ran (inside plinth_ProcessUtility's PG_TRY). */
void
plinth_schema_statement_done(PlannedStmt *pstmt, const char *queryString, PlinthSchemaMode mode)
{
	if (mode == PLINTH_SCHEMA_REPLAY)
	{
		/* The types and enum labels it made take the entry's portable ids. */
		plinth_portable_map_new_rows();
		if (OidIsValid(applied_table()))
			set_local_applied(plinth_replay_seq);
		else
			pending_extension_dropped = true;
		pending_seq = Max(pending_seq, plinth_replay_seq);
		return;
	}
	/* A statement that touched temporary relations only stays local. */
	if (temp_relations > 0 && shared_relations == 0)
		return;
	/* A rebuild that committed transactions of its own logged them as it went. */
	if (rebuild_commits > 0)
		return;

	/*
	 * DROP EXTENSION plinth (plinth.schema_applied went with it) is logged
	 * too: its tables' data is the other servers' as well, and they drop
	 * them with it.
	 */
	plinth_prepare();
	/* The types and enum labels it made take new portable ids, which its entry carries. */
	plinth_portable_map_new_rows();
	PLINTH_CHECK(plinth_swift_schema_queue(GetUserNameFromId(GetUserId(), false),
										   GetConfigOption("search_path", false, false),
										   plinth_statement_text(pstmt, queryString),
										   (uint32) GetCurrentSubTransactionId()));
	pending_origin = true;
}

/*
 * Pre-commit, before the store's commit: the transaction's DDL goes to the
 * end of the log, and its position to plinth.schema_applied, under this
 * server's schema lock (held until the commit is done).
 */
void
plinth_schema_pre_commit(void)
{
	int64		seq = 0;
	bool		recorded = OidIsValid(applied_table());
	uint32	   *stamped;
	size_t		nstamped = 0;

	/* A replay (again after the commits of CREATE INDEX CONCURRENTLY). */
	if (pending_seq > 0)
	{
		schema_lock_exclusive();
		plinth_note_replay();
	}
	/* One of a rebuild's own transactions, within its statement. */
	if (rebuild_kind != T_Invalid && schema_depth > 0)
		queue_rebuild_part();
	if (!pending_origin || !plinth_swift_schema_pending_log())
		return;
	schema_lock_exclusive();
	/* The transaction's statements are done: its queries need a snapshot. */
	PushActiveSnapshot(GetTransactionSnapshot());
	stamped = strongly_locked_relfilenodes(&nstamped);
	PLINTH_CHECK(plinth_swift_schema_log(recorded ? get_local_applied() : -1, stamped, nstamped, &seq));
	if (recorded)
		set_local_applied(seq);
	else
		pending_extension_dropped = true;
	PopActiveSnapshot();
	pending_seq = seq;
}

/* The statement ended, run or failed (PG_FINALLY). */
void
plinth_schema_statement_reset(PlinthSchemaMode mode)
{
	schema_depth--;
	rebuild_kind = T_Invalid;
	rebuild_commits = 0;
	plinth_concurrent_build = false;
	if (mode == PLINTH_SCHEMA_REPLAY)
		plinth_swift_replay_end();
	else
		plinth_swift_schema_end();
}

/* From the object access hook: a relation created, altered or dropped. */
void
plinth_schema_note_relation(Oid relid, ObjectAccessType access)
{
	HeapTuple	tup;

	/* New relations are not in the cache yet: creates_temporary looks at those. */
	if (schema_depth == 0 || access == OAT_POST_CREATE)
		return;
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		return;
	if (((Form_pg_class) GETSTRUCT(tup))->relpersistence == RELPERSISTENCE_TEMP)
		temp_relations++;
	else
		shared_relations++;
	ReleaseSysCache(tup);
}

/*
 * A backend's first statement, while this run's worker has not yet applied
 * every database's log once: a server that restarted (after a crash, or
 * after the others declared it dead and stopped waiting for it) serves no
 * statement on a catalog that misses what the others logged meanwhile.
 * The statement was planned before this check, so it fails (40001: run it
 * again) if the server is behind — after waiting for the worker, up to
 * plinth.server_timeout (10 s if that is 0) — or if a replay committed
 * since this backend started. Otherwise it goes on: a server alone is never
 * behind. Once the worker caught up, the check costs nothing (a flag in
 * shared memory): what other servers log later, they wait for this one to
 * apply before it counts as done.
 */
void
plinth_schema_backend_start(void)
{
	static bool checked = false;
	int64		head = 0;
	int64		applied;
	TimestampTz began;
	int			timeout_ms = plinth_server_timeout_ms > 0 ? plinth_server_timeout_ms : 10000;

	if (checked || plinth_schema_ready() || plinth_schema_worker || plinth_replay_seq > 0 ||
		!IsTransactionState() || RecoveryInProgress())
		return;
	checked = true;
	if (!OidIsValid(plinth_am_oid()) || !OidIsValid(applied_table()))
		return;
	plinth_prepare();

	/*
	 * A store this server cannot use (unreachable, or its identity refused)
	 * is the statement's to report if it uses Plinth: a statement that does
	 * not (plinth_claim_server_identity()) must still run.
	 */
	if (plinth_swift_schema_head(&head) != PLINTH_OK)
	{
		plinth_boundary_reset();
		return;
	}
	applied = get_local_applied();
	if (applied >= head)
	{
		if (plinth_last_replay() >= MyStartTimestamp)
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("this server was catching up on schema changes made on the servers sharing its store"),
					 errhint("Run the statement again.")));
		return;
	}
	/* The worker's progress shows in the catalog (read with a fresh snapshot). */
	began = GetCurrentTimestamp();
	while (applied < head && !plinth_schema_ready())
	{
		if (TimestampDifferenceExceeds(began, GetCurrentTimestamp(), timeout_ms))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("this server has not applied the schema changes of the servers sharing its store yet"),
					 errdetail("It has applied entry " INT64_FORMAT " of this database's schema log, of " INT64_FORMAT ".",
							   applied, head),
					 errhint("Its \"plinth schema\" worker applies them; its log says why it has not.")));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 5, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		applied = get_local_applied();
	}
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("this server was catching up on schema changes made on the servers sharing its store"),
			 errhint("Run the statement again.")));
}

/*
 * After Postgres's commit (no error may be raised): this server's position
 * goes to the store, and the server that ran the DDL first waits for the
 * others to apply it.
 */
void
plinth_schema_at_commit(void)
{
	int64		seq = pending_seq;
	bool		origin = pending_origin;
	int32		gave_up = 0;
	int32		gave_up_extension = 0;

	pending_seq = 0;
	pending_origin = false;

	/*
	 * The origin's lock (taken at pre-commit) goes before it waits for the
	 * others; a replay's (taken in its statement) with the transaction.
	 */
	if (schema_lock_held && origin)
		UnlockDatabaseObject(DatabaseRelationId, MyDatabaseId, 1, ExclusiveLock);
	schema_lock_held = false;
	/*
	 * CREATE EXTENSION plinth: this server has it now; the other servers'
	 * workers create it too, and the server that created it first waits
	 * for them.
	 */
	if (pending_extension)
	{
		pending_extension = false;
		plinth_swift_schema_extension_committed(!plinth_schema_worker, plinth_server_timeout_ms,
												plinth_commit_wait_interrupted, &gave_up_extension);
	}
	if (seq > 0)
		plinth_swift_schema_committed(seq, origin, pending_extension_dropped, origin ? plinth_server_timeout_ms : 0,
									  plinth_commit_wait_interrupted, &gave_up);
	pending_extension_dropped = false;
	plinth_warn_servers_behind(Max(gave_up, gave_up_extension), "schema");
}

void
plinth_schema_at_abort(void)
{
	schema_lock_held = false;	/* released with the transaction's locks */
	pending_seq = 0;
	pending_origin = false;
	pending_extension = false;
	pending_extension_dropped = false;
}

/* SQL: the entries this database has not applied (the worker's query). */
PG_FUNCTION_INFO_V1(plinth_schema_pending);
Datum
plinth_schema_pending(PG_FUNCTION_ARGS)
{
	int32		limit = PG_GETARG_INT32(0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		applied;
	Oid			applied_rel;
	PlinthSchemaEntry *entries;
	size_t		n = 0;

	if (limit < 1 || limit > 10000)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE), errmsg("limit must be between 1 and 10000")));
	InitMaterializedSRF(fcinfo, 0);

	/*
	 * The applied table's lock before the schema lock, in the order DDL
	 * takes them: DROP EXTENSION holds the table when its commit takes the
	 * schema lock, and the other order deadlocked with it.
	 */
	applied_rel = applied_table();
	if (OidIsValid(applied_rel))
		LockRelationOid(applied_rel, AccessShareLock);
	/* Waits for a DDL of this server between the store's commit and its own. */
	LockDatabaseObject(DatabaseRelationId, MyDatabaseId, 1, ShareLock);
	applied = get_local_applied();
	plinth_prepare();
	entries = palloc0(sizeof(PlinthSchemaEntry) * limit);
	PLINTH_CHECK(plinth_swift_schema_pending(applied, entries, (size_t) limit, &n));
	for (size_t i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = Int64GetDatum(entries[i].seq);
		values[1] = CStringGetTextDatum(entries[i].role);
		values[2] = CStringGetTextDatum(entries[i].search_path);
		values[3] = CStringGetTextDatum(entries[i].statement);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	plinth_swift_schema_entries_free(entries, n);
	return (Datum) 0;
}

/*
 * SQL, from the extension script: where plinth.schema_applied starts. A
 * server new to this database replays its whole log; one that used it
 * before (the extension dropped and created again) goes on from its end.
 */
PG_FUNCTION_INFO_V1(plinth_schema_start);
Datum
plinth_schema_start(PG_FUNCTION_ARGS)
{
	int64		start = 0;

	plinth_prepare();
	PLINTH_CHECK(plinth_swift_schema_start(&start));
	pending_extension = true;
	PG_RETURN_INT64(start);
}

/* SQL: an entry this server cannot apply is passed over (logged by the worker). */
PG_FUNCTION_INFO_V1(plinth_schema_skip);
Datum
plinth_schema_skip(PG_FUNCTION_ARGS)
{
	set_local_applied(PG_GETARG_INT64(0));
	PG_RETURN_VOID();
}

/* ---- the "plinth schema" worker ---- */

PGDLLEXPORT void plinth_schema_main(Datum arg);

static char *worker_user = NULL;
/* The entry that failed last, of which database, and how often: after three, it is passed over. */
static char failed_db[NAMEDATALEN];
static int64 failed_seq = 0;
static int	failed_times = 0;

/*
 * The worker's connections, one per database, kept while DDL comes (a new
 * one costs a backend's start) and closed once idle for IDLE_MS: a
 * connection to a database holds off DROP DATABASE and CREATE DATABASE ...
 * TEMPLATE of it (they wait up to 5 s for other sessions to leave).
 */
#define MAX_CONNECTIONS 16
#define IDLE_MS 500

typedef struct WorkerConnection
{
	char		dbname[NAMEDATALEN];
	PGconn	   *conn;
	TimestampTz used;
} WorkerConnection;

static WorkerConnection connections[MAX_CONNECTIONS];

static void
close_connections(bool idle_only)
{
	TimestampTz now = GetCurrentTimestamp();

	for (int i = 0; i < MAX_CONNECTIONS; i++)
	{
		if (connections[i].conn == NULL ||
			(idle_only && !TimestampDifferenceExceeds(connections[i].used, now, IDLE_MS)))
			continue;
		PQfinish(connections[i].conn);
		connections[i].conn = NULL;
	}
}

/*
 * Waits for the connection's socket (`for_write`: to be writable) or the
 * latch, answering barriers and the postmaster's death; a shutdown request
 * ends the worker (the server rolls back what its connections were doing).
 */
static void
worker_wait(PGconn *conn, bool for_write)
{
	int			rc = WaitLatchOrSocket(MyLatch,
									   WL_LATCH_SET | WL_EXIT_ON_PM_DEATH |
									   (for_write ? WL_SOCKET_WRITEABLE : WL_SOCKET_READABLE),
									   PQsocket(conn), -1L, PG_WAIT_EXTENSION);

	if (rc & WL_LATCH_SET)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (ShutdownRequestPending)
	{
		close_connections(false);
		if (conn != NULL)
			PQfinish(conn);		/* one not yet kept */
		proc_exit(0);
	}
}

/*
 * Runs a query (with text parameters) and returns its last result, never
 * NULL. A replayed statement may wait long for locks: the worker waits on
 * the socket and its latch meanwhile, not inside libpq.
 */
static PGresult *
worker_exec(PGconn *conn, const char *query, int nparams, const char *const *params)
{
	PGresult   *last = NULL;
	PGresult   *res;

	/* Without parameters, the simple protocol: several commands in one query. */
	if (!(nparams > 0 ? PQsendQueryParams(conn, query, nparams, NULL, params, NULL, NULL, 0)
		  : PQsendQuery(conn, query)))
		return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
	for (;;)
	{
		while (PQisBusy(conn))
		{
			worker_wait(conn, false);
			if (!PQconsumeInput(conn))
			{
				PQclear(last);
				return PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
			}
		}
		if ((res = PQgetResult(conn)) == NULL)
			break;
		PQclear(last);
		last = res;
	}
	return last ? last : PQmakeEmptyPGresult(conn, PGRES_FATAL_ERROR);
}

static PGconn *
connect_local(const char *dbname)
{
	char		host[MAXPGPATH];
	char		port[16];
	const char *keys[] = {"host", "port", "dbname", "user", "application_name", "connect_timeout", "options", NULL};
	const char *values[8];
	char	   *comma;
	PGconn	   *conn;

	strlcpy(host, Unix_socket_directories && Unix_socket_directories[0] ? Unix_socket_directories : "localhost",
			sizeof(host));
	if ((comma = strchr(host, ',')) != NULL)
		*comma = '\0';
	snprintf(port, sizeof(port), "%d", PostPortNumber);
	values[0] = host;
	values[1] = port;
	values[2] = dbname;
	values[3] = worker_user;
	values[4] = "plinth schema";
	values[5] = "10";
	values[6] = "-c plinth.schema_worker=on";
	values[7] = NULL;
	conn = PQconnectStartParams(keys, values, 0);
	if (conn == NULL || PQstatus(conn) == CONNECTION_BAD)
		return conn;
	for (PostgresPollingStatusType st = PGRES_POLLING_WRITING; st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED;)
	{
		worker_wait(conn, st == PGRES_POLLING_WRITING);
		st = PQconnectPoll(conn);
	}
	return conn;
}

/*
 * The kept connection to a database, or a new one; NULL when this server
 * has no such database, or (`failed`, logged) it could not connect.
 */
static WorkerConnection *
database_connection(const char *dbname, bool *failed)
{
	WorkerConnection *slot = NULL;
	PGconn	   *conn;

	for (int i = 0; i < MAX_CONNECTIONS; i++)
	{
		WorkerConnection *c = &connections[i];

		if (c->conn != NULL && strcmp(c->dbname, dbname) == 0)
		{
			if (PQstatus(c->conn) == CONNECTION_OK)
				return c;
			PQfinish(c->conn);	/* the server ended it: connect again */
			c->conn = NULL;
		}
		/* A free slot, else the least recently used one. */
		if (c->conn == NULL)
		{
			if (slot == NULL || slot->conn != NULL)
				slot = c;
		}
		else if (slot == NULL || (slot->conn != NULL && c->used < slot->used))
			slot = c;
	}
	conn = connect_local(dbname);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		/* A database of another server that this one does not have says nothing. */
		*failed = strstr(PQerrorMessage(conn), "does not exist") == NULL;
		if (*failed)
			ereport(LOG, (errmsg("plinth schema: could not connect to database \"%s\": %s",
								 dbname, PQerrorMessage(conn))));
		PQfinish(conn);
		return NULL;
	}
	if (slot->conn != NULL)
		PQfinish(slot->conn);
	strlcpy(slot->dbname, dbname, sizeof(slot->dbname));
	slot->conn = conn;
	return slot;
}

static bool
exec_ok(PGconn *conn, PGresult *res, const char *what, const char *dbname)
{
	ExecStatusType st = PQresultStatus(res);
	bool		ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok && what != NULL)
		ereport(LOG, (errmsg("plinth schema: %s in database \"%s\" failed: %s", what, dbname,
							 PQresultErrorMessage(res))));
	return ok;
}

/*
 * Replays one entry (`setting`: plinth.replay, or plinth.replay_database
 * for the database log's); false when it failed.
 */
static bool
replay_entry(PGconn *conn, const char *dbname, const char *setting, const char *seq, const char *role,
			 const char *path, const char *statement)
{
	const char *params[4] = {seq, path, role, setting};
	PGresult   *res;
	bool		ok;
	char		reset[128];

	/* Objects it creates belong to the role that ran it, when this server has it. */
	res = worker_exec(conn, "SELECT set_config($4, $1, false), set_config('search_path', $2, false), "
					  "(SELECT set_config('role', $3, false) WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = $3))",
					  4, params);
	ok = exec_ok(conn, res, "setting up a replay", dbname);
	PQclear(res);
	if (!ok)
		return false;
	res = worker_exec(conn, statement, 0, NULL);
	ok = exec_ok(conn, res, NULL, dbname);
	if (!ok)
		ereport(LOG, (errmsg("plinth schema: could not replay schema log entry %s in database \"%s\": %s",
							 seq, dbname, PQresultErrorMessage(res)),
					  errdetail("The statement: %s", statement)));
	PQclear(res);
	snprintf(reset, sizeof(reset), "RESET ROLE; RESET %s; RESET search_path", setting);
	res = worker_exec(conn, reset, 0, NULL);
	if (!exec_ok(conn, res, "resetting after a replay", dbname))
		ok = false;
	PQclear(res);
	return ok;
}

/*
 * This server's database of that name (InvalidOid: none). One it lacks,
 * another server's, is not connected to at all: each attempt would log a
 * FATAL "does not exist". The worker is connected to no database: it scans
 * the shared pg_database itself, as the autovacuum launcher does (its name
 * index cannot be opened without a database).
 */
static Oid
local_database(const char *dbname)
{
	MemoryContext pass = CurrentMemoryContext;
	Oid			found = InvalidOid;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!OidIsValid(found) && (tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), dbname) == 0)
			found = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(pass);
	return found;
}

/*
 * The database lacks the extension here (the worker's query found no
 * plinth schema): if the servers sharing it created it, this server does
 * too, and then replays the database's schema log; else there is nothing
 * to share. False when creating it failed.
 */
static bool
create_missing_extension(PGconn *conn, Oid dboid, const char *dbname, bool *created)
{
	PGresult   *res;
	bool		ok;

	*created = false;
	PLINTH_CHECK(plinth_swift_schema_extension_created(dboid, dbname, created));
	if (!*created)
		return true;
	res = worker_exec(conn, "CREATE EXTENSION IF NOT EXISTS plinth", 0, NULL);
	ok = exec_ok(conn, res, NULL, dbname);
	if (!ok)
	{
		const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

		/*
		 * A session of this server created it at the same moment (the store
		 * says so from that transaction's store commit, before its own): it
		 * is there, and the next pass replays the log.
		 */
		if (state != NULL && (strcmp(state, "23505") == 0 || strcmp(state, "42710") == 0))
		{
			PQclear(res);
			*created = false;
			return false;
		}
		ereport(LOG, (errmsg("plinth schema: creating the extension the other servers have in database \"%s\" failed: %s",
							 dbname, PQresultErrorMessage(res))));
	}
	PQclear(res);
	*created = ok;
	return ok;
}

/*
 * Applies what one database has not applied (up to entry `upto`, if not
 * 0); false to try again later.
 */
static bool
sync_database(const char *dbname, int64 upto)
{
	bool		failed = false;
	WorkerConnection *kept;
	PGconn	   *conn;
	bool		done = true;
	bool		tried_extension = false;
	Oid			dboid = local_database(dbname);

	if (!OidIsValid(dboid))
		return true;
	kept = database_connection(dbname, &failed);
	if (kept == NULL)
		return !failed;
	conn = kept->conn;
	for (;;)
	{
		PGresult   *res = worker_exec(conn, "SELECT seq, role, search_path, statement FROM plinth.schema_pending(100)",
									  0, NULL);
		int			rows;

		/* The extension is not there, or older than 0.2: nothing is shared. */
		if (!exec_ok(conn, res, NULL, dbname))
		{
			const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

			/* Anything else is a failure: the pass is tried again. */
			if (state == NULL || (strcmp(state, "3F000") != 0 && strcmp(state, "42883") != 0))
			{
				ereport(LOG, (errmsg("plinth schema: reading what database \"%s\" has not applied failed: %s",
									 dbname, PQresultErrorMessage(res))));
				done = false;
			}
			else if (!tried_extension)
			{
				bool		created;

				tried_extension = true;
				PQclear(res);
				if (!create_missing_extension(conn, dboid, dbname, &created))
				{
					done = false;
					break;
				}
				if (created)
					continue;
				break;
			}
			PQclear(res);
			break;
		}
		rows = PQntuples(res);
		for (int i = 0; i < rows && done; i++)
		{
			int64		seq = strtoll(PQgetvalue(res, i, 0), NULL, 10);

			/* A database copied from this one waits for it at this entry (sync_database_log). */
			if (upto > 0 && seq > upto)
			{
				rows = 0;
				break;
			}
			if (replay_entry(conn, dbname, "plinth.replay", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
							 PQgetvalue(res, i, 2), PQgetvalue(res, i, 3)))
				continue;
			failed_times = failed_seq == seq && strcmp(failed_db, dbname) == 0 ? failed_times + 1 : 1;
			failed_seq = seq;
			strlcpy(failed_db, dbname, sizeof(failed_db));
			if (failed_times >= 3)
			{
				const char *params[1] = {PQgetvalue(res, i, 0)};

				ereport(WARNING,
						(errmsg("plinth schema: passing over schema log entry %s of database \"%s\" after three failures",
								params[0], dbname),
						 errdetail("This server's catalog now differs from the servers that applied it.")));
				PQclear(worker_exec(conn, "SELECT plinth.schema_skip($1::bigint)", 1, params));
				continue;
			}
			done = false;
		}
		PQclear(res);
		if (rows < 100 || !done)
			break;
	}
	kept->used = GetCurrentTimestamp();
	/* A whole visit of the pass: the store's marks say this server has it all. */
	if (done && upto == 0)
		plinth_swift_schema_database_visited(dbname);
	return done;
}

/*
 * A database the worker's connection may use while the entry changes
 * `a` and `b` (neither may have other sessions): postgres, else template1,
 * else any that allows connections.
 */
static bool
maintenance_database(const char *a, const char *b, char *out)
{
	MemoryContext pass = CurrentMemoryContext;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			best = 0;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		const char *name = NameStr(db->datname);
		int			rank = strcmp(name, "postgres") == 0 ? 3 : strcmp(name, "template1") == 0 ? 2 : 1;

		if (!db->datallowconn || strcmp(name, a) == 0 || strcmp(name, b) == 0 || rank <= best)
			continue;
		strlcpy(out, name, NAMEDATALEN);
		best = rank;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	MemoryContextSwitchTo(pass);
	return best > 0;
}

static int64 failed_database_seq = 0;
static int	failed_database_times = 0;

/* Runs one entry of the database log; false to try again later. */
static bool
apply_database_entry(const PlinthDatabaseEntry *e)
{
	char		seq[32];
	char		maintenance[NAMEDATALEN];
	PGconn	   *conn;
	bool		ok;

	snprintf(seq, sizeof(seq), INT64_FORMAT, e->seq);
	/* A copy of a template: the template as the first server copied it. */
	if (e->kind == PLINTH_DATABASE_CREATE && e->template_position > 0 &&
		!sync_database(e->other, e->template_position))
		return false;
	/* Connections to the databases it changes would hold it off. */
	close_connections(false);
	if (!maintenance_database(e->name, e->other, maintenance))
	{
		ereport(LOG, (errmsg("plinth schema: no database to apply database log entry %s from", seq)));
		return false;
	}
	conn = connect_local(maintenance);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		ereport(LOG, (errmsg("plinth schema: could not connect to database \"%s\": %s", maintenance,
							 PQerrorMessage(conn))));
		PQfinish(conn);
		return false;
	}

	/*
	 * A copy needs its template free of other sessions: Postgres waits 5 s
	 * for them to leave. If they did not, the second attempt ends them, as
	 * DROP DATABASE ... WITH (FORCE) would: the first server has the copy.
	 */
	if (e->kind == PLINTH_DATABASE_CREATE && failed_database_seq == e->seq && failed_database_times > 0)
	{
		const char *params[1] = {e->other};

		ereport(LOG, (errmsg("plinth schema: ending the sessions of database \"%s\" to copy it as database log entry %s does",
							 e->other, seq)));
		PQclear(worker_exec(conn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
							"WHERE datname = $1 AND pid <> pg_backend_pid()", 1, params));
	}
	ok = replay_entry(conn, maintenance, "plinth.replay_database", seq, e->role, "\"$user\", public", e->statement);
	PQfinish(conn);

	/*
	 * A new database joins this server to its schema log (and gets the
	 * extension if its template lacked it here) before the entry counts
	 * as applied: DDL the others make in it from then on waits for this
	 * server.
	 */
	if (ok && e->kind == PLINTH_DATABASE_CREATE && !sync_database(e->name, 0))
		return false;
	if (!ok)
	{
		failed_database_times = failed_database_seq == e->seq ? failed_database_times + 1 : 1;
		failed_database_seq = e->seq;
		if (failed_database_times < 3)
			return false;
		ereport(WARNING,
				(errmsg("plinth schema: passing over database log entry %s after three failures", seq),
				 errdetail("This server's databases now differ from the servers that applied it.")));
	}
	PLINTH_CHECK(plinth_swift_database_applied(e->seq));
	return true;
}

/*
 * The database log's entries this server has not applied, in order,
 * before any database's schema log: a schema log entry may need a
 * database created before it, and a database copied from a template needs
 * the template as it was then. Read under the database log lock, so that
 * an entry this server logged is never run again before its commit is done.
 */
static bool
sync_database_log(void)
{
	MemoryContext pass = CurrentMemoryContext;
	PlinthDatabaseEntry *entries = palloc0(sizeof(PlinthDatabaseEntry) * 100);
	PlinthDatabaseEntry *applied = palloc0(sizeof(PlinthDatabaseEntry) * 100);
	size_t		n = 100;
	bool		done = true;

	while (done && n == 100 && !ShutdownRequestPending)
	{
		bool		read = true;

		StartTransactionCommand();
		plinth_database_log_lock_shared();

		/*
		 * A store this server may not use yet (its identity refused until
		 * plinth_claim_server_identity()) is tried again soon, as a
		 * database whose pending entries cannot be read.
		 */
		PG_TRY();
		{
			PLINTH_CHECK(plinth_swift_database_entries(entries, 100, &n));
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(pass);
			EmitErrorReport();
			FlushErrorState();
			read = false;
		}
		PG_END_TRY();
		if (!read)
		{
			plinth_swift_database_entries_free(entries, n);	/* those it filled */
			AbortCurrentTransaction();
			MemoryContextSwitchTo(pass);
			return false;
		}
		CommitTransactionCommand();
		MemoryContextSwitchTo(pass);
		/* Into the pass's memory at once: an error while applying them leaks nothing. */
		for (size_t i = 0; i < n; i++)
		{
			applied[i] = entries[i];
			applied[i].role = pstrdup(entries[i].role);
			applied[i].statement = pstrdup(entries[i].statement);
			applied[i].name = pstrdup(entries[i].name);
			applied[i].other = pstrdup(entries[i].other);
		}
		plinth_swift_database_entries_free(entries, n);
		for (size_t i = 0; i < n && done && !ShutdownRequestPending; i++)
			done = apply_database_entry(&applied[i]);
	}
	return done;
}

/* Every database of the store that this server has and must visit; false to try again later. */
static bool
sync_all_databases(void)
{
	size_t		cap = 4096;
	size_t		len = 0;
	char	   *names = palloc(cap);
	bool		done = true;

	PLINTH_CHECK(plinth_swift_schema_databases(names, cap, &len));
	if (len > cap)
	{
		cap = len;
		names = repalloc(names, cap);
		PLINTH_CHECK(plinth_swift_schema_databases(names, cap, &len));
	}
	for (size_t at = 0; at < len && at < cap; at += strlen(names + at) + 1)
	{
		if (ShutdownRequestPending)
			break;
		if (!sync_database(names + at, 0))
			done = false;
	}
	pfree(names);
	return done;
}

void
plinth_schema_main(Datum arg)
{
	int64		seen = -1;
	int64		seen_metadata = -1;
	bool		retry = true;
	TimestampTz last_pass = 0;
	MemoryContext pass_context;

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	StartTransactionCommand();
	worker_user = MemoryContextStrdup(TopMemoryContext, GetUserNameFromId(BOOTSTRAP_SUPERUSERID, false));
	CommitTransactionCommand();
	/* What a pass allocates goes with it, an error's included. */
	pass_context = AllocSetContextCreate(TopMemoryContext, "plinth schema pass", ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		int64		version = 0;
		int64		metadata = 0;
		bool		failed = false;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (ShutdownRequestPending)
		{
			close_connections(false);
			proc_exit(0);
		}
		MemoryContextSwitchTo(pass_context);
		PG_TRY();
		{
			plinth_prepare_worker();
			PLINTH_CHECK(plinth_swift_schema_version(&version, &metadata));

			/*
			 * Every database at start and each time any schema changed (a
			 * server that creates the extension advances the version too);
			 * every ten seconds besides, in case a database's extension
			 * was not committed yet when its pass came.
			 */
			if (version != seen || metadata != seen_metadata || retry ||
				TimestampDifferenceExceeds(last_pass, GetCurrentTimestamp(), 10000))
			{
				bool		databases = sync_database_log();

				retry = !sync_all_databases();
				/* A database entry may need a role another database's log just made. */
				if (!databases)
					databases = sync_database_log();
				retry = retry || !databases;
				seen = version;
				seen_metadata = metadata;
				last_pass = GetCurrentTimestamp();
				/* Every database applied once: backends need not check (above). */
				if (!retry)
					plinth_set_schema_ready();
			}

			/*
			 * A complete pass applied every entry committed before the
			 * version and metadata version it read first: the catalog is
			 * current through that metadata version, which writers'
			 * commits compare with the store's (DefinitionGuard.swift).
			 */
			plinth_set_schema_current(!retry, seen_metadata);
		}
		PG_CATCH();
		{
			EmitErrorReport();
			FlushErrorState();
			AbortOutOfAnyTransaction();
			failed = true;
			plinth_set_schema_current(false, 0);
		}
		PG_END_TRY();
		MemoryContextSwitchTo(TopMemoryContext);
		MemoryContextReset(pass_context);
		close_connections(true);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 failed ? 10000 : (retry ? 1000 : 5), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* Barriers (DROP TABLESPACE, DROP DATABASE wait for every process to absorb one). */
		CHECK_FOR_INTERRUPTS();
	}
}
