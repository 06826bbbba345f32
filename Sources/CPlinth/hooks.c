/*
 * hooks.c — Plinth in Postgres's life cycle, on top of everything else in
 * the shim: transaction and subtransaction callbacks, dropped storage and
 * databases, planner restrictions, and the executor and utility hooks that
 * mark where statements begin and end (counters, and the work statements
 * leave for their end).
 */
#include "postgres.h"

#include <signal.h>
#include <unistd.h>

#include "access/genam.h"
#include "access/parallel.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_index.h"
#include "catalog/storage.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/tablecmds.h"
#include "commands/vacuum.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "optimizer/paths.h"
#include "optimizer/plancat.h"
#include "tcop/utility.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "hooks.h"
#include "indexam.h"
#include "indexes.h"
#include "databases.h"
#include "schema.h"
#include "sequences.h"

static object_access_hook_type prev_object_access_hook = NULL;
static set_rel_pathlist_hook_type prev_set_rel_pathlist_hook = NULL;
static get_relation_info_hook_type prev_get_relation_info_hook = NULL;
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;
static ExecutorRun_hook_type prev_ExecutorRun = NULL;
static ExecutorFinish_hook_type prev_ExecutorFinish = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static int	executor_depth = 0;

/*
 * Storage that this transaction drops at commit (DROP, TRUNCATE, REINDEX,
 * table rewrites) loses its store data in the same store transaction.
 * Temporary relations are not in this list; the drop hook covers them.
 */
static void
plinth_forget_dropped_storage(void)
{
	RelFileNode *nodes;
	int			n = smgrGetPendingDeletes(true, &nodes);

	for (int i = 0; i < n; i++)
	{
		if (nodes[i].dbNode != MyDatabaseId)
			continue;
		PLINTH_CHECK(plinth_swift_relation_forget(nodes[i].relNode, GetCurrentCommandId(false),
												  (uint32) GetCurrentSubTransactionId()));
	}
	if (n > 0)
		pfree(nodes);
}

/*
 * Storage of temporary Plinth relations this transaction dropped: smgr's
 * pending deletes leave temporary relations out, so the drop hook notes
 * them. Their store data goes at pre-commit — unless, by then, a relation
 * owns the storage again: ALTER TABLE ... ALTER COLUMN TYPE drops an index
 * and creates its replacement on the same storage (TryReuseIndex), and the
 * entries must stay. (Permanent relations reused that way leave the
 * pending deletes; theirs are found there.)
 */
typedef struct DroppedStorage
{
	Oid			tablespace;
	Oid			relfilenode;
} DroppedStorage;

static List *dropped_temp_storage = NIL;	/* in TopTransactionContext */

/*
 * Whether one of this session's temporary relations has the storage.
 * (RelidByRelfilenode passes over temporary relations: their relfilenodes
 * are unique only per session.)
 */
static bool
temp_storage_in_use(const DroppedStorage *d)
{
	Relation	pg_class = table_open(RelationRelationId, AccessShareLock);
	ScanKeyData keys[2];
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	ScanKeyInit(&keys[0], Anum_pg_class_reltablespace, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(d->tablespace == MyDatabaseTableSpace ? InvalidOid : d->tablespace));
	ScanKeyInit(&keys[1], Anum_pg_class_relfilenode, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(d->relfilenode));
	scan = systable_beginscan(pg_class, ClassTblspcRelfilenodeIndexId, true, NULL, 2, keys);
	while (!found && HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_class c = (Form_pg_class) GETSTRUCT(tup);

		found = c->relpersistence == RELPERSISTENCE_TEMP && isTempOrTempToastNamespace(c->relnamespace);
	}
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);
	return found;
}

