/*
 * tableam.c — Plinth's table access method: the TableAmRoutine callbacks,
 * in the order of access/tableam.h.
 *
 * Each callback does the Postgres side here (slots, tuple headers, TIDs,
 * snapshots) and hands rows to Swift as bytes (Sources/PlinthGlue/TableAM.swift),
 * which reads and writes the store through the transaction layer.
 *
 * Rows are stored in Postgres's own tuple format, minus the 18 bytes of
 * xmin/xmax/cid/ctid: visibility is the store's business (one snapshot per
 * transaction, own writes by command id), and the header is made up again on
 * read — committed rows frozen, with the writer's xid kept beside the tuple
 * as their raw xmin; this transaction's own rows with the writing
 * (sub)transaction's id and command.
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/heaptoast.h"
#include "access/multixact.h"
#include "access/relscan.h"
#include "access/tableam.h"
#include "access/toast_compression.h"
#include "access/toast_internals.h"
#include "access/tsmapi.h"
#include "access/valid.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_am_d.h"
#include "commands/defrem.h"
#include "catalog/storage.h"
#include "catalog/storage_xlog.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "commands/vacuum.h"
#include "commands/progress.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "optimizer/plancat.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/smgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/timestamp.h"
#include "utils/datum.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"
#include "utils/tuplesort.h"

#include "indexes.h"
#include "portable.h"

static const TableAmRoutine plinth_methods;

/* ------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------
 */

/*
 * A copy of a slot's values for plinth_form_tuple to change, in a memory
 * context of its own that it switches to: the values it detoasts,
 * translates and compresses go with it once the tuple is formed, not with
 * the statement (an INSERT of a million rows would keep them all).
 */
static Datum *
plinth_own_values(TupleTableSlot *slot, MemoryContext *work)
{
	int			natts = slot->tts_tupleDescriptor->natts;
	Datum	   *values;

	*work = AllocSetContextCreate(CurrentMemoryContext, "plinth row to store", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(*work);
	values = palloc(natts * sizeof(Datum));
	memcpy(values, slot->tts_values, natts * sizeof(Datum));
	return values;
}

/*
 * The tuple to store for a slot: values that live elsewhere (TOAST pointers
 * into another table, expanded objects) are brought inline — Plinth tables
 * have no TOAST table — and, as heap does for wide rows, long values are
 * compressed with the column's compression method.
 */
static HeapTuple
plinth_form_tuple(Relation rel, TupleTableSlot *slot, bool *should_free)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			natts = desc->natts;
	Datum	   *values = NULL;
	bool	   *isnull;
	Size		data_size = 0;
	bool		changed = false;
	HeapTuple	tuple;
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext work = NULL;

	slot_getallattrs(slot);
	isnull = slot->tts_isnull;
	for (int i = 0; i < natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		struct varlena *v;

		if (isnull[i] || att->attisdropped || att->attlen != -1)
			continue;
		v = (struct varlena *) DatumGetPointer(slot->tts_values[i]);
		if (VARATT_IS_EXTERNAL(v))
		{
			if (values == NULL)
				values = plinth_own_values(slot, &work);
			values[i] = PointerGetDatum(detoast_external_attr(v));
			changed = true;
		}
	}
	/* Values that name types or enum labels name them by portable id. */
	if (plinth_portable_desc(desc))
	{
		if (values == NULL)
			values = plinth_own_values(slot, &work);
		plinth_portable_values(desc, values, isnull, true);
		changed = true;
	}
	if (values == NULL)
		values = slot->tts_values;
	data_size = heap_compute_data_size(desc, values, isnull);

	/* Compress the widest compressible values while the row is too wide. */
	if (data_size > TOAST_TUPLE_THRESHOLD)
	{
		bool	   *tried = palloc0(natts * sizeof(bool));

		while (data_size > TOAST_TUPLE_TARGET)
		{
			int			widest = -1;
			Size		widest_size = 128;
			Form_pg_attribute att;
			char		cm;
			Datum		compressed;

			for (int i = 0; i < natts; i++)
			{
				struct varlena *v;

				att = TupleDescAttr(desc, i);
				if (tried[i] || isnull[i] || att->attisdropped || att->attlen != -1 ||
					(att->attstorage != TYPSTORAGE_EXTENDED && att->attstorage != TYPSTORAGE_MAIN))
					continue;
				v = (struct varlena *) DatumGetPointer(values[i]);
				if (VARATT_IS_EXTENDED(v))
					continue;
				if (VARSIZE(v) > widest_size)
				{
					widest = i;
					widest_size = VARSIZE(v);
				}
			}
			if (widest < 0)
				break;
			tried[widest] = true;
			att = TupleDescAttr(desc, widest);
			cm = att->attcompression;
			if (!CompressionMethodIsValid(cm))
				cm = default_toast_compression;
			if (values == slot->tts_values)
				values = plinth_own_values(slot, &work);
			compressed = toast_compress_datum(values[widest], cm);
			if (DatumGetPointer(compressed) == NULL)
				continue;		/* incompressible: leave it as it is */
			values[widest] = compressed;
			changed = true;
			data_size = heap_compute_data_size(desc, values, isnull);
		}
		pfree(tried);
	}

	MemoryContextSwitchTo(caller);
	if (changed)
	{
		*should_free = true;
		tuple = heap_form_tuple(desc, values, slot->tts_isnull);
	}
	else
		tuple = ExecFetchSlotHeapTuple(slot, true, should_free);
	if (work != NULL)
		MemoryContextDelete(work);
	/* The store keeps the tuple without the header fields it rebuilds. */
	if (tuple->t_len < PLINTH_OMITTED_HEADER)
		elog(ERROR, "plinth: malformed tuple");
	return tuple;
}

static inline uint32
plinth_subid(void)
{
	return (uint32) GetCurrentSubTransactionId();
}

/*
 * A writing (sub)transaction gets a transaction id, as with heap: rows it
 * wrote show it as xmin, which Postgres compares with the current
 * transaction (foreign-key checks of rows inserted earlier in the
 * transaction, say). Plinth writes no WAL, so such a commit costs no WAL
 * flush. Returns the id.
 */
static inline TransactionId
plinth_writing(void)
{
	TransactionId xid = GetCurrentTransactionId();

	plinth_prepare();
	return xid;
}

/* ------------------------------------------------------------------------
 * Slot related callbacks
 * ------------------------------------------------------------------------
 */

static const TupleTableSlotOps *
plinth_slot_callbacks(Relation relation)
{
	return &TTSOpsHeapTuple;
}

/* ------------------------------------------------------------------------
 * Table scans
 * ------------------------------------------------------------------------
 */

typedef struct PlinthScanDescData
{
	TableScanDescData base;
	int64		store_id;
	PlinthVisibility vis;
	PlinthRowSourceHandle scan;	/* Swift row source (object NULL: none) */
	MemoryContextCallback release;	/* drops `scan` with the memory */
	ScanDirection direction;	/* of `scan` */
	int64		last_row;		/* last row returned, -1 if none */
	int64		low;			/* row id range [low, high), -1: open */
	int64		high;
	bool		started;
	int64		row_id_limit;	/* TIDs of row ids from it on are not valid; -1: not read yet */

	/* bitmap, sample and analyze scans: one block at a time */
	BlockNumber nblocks;
	BlockNumber cblock;
	int			sample_offsets_left;
	bool		sample_block_read;
	int64		sample_rows[PLINTH_ROWS_PER_BLOCK];
	int			sample_nrows;
	int			sample_next;
} PlinthScanDescData;

typedef PlinthScanDescData *PlinthScanDesc;

static void
plinth_scan_release_source(PlinthScanDesc s)
{
	PlinthRowSourceHandle scan = s->scan;

	s->scan.object = NULL;
	if (scan.object != NULL)
		plinth_swift_scan_release(scan);
}

static void
plinth_scan_release_callback(void *arg)
{
	plinth_scan_release_source((PlinthScanDesc) arg);
}

/* Starts the Swift scan over [low, high) in the given direction. */
static void
plinth_scan_open(PlinthScanDesc s, ScanDirection dir, int64 low, int64 high)
{
	plinth_scan_release_source(s);
	PLINTH_CHECK(plinth_swift_scan_begin(s->store_id, s->vis, low, high,
										 ScanDirectionIsBackward(dir), &s->scan));
	s->direction = dir;
}

/*
 * A scan of a table this transaction holds against writers
 * (plinth_held_against_writers) that no writer can race — an index build's
 * or CLUSTER's SnapshotAny; a rewrite's snapshot under AccessExclusiveLock,
 * when it is the statement's (READ COMMITTED) or newer than the
 * transaction's — reads the newest committed rows through store snapshots
 * renewed as it goes: every snapshot since the lock shows the same rows,
 * and the scan of a large table may outlast one snapshot (5 s).
 */
