/*
 * relation.h — Plinth relations as Postgres sees them (relation.c): the
 * store id behind a relation's storage, row ids as TIDs, the visibility map
 * kept all-visible, snapshots as the store's visibility, and rows from the
 * store put into slots. Depends on the session and the boundary.
 */
#ifndef PLINTH_RELATION_H
#define PLINTH_RELATION_H

#include "postgres.h"

#include "access/htup_details.h"
#include "executor/tuptable.h"
#include "utils/rel.h"
#include "utils/snapshot.h"

#include "session.h"

/*
 * Row ids and TIDs. A row id names one row version for its whole life (an
 * UPDATE that moves a row makes a new row id, as heap makes a new TID). It
 * maps to a TID of a "virtual block" of 256 rows: offsets stay in 1..256,
 * under MaxHeapTuplesPerPage, so bitmap scans and TID scans work unchanged.
 * Block numbers stay below InvalidBlockNumber up to PLINTH_MAX_ROW_ID
 * (RowIDs.maximum in Swift, which hands out no id past it).
 */
#define PLINTH_ROWS_PER_BLOCK 256
#define PLINTH_MAX_ROW_ID ((int64) 0xFFFFFFFE * PLINTH_ROWS_PER_BLOCK + PLINTH_ROWS_PER_BLOCK - 1)

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

	return off >= 1 && off <= PLINTH_ROWS_PER_BLOCK &&
		ItemPointerGetBlockNumberNoCheck(tid) != InvalidBlockNumber;
}

extern bool plinth_is_table(Relation rel);
extern bool plinth_class_is_plinth(Form_pg_class c, Oid relid);
extern int64 plinth_store_id(Relation rel);
extern bool plinth_concurrent_build;
extern bool plinth_held_against_writers(Relation rel);
extern void plinth_visibility_map_cover(Relation rel);
extern PlinthVisibility plinth_visibility(Snapshot snapshot);
extern void plinth_row_to_slot(Relation rel, const PlinthRow *row, TupleTableSlot *slot);
extern int	plinth_sweep_orphans(void);

#endif							/* PLINTH_RELATION_H */