static void
plinth_forget_dropped_temp_storage(void)
{
	ListCell   *lc;

	foreach(lc, dropped_temp_storage)
	{
		DroppedStorage *d = lfirst(lc);

		if (temp_storage_in_use(d))
			continue;			/* taken over by another relation */
		PLINTH_CHECK(plinth_swift_relation_forget(d->relfilenode, GetCurrentCommandId(false),
												  (uint32) GetCurrentSubTransactionId()));
	}
	dropped_temp_storage = NIL;
}

static void
plinth_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			/* Dropped databases' keys, and database statements to the database log. */
			plinth_databases_pre_commit();
			if (!plinth_in_use)
				return;

			/*
			 * ON COMMIT DELETE ROWS and ON COMMIT DROP act after this callback
			 * (CommitTransaction runs them after the pre-commit callbacks):
			 * done then, they would change the store after its commit and be
			 * lost. Run them now, in the store transaction; Postgres's own
			 * run finds the drops done, and its truncations change nothing
			 * the committed store sees.
			 */
			PreCommit_on_commit_actions();
			plinth_forget_dropped_storage();
			plinth_forget_dropped_temp_storage();
			/* Work no statement's end ran (logical replication's inserts). */
			plinth_statement_event(PLINTH_STATEMENT_PRE_COMMIT, 0);
			/* DDL to the schema log, in the same store transaction. */
			plinth_schema_pre_commit();
			/* The store commit: a conflict aborts the Postgres transaction. */
			PLINTH_CHECK(plinth_swift_xact_event(PLINTH_XACT_PRE_COMMIT));
			if (plinth_fault_crash_after_store_commit)
				(void) kill(getpid(), SIGKILL);
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (plinth_in_use)
				PLINTH_CHECK(plinth_swift_xact_event(PLINTH_XACT_PRE_PREPARE));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* Never raises: it only drops what is left. */
			if (plinth_in_use)
				(void) plinth_swift_xact_event(PLINTH_XACT_ABORT);
			plinth_boundary_reset();
			plinth_indexes_at_transaction_end();
			plinth_sequences_at_transaction_end();
			plinth_session_at_transaction_end();
			dropped_temp_storage = NIL;
			executor_depth = 0;
			/* DDL: the other servers apply it before the client hears of the commit. */
			if (event == XACT_EVENT_COMMIT)
			{
				plinth_databases_at_commit();
				plinth_schema_at_commit();
			}
			else
			{
				plinth_databases_at_abort();
				plinth_schema_at_abort();
			}
			break;
		default:
			break;
	}
}

static void
plinth_subxact_callback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid, void *arg)
{
	if (!plinth_in_use)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		plinth_swift_subxact_event(PLINTH_SUBXACT_ABORT, mySubid, parentSubid);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
		plinth_swift_subxact_event(PLINTH_SUBXACT_COMMIT, mySubid, parentSubid);
}

/*
 * ALTER INDEX ... SET TABLESPACE copies an index's local file to new
 * storage (index_copy_data: no access method callback) and drops the old
 * one. A Plinth index's entries stay under their store id; the mapping
 * follows the new relfilenode, here, before anything in the transaction
 * can look for it. The relcache still has the old relfilenode; the pg_class
 * row as this command left it has the new one.
 */
static void
plinth_index_storage_moved(Oid indexoid)
{
	Relation	rel = RelationIdGetRelation(indexoid);
	Oid			old;
	Oid			new = InvalidOid;
	Relation	pg_class;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	if (!RelationIsValid(rel))
		return;
	if (rel->rd_rel->relkind != RELKIND_INDEX || !plinth_class_is_plinth(rel->rd_rel, indexoid))
	{
		RelationClose(rel);
		return;
	}
	old = rel->rd_node.relNode;
	RelationClose(rel);

	pg_class = table_open(RelationRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_class_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(indexoid));
	scan = systable_beginscan(pg_class, ClassOidIndexId, true, SnapshotSelf, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		new = ((Form_pg_class) GETSTRUCT(tup))->relfilenode;
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);

	if (OidIsValid(new) && new != old)
	{
		plinth_prepare();
		PLINTH_CHECK(plinth_swift_relation_move(old, new, GetCurrentCommandId(true),
												(uint32) GetCurrentSubTransactionId()));
	}
}