static void
plinth_scan_may_renew(Relation rel, Snapshot snapshot, PlinthVisibility *vis)
{
	if (snapshot == NULL)
		return;
	if (snapshot->snapshot_type == SNAPSHOT_ANY ||
		(snapshot->snapshot_type == SNAPSHOT_MVCC && (!IsolationUsesXactSnapshot() || vis->current) &&
		 CheckRelationLockedByMe(rel, AccessExclusiveLock, false)))
	{
		vis->current = true;
		vis->renew = true;
	}
}

static TableScanDesc
plinth_scan_begin(Relation rel, Snapshot snapshot, int nkeys, ScanKey key,
				  ParallelTableScanDesc pscan, uint32 flags)
{
	PlinthScanDesc s = palloc0(sizeof(PlinthScanDescData));

	RelationIncrementReferenceCount(rel);
	s->base.rs_rd = rel;
	s->base.rs_snapshot = snapshot;
	s->base.rs_nkeys = nkeys;
	s->base.rs_flags = flags;
	s->base.rs_parallel = pscan;
	if (nkeys > 0)
	{
		s->base.rs_key = palloc(sizeof(ScanKeyData) * nkeys);
		memcpy(s->base.rs_key, key, sizeof(ScanKeyData) * nkeys);
	}
	plinth_prepare();
	s->store_id = plinth_store_id(rel);
	s->vis = plinth_visibility(snapshot);
	if (plinth_held_against_writers(rel))
		plinth_scan_may_renew(rel, snapshot, &s->vis);
	s->last_row = -1;
	s->row_id_limit = -1;
	s->low = -1;
	s->high = -1;
	s->release.func = plinth_scan_release_callback;
	s->release.arg = s;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &s->release);
	if (flags & SO_TYPE_SEQSCAN)
		pgstat_count_heap_scan(rel);
	return (TableScanDesc) s;
}

static void
plinth_scan_end(TableScanDesc sscan)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;

	plinth_scan_release_source(s);
	RelationDecrementReferenceCount(sscan->rs_rd);
	if (sscan->rs_flags & SO_TEMP_SNAPSHOT)
		UnregisterSnapshot(sscan->rs_snapshot);
	if (sscan->rs_key)
		pfree(sscan->rs_key);
	/* The reset callback stays registered; it finds nothing to release. */
}

static void
plinth_scan_rescan(TableScanDesc sscan, ScanKey key, bool set_params,
				   bool allow_strat, bool allow_sync, bool allow_pagemode)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;

	if (key && sscan->rs_nkeys > 0)
		memcpy(sscan->rs_key, key, sizeof(ScanKeyData) * sscan->rs_nkeys);
	plinth_scan_release_source(s);
	s->started = false;
	s->last_row = -1;
	if (sscan->rs_flags & SO_TYPE_SEQSCAN)
		pgstat_count_heap_scan(sscan->rs_rd);
}

/* Whether a tuple passes the scan keys (catalog-style scans only). */
static bool
plinth_keys_pass(TableScanDesc sscan, TupleTableSlot *slot)
{
	HeapTuple	tuple;
	bool		should_free;
	bool		pass;

	if (sscan->rs_nkeys == 0)
		return true;
	tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
	HeapKeyTest(tuple, RelationGetDescr(sscan->rs_rd), sscan->rs_nkeys, sscan->rs_key, pass);
	return pass;
}

static bool
plinth_scan_getnextslot(TableScanDesc sscan, ScanDirection direction, TupleTableSlot *slot)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;
	PlinthRow	row;
	bool		found;

	if (ScanDirectionIsNoMovement(direction))
		direction = ForwardScanDirection;
	if (!s->started || direction != s->direction)
	{
		/*
		 * (Re)start, continuing from the last row returned when the
		 * direction changed (a cursor fetching backward).
		 */
		int64		low = s->low,
					high = s->high;

		if (s->started && s->last_row >= 0)
		{
			if (ScanDirectionIsBackward(direction))
				high = s->last_row;
			else
				low = s->last_row + 1;
		}
		else if (s->started)
		{
			/* Ran off one end; going back means starting from that end. */
		}
		plinth_scan_open(s, direction, low, high);
		s->started = true;
	}
	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		PLINTH_CHECK(plinth_swift_scan_next(s->scan, &found, &row));
		if (!found)
		{
			ExecClearTuple(slot);
			s->last_row = -1;
			return false;
		}
		plinth_row_to_slot(sscan->rs_rd, &row, slot);
		s->last_row = row.row_id;
		if (plinth_keys_pass(sscan, slot))
		{
			pgstat_count_heap_getnext(sscan->rs_rd);
			return true;
		}
	}
}

static void
plinth_scan_set_tidrange(TableScanDesc sscan, ItemPointer mintid, ItemPointer maxtid)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;
	int64		lo = plinth_tid_to_row(mintid);
	int64		hi = plinth_tid_to_row(maxtid);

	/* Offsets outside 1..256 name no row: round to the next one. */
	if (ItemPointerGetOffsetNumberNoCheck(mintid) < 1)
		lo = (int64) ItemPointerGetBlockNumberNoCheck(mintid) * PLINTH_ROWS_PER_BLOCK;
	if (ItemPointerGetOffsetNumberNoCheck(maxtid) > PLINTH_ROWS_PER_BLOCK)
		hi = (int64) ItemPointerGetBlockNumberNoCheck(maxtid) * PLINTH_ROWS_PER_BLOCK + PLINTH_ROWS_PER_BLOCK - 1;
	s->low = Max(lo, 0);
	s->high = hi < 0 ? 0 : hi + 1;
	s->started = false;
	plinth_scan_release_source(s);
}

static bool
plinth_scan_getnextslot_tidrange(TableScanDesc sscan, ScanDirection direction, TupleTableSlot *slot)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;

	if (s->high >= 0 && s->low >= s->high)
	{
		ExecClearTuple(slot);
		return false;
	}
	return plinth_scan_getnextslot(sscan, direction, slot);
}

/* ------------------------------------------------------------------------
 * Parallel scans: Plinth tables are kept out of parallel plans (plinth.c's
 * planner hook), so these only describe an empty shared state.
 * ------------------------------------------------------------------------
 */

static Size
plinth_parallelscan_estimate(Relation rel)
{
	return sizeof(ParallelTableScanDescData);
}

static Size
plinth_parallelscan_initialize(Relation rel, ParallelTableScanDesc pscan)
{
	pscan->phs_relid = RelationGetRelid(rel);
	pscan->phs_syncscan = false;
	return sizeof(ParallelTableScanDescData);
}

static void
plinth_parallelscan_reinitialize(Relation rel, ParallelTableScanDesc pscan)
{
}

/* ------------------------------------------------------------------------
 * Index scans: fetching rows by TID
 * ------------------------------------------------------------------------
 */

typedef struct PlinthIndexFetchData
{
	IndexFetchTableData base;
	int64		store_id;
	PlinthFetcherHandle fetcher;
	MemoryContextCallback release;
} PlinthIndexFetchData;

static void
plinth_fetcher_release(void *arg)
{
	PlinthIndexFetchData *f = arg;
	PlinthFetcherHandle fetcher = f->fetcher;

	f->fetcher.object = NULL;
	if (fetcher.object != NULL)
		plinth_swift_fetcher_release(fetcher);
}

static IndexFetchTableData *
plinth_index_fetch_begin(Relation rel)
{
	PlinthIndexFetchData *f = palloc0(sizeof(PlinthIndexFetchData));

	plinth_prepare();
	f->base.rel = rel;
	f->store_id = plinth_store_id(rel);
	/* A constraint's validation may read through an index. */
	(void) plinth_held_against_writers(rel);
	f->fetcher = plinth_swift_fetcher_new();
	f->release.func = plinth_fetcher_release;
	f->release.arg = f;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &f->release);
	return &f->base;
}

static void
plinth_index_fetch_reset(IndexFetchTableData *scan)
{
}

static void
plinth_index_fetch_end(IndexFetchTableData *scan)
{
	/*
	 * Not pfree'd: the reset callback stays registered in its memory
	 * context (Postgres 15 cannot unregister one) and must find it there.
	 */
	plinth_fetcher_release(scan);
}

/* Fetches one row by TID as the snapshot sees it. */
static bool
plinth_fetch(Relation rel, int64 store_id, PlinthFetcherHandle fetcher, ItemPointer tid,
			 Snapshot snapshot, TupleTableSlot *slot)
{
	PlinthRow	row;
	bool		found;

	if (!plinth_tid_is_valid(tid))
		return false;
	PLINTH_CHECK(plinth_swift_fetch(store_id, plinth_tid_to_row(tid), plinth_visibility(snapshot),
									fetcher, &found, &row));
	if (!found)
		return false;
	plinth_row_to_slot(rel, &row, slot);
	return true;
}

