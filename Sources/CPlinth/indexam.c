/*
 * indexam.c — indexes of Plinth tables, behind btree's name.
 *
 * Why btree: on PostgreSQL 15, PRIMARY KEY, UNIQUE, REFERENCES and
 * INSERT ... ON CONFLICT all require a btree index (foreign keys: "only
 * b-tree indexes are supported for foreign keys"; ON CONFLICT: "unexpected
 * non-btree speculative unique index"), and ORMs' migrations never say
 * USING. So every index on a Plinth table stays a btree in the catalog
 * (relam = 403), and the btree handler hands out a routine whose callbacks
 * dispatch: Plinth's code for indexes of Plinth tables, btree's own for
 * everything else (catalogs and heap tables are untouched).
 *
 * How the handler is replaced — the one place Plinth reaches past
 * Postgres's public API: btree's handler is a builtin function, resolved
 * through the fmgr_builtins table, not through pg_proc. Pointing pg_am's
 * amhandler at an extension function instead bricks the database (every
 * catalog index is a btree, and resolving a non-builtin handler needs a
 * catalog index: infinite recursion at the next start). So _PG_init, while
 * shared_preload_libraries are loaded in the postmaster, rewrites the
 * builtin table's entry for bthandler — in read-only memory, made writable
 * for that one store — and every backend forked afterwards sees the
 * dispatching handler. A server started without the preload never sees
 * it, and refuses Plinth tables (the table handler checks the preload).
 *
 * Postgres calls some btree internals directly for relam = btree: the
 * planner reads the tree height from the metapage (_bt_getrootheight). So
 * the local file of a Plinth index holds a valid, empty btree metapage; the
 * entries themselves live in the store.
 */
#include "postgres.h"

#include <sys/mman.h>
#include <unistd.h>

#include "access/amapi.h"
#include "access/genam.h"
#include "access/nbtree.h"
#include "access/relation.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "catalog/pg_am.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/pathnodes.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrtab.h"
#include "utils/hsearch.h"
#include "utils/index_selfuncs.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"
#include "utils/tuplesort.h"

#include "indexam.h"
#include "indexes.h"
#include "portable.h"

/* btree's own callbacks, for every index that is not Plinth's. */
static IndexAmRoutine btree_routine;
static bool btree_routine_saved = false;

/* ------------------------------------------------------------------------
 * Building
 * ------------------------------------------------------------------------
 */

/* An empty btree metapage in the index's local file, for the planner. */
static void
write_metapage(Relation index, ForkNumber fork)
{
	Page		metapage = (Page) palloc(BLCKSZ);
	SMgrRelation srel = RelationGetSmgr(index);

	_bt_initmetapage(metapage, P_NONE, 0, _bt_allequalimage(index, false));
	PageSetChecksumInplace(metapage, BTREE_METAPAGE);
	smgrextend(srel, fork, BTREE_METAPAGE, (char *) metapage, true);
	if (RelationNeedsWAL(index) || fork == INIT_FORKNUM)
		log_newpage(&srel->smgr_rnode.node, fork, BTREE_METAPAGE, metapage, true);
	smgrimmedsync(srel, fork);
	pfree(metapage);
}

typedef struct BuildState
{
	Relation	heap;
	PlinthIndexEntry *entry;
	/*
	 * A unique index's keys, sorted as btree's build sorts them, which
	 * reports a duplicate as btree does: the index is new, so no other
	 * transaction has entries in it, and a key can only meet another of
	 * this build (no store reads, no key locks; spills to disk past
	 * maintenance_work_mem). NULL when not checked (ii_Unique, not
	 * indisunique: VACUUM FULL and CLUSTER rebuild without checking).
	 */
	Tuplesortstate *unique;
	double		entries;
} BuildState;

static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool tupleIsAlive, void *arg)
{
	BuildState *s = arg;

	plinth_insert_entry(index, s->heap, s->entry, values, isnull, tid, PLINTH_UNIQUE_NO, true);
	if (s->unique != NULL)
		tuplesort_putindextuplevalues(s->unique, index, tid, values, isnull);
	s->entries += 1;
}