/*
 * DROP of a Plinth table or index: its data goes with the transaction.
 * An index's storage moved to another tablespace: its mapping follows.
 * A database dropped: its keys go with the transaction.
 */
static void
plinth_object_access(ObjectAccessType access, Oid classId, Oid objectId, int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (!plinth_preloaded || subId != 0)
		return;
	if (classId == DatabaseRelationId && access == OAT_DROP)
	{
		plinth_databases_note_drop(objectId);
		return;
	}
	if (classId != RelationRelationId)
		return;
	plinth_schema_note_relation(objectId, access);
	plinth_sequence_object_access(objectId, access);
	if (access == OAT_POST_ALTER)
	{
		plinth_index_storage_moved(objectId);
		return;
	}
	if (access != OAT_DROP)
		return;
	{
		HeapTuple	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(objectId));
		Form_pg_class c;
		DroppedStorage d;
		bool		temporary;
		bool		plinth;

		if (!HeapTupleIsValid(tp))
			return;
		c = (Form_pg_class) GETSTRUCT(tp);
		d.tablespace = c->reltablespace;
		d.relfilenode = c->relfilenode;
		temporary = c->relpersistence == RELPERSISTENCE_TEMP;
		plinth = OidIsValid(d.relfilenode) && plinth_class_is_plinth(c, objectId);
		ReleaseSysCache(tp);

		if (!plinth)
			return;

		/*
		 * Permanent storage is forgotten at pre-commit from smgr's pending
		 * deletes (storage a relation takes over leaves them); temporary
		 * storage is noted here.
		 */
		if (temporary)
		{
			MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

			dropped_temp_storage = lappend(dropped_temp_storage, palloc_object(DroppedStorage));
			*(DroppedStorage *) llast(dropped_temp_storage) = d;
			MemoryContextSwitchTo(old);
		}
		plinth_prepare();		/* the transaction has store work at pre-commit */
	}
}

/* The rel, and every path built for it so far, are not parallel-safe. */
static void
plinth_forbid_parallel(RelOptInfo *rel)
{
	ListCell   *lc;

	rel->consider_parallel = false;
	rel->partial_pathlist = NIL;
	foreach(lc, rel->pathlist)
		((Path *) lfirst(lc))->parallel_safe = false;
}

/*
 * Keeps Plinth tables out of parallel plans: parallel workers are other
 * processes and do not see the leader's buffered writes. A Plinth relation
 * loses its partial paths and is not parallel-safe, so no join with it
 * runs in workers; an append over Plinth partitions is marked too, before
 * its own paths are built.
 */
static void
plinth_set_rel_pathlist(PlannerInfo *root, RelOptInfo *rel, Index rti, RangeTblEntry *rte)
{
	if (prev_set_rel_pathlist_hook)
		prev_set_rel_pathlist_hook(root, rel, rti, rte);
	if (rte->rtekind != RTE_RELATION || rte->relkind == RELKIND_PARTITIONED_TABLE)
	{
		/* An append parent: no parallel paths if a child was Plinth. */
		if (!rel->consider_parallel)
			plinth_forbid_parallel(rel);
		return;
	}
	{
		Relation	r = RelationIdGetRelation(rte->relid);
		bool		plinth = RelationIsValid(r) && plinth_is_table(r);

		if (RelationIsValid(r))
			RelationClose(r);
		if (!plinth)
			return;
	}
	plinth_forbid_parallel(rel);
	/* Parents (partitioned tables, inheritance) must not go parallel either. */
	if (root->append_rel_array != NULL)
	{
		Index		child = rti;

		while (child < (Index) root->simple_rel_array_size && root->append_rel_array[child] != NULL)
		{
			Index		parent = root->append_rel_array[child]->parent_relid;
			RelOptInfo *prel = root->simple_rel_array[parent];

			if (prel != NULL)
				plinth_forbid_parallel(prel);
			child = parent;
		}
	}
}