/*
 * A row a dirty snapshot found (ON CONFLICT's check, an exclusion
 * constraint's): if another transaction is updating or deleting it, waits
 * for that one to end and reads the row again, as heap's caller waits for
 * the in-progress xmax SnapshotDirty reports. Plinth says nothing is in
 * progress (plinth_visibility), so the wait is done here. False when the
 * row is gone after all.
 */
static bool
plinth_dirty_row_settled(Relation rel, PlinthIndexFetchData *f, ItemPointer tid, Snapshot snapshot,
						 TupleTableSlot *slot)
{
	for (;;)
	{
		PlinthLockIds ids;
		PlinthLockWait wait;

		plinth_lock_ids(&ids);
		PLINTH_CHECK(plinth_swift_row_writer(f->store_id, plinth_tid_to_row(tid), &ids, &wait));
		if (!wait.blocked)
			return true;
		plinth_wait_for_holder(&wait, rel, tid, XLTW_InsertIndex);
		if (!plinth_fetch(rel, f->store_id, f->fetcher, tid, snapshot, slot))
			return false;
	}
}

static bool
plinth_index_fetch_tuple(struct IndexFetchTableData *scan, ItemPointer tid, Snapshot snapshot,
						 TupleTableSlot *slot, bool *call_again, bool *all_dead)
{
	PlinthIndexFetchData *f = (PlinthIndexFetchData *) scan;

	*call_again = false;
	if (all_dead)
		*all_dead = false;
	if (!plinth_fetch(scan->rel, f->store_id, f->fetcher, tid, snapshot, slot))
		return false;
	if (snapshot != NULL && snapshot->snapshot_type == SNAPSHOT_DIRTY &&
		!plinth_dirty_row_settled(scan->rel, f, tid, snapshot, slot))
		return false;
	pgstat_count_heap_fetch(scan->rel);
	return true;
}

/* ------------------------------------------------------------------------
 * Non-modifying operations on individual tuples
 * ------------------------------------------------------------------------
 */

static bool
plinth_tuple_fetch_row_version(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot *slot)
{
	PlinthFetcherHandle fetcher;
	bool		found;

	plinth_prepare();
	fetcher = plinth_swift_fetcher_new();
	PG_TRY();
	{
		found = plinth_fetch(rel, plinth_store_id(rel), fetcher, tid, snapshot, slot);
	}
	PG_FINALLY();
	{
		plinth_swift_fetcher_release(fetcher);
	}
	PG_END_TRY();
	return found;
}

static bool
plinth_tuple_tid_valid(TableScanDesc scan, ItemPointer tid)
{
	PlinthScanDesc s = (PlinthScanDesc) scan;

	if (!plinth_tid_is_valid(tid))
		return false;

	/*
	 * As heap's TIDs past the table's last block when the scan began: a row
	 * id not handed out yet is not valid (currtid2 says so; a TID scan
	 * passes it by). Read once per scan.
	 */
	if (s->row_id_limit < 0)
	{
		PlinthRelStats stats;

		plinth_prepare();
		PLINTH_CHECK(plinth_swift_relation_stats(s->store_id, true, &stats));
		s->row_id_limit = stats.row_id_limit;
	}
	return plinth_tid_to_row(tid) < s->row_id_limit;
}

/*
 * An UPDATE that keeps the row id leaves the TID naming the row; one that
 * gives it a new row id leaves a marker at the old one, which this follows
 * as far as the scan's snapshot sees (WHERE CURRENT OF a cursor whose row
 * an earlier command of the transaction updated; currtid_byrelname).
 */
static void
plinth_tuple_get_latest_tid(TableScanDesc scan, ItemPointer tid)
{
	int64		latest;

	if (!plinth_tid_is_valid(tid))
		return;
	plinth_prepare();
	PLINTH_CHECK(plinth_swift_latest_row(plinth_store_id(scan->rs_rd), plinth_tid_to_row(tid),
										 plinth_visibility(scan->rs_snapshot), &latest));
	plinth_row_to_tid(latest, tid);
}

/* Row ids are never reused: the version exists iff its row id does. */
static bool
plinth_row_visible(Relation rel, ItemPointer tid, Snapshot snapshot)
{
	TupleTableSlot *probe;
	bool		found;

	probe = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	found = plinth_tuple_fetch_row_version(rel, tid, snapshot, probe);
	ExecDropSingleTupleTableSlot(probe);
	return found;
}

static bool
plinth_tuple_satisfies_snapshot(Relation rel, TupleTableSlot *slot, Snapshot snapshot)
{
	return plinth_row_visible(rel, &slot->tts_tid, snapshot);
}

/*
 * heap_update's and heap_delete's crosscheck: under REPEATABLE READ a
 * referential action reads the newest rows (plinth_visibility) but may
 * change only those the transaction's snapshot has; any other was changed
 * concurrently (Postgres reports 40001), as heap says.
 */
static TM_Result
plinth_crosscheck(Relation rel, ItemPointer tid, Snapshot crosscheck, TM_FailureData *tmfd)
{
	if (crosscheck == InvalidSnapshot || plinth_row_visible(rel, tid, crosscheck))
		return TM_Ok;
	tmfd->ctid = *tid;
	tmfd->xmax = InvalidTransactionId;
	tmfd->cmax = InvalidCommandId;
	return TM_Updated;
}

static TransactionId
plinth_index_delete_tuples(Relation rel, TM_IndexDeleteOp *delstate)
{
	/* Plinth indexes never hold dead entries; nothing to delete. */
	delstate->ndeltids = 0;
	return InvalidTransactionId;
}

/* ------------------------------------------------------------------------
 * Manipulations of physical tuples
 * ------------------------------------------------------------------------
 */

/*
 * As heap_insert and heap_update leave it: the slot names the row written
 * and its tuple has the row's system columns (RETURNING xmin, ctid).
 */
static void
plinth_slot_written(Relation rel, TupleTableSlot *slot, int64 row_id, TransactionId xid, CommandId cid)
{
	slot->tts_tableOid = RelationGetRelid(rel);
	plinth_row_to_tid(row_id, &slot->tts_tid);
	if (TTS_IS_HEAPTUPLE(slot))
	{
		HeapTuple	own = ExecFetchSlotHeapTuple(slot, true, NULL);

		own->t_self = slot->tts_tid;
		own->t_tableOid = slot->tts_tableOid;
		own->t_data->t_infomask &= ~HEAP_XACT_MASK;
		own->t_data->t_infomask |= HEAP_XMAX_INVALID;
		HeapTupleHeaderSetXmin(own->t_data, xid);
		HeapTupleHeaderSetCmin(own->t_data, cid);
		HeapTupleHeaderSetXmax(own->t_data, InvalidTransactionId);
		own->t_data->t_ctid = slot->tts_tid;
	}
}

/*
 * Stores a row; sets the slot's TID to its new row id. `for_update`: the new
 * version of a row an UPDATE moves (its uniqueness is checked at once).
 */
static void
plinth_insert_row(Relation rel, TupleTableSlot *slot, CommandId cid, bool for_update)
{
	HeapTuple	tuple;
	bool		should_free;
	int64		row_id;
	TransactionId xid = plinth_writing();

	tuple = plinth_form_tuple(rel, slot, &should_free);
	PLINTH_CHECK(plinth_swift_insert(plinth_store_id(rel),
									 (char *) tuple->t_data + PLINTH_OMITTED_HEADER,
									 tuple->t_len - PLINTH_OMITTED_HEADER,
									 cid, plinth_subid(), xid, for_update, &row_id));
	/* Swift hands out no row id past the last TID (RowIDs.maximum). */
	Assert(row_id >= 0 && row_id <= PLINTH_MAX_ROW_ID);
	if (should_free)
		heap_freetuple(tuple);
	plinth_slot_written(rel, slot, row_id, xid, cid);
	if (plinth_row_inserted_hook != NULL)
		plinth_row_inserted_hook();
}

static void
plinth_tuple_insert(Relation rel, TupleTableSlot *slot, CommandId cid, int options,
					BulkInsertState bistate)
{
	plinth_insert_row(rel, slot, cid, false);
	plinth_note_parent_keys(rel, slot);
	pgstat_count_heap_insert(rel, 1);
}

static void
plinth_tuple_insert_speculative(Relation rel, TupleTableSlot *slot, CommandId cid, int options,
								BulkInsertState bistate, uint32 specToken)
{
	/*
	 * No other transaction can see the row before commit, so speculation
	 * needs no token: a conflicting concurrent insert is caught at commit.
	 */
	plinth_insert_row(rel, slot, cid, false);
	pgstat_count_heap_insert(rel, 1);
}

/*
 * Why a row could not be modified, as heap's HeapTupleSatisfiesUpdate says
 * it: changed by this very command (or a later one), not visible, or gone.
 */
