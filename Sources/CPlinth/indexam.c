/*
 * indexam.c — index entries of Plinth tables.
 */
#include "postgres.h"

#include "plinth_am.h"

/*
 * A row is deleted (DELETE, the old version of an UPDATE, a lost speculative
 * insertion): its index entries must go with it.
 */
void
plinth_indexes_delete_row(Relation rel, HeapTuple old_row, int64 row_id)
{
	/* Indexes on Plinth tables are local btrees until the index AM lands. */
}