/* The planner's sizes of Plinth tables' indexes (indexam.c). */
static void
plinth_get_relation_info(PlannerInfo *root, Oid relationObjectId, bool inhparent, RelOptInfo *rel)
{
	Relation	r;
	bool		plinth;

	if (prev_get_relation_info_hook)
		prev_get_relation_info_hook(root, relationObjectId, inhparent, rel);
	r = RelationIdGetRelation(relationObjectId);
	plinth = RelationIsValid(r) && plinth_is_table(r);
	if (RelationIsValid(r))
		RelationClose(r);
	if (plinth)
		plinth_index_planner_info(rel);
}

/*
 * Counters per top-level statement (plinth_stat_statement): from the start
 * of the outermost query or utility command to its end, with the
 * statements it runs inside (functions, foreign key checks, triggers).
 */
static void
plinth_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (executor_depth == 0 && plinth_statement_depth == 0 && plinth_preloaded)
	{
		plinth_schema_backend_start();
		plinth_swift_statement_start();
	}
	/*
	 * READ COMMITTED: the statement's snapshot is a newer one from the store.
	 * A foreign key check (ri_triggers.c, the one caller that runs queries
	 * with SECURITY_NOFORCE_RLS; its checks are SELECTs, its actions not)
	 * may read the parents pinned for it.
	 */
	if (plinth_in_use)
		plinth_swift_statement_snapshot(plinth_read_isolation(), executor_depth == 0 && plinth_statement_depth == 0,
										queryDesc->operation == CMD_SELECT && InNoForceRLSOperation());
	executor_depth++;
	PG_TRY();
	{
		if (prev_ExecutorStart)
			prev_ExecutorStart(queryDesc, eflags);
		else
			standard_ExecutorStart(queryDesc, eflags);
	}
	PG_FINALLY();
	{
		executor_depth--;
	}
	PG_END_TRY();
}

static void
plinth_ExecutorEnd(QueryDesc *queryDesc)
{
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
	if (executor_depth == 0 && plinth_statement_depth == 0 && plinth_preloaded)
		plinth_swift_statement_end();
}

static void
plinth_ExecutorRun(QueryDesc *queryDesc, ScanDirection direction, uint64 count, bool execute_once)
{
	int			depth = plinth_statement_depth;

	plinth_statement_depth++;
	PG_TRY();
	{
		if (prev_ExecutorRun)
			prev_ExecutorRun(queryDesc, direction, count, execute_once);
		else
			standard_ExecutorRun(queryDesc, direction, count, execute_once);
	}
	PG_FINALLY();
	{
		plinth_statement_depth = depth;
	}
	PG_END_TRY();
}

/*
 * A statement's uniqueness checks run before its AFTER triggers (a
 * duplicate key is reported before a foreign key the same row breaks, as
 * heap reports it) and the parent keys of its foreign key checks are read
 * ahead of them; the checks run again after them for the rows written while
 * finishing (the rest of a data-modifying WITH).
 */
static void
plinth_ExecutorFinish(QueryDesc *queryDesc)
{
	int			depth = plinth_statement_depth;

	plinth_statement_event(PLINTH_STATEMENT_EXECUTOR_FINISHING, depth);
	plinth_statement_depth++;
	PG_TRY();
	{
		if (prev_ExecutorFinish)
			prev_ExecutorFinish(queryDesc);
		else
			standard_ExecutorFinish(queryDesc);
	}
	PG_FINALLY();
	{
		plinth_statement_depth = depth;
	}
	PG_END_TRY();
	plinth_statement_event(PLINTH_STATEMENT_EXECUTOR_FINISHED, depth);
}