static TM_Result
plinth_modify_failure(const PlinthModify *result, ItemPointer tid, TM_FailureData *tmfd)
{
	switch (result->result)
	{
		case PLINTH_MODIFY_SELF_MODIFIED:
			tmfd->ctid = *tid;
			tmfd->xmax = GetTopTransactionIdIfAny();
			tmfd->cmax = result->cmax;
			return TM_SelfModified;
		case PLINTH_MODIFY_INVISIBLE:
			return TM_Invisible;
		default:
			tmfd->ctid = *tid;
			tmfd->xmax = InvalidTransactionId;
			tmfd->cmax = InvalidCommandId;
			return TM_Deleted;
	}
}

/*
 * Heap's tupleLockExtraInfo: the heavyweight lock a waiter for a row lock of
 * each mode queues on (LockTuple), so that waiters on one server take turns.
 */
static const LOCKMODE plinth_tuple_hwlock[] = {
	[LockTupleKeyShare] = AccessShareLock,
	[LockTupleShare] = RowShareLock,
	[LockTupleNoKeyExclusive] = ExclusiveLock,
	[LockTupleExclusive] = AccessExclusiveLock,
};

/*
 * Takes the row's lock in `mode` (RowLocks.swift), waiting for a running
 * holder of a conflicting one as `policy` says, then reports what heap's
 * HeapTupleSatisfiesUpdate would once the lock is held: TM_Ok, TM_Updated
 * (tmfd->ctid: where the newest version is — the same TID for a row updated
 * in place; its newest version is what this transaction reads from now on),
 * TM_Deleted, or TM_WouldBlock (SKIP LOCKED, or no wait allowed).
 * TM_Updated is said once: asked again, the row is locked and its newest
 * version is the one this transaction sees — as heap says TM_Ok for the
 * newest version it already locked. `deferrable`: the lock may be
 * taken in a batch with others (RowLocks.swift; only for a row the
 * statement's snapshot has, never a newer version EvalPlanQual follows).
 * `newer` (may be NULL), on TM_Ok: the row was locked already, and this
 * transaction reads it at a version newer than its statement's snapshot.
 */
static TM_Result
plinth_lock_row(Relation rel, ItemPointer tid, LockTupleMode mode, LockWaitPolicy policy, bool deferrable,
				XLTW_Oper oper, TM_FailureData *tmfd, bool *newer)
{
	PlinthRowLock lock;
	PlinthLockIds ids;
	bool		queued = false;
	bool		tuple_locked = false;

	plinth_lock_ids(&ids);
	for (;;)
	{
		PLINTH_CHECK(plinth_swift_lock_row(plinth_store_id(rel), plinth_tid_to_row(tid), (int32) mode,
										   deferrable && policy == LockWaitBlock, &ids, &lock));
		if (lock.outcome != PLINTH_ROW_BLOCKED)
			break;
		/*
		 * Queue on the tuple lock first, as heap does — unless this
		 * transaction holds a lock on the row already: then it goes ahead of
		 * the queue (strengthening a lock must not wait behind those waiting
		 * for it, or they deadlock).
		 */
		if (!queued && lock.held && policy == LockWaitBlock)
			queued = true;
		else if (!queued)
		{
			switch (policy)
			{
				case LockWaitBlock:
					LockTuple(rel, tid, plinth_tuple_hwlock[mode]);
					tuple_locked = true;
					break;
				case LockWaitSkip:
					return TM_WouldBlock;
				case LockWaitError:
					ereport(ERROR,
							(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
							 errmsg("could not obtain lock on row in relation \"%s\"",
									RelationGetRelationName(rel))));
			}
			queued = true;
		}
		plinth_wait_for_holder(&lock.wait, rel, tid, oper);
	}
	if (tuple_locked)
		UnlockTuple(rel, tid, plinth_tuple_hwlock[mode]);
	tmfd->xmax = InvalidTransactionId;
	tmfd->cmax = InvalidCommandId;
	switch (lock.outcome)
	{
		case PLINTH_ROW_UPDATED:
			tmfd->ctid = *tid;
			return TM_Updated;
		case PLINTH_ROW_MOVED:
			if (lock.moved_to < 0)
				ItemPointerSetMovedPartitions(&tmfd->ctid);
			else
				plinth_row_to_tid(lock.moved_to, &tmfd->ctid);
			return TM_Updated;
		case PLINTH_ROW_DELETED:
			tmfd->ctid = *tid;
			return TM_Deleted;
		default:
			if (newer)
				*newer = lock.newer;
			return TM_Ok;
	}
}

/* Deletes a row with its index entries; reports what Postgres expects. */
static TM_Result
plinth_delete_row(Relation rel, ItemPointer tid, CommandId cid, TM_FailureData *tmfd,
				  HeapTuple *old_row, bool taking_back)
{
	PlinthModify result;
	PlinthFetcherHandle fetcher;
	TM_Result	r;

	plinth_writing();
	tmfd->traversed = false;
	if (!plinth_tid_is_valid(tid))
		elog(ERROR, "plinth: invalid TID (%u,%u)", ItemPointerGetBlockNumberNoCheck(tid),
			 ItemPointerGetOffsetNumberNoCheck(tid));
	fetcher = plinth_swift_fetcher_new();
	PG_TRY();
	{
		PLINTH_CHECK(plinth_swift_delete(plinth_store_id(rel), plinth_tid_to_row(tid), cid,
										 plinth_subid(), taking_back, fetcher, &result));
		switch (result.result)
		{
			case PLINTH_MODIFY_OK:
				{
					HeapTupleData tmp;
					HeapTuple	old;

					tmp.t_len = result.old.len;
					tmp.t_data = result.old.data;
					tmp.t_self = *tid;
					tmp.t_tableOid = RelationGetRelid(rel);
					/*
					 * The made-up header is not needed for index keys; its
					 * stored transaction bits may say "composite datum".
					 */
					memset(tmp.t_data, 0, offsetof(HeapTupleHeaderData, t_infomask2));
					tmp.t_data->t_infomask &= ~HEAP_XACT_MASK;
					old = plinth_portable_to_local(RelationGetDescr(rel), &tmp, CurrentMemoryContext);
					plinth_indexes_delete_row(rel, old, plinth_tid_to_row(tid));
					if (old_row)
						*old_row = heap_copytuple(old);
					r = TM_Ok;
				}
				break;
			default:
				r = plinth_modify_failure(&result, tid, tmfd);
				break;
		}
	}
	PG_FINALLY();
	{
		plinth_swift_fetcher_release(fetcher);
	}
	PG_END_TRY();
	return r;
}

static void
plinth_tuple_complete_speculative(Relation rel, TupleTableSlot *slot, uint32 specToken, bool succeeded)
{
	TM_FailureData tmfd;

	if (succeeded)
		return;
	/* The insertion lost to a conflicting row: take it back. */
	(void) plinth_delete_row(rel, &slot->tts_tid, GetCurrentCommandId(true), &tmfd, NULL, true);
}

static void
plinth_multi_insert(Relation rel, TupleTableSlot **slots, int ntuples, CommandId cid,
					int options, BulkInsertState bistate)
{
	for (int i = 0; i < ntuples; i++)
	{
		plinth_insert_row(rel, slots[i], cid, false);
		plinth_note_parent_keys(rel, slots[i]);
	}
	/* COPY checks foreign keys only when it ends: read the batch's now. */
	plinth_statement_event(PLINTH_STATEMENT_COPY_BATCH, plinth_statement_depth);
	pgstat_count_heap_insert(rel, ntuples);
}

static TM_Result
plinth_tuple_delete(Relation rel, ItemPointer tid, CommandId cid, Snapshot snapshot,
					Snapshot crosscheck, bool wait, TM_FailureData *tmfd, bool changingPart)
{
	TM_Result	r;

	plinth_writing();
	tmfd->traversed = false;
	if (plinth_tid_is_valid(tid))
	{
		r = plinth_lock_row(rel, tid, LockTupleExclusive, wait ? LockWaitBlock : LockWaitSkip, true, XLTW_Delete,
							tmfd, NULL);
		if (r == TM_Ok)
			r = plinth_crosscheck(rel, tid, crosscheck, tmfd);
		if (r != TM_Ok)
			return r;
	}
	r = plinth_delete_row(rel, tid, cid, tmfd, NULL, false);
	if (r == TM_Ok && changingPart)
		/* Moved to another partition: a waiter on the row learns so. */
		PLINTH_CHECK(plinth_swift_row_moved(plinth_store_id(rel), plinth_tid_to_row(tid), -1, cid, plinth_subid(),
											U64FromFullTransactionId(GetTopFullTransactionId()), true));
	if (r == TM_Ok)
		pgstat_count_heap_delete(rel);
	return r;
}

/*
 * An UPDATE makes a new row version with a new row id, as heap makes a new
 * TID: the old row and its index entries are deleted here, the new row
 * inserted, and Postgres inserts the new index entries (update_indexes).
 */