static IndexBuildResult *
plinth_ambuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	BuildState	state;
	int64		index_id;

	if (!plinth_is_index(index))
		return btree_routine.ambuild(heap, index, indexInfo);
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	/* Refuse an unsupported type before writing anything. */
	plinth_index_describe_columns(index, plinth_index_entry(index));
	write_metapage(index, MAIN_FORKNUM);

	/* New storage, a new store id; REINDEX drops the old one at commit. */
	(void) GetTopTransactionId();
	plinth_prepare();
	PLINTH_CHECK(plinth_swift_relation_create(index->rd_node.relNode, InvalidOid, GetCurrentCommandId(true),
											  (uint32) GetCurrentSubTransactionId(),
											  U64FromFullTransactionId(GetTopFullTransactionId()), &index_id));
	plinth_index_entry(index)->described = false;

	state.heap = heap;
	state.entry = plinth_index_describe(index);
	/*
	 * As btree's build: VACUUM FULL and CLUSTER rebuild a unique index
	 * without checking it (reindex_index clears ii_Unique), so that an
	 * invalid one a failed CREATE UNIQUE INDEX CONCURRENTLY left stays
	 * as it was rather than failing the rewrite.
	 */
	state.unique = NULL;
	if (indexInfo->ii_Unique && state.entry->desc.unique)
		state.unique = tuplesort_begin_index_btree(heap, index, true, indexInfo->ii_NullsNotDistinct,
												   maintenance_work_mem, NULL, TUPLESORT_NONE);
	state.entries = 0;
	indexInfo->ii_ParallelWorkers = 0;
	result = palloc(sizeof(IndexBuildResult));
	PLINTH_CHECK(plinth_swift_index_build(index_id, index->rd_node.relNode, GetCurrentCommandId(true),
										  (uint32) GetCurrentSubTransactionId(), false));
	result->heap_tuples = table_index_build_scan(heap, index, indexInfo, true, false, build_callback, &state, NULL);
	if (state.unique != NULL)
	{
		tuplesort_performsort(state.unique);	/* reports a duplicate */
		tuplesort_end(state.unique);
	}
	PLINTH_CHECK(plinth_swift_index_build(index_id, index->rd_node.relNode, GetCurrentCommandId(true),
										  (uint32) GetCurrentSubTransactionId(), true));
	plinth_statement_event(PLINTH_STATEMENT_INDEX_BUILT, plinth_statement_depth);
	result->index_tuples = state.entries;
	return result;
}

static void
plinth_ambuildempty(Relation index)
{
	/* The init fork of an unlogged index: btree's empty metapage is ours too. */
	btree_routine.ambuildempty(index);
}

/* ------------------------------------------------------------------------
 * Inserting and deleting entries
 * ------------------------------------------------------------------------
 */

static bool
plinth_aminsert(Relation index, Datum *values, bool *isnull, ItemPointer ht_ctid, Relation heap,
				IndexUniqueCheck checkUnique, bool indexUnchanged, IndexInfo *indexInfo)
{
	PlinthUniqueCheck check;

	if (!plinth_is_index(index))
		return btree_routine.aminsert(index, values, isnull, ht_ctid, heap, checkUnique, indexUnchanged, indexInfo);
	switch (checkUnique)
	{
		case UNIQUE_CHECK_YES:
			check = PLINTH_UNIQUE_YES;
			break;
		case UNIQUE_CHECK_PARTIAL:
			check = PLINTH_UNIQUE_PARTIAL;
			break;
		case UNIQUE_CHECK_EXISTING:
			check = PLINTH_UNIQUE_EXISTING;
			break;
		default:
			check = PLINTH_UNIQUE_NO;
	}
	return plinth_insert_entry(index, heap, plinth_index_describe(index), values, isnull, ht_ctid, check, false);
}

/* ------------------------------------------------------------------------
 * Scans
 * ------------------------------------------------------------------------
 */

