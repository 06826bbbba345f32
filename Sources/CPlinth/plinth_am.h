/*
 * plinth_am.h — declarations shared by the shim's access-method files.
 * Includes Postgres headers: never seen by Swift.
 */
#ifndef PLINTH_AM_H
#define PLINTH_AM_H

#include "postgres.h"

#include "access/htup_details.h"
#include "access/tableam.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

#include "shim.h"

/*
 * Row ids and TIDs. A row id names one row version for its whole life (an
 * UPDATE makes a new row id, as heap makes a new TID). It maps to a TID of a
 * "virtual block" of 256 rows: offsets stay in 1..256, under
 * MaxHeapTuplesPerPage, so bitmap scans and TID scans work unchanged.
 */
#define PLINTH_ROWS_PER_BLOCK 256
#define PLINTH_MAX_ROW_ID ((((int64) 1) << 40) - 1)

static inline void
plinth_row_to_tid(int64 row_id, ItemPointer tid)
{
	ItemPointerSet(tid, (BlockNumber) (row_id / PLINTH_ROWS_PER_BLOCK),
				   (OffsetNumber) (row_id % PLINTH_ROWS_PER_BLOCK + 1));
}

static inline int64
plinth_tid_to_row(ItemPointer tid)
{
	return (int64) ItemPointerGetBlockNumberNoCheck(tid) * PLINTH_ROWS_PER_BLOCK
		+ (ItemPointerGetOffsetNumberNoCheck(tid) - 1);
}

static inline bool
plinth_tid_is_valid(ItemPointer tid)
{
	OffsetNumber off = ItemPointerGetOffsetNumberNoCheck(tid);

	return off >= 1 && off <= PLINTH_ROWS_PER_BLOCK;
}

/* plinth.c */
extern void plinth_prepare(void);
extern bool plinth_in_use;
extern int	plinth_statement_depth;
extern Oid	plinth_am_oid(void);

/* tableam.c */
extern const TableAmRoutine *plinth_table_routine(void);
extern bool plinth_is_table(Relation rel);
extern void plinth_visibility_map_cover(Relation rel);
extern bool plinth_row_is_updated(ItemPointer tid);
extern int64 plinth_store_id(Relation rel);
extern PlinthVisibility plinth_visibility(Snapshot snapshot);
extern void plinth_row_to_slot(Relation rel, const PlinthRow *row, TupleTableSlot *slot);

/* indexam.c */
extern void plinth_indexes_delete_row(Relation rel, HeapTuple old_row, int64 row_id);
extern void plinth_indexes_at_transaction_end(void);
extern void plinth_unique_checks_run(int min_depth);
extern void plinth_note_parent_keys(Relation rel, TupleTableSlot *slot);
extern void plinth_parent_keys_read(void);
extern void plinth_install_btree_dispatch(void);
struct RelOptInfo;
extern void plinth_index_planner_info(struct RelOptInfo *rel);

#endif							/* PLINTH_AM_H */