/*
 * Whether the columns in `attrs` (attribute numbers offset by
 * FirstLowInvalidHeapAttributeNumber) hold the same values in the row at
 * `otid` and in `newslot`, compared as heap_attr_equals does. False when the
 * row is not found (the regular path reports what happened) or the set holds
 * a system or whole-row column. The old row is in the scan's batch or the
 * read cache: comparing costs no round trip.
 */
static bool
plinth_columns_unchanged(Relation rel, ItemPointer otid, TupleTableSlot *newslot, Bitmapset *attrs)
{
	TupleTableSlot *old;
	PlinthFetcherHandle fetcher;
	bool		same = true;
	int			x = -1;

	old = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsHeapTuple);
	fetcher = plinth_swift_fetcher_new();
	PG_TRY();
	{
		if (!plinth_fetch(rel, plinth_store_id(rel), fetcher, otid, NULL, old))
			same = false;
		else
		{
			slot_getallattrs(old);
			slot_getallattrs(newslot);
			while (same && (x = bms_next_member(attrs, x)) >= 0)
			{
				AttrNumber	attno = x + FirstLowInvalidHeapAttributeNumber;
				Form_pg_attribute att;

				if (attno <= 0)
				{
					same = false;	/* a whole-row or system column */
					break;
				}
				att = TupleDescAttr(RelationGetDescr(rel), attno - 1);
				if (old->tts_isnull[attno - 1] != newslot->tts_isnull[attno - 1])
					same = false;
				else if (!old->tts_isnull[attno - 1])
					same = datumIsEqual(old->tts_values[attno - 1], newslot->tts_values[attno - 1],
										att->attbyval, att->attlen);
			}
		}
	}
	PG_FINALLY();
	{
		plinth_swift_fetcher_release(fetcher);
		ExecDropSingleTupleTableSlot(old);
	}
	PG_END_TRY();
	return same;
}

/*
 * Whether an AFTER ROW UPDATE trigger (or a transition table) may fetch the
 * old row by its TID — it would find the new one there. Foreign keys'
 * triggers on the referenced table do not count: Postgres queues them only
 * when a key column changes, and key columns are indexed, so such an UPDATE
 * moves the row anyway.
 */
static bool
plinth_update_fetches_old_row(Relation rel)
{
	TriggerDesc *trig = rel->trigdesc;

	if (trig == NULL)
		return false;
	if (trig->trig_update_old_table || trig->trig_update_new_table)
		return true;
	if (!trig->trig_update_after_row)
		return false;
	for (int i = 0; i < trig->numtriggers; i++)
	{
		Trigger    *t = &trig->triggers[i];

		if (TRIGGER_FOR_ROW(t->tgtype) && TRIGGER_FOR_AFTER(t->tgtype) && TRIGGER_FOR_UPDATE(t->tgtype) &&
			RI_FKey_trigger_type(t->tgfoid) == RI_TRIGGER_NONE)
			return true;
	}
	return false;
}

/*
 * Whether an UPDATE may write the new row under the old row's id, as heap's
 * HOT does within a page: when no index would see a difference (every
 * column an index key, expression or predicate uses is unchanged) and no
 * AFTER ROW UPDATE trigger will fetch the old row by its TID.
 */
static bool
plinth_update_keeps_row_id(Relation rel, ItemPointer otid, TupleTableSlot *newslot)
{
	Bitmapset  *attrs;
	bool		same;

	if (plinth_update_fetches_old_row(rel))
		return false;
	/*
	 * Without indexes there is nothing to save: a new row id costs no more,
	 * and like heap's it puts the updated row after the others in a scan.
	 */
	attrs = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_ALL);
	if (attrs == NULL)
		return false;
	same = plinth_columns_unchanged(rel, otid, newslot, attrs);
	bms_free(attrs);
	return same;
}

/*
 * The lock an UPDATE takes on its row, as heap's: FOR UPDATE when it
 * changes a column of a unique index a foreign key may reference
 * (INDEX_ATTR_BITMAP_KEY), else FOR NO KEY UPDATE, which foreign key checks
 * (FOR KEY SHARE) do not wait for.
 */
static LockTupleMode
plinth_update_lock_mode(Relation rel, ItemPointer otid, TupleTableSlot *newslot)
{
	Bitmapset  *keys = RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_KEY);
	LockTupleMode mode = LockTupleNoKeyExclusive;

	if (keys != NULL && plinth_tid_is_valid(otid) && !plinth_columns_unchanged(rel, otid, newslot, keys))
		mode = LockTupleExclusive;
	bms_free(keys);
	return mode;
}

/* The UPDATE that keeps the row id: one write, no index entries. */
static TM_Result
plinth_update_in_place(Relation rel, ItemPointer otid, TupleTableSlot *slot, CommandId cid,
					   TM_FailureData *tmfd)
{
	HeapTuple	tuple;
	bool		should_free;
	PlinthModify result;
	TransactionId xid = plinth_writing();

	tuple = plinth_form_tuple(rel, slot, &should_free);
	PLINTH_CHECK(plinth_swift_replace(plinth_store_id(rel), plinth_tid_to_row(otid),
									  (char *) tuple->t_data + PLINTH_OMITTED_HEADER,
									  tuple->t_len - PLINTH_OMITTED_HEADER,
									  cid, plinth_subid(), xid, &result));
	if (should_free)
		heap_freetuple(tuple);
	if (result.result != PLINTH_MODIFY_OK)
		return plinth_modify_failure(&result, otid, tmfd);
	plinth_slot_written(rel, slot, plinth_tid_to_row(otid), xid, cid);
	return TM_Ok;
}

static TM_Result
plinth_tuple_update(Relation rel, ItemPointer otid, TupleTableSlot *slot, CommandId cid,
					Snapshot snapshot, Snapshot crosscheck, bool wait, TM_FailureData *tmfd,
					LockTupleMode *lockmode, bool *update_indexes)
{
	TM_Result	r;
	int64		moved_to;

	plinth_writing();
	*update_indexes = false;
	tmfd->traversed = false;
	*lockmode = plinth_update_lock_mode(rel, otid, slot);
	if (plinth_tid_is_valid(otid))
	{
		r = plinth_lock_row(rel, otid, *lockmode, wait ? LockWaitBlock : LockWaitSkip, true, XLTW_Update, tmfd, NULL);
		if (r == TM_Ok)
			r = plinth_crosscheck(rel, otid, crosscheck, tmfd);
		if (r != TM_Ok)
			return r;
	}
	if (plinth_tid_is_valid(otid) && plinth_update_keeps_row_id(rel, otid, slot))
	{
		r = plinth_update_in_place(rel, otid, slot, cid, tmfd);
		if (r == TM_Ok)
			pgstat_count_heap_update(rel, true);
		return r;
	}
	r = plinth_delete_row(rel, otid, cid, tmfd, NULL, false);
	if (r != TM_Ok)
		return r;
	plinth_insert_row(rel, slot, cid, true);
	/* Where the row went, for a transaction waiting to change it. */
	moved_to = plinth_tid_to_row(&slot->tts_tid);
	PLINTH_CHECK(plinth_swift_row_moved(plinth_store_id(rel), plinth_tid_to_row(otid), moved_to, cid, plinth_subid(),
										U64FromFullTransactionId(GetTopFullTransactionId()),
										*lockmode == LockTupleExclusive));
	*update_indexes = true;
	pgstat_count_heap_update(rel, false);
	return TM_Ok;
}

/*
 * SELECT ... FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE, and
 * the re-checks of EvalPlanQual: the row's lock is taken (waiting as
 * `wait_policy` says), then the row is read — under SERIALIZABLE also a read
 * conflict and, for the update modes, a write conflict.
 */