/* COPY FROM, index builds and other writers outside the executor. */
static void
plinth_ProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					  ProcessUtilityContext context, ParamListInfo params, QueryEnvironment *queryEnv,
					  DestReceiver *dest, QueryCompletion *qc)
{
	int			depth = plinth_statement_depth;
	PlinthSchemaMode schema;

	if (depth == 0 && plinth_preloaded)
	{
		plinth_schema_backend_start();
		plinth_swift_statement_start();
	}
	if (plinth_in_use)
		plinth_swift_statement_snapshot(plinth_read_isolation(), depth == 0, false);
	/* A database statement another server ran, and this one has applied already. */
	if ((pstmt = plinth_database_statement_begin(pstmt)) == NULL)
	{
		if (depth == 0 && plinth_preloaded)
			plinth_swift_statement_end();
		return;
	}
	/* DDL: logged for the other servers sharing the store, or replayed from one. */
	schema = plinth_schema_statement_begin(pstmt);
	/* Sequences used or changed outside the planner's sight (sequences.c). */
	if (plinth_preloaded)
		plinth_sequences_before_utility(pstmt->utilityStmt);
	plinth_statement_depth++;
	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		if (plinth_preloaded)
			plinth_sequences_after_utility(pstmt->utilityStmt);
		/* Databases: the store follows, and the database log has the statement. */
		plinth_database_statement_done(pstmt, queryString);
		if (schema != PLINTH_SCHEMA_NONE)
			plinth_schema_statement_done(pstmt, queryString, schema);
	}
	PG_FINALLY();
	{
		plinth_statement_depth = depth;
		if (plinth_preloaded)
			plinth_sequences_utility_reset(depth);
		if (schema != PLINTH_SCHEMA_NONE)
			plinth_schema_statement_reset(schema);
	}
	PG_END_TRY();
	plinth_statement_event(PLINTH_STATEMENT_UTILITY_FINISHED, depth);

	/*
	 * A database-wide VACUUM also sweeps the store: storage of relations a
	 * crash rolled back (relation.c). VACUUM leaves a transaction open for
	 * its caller to commit; the sweep's removals go with it.
	 */
	if (plinth_preloaded && IsA(pstmt->utilityStmt, VacuumStmt) &&
		((VacuumStmt *) pstmt->utilityStmt)->is_vacuumcmd &&
		((VacuumStmt *) pstmt->utilityStmt)->rels == NIL &&
		OidIsValid(plinth_am_oid()))
		(void) plinth_sweep_orphans();
	/* DISCARD SEQUENCES (or ALL) forgets this backend's leases, as Postgres's caches. */
	if (plinth_preloaded && IsA(pstmt->utilityStmt, DiscardStmt) &&
		(((DiscardStmt *) pstmt->utilityStmt)->target == DISCARD_SEQUENCES ||
		 ((DiscardStmt *) pstmt->utilityStmt)->target == DISCARD_ALL))
		plinth_sequences_discard();
	if (depth == 0 && plinth_preloaded)
		plinth_swift_statement_end();
}

void
plinth_register_hooks(void)
{
	RegisterXactCallback(plinth_xact_callback, NULL);
	RegisterSubXactCallback(plinth_subxact_callback, NULL);
	prev_object_access_hook = object_access_hook;
	object_access_hook = plinth_object_access;
	prev_get_relation_info_hook = get_relation_info_hook;
	get_relation_info_hook = plinth_get_relation_info;
	prev_set_rel_pathlist_hook = set_rel_pathlist_hook;
	set_rel_pathlist_hook = plinth_set_rel_pathlist;
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = plinth_ExecutorStart;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = plinth_ExecutorEnd;
	prev_ExecutorRun = ExecutorRun_hook;
	ExecutorRun_hook = plinth_ExecutorRun;
	prev_ExecutorFinish = ExecutorFinish_hook;
	ExecutorFinish_hook = plinth_ExecutorFinish;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = plinth_ProcessUtility;
}