typedef struct PlinthIndexScanOpaque
{
	PlinthIndexScanHandle scan;	/* Swift IndexScan */
	PlinthFetcherHandle fetcher;	/* buffer for index tuples handed out */
	bool		recheck;		/* some key could not bound the scan */
	MemoryContext itup_cxt;		/* holds the last index tuple translated (portable.c) */
	MemoryContextCallback release;
} PlinthIndexScanOpaque;

static void
release_index_scan(PlinthIndexScanOpaque *o)
{
	PlinthIndexScanHandle scan = o->scan;

	o->scan.object = NULL;
	if (scan.object != NULL)
		plinth_swift_index_scan_release(scan);
}

static void
release_scan_handles(void *arg)
{
	PlinthIndexScanOpaque *o = arg;
	PlinthFetcherHandle fetcher = o->fetcher;

	release_index_scan(o);
	o->fetcher.object = NULL;
	if (fetcher.object != NULL)
		plinth_swift_fetcher_release(fetcher);
}

static IndexScanDesc
plinth_ambeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan;
	PlinthIndexScanOpaque *o;

	if (!plinth_is_index(index))
		return btree_routine.ambeginscan(index, nkeys, norderbys);
	scan = RelationGetIndexScan(index, nkeys, norderbys);
	o = palloc0(sizeof(PlinthIndexScanOpaque));
	o->release.func = release_scan_handles;
	o->release.arg = o;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &o->release);
	plinth_prepare();
	o->fetcher = plinth_swift_fetcher_new();
	scan->opaque = o;
	return scan;
}