static TM_Result
plinth_tuple_lock(Relation rel, ItemPointer tid, Snapshot snapshot, TupleTableSlot *slot,
				  CommandId cid, LockTupleMode mode, LockWaitPolicy wait_policy, uint8 flags,
				  TM_FailureData *tmfd)
{
	PlinthModify result;
	PlinthFetcherHandle fetcher;
	TM_Result	r;
	bool		exclusive = mode == LockTupleNoKeyExclusive || mode == LockTupleExclusive;

	plinth_prepare();
	plinth_writing();
	tmfd->traversed = false;
	if (!plinth_tid_is_valid(tid))
		return TM_Invisible;
	for (;;)
	{
		bool		newer = false;

		r = plinth_lock_row(rel, tid, mode, wait_policy, true, XLTW_Lock, tmfd, &newer);
		/*
		 * SELECT ... FOR UPDATE (ExecLockRows, the one caller that asks to
		 * lock past an update in progress) of a row this transaction locked
		 * already and reads at a newer version than its statement's
		 * snapshot: the row its scan produced is the older one, as heap's
		 * would be when it follows the update chain to the version it
		 * locked — say so, and EvalPlanQual re-checks it. (Other callers
		 * retry on `traversed`; they already hold the newest version.)
		 */
		if (r == TM_Ok && newer && (flags & TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS))
			tmfd->traversed = true;
		if (r == TM_Updated && (flags & TUPLE_LOCK_FLAG_FIND_LAST_VERSION))
		{
			/* Follow it to its newest version, locking that, as heap does. */
			if (ItemPointerIndicatesMovedPartitions(&tmfd->ctid))
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("tuple to be locked was already moved to another partition due to concurrent update")));
			tmfd->traversed = true;
			if (!ItemPointerEquals(&tmfd->ctid, tid))
			{
				*tid = tmfd->ctid;
				continue;
			}
			r = TM_Ok;
		}
		break;
	}
	if (r != TM_Ok)
		return r;
	fetcher = plinth_swift_fetcher_new();
	PG_TRY();
	{
		PLINTH_CHECK(plinth_swift_lock(plinth_store_id(rel), plinth_tid_to_row(tid), cid, exclusive,
									   fetcher, &result));
		switch (result.result)
		{
			case PLINTH_MODIFY_OK:
				plinth_row_to_slot(rel, &result.old, slot);
				r = TM_Ok;
				break;
			case PLINTH_MODIFY_SELF_MODIFIED:
				tmfd->ctid = *tid;
				tmfd->xmax = GetTopTransactionIdIfAny();
				tmfd->cmax = result.cmax;
				r = TM_SelfModified;
				break;
			case PLINTH_MODIFY_INVISIBLE:
				if (tmfd->traversed)
				{
					/*
					 * Followed to a version this command wrote: as heap says
					 * it, modified by self (MERGE's and UPDATE's "cannot
					 * affect row a second time", or the row is skipped).
					 */
					tmfd->ctid = *tid;
					tmfd->xmax = GetTopTransactionIdIfAny();
					tmfd->cmax = cid;
					r = TM_SelfModified;
					break;
				}
				/* The row, so that its xmin can be read (ON CONFLICT). */
				if (result.old.data != NULL)
					plinth_row_to_slot(rel, &result.old, slot);
				r = TM_Invisible;
				break;
			default:
				tmfd->ctid = *tid;
				tmfd->xmax = InvalidTransactionId;
				tmfd->cmax = InvalidCommandId;
				r = TM_Deleted;
				break;
		}
	}
	PG_FINALLY();
	{
		plinth_swift_fetcher_release(fetcher);
	}
	PG_END_TRY();
	return r;
}

static void
plinth_finish_bulk_insert(Relation rel, int options)
{
}

/* ------------------------------------------------------------------------
 * DDL related callbacks
 * ------------------------------------------------------------------------
 */

/*
 * New storage for the relation: CREATE TABLE, TRUNCATE, table rewrites. The
 * local relation files exist for Postgres's sake (they stay empty); the
 * data gets a new store id, and the storage replaced (TRUNCATE) is dropped
 * with this transaction.
 */
static void
plinth_relation_set_new_filenode(Relation rel, const RelFileNode *newrnode, char persistence,
								 TransactionId *freezeXid, MultiXactId *minmulti)
{
	SMgrRelation srel;
	int64		store_id;
	Oid			old = rel->rd_node.relNode;

	/* No transaction ids are stored in Plinth rows: nothing ever to freeze. */
	*freezeXid = InvalidTransactionId;
	*minmulti = InvalidMultiXactId;

	srel = RelationCreateStorage(*newrnode, persistence, true);
	if (persistence == RELPERSISTENCE_UNLOGGED)
	{
		smgrcreate(srel, INIT_FORKNUM, false);
		log_smgrcreate(newrnode, INIT_FORKNUM);
		smgrimmedsync(srel, INIT_FORKNUM);
	}
	smgrclose(srel);

	plinth_writing();
	PLINTH_CHECK(plinth_swift_relation_create(newrnode->relNode,
											  old != newrnode->relNode ? old : InvalidOid,
											  GetCurrentCommandId(true), plinth_subid(),
											  U64FromFullTransactionId(GetTopFullTransactionId()), &store_id));
}

static void
plinth_relation_nontransactional_truncate(Relation rel)
{
	plinth_writing();
	PLINTH_CHECK(plinth_swift_relation_truncate(plinth_store_id(rel), GetCurrentCommandId(true),
												plinth_subid()));
}

/*
 * ALTER TABLE ... SET TABLESPACE: the data stays where it is in the store;
 * only the (empty) local files move.
 */
static void
plinth_relation_copy_data(Relation rel, const RelFileNode *newrnode)
{
	SMgrRelation dst;

	dst = RelationCreateStorage(*newrnode, rel->rd_rel->relpersistence, true);
	smgrclose(dst);
	RelationDropStorage(rel);
	plinth_writing();
	PLINTH_CHECK(plinth_swift_relation_move(rel->rd_node.relNode, newrnode->relNode,
											GetCurrentCommandId(true), plinth_subid()));
}

/* One row of VACUUM FULL or CLUSTER into the new relation. */
static void
cluster_copy_row(TupleTableSlot *slot, TupleTableSlot *out, Relation NewTable, TupleDesc olddesc, CommandId cid)
{
	TupleDesc	newdesc = RelationGetDescr(NewTable);

	slot_getallattrs(slot);
	ExecClearTuple(out);
	/* Dropped columns become nulls, as heap's reform_and_rewrite_tuple does. */
	for (int i = 0; i < newdesc->natts; i++)
	{
		if (i < olddesc->natts && !TupleDescAttr(newdesc, i)->attisdropped)
		{
			out->tts_values[i] = slot->tts_values[i];
			out->tts_isnull[i] = slot->tts_isnull[i];
		}
		else
		{
			out->tts_values[i] = (Datum) 0;
			out->tts_isnull[i] = true;
		}
	}
	ExecStoreVirtualTuple(out);
	plinth_insert_row(NewTable, out, cid, false);
}

/*
 * VACUUM FULL and CLUSTER: copy every row into the new relation, in the
 * index's order for CLUSTER. Nothing is ever dead in a Plinth table, so
 * nothing is vacuumed away. CLUSTER always sorts (heap's use_sort path): a
 * scan of the table reads through renewed store snapshots
 * (plinth_scan_may_renew), so a table of any size is copied, and the sort
 * spills to disk past maintenance_work_mem.
 */
static void
plinth_relation_copy_for_cluster(Relation OldTable, Relation NewTable, Relation OldIndex,
								 bool use_sort, TransactionId OldestXmin, TransactionId *xid_cutoff,
								 MultiXactId *multi_cutoff, double *num_tuples,
								 double *tups_vacuumed, double *tups_recently_dead)
{
	TupleTableSlot *slot = table_slot_create(OldTable, NULL);
	TupleTableSlot *out = table_slot_create(NewTable, NULL);
	TupleDesc	olddesc = RelationGetDescr(OldTable);
	Tuplesortstate *sort = NULL;
	TableScanDesc tscan;
	CommandId	cid = GetCurrentCommandId(true);

	*num_tuples = 0;
	*tups_vacuumed = 0;
	*tups_recently_dead = 0;
	if (OldIndex != NULL)
		sort = tuplesort_begin_cluster(olddesc, OldIndex, maintenance_work_mem, NULL, TUPLESORT_NONE);
	tscan = table_beginscan(OldTable, SnapshotAny, 0, NULL);
	while (table_scan_getnextslot(tscan, ForwardScanDirection, slot))
	{
		CHECK_FOR_INTERRUPTS();
		if (sort != NULL)
			tuplesort_putheaptuple(sort, ExecFetchSlotHeapTuple(slot, false, NULL));
		else
			cluster_copy_row(slot, out, NewTable, olddesc, cid);
		*num_tuples += 1;
	}
	table_endscan(tscan);
	if (sort != NULL)
	{
		HeapTuple	tuple;

		tuplesort_performsort(sort);
		while ((tuple = tuplesort_getheaptuple(sort, true)) != NULL)
		{
			CHECK_FOR_INTERRUPTS();
			ExecStoreHeapTuple(tuple, slot, false);
			cluster_copy_row(slot, out, NewTable, olddesc, cid);
		}
		tuplesort_end(sort);
	}
	ExecDropSingleTupleTableSlot(slot);
	ExecDropSingleTupleTableSlot(out);
	*xid_cutoff = InvalidTransactionId;
	*multi_cutoff = InvalidMultiXactId;
}

