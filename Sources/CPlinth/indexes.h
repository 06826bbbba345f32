/*
 * indexes.h — index maintenance for Plinth tables (indexes.c): what Plinth
 * knows of each index, entries of rows, uniqueness violations, foreign-key
 * read-ahead. Depends on relations, keys, the session and the boundary.
 */
#ifndef PLINTH_INDEXES_H
#define PLINTH_INDEXES_H

#include "postgres.h"

#include "access/htup.h"
#include "executor/tuptable.h"
#include "utils/rel.h"

#include "keys.h"
#include "relation.h"
#include "locks.h"

/* What Plinth knows of an index: whether it is Plinth's, and its description. */
typedef struct PlinthIndexEntry
{
	Oid			indexoid;		/* hash key */
	bool		is_plinth;
	bool		described;		/* desc below is filled in */
	Oid			relfilenode;
	PlinthIndexDesc desc;
	uint8		descending[INDEX_MAX_KEYS];
	uint8		nulls_first[INDEX_MAX_KEYS];
	uint8		collated[INDEX_MAX_KEYS];
	PlinthKeyType keytype[INDEX_MAX_KEYS];
	Oid			coltype[INDEX_MAX_KEYS];
	Oid			collation[INDEX_MAX_KEYS];
	NameData	name;
	NameData	column_names[INDEX_MAX_KEYS];
	const char *column_name_ptrs[INDEX_MAX_KEYS];
} PlinthIndexEntry;

extern void plinth_indexes_init(void);
extern PlinthIndexEntry *plinth_index_entry(Relation index);
extern bool plinth_is_index(Relation index);
extern void plinth_index_describe_columns(Relation index, PlinthIndexEntry *e);
extern PlinthIndexEntry *plinth_index_describe(Relation index);
extern void plinth_index_key_elements(PlinthIndexEntry *e, Datum *values, bool *isnull, PlinthKeyBuf *b);
extern bool plinth_insert_entry(Relation index, Relation heap, PlinthIndexEntry *e, Datum *values, bool *isnull,
								ItemPointer tid, PlinthUniqueCheck check, bool building);
extern void plinth_report_violation(const PlinthUniqueViolation *v);
extern void plinth_statement_event(PlinthStatementEvent event, int depth);
extern void plinth_indexes_delete_row(Relation rel, HeapTuple old_row, int64 row_id);
extern void plinth_note_parent_keys(Relation rel, TupleTableSlot *slot);
extern void plinth_indexes_at_transaction_end(void);

#endif							/* PLINTH_INDEXES_H */