/* Converts Postgres scan keys to Plinth's and starts the Swift scan. */
static void
plinth_amrescan(IndexScanDesc scan, ScanKey keys, int nkeys, ScanKey orderbys, int norderbys)
{
	PlinthIndexScanOpaque *o;
	PlinthIndexEntry *e;
	PlinthScanKey *pkeys;
	PlinthKeyBuf *bufs;
	MemoryContext tmp,
				old;

	if (!plinth_is_index(scan->indexRelation))
	{
		btree_routine.amrescan(scan, keys, nkeys, orderbys, norderbys);
		return;
	}
	o = scan->opaque;
	pgstat_count_index_scan(scan->indexRelation);
	if (scan->xs_want_itup && scan->heapRelation)
		plinth_visibility_map_cover(scan->heapRelation);
	if (keys && scan->numberOfKeys > 0)
		memmove(scan->keyData, keys, scan->numberOfKeys * sizeof(ScanKeyData));
	e = plinth_index_describe(scan->indexRelation);
	tmp = AllocSetContextCreate(CurrentMemoryContext, "plinth index rescan", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(tmp);
	pkeys = palloc0(sizeof(PlinthScanKey) * Max(scan->numberOfKeys, 1));
	bufs = palloc0(sizeof(PlinthKeyBuf) * Max(scan->numberOfKeys, 1));
	o->recheck = false;
	for (int i = 0; i < scan->numberOfKeys; i++)
	{
		ScanKey		sk = &scan->keyData[i];
		PlinthScanKey *pk = &pkeys[i];
		int			col = sk->sk_attno - 1;

		plinth_keybuf_init(&bufs[i]);
		pk->column = col;
		pk->strategy = sk->sk_strategy;
		if (sk->sk_flags & SK_ROW_HEADER)
		{
			/* (a, b) > (1, 2): the executor evaluates it. */
			pk->flags = PLINTH_SK_INEXACT;
			o->recheck = true;
			continue;
		}
		if (sk->sk_flags & SK_ISNULL)
		{
			if (sk->sk_flags & SK_SEARCHNULL)
				pk->flags = PLINTH_SK_ISNULL;
			else if (sk->sk_flags & SK_SEARCHNOTNULL)
				pk->flags = PLINTH_SK_NOTNULL;
			else
				pk->flags = PLINTH_SK_NEVER;	/* a comparison with NULL */
			continue;
		}
		if (col < 0 || col >= e->desc.nkeys ||
			(OidIsValid(sk->sk_collation) && sk->sk_collation != e->collation[col] &&
			 e->keytype[col] != PLINTH_KT_TEXT_PATTERN && e->keytype[col] != PLINTH_KT_BPCHAR_PATTERN))
		{
			pk->flags = PLINTH_SK_INEXACT;
			o->recheck = true;
			continue;
		}
		{
			Oid			argtype = OidIsValid(sk->sk_subtype) ? sk->sk_subtype : e->coltype[col];
			bool		exact = true;

			if (sk->sk_flags & SK_SEARCHARRAY)
			{
				ArrayType  *arr = DatumGetArrayTypeP(sk->sk_argument);
				Oid			elemtype = ARR_ELEMTYPE(arr);
				int16		typlen;
				bool		typbyval;
				char		typalign;
				Datum	   *elems;
				bool	   *nulls;
				int			n;

				get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
				deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
				for (int j = 0; j < n && exact; j++)
				{
					if (nulls[j])
						continue;
					exact = plinth_key_add_argument(&bufs[i], e->keytype[col], elems[j], elemtype,
													e->coltype[col], e->collation[col]);
					pk->nvalues++;
				}
				if (exact && pk->nvalues == 0)
					pk->flags = PLINTH_SK_NEVER;
			}
			else
			{
				exact = plinth_key_add_argument(&bufs[i], e->keytype[col], sk->sk_argument, argtype,
												e->coltype[col], e->collation[col]);
				pk->nvalues = 1;
			}
			if (!exact)
			{
				pk->flags = PLINTH_SK_INEXACT;
				pk->nvalues = 0;
				o->recheck = true;
				continue;
			}
		}
		pk->elems = bufs[i].elems;
		pk->nelems = bufs[i].n;
	}
	release_index_scan(o);
	/* Rows are read ahead for the heap fetches; index-only scans make none. */
	PLINTH_CHECK(plinth_swift_index_scan_begin(&e->desc, plinth_visibility(scan->xs_snapshot), pkeys,
											   scan->numberOfKeys, scan->heapRelation != NULL && !scan->xs_want_itup,
											   &o->scan));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

static bool
plinth_amgettuple(IndexScanDesc scan, ScanDirection dir)
{
	PlinthIndexScanOpaque *o;
	bool		found;
	int64		row;
	void	   *tuple;
	size_t		len;


	if (!plinth_is_index(scan->indexRelation))
		return btree_routine.amgettuple(scan, dir);
	o = scan->opaque;
	if (o->scan.object == NULL)
		return false;
	CHECK_FOR_INTERRUPTS();
	PLINTH_CHECK(plinth_swift_index_scan_next(o->scan, !ScanDirectionIsBackward(dir), &found, &row, o->fetcher,
											  &tuple, &len));
	if (!found)
		return false;
	plinth_row_to_tid(row, &scan->xs_heaptid);
	scan->xs_recheck = o->recheck;
	if (scan->xs_want_itup)
	{
		TupleDesc	desc = RelationGetDescr(scan->indexRelation);

		scan->xs_itup = (IndexTuple) tuple;
		/* Types and enum labels the store names by portable id: this server's. */
		if (plinth_portable_desc(desc))
		{
			Datum		values[INDEX_MAX_KEYS];
			bool		isnull[INDEX_MAX_KEYS];
			MemoryContext old;

			if (o->itup_cxt == NULL)
				o->itup_cxt = AllocSetContextCreate(GetMemoryChunkContext(o), "plinth index-only tuple",
													ALLOCSET_SMALL_SIZES);
			MemoryContextReset(o->itup_cxt);
			old = MemoryContextSwitchTo(o->itup_cxt);
			index_deform_tuple(scan->xs_itup, desc, values, isnull);
			plinth_portable_values(desc, values, isnull, false);
			scan->xs_itup = index_form_tuple(desc, values, isnull);
			MemoryContextSwitchTo(old);
		}
		scan->xs_itup->t_tid = scan->xs_heaptid;
		scan->xs_itupdesc = desc;
	}
	return true;
}

static int64
plinth_amgetbitmap(IndexScanDesc scan, TIDBitmap *tbm)
{
	PlinthIndexScanOpaque *o;
	int64		rows[1024];
	ItemPointerData tids[1024];
	size_t		n;
	int64		total = 0;

	if (!plinth_is_index(scan->indexRelation))
		return btree_routine.amgetbitmap(scan, tbm);
	o = scan->opaque;
	if (o->scan.object == NULL)
		return 0;
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		PLINTH_CHECK(plinth_swift_index_scan_rows(o->scan, rows, lengthof(rows), &n));
		if (n == 0)
			break;
		for (size_t i = 0; i < n; i++)
			plinth_row_to_tid(rows[i], &tids[i]);
		tbm_add_tuples(tbm, tids, (int) n, o->recheck);
		total += n;
	}
	return total;
}

static void
plinth_amendscan(IndexScanDesc scan)
{
	PlinthIndexScanOpaque *o;

	if (!plinth_is_index(scan->indexRelation))
	{
		btree_routine.amendscan(scan);
		return;
	}
	o = scan->opaque;
	release_scan_handles(o);
	if (o->itup_cxt != NULL)
	{
		MemoryContextDelete(o->itup_cxt);
		o->itup_cxt = NULL;
	}
}

static void
plinth_ammarkpos(IndexScanDesc scan)
{
	if (!plinth_is_index(scan->indexRelation))
	{
		btree_routine.ammarkpos(scan);
		return;
	}
	if (((PlinthIndexScanOpaque *) scan->opaque)->scan.object != NULL)
		plinth_swift_index_scan_mark(((PlinthIndexScanOpaque *) scan->opaque)->scan);
}

static void
plinth_amrestrpos(IndexScanDesc scan)
{
	if (!plinth_is_index(scan->indexRelation))
	{
		btree_routine.amrestrpos(scan);
		return;
	}
	if (((PlinthIndexScanOpaque *) scan->opaque)->scan.object != NULL)
		plinth_swift_index_scan_restore(((PlinthIndexScanOpaque *) scan->opaque)->scan);
}

/* Plinth tables are kept out of parallel plans: no parallel index scans. */
static Size
plinth_amestimateparallelscan(void)
{
	return btree_routine.amestimateparallelscan();
}

/* ------------------------------------------------------------------------
 * Maintenance
 * ------------------------------------------------------------------------
 */

/*
 * Every entry, for CREATE INDEX CONCURRENTLY's validation (its callback
 * collects the TIDs). VACUUM never comes here: Plinth indexes hold no dead
 * entries.
 */
static IndexBulkDeleteResult *
plinth_ambulkdelete(IndexVacuumInfo *info, IndexBulkDeleteResult *stats, IndexBulkDeleteCallback callback,
					void *callback_state)
{
	PlinthIndexEntry *e;
	PlinthIndexScanHandle scan = {NULL};
	int64		rows[1024];
	size_t		n;
	PlinthVisibility all = {true, false, 0, false, false};

	if (!plinth_is_index(info->index))
		return btree_routine.ambulkdelete(info, stats, callback, callback_state);
	if (stats == NULL)
		stats = palloc0(sizeof(IndexBulkDeleteResult));
	e = plinth_index_describe(info->index);
	PLINTH_CHECK(plinth_swift_index_scan_begin(&e->desc, all, NULL, 0, false, &scan));
	PG_TRY();
	{
		for (;;)
		{
			PLINTH_CHECK(plinth_swift_index_scan_rows(scan, rows, lengthof(rows), &n));
			if (n == 0)
				break;
			for (size_t i = 0; i < n; i++)
			{
				ItemPointerData tid;

				plinth_row_to_tid(rows[i], &tid);
				if (callback(&tid, callback_state))
					elog(ERROR, "plinth: index entries are never dead");
				stats->num_index_tuples += 1;
			}
		}
	}
	PG_FINALLY();
	{
		plinth_swift_index_scan_release(scan);
	}
	PG_END_TRY();
	return stats;
}

static IndexBulkDeleteResult *
plinth_amvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (!plinth_is_index(info->index))
		return btree_routine.amvacuumcleanup(info, stats);
	return stats;
}