static void
plinth_relation_vacuum(Relation rel, struct VacuumParams *params, BufferAccessStrategy bstrategy)
{
	/*
	 * Deleted rows are gone at commit. What is left: the marks UPDATEs leave
	 * where rows moved to a new row id (Vacuum.swift), for transactions that
	 * may still follow them — any that began before their writer committed.
	 */
	TransactionId horizon = GetOldestNonRemovableTransactionId(rel);
	FullTransactionId next = ReadNextFullTransactionId();
	uint32		epoch = EpochFromFullTransactionId(next);
	int64		removed;

	if (horizon > XidFromFullTransactionId(next))
		epoch--;
	plinth_prepare();
	PLINTH_CHECK(plinth_swift_relation_vacuum(plinth_store_id(rel),
											  U64FromFullTransactionId(FullTransactionIdFromEpochAndXid(epoch, horizon)),
											  &removed));
	ereport((params->options & VACOPT_VERBOSE) ? INFO : DEBUG2,
			(errmsg("\"%s\": removed " INT64_FORMAT " marks of moved rows", RelationGetRelationName(rel), removed)));
}

/* ANALYZE samples "virtual blocks": 256 consecutive row ids each. */
static bool
plinth_scan_analyze_next_block(TableScanDesc sscan, BlockNumber blockno, BufferAccessStrategy bstrategy)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;
	int64		low = (int64) blockno * PLINTH_ROWS_PER_BLOCK;

	plinth_scan_release_source(s);
	PLINTH_CHECK(plinth_swift_sampling_renews_snapshot());
	plinth_scan_open(s, ForwardScanDirection, low, low + PLINTH_ROWS_PER_BLOCK);
	s->started = true;
	return true;
}

static bool
plinth_scan_analyze_next_tuple(TableScanDesc sscan, TransactionId OldestXmin, double *liverows,
							   double *deadrows, TupleTableSlot *slot)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;
	PlinthRow	row;
	bool		found;

	if (s->scan.object == NULL)
		return false;
	PLINTH_CHECK(plinth_swift_scan_next(s->scan, &found, &row));
	if (!found)
	{
		plinth_scan_release_source(s);
		ExecClearTuple(slot);
		return false;
	}
	plinth_row_to_slot(sscan->rs_rd, &row, slot);
	*liverows += 1;
	return true;
}

/*
 * Feeds every row (of the block range) to an index build, as heap's
 * heapam_index_build_range_scan does: partial index predicates and index
 * expressions are evaluated here.
 */
static double
plinth_index_build_range_scan(Relation tableRelation, Relation indexRelation, IndexInfo *indexInfo,
							  bool allow_sync, bool anyvisible, bool progress,
							  BlockNumber start_blockno, BlockNumber numblocks,
							  IndexBuildCallback callback, void *callback_state, TableScanDesc scan)
{
	EState	   *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot = table_slot_create(tableRelation, NULL);
	ExprState  *predicate;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	double		reltuples = 0;
	bool		own_scan = scan == NULL;
	PlinthScanDesc s;

	/*
	 * Btree indexes of Plinth tables are in the store. Any other kind would
	 * be this server's files: servers sharing the store would neither see
	 * nor maintain it (a replay of its CREATE INDEX reads no rows).
	 */
	if (indexRelation->rd_rel->relam != BTREE_AM_OID && !plinth_single_server)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s indexes on Plinth tables are refused: they would be kept in this server's files",
						get_am_name(indexRelation->rd_rel->relam)),
				 errdetail("Every server sharing the store reads and writes Plinth tables; only btree indexes "
						   "are kept in the store with them."),
				 errhint("Use a btree index, or set plinth.single_server = on if no other server uses this store.")));

	econtext->ecxt_scantuple = slot;
	predicate = ExecPrepareQual(indexInfo->ii_Predicate, estate);
	if (own_scan)
		scan = table_beginscan_strat(tableRelation, SnapshotAny, 0, NULL, true, false);
	s = (PlinthScanDesc) scan;
	if (numblocks != InvalidBlockNumber)
	{
		s->low = (int64) start_blockno * PLINTH_ROWS_PER_BLOCK;
		s->high = ((int64) start_blockno + numblocks) * PLINTH_ROWS_PER_BLOCK;
		s->started = false;
	}
	/* Every own row counts, the current command's too (CREATE TABLE AS ... then index). */
	s->vis.all = true;

	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		CHECK_FOR_INTERRUPTS();
		MemoryContextReset(econtext->ecxt_per_tuple_memory);
		reltuples += 1;
		if (predicate != NULL && !ExecQual(predicate, econtext))
			continue;
		FormIndexDatum(indexInfo, slot, estate, values, isnull);
		callback(indexRelation, &slot->tts_tid, values, isnull, true, callback_state);
	}
	if (own_scan)
		table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	indexInfo->ii_ExpressionsState = NIL;
	indexInfo->ii_PredicateState = NULL;
	return reltuples;
}

/*
 * CREATE INDEX CONCURRENTLY's last phase: rows inserted between the build
 * and now are missing from the index. `state` holds every TID the index has,
 * sorted; walk the table in row order beside it and insert what is missing.
 */
static void
plinth_index_validate_scan(Relation tableRelation, Relation indexRelation, IndexInfo *indexInfo,
						   Snapshot snapshot, ValidateIndexState *state)
{
	EState	   *estate = CreateExecutorState();
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot = table_slot_create(tableRelation, NULL);
	ExprState  *predicate;
	TableScanDesc scan;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];
	ItemPointerData indexcursor;
	bool		have_index = false;
	bool		index_done = false;

	econtext->ecxt_scantuple = slot;
	predicate = ExecPrepareQual(indexInfo->ii_Predicate, estate);
	scan = table_beginscan_strat(tableRelation, snapshot, 0, NULL, true, false);
	ItemPointerSetInvalid(&indexcursor);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		CHECK_FOR_INTERRUPTS();
		state->htups += 1;
		/* Advance the index TIDs to this row's. */
		while (!index_done && (!have_index || ItemPointerCompare(&indexcursor, &slot->tts_tid) < 0))
		{
			Datum		ts;
			bool		tsnull;

			if (!tuplesort_getdatum(state->tuplesort, true, &ts, &tsnull, NULL))
			{
				index_done = true;
				break;
			}
			itemptr_decode(&indexcursor, DatumGetInt64(ts));
			have_index = true;
		}
		if (have_index && !index_done && ItemPointerEquals(&indexcursor, &slot->tts_tid))
			continue;
		MemoryContextReset(econtext->ecxt_per_tuple_memory);
		if (predicate != NULL && !ExecQual(predicate, econtext))
			continue;
		FormIndexDatum(indexInfo, slot, estate, values, isnull);
		index_insert(indexRelation, values, isnull, &slot->tts_tid, tableRelation,
					 indexInfo->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, indexInfo);
		state->tups_inserted += 1;
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	FreeExecutorState(estate);
	indexInfo->ii_ExpressionsState = NIL;
	indexInfo->ii_PredicateState = NULL;
}

/* ------------------------------------------------------------------------
 * Miscellaneous callbacks
 * ------------------------------------------------------------------------
 */

/*
 * The main fork's size in virtual blocks of 256 row ids (ANALYZE samples
 * them); the other forks are the local files' real sizes.
 */
static uint64
plinth_relation_size(Relation rel, ForkNumber forkNumber)
{
	PlinthRelStats stats;

	if (forkNumber != MAIN_FORKNUM && forkNumber != InvalidForkNumber)
	{
		SMgrRelation srel = RelationGetSmgr(rel);

		return smgrexists(srel, forkNumber) ? (uint64) smgrnblocks(srel, forkNumber) * BLCKSZ : 0;
	}
	plinth_prepare();
	PLINTH_CHECK(plinth_swift_relation_stats(plinth_store_id(rel), true, &stats));
	return (uint64) ((stats.row_id_limit + PLINTH_ROWS_PER_BLOCK - 1) / PLINTH_ROWS_PER_BLOCK) * BLCKSZ;
}

static bool
plinth_relation_needs_toast_table(Relation rel)
{
	/* Long values stay in the row, compressed; long rows are split in the store. */
	return false;
}

static Oid
plinth_relation_toast_am(Relation rel)
{
	return InvalidOid;
}

static void
plinth_relation_fetch_toast_slice(Relation toastrel, Oid valueid, int32 attrsize, int32 sliceoffset,
								  int32 slicelength, struct varlena *result)
{
	elog(ERROR, "plinth: Plinth tables have no TOAST table");
}

/* ------------------------------------------------------------------------
 * Planner related callbacks
 * ------------------------------------------------------------------------
 */

/*
 * Size estimates from the store's counters (kept exactly by every commit),
 * not from the local files, which stay empty.
 */
