/*
 * Values that name catalog rows by OID, the same on every server
 * (portable.c).
 */
#ifndef PLINTH_PORTABLE_H
#define PLINTH_PORTABLE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"

void		plinth_portable_init(void);

/* Whether values of a relation with this descriptor may hold such OIDs. */
bool		plinth_portable_desc(TupleDesc desc);

/*
 * A row's values as the store keeps them (to_store) or as this server reads
 * them: replaced in place, by new values in the current memory context.
 */
void		plinth_portable_values(TupleDesc desc, Datum *values, bool *isnull, bool to_store);

/*
 * A stored row as this server reads it: `tuple` itself when nothing
 * changes, else a new tuple in `cxt` (t_self and t_tableOid kept).
 */
HeapTuple	plinth_portable_to_local(TupleDesc desc, HeapTuple tuple, MemoryContext cxt);

/*
 * After a logged DDL statement ran (first server or replay): gives the
 * pg_type and pg_enum rows it created their portable ids.
 */
void		plinth_portable_map_new_rows(void);

#endif