/* ------------------------------------------------------------------------
 * The dispatching handler
 * ------------------------------------------------------------------------
 */

static Datum
plinth_bthandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *r = (IndexAmRoutine *) DatumGetPointer(bthandler(fcinfo));

	if (!btree_routine_saved)
	{
		btree_routine = *r;
		btree_routine_saved = true;
	}
	r->ambuild = plinth_ambuild;
	r->ambuildempty = plinth_ambuildempty;
	r->aminsert = plinth_aminsert;
	r->ambulkdelete = plinth_ambulkdelete;
	r->amvacuumcleanup = plinth_amvacuumcleanup;
	r->ambeginscan = plinth_ambeginscan;
	r->amrescan = plinth_amrescan;
	r->amgettuple = plinth_amgettuple;
	r->amgetbitmap = plinth_amgetbitmap;
	r->amendscan = plinth_amendscan;
	r->ammarkpos = plinth_ammarkpos;
	r->amrestrpos = plinth_amrestrpos;
	r->amestimateparallelscan = plinth_amestimateparallelscan;
	PG_RETURN_POINTER(r);
}

/*
 * Points the builtin function table's entry for bthandler at
 * plinth_bthandler. Called from _PG_init in the postmaster only.
 */
void
plinth_install_btree_dispatch(void)
{
	FmgrBuiltin *entry;
	uintptr_t	page = (uintptr_t) sysconf(_SC_PAGESIZE);
	uintptr_t	start,
				end;

	if (F_BTHANDLER > fmgr_last_builtin_oid || fmgr_builtin_oid_index[F_BTHANDLER] == InvalidOidBuiltinMapping)
		elog(ERROR, "plinth: bthandler is not a builtin function");
	entry = (FmgrBuiltin *) &fmgr_builtins[fmgr_builtin_oid_index[F_BTHANDLER]];
	if (entry->foid != F_BTHANDLER || entry->func != bthandler)
		elog(ERROR, "plinth: unexpected builtin function table entry for bthandler");
	start = (uintptr_t) &entry->func & ~(page - 1);
	end = ((uintptr_t) &entry->func + sizeof(entry->func) + page - 1) & ~(page - 1);
	if (mprotect((void *) start, end - start, PROT_READ | PROT_WRITE) != 0)
		elog(ERROR, "plinth: could not make the builtin function table writable: %m");
	{
		/*
		 * Through a volatile pointer: the table is declared const, and a
		 * compiler may drop a plain store to a const object.
		 */
		PGFunction volatile *slot = (PGFunction volatile *) &entry->func;

		*slot = plinth_bthandler;
		if (*slot != plinth_bthandler)
			elog(ERROR, "plinth: could not install the btree dispatcher");
	}
	if (mprotect((void *) start, end - start, PROT_READ) != 0)
		elog(ERROR, "plinth: could not protect the builtin function table again: %m");
}

/*
 * The planner's picture of a Plinth index: the local file is one page, so
 * size and height come from the table's row count and the key width.
 */
void
plinth_index_planner_info(RelOptInfo *rel)
{
	ListCell   *lc;

	foreach(lc, rel->indexlist)
	{
		IndexOptInfo *info = lfirst(lc);
		int32		width = 0;
		double		tuples;

		if (info->relam != BTREE_AM_OID)
			continue;
		tuples = info->indpred != NIL ? Min(info->tuples, rel->tuples) : rel->tuples;
		for (int i = 0; i < info->ncolumns; i++)
			width += 16;		/* an estimate of an encoded column with its marker */
		info->tuples = tuples;
		info->pages = (BlockNumber) Max(1, ceil(tuples * (width + 24) / (BLCKSZ * 0.7)));
		info->tree_height = info->pages <= 1 ? 0 : (int) ceil(log(info->pages) / log(200));
	}
}