static void
plinth_relation_estimate_size(Relation rel, int32 *attr_widths, BlockNumber *pages, double *tuples,
							  double *allvisfrac)
{
	PlinthRelStats stats;

	plinth_prepare();
	/* Planning: the (cached) counters only, no read of the row id allocator. */
	PLINTH_CHECK(plinth_swift_relation_stats(plinth_store_id(rel), false, &stats));
	*tuples = stats.rows;
	/*
	 * Pages as heap would have them (tuple headers and line pointers
	 * included), so that the planner weighs Plinth and heap tables alike.
	 */
	*pages = (BlockNumber) Max(1, ceil((stats.bytes + stats.rows * (PLINTH_OMITTED_HEADER + 10)) /
										(BLCKSZ - SizeOfPageHeaderData)));
	if (stats.rows == 0 && rel->rd_rel->relpages == 0)
	{
		/* Never had rows: assume a few pages, as heap does for new tables. */
		int32		width = get_rel_data_width(rel, attr_widths);
		int			density = (BLCKSZ - SizeOfPageHeaderData) / (width + MAXALIGN(SizeofHeapTupleHeader) + sizeof(ItemIdData));

		*pages = 10;
		*tuples = (double) density * 10;
	}
	/* Every entry is visible to the scan that reads it (see above). */
	*allvisfrac = 1;
}

/* ------------------------------------------------------------------------
 * Executor related callbacks: bitmap heap scans and TABLESAMPLE
 * ------------------------------------------------------------------------
 */

static bool
plinth_scan_bitmap_next_block(TableScanDesc sscan, struct TBMIterateResult *tbmres)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;
	int64		base = (int64) tbmres->blockno * PLINTH_ROWS_PER_BLOCK;

	plinth_scan_release_source(s);
	if (tbmres->ntuples >= 0)
	{
		/* Exact: just these rows, in one round trip. */
		int64		rows[PLINTH_ROWS_PER_BLOCK];
		int			n = 0;

		for (int i = 0; i < tbmres->ntuples; i++)
		{
			OffsetNumber off = tbmres->offsets[i];

			if (off >= 1 && off <= PLINTH_ROWS_PER_BLOCK)
				rows[n++] = base + off - 1;
		}
		PLINTH_CHECK(plinth_swift_rows_begin(s->store_id, s->vis, rows, n, &s->scan));
	}
	else
		PLINTH_CHECK(plinth_swift_scan_begin(s->store_id, s->vis, base, base + PLINTH_ROWS_PER_BLOCK,
											 false, &s->scan));
	return true;
}

static bool
plinth_scan_bitmap_next_tuple(TableScanDesc sscan, struct TBMIterateResult *tbmres, TupleTableSlot *slot)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;
	PlinthRow	row;
	bool		found;

	if (s->scan.object == NULL)
		return false;
	PLINTH_CHECK(plinth_swift_scan_next(s->scan, &found, &row));
	if (!found)
	{
		plinth_scan_release_source(s);
		return false;
	}
	plinth_row_to_slot(sscan->rs_rd, &row, slot);
	pgstat_count_heap_fetch(sscan->rs_rd);
	return true;
}

/* TABLESAMPLE over virtual blocks, as heap samples pages. */
static bool
plinth_scan_sample_next_block(TableScanDesc sscan, SampleScanState *scanstate)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;
	TsmRoutine *tsm = scanstate->tsmroutine;

	if (s->nblocks == 0 && !s->started)
	{
		PlinthRelStats stats;

		PLINTH_CHECK(plinth_swift_relation_stats(s->store_id, true, &stats));
		s->nblocks = (BlockNumber) ((stats.row_id_limit + PLINTH_ROWS_PER_BLOCK - 1) / PLINTH_ROWS_PER_BLOCK);
		s->started = true;
		s->cblock = InvalidBlockNumber;
	}
	if (tsm->NextSampleBlock)
		s->cblock = tsm->NextSampleBlock(scanstate, s->nblocks);
	else if (s->cblock == InvalidBlockNumber)
		s->cblock = s->nblocks > 0 ? 0 : InvalidBlockNumber;
	else if (s->cblock + 1 < s->nblocks)
		s->cblock++;
	else
		s->cblock = InvalidBlockNumber;
	if (!BlockNumberIsValid(s->cblock))
		return false;

	/* Read the block's rows now; the sampler then picks among their offsets. */
	{
		int64		low = (int64) s->cblock * PLINTH_ROWS_PER_BLOCK;
		PlinthRow	row;
		bool		found;

		plinth_scan_open(s, ForwardScanDirection, low, low + PLINTH_ROWS_PER_BLOCK);
		s->sample_nrows = 0;
		for (;;)
		{
			PLINTH_CHECK(plinth_swift_scan_next(s->scan, &found, &row));
			if (!found)
				break;
			s->sample_rows[s->sample_nrows++] = row.row_id;
		}
		plinth_scan_release_source(s);
	}
	return true;
}

static bool
plinth_scan_sample_next_tuple(TableScanDesc sscan, SampleScanState *scanstate, TupleTableSlot *slot)
{
	PlinthScanDesc s = (PlinthScanDesc) sscan;
	TsmRoutine *tsm = scanstate->tsmroutine;
	int64		base = (int64) s->cblock * PLINTH_ROWS_PER_BLOCK;

	for (;;)
	{
		OffsetNumber off = tsm->NextSampleTuple(scanstate, s->cblock, PLINTH_ROWS_PER_BLOCK);
		int64		row_id;
		bool		present = false;

		CHECK_FOR_INTERRUPTS();
		if (!OffsetNumberIsValid(off))
		{
			ExecClearTuple(slot);
			return false;
		}
		row_id = base + off - 1;
		for (int i = 0; i < s->sample_nrows; i++)
			if (s->sample_rows[i] == row_id)
				present = true;
		if (present)
		{
			ItemPointerData tid;

			plinth_row_to_tid(row_id, &tid);
			if (plinth_tuple_fetch_row_version(sscan->rs_rd, &tid, sscan->rs_snapshot, slot))
				return true;
		}
	}
}

/* ------------------------------------------------------------------------
 * Definition of the Plinth table access method
 * ------------------------------------------------------------------------
 */

static const TableAmRoutine plinth_methods = {
	.type = T_TableAmRoutine,

	.slot_callbacks = plinth_slot_callbacks,

	.scan_begin = plinth_scan_begin,
	.scan_end = plinth_scan_end,
	.scan_rescan = plinth_scan_rescan,
	.scan_getnextslot = plinth_scan_getnextslot,

	.scan_set_tidrange = plinth_scan_set_tidrange,
	.scan_getnextslot_tidrange = plinth_scan_getnextslot_tidrange,

	.parallelscan_estimate = plinth_parallelscan_estimate,
	.parallelscan_initialize = plinth_parallelscan_initialize,
	.parallelscan_reinitialize = plinth_parallelscan_reinitialize,

	.index_fetch_begin = plinth_index_fetch_begin,
	.index_fetch_reset = plinth_index_fetch_reset,
	.index_fetch_end = plinth_index_fetch_end,
	.index_fetch_tuple = plinth_index_fetch_tuple,

	.tuple_fetch_row_version = plinth_tuple_fetch_row_version,
	.tuple_tid_valid = plinth_tuple_tid_valid,
	.tuple_get_latest_tid = plinth_tuple_get_latest_tid,
	.tuple_satisfies_snapshot = plinth_tuple_satisfies_snapshot,
	.index_delete_tuples = plinth_index_delete_tuples,

	.tuple_insert = plinth_tuple_insert,
	.tuple_insert_speculative = plinth_tuple_insert_speculative,
	.tuple_complete_speculative = plinth_tuple_complete_speculative,
	.multi_insert = plinth_multi_insert,
	.tuple_delete = plinth_tuple_delete,
	.tuple_update = plinth_tuple_update,
	.tuple_lock = plinth_tuple_lock,
	.finish_bulk_insert = plinth_finish_bulk_insert,

	.relation_set_new_filenode = plinth_relation_set_new_filenode,
	.relation_nontransactional_truncate = plinth_relation_nontransactional_truncate,
	.relation_copy_data = plinth_relation_copy_data,
	.relation_copy_for_cluster = plinth_relation_copy_for_cluster,
	.relation_vacuum = plinth_relation_vacuum,
	.scan_analyze_next_block = plinth_scan_analyze_next_block,
	.scan_analyze_next_tuple = plinth_scan_analyze_next_tuple,
	.index_build_range_scan = plinth_index_build_range_scan,
	.index_validate_scan = plinth_index_validate_scan,

	.relation_size = plinth_relation_size,
	.relation_needs_toast_table = plinth_relation_needs_toast_table,
	.relation_toast_am = plinth_relation_toast_am,
	.relation_fetch_toast_slice = plinth_relation_fetch_toast_slice,

	.relation_estimate_size = plinth_relation_estimate_size,

	.scan_bitmap_next_block = plinth_scan_bitmap_next_block,
	.scan_bitmap_next_tuple = plinth_scan_bitmap_next_tuple,
	.scan_sample_next_block = plinth_scan_sample_next_block,
	.scan_sample_next_tuple = plinth_scan_sample_next_tuple
};

PG_FUNCTION_INFO_V1(plinth_tableam_handler);
Datum
plinth_tableam_handler(PG_FUNCTION_ARGS)
{
	plinth_require_preload();
	PG_RETURN_POINTER(&plinth_methods);
}
