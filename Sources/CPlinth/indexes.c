/*
 * indexes.c — index maintenance for Plinth tables: which indexes are Plinth's
 * and how their keys are made (a cache per index), entries stored for new
 * rows and deleted with deleted rows, uniqueness violations reported as
 * heap reports them, and the parent keys of foreign key checks noted for
 * reading ahead. Used by the table and index access methods; calls neither.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/itup.h"
#include "access/nbtree.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/pg_locale.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "indexes.h"
#include "portable.h"


static HTAB *index_cache = NULL;

static void
index_cache_invalidate(Datum arg, Oid relid)
{
	if (index_cache == NULL)
		return;
	if (OidIsValid(relid))
		hash_search(index_cache, &relid, HASH_REMOVE, NULL);
	else
	{
		hash_destroy(index_cache);
		index_cache = NULL;
	}
}

/* A hash table keyed by OID, its entries of `entrysize` bytes, in `cxt`. */
static HTAB *
oid_hash(const char *name, Size entrysize, MemoryContext cxt)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = entrysize;
	ctl.hcxt = cxt;
	return hash_create(name, 16, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

PlinthIndexEntry *
plinth_index_entry(Relation index)
{
	Oid			oid = RelationGetRelid(index);
	PlinthIndexEntry *e;
	bool		found;

	if (index_cache == NULL)
		index_cache = oid_hash("plinth indexes", sizeof(PlinthIndexEntry), CacheMemoryContext);
	e = hash_search(index_cache, &oid, HASH_ENTER, &found);
	if (!found || e->relfilenode != index->rd_node.relNode)
	{
		Relation	heap = RelationIdGetRelation(index->rd_index->indrelid);

		e->is_plinth = RelationIsValid(heap) && plinth_is_table(heap);
		if (RelationIsValid(heap))
			RelationClose(heap);
		e->described = false;
		e->relfilenode = index->rd_node.relNode;
	}
	return e;
}

/*
 * Whether an index belongs to a Plinth table. Decided without any catalog
 * lookup for catalog indexes (they are all btree's), which keeps backend
 * start from recursing into the relcache.
 */
bool
plinth_is_index(Relation index)
{
	if (index->rd_index == NULL || index->rd_index->indrelid < FirstNormalObjectId)
		return false;
	return plinth_index_entry(index)->is_plinth;
}

/* How each key column is encoded; an error for a type Plinth cannot index. */
void
plinth_index_describe_columns(Relation index, PlinthIndexEntry *e)
{
	int			nkeys = IndexRelationGetNumberOfKeyAttributes(index);
	TupleDesc	desc = RelationGetDescr(index);

	for (int i = 0; i < nkeys; i++)
	{
		int16		opt = index->rd_indoption[i];

		e->keytype[i] = plinth_key_type_for_opfamily(index->rd_opfamily[i]);
		/*
		 * Values reach the access method as the operator class's input type
		 * (name, though name_ops stores cstring); polymorphic classes
		 * (array_ops, enum_ops, record_ops) take the column's own type.
		 */
		e->coltype[i] = index->rd_opcintype[i];
		if (IsPolymorphicType(e->coltype[i]) || e->coltype[i] == RECORDOID)
			e->coltype[i] = TupleDescAttr(desc, i)->atttypid;
		e->collation[i] = index->rd_indcollation[i];
		e->collated[i] = OidIsValid(e->collation[i]) && !lc_collate_is_c(e->collation[i]);
		e->descending[i] = (opt & INDOPTION_DESC) != 0;
		e->nulls_first[i] = (opt & INDOPTION_NULLS_FIRST) != 0;
		if (e->keytype[i] == PLINTH_KT_NONE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("Plinth indexes do not support type %s with operator family %s",
							format_type_be(e->coltype[i]), plinth_opfamily_name(index->rd_opfamily[i])),
					 errdetail("Index \"%s\" would store keys Plinth cannot order like a btree.",
							   RelationGetRelationName(index)),
					 errhint("Index a column of a supported type, or an expression of one (a cast to text, say).")));
	}
}

/* The description of a Plinth index (store ids and column options). */
PlinthIndexEntry *
plinth_index_describe(Relation index)
{
	PlinthIndexEntry *e = plinth_index_entry(index);

	if (!e->described)
	{
		Relation	heap;
		int64		index_id;

		plinth_prepare();
		plinth_index_describe_columns(index, e);
		PLINTH_CHECK(plinth_swift_relation_lookup(index->rd_node.relNode, &index_id));
		if (index_id < 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("index \"%s\" has no data in the Plinth store", RelationGetRelationName(index)),
					 errdetail("No store id is recorded for its storage (relfilenode %u).", index->rd_node.relNode),
					 errhint("REINDEX INDEX %s rebuilds it.", RelationGetRelationName(index))));
		heap = RelationIdGetRelation(index->rd_index->indrelid);
		e->desc.table_id = plinth_store_id(heap);
		RelationClose(heap);
		e->desc.index_id = index_id;
		e->desc.nkeys = IndexRelationGetNumberOfKeyAttributes(index);
		e->desc.descending = e->descending;
		e->desc.nulls_first = e->nulls_first;
		e->desc.unique = index->rd_index->indisunique;
		e->desc.nulls_not_distinct = index->rd_index->indnullsnotdistinct;
		e->desc.index_oid = RelationGetRelid(index);
		namestrcpy(&e->name, RelationGetRelationName(index));
		e->desc.name = NameStr(e->name);
		for (int i = 0; i < e->desc.nkeys; i++)
		{
			namestrcpy(&e->column_names[i], NameStr(TupleDescAttr(RelationGetDescr(index), i)->attname));
			e->column_name_ptrs[i] = NameStr(e->column_names[i]);
		}
		e->desc.column_names = e->column_name_ptrs;
		e->desc.collated = e->collated;
		e->described = true;
	}
	return e;
}

/* The key elements of an index tuple's values. */
void
plinth_index_key_elements(PlinthIndexEntry *e, Datum *values, bool *isnull, PlinthKeyBuf *b)
{
	for (int i = 0; i < e->desc.nkeys; i++)
	{
		if (isnull[i])
			plinth_key_add_null(b);
		else
			plinth_key_add_value(b, e->keytype[i], values[i], e->coltype[i], e->collation[i]);
	}
}

static void
report_unique_violation(Relation index, Relation heap, Datum *values, bool *isnull, bool building)
{
	char	   *key_desc = BuildIndexValueDescription(index, values, isnull);

	if (building)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("could not create unique index \"%s\"", RelationGetRelationName(index)),
				 key_desc ? errdetail("Key %s is duplicated.", key_desc) : errdetail("Duplicate keys exist."),
				 errtableconstraint(heap, RelationGetRelationName(index))));
	ereport(ERROR,
			(errcode(ERRCODE_UNIQUE_VIOLATION),
			 errmsg("duplicate key value violates unique constraint \"%s\"", RelationGetRelationName(index)),
			 key_desc ? errdetail("Key %s already exists.", key_desc) : 0,
			 errtableconstraint(heap, RelationGetRelationName(index))));
}


/*
 * Reports a violation found by uniqueness checks that waited for their
 * statement's end: Swift gives the index and the index tuple of the entry
 * whose key is not alone.
 */
void
plinth_report_violation(const PlinthUniqueViolation *v)
{
	Relation	index;
	Relation	heap;
	IndexTuple	itup;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];

	if (!v->found)
		return;
	/* Open under the statement's own lock; an index since dropped checks nothing. */
	index = try_relation_open(v->index_oid, AccessShareLock);
	if (index == NULL)
		return;
	heap = table_open(index->rd_index->indrelid, AccessShareLock);
	itup = palloc(v->tuple_len);
	memcpy(itup, v->tuple, v->tuple_len);
	index_deform_tuple(itup, RelationGetDescr(index), values, isnull);
	plinth_portable_values(RelationGetDescr(index), values, isnull, false);
	report_unique_violation(index, heap, values, isnull, v->building);
}

/*
 * A point of a statement's life where work it left may be due (its end, a
 * COPY batch, the commit): Swift runs what is due (StatementWork.swift) and
 * a uniqueness violation it finds is reported here.
 */
void
plinth_statement_event(PlinthStatementEvent event, int depth)
{
	PlinthUniqueViolation v;
	PlinthLockIds ids;

	if (!plinth_in_use)
		return;
	plinth_lock_ids_if_any(&ids);
	PLINTH_CHECK(plinth_swift_statement_event(event, depth, &ids, &v));
	/* A key another transaction is inserting: wait for it, check again. */
	while (v.wait.blocked)
	{
		plinth_wait_for_holder(&v.wait, NULL, NULL, XLTW_InsertIndexUnique);
		PLINTH_CHECK(plinth_swift_statement_event(event, depth, &ids, &v));
	}
	plinth_report_violation(&v);
}

/*
 * The index tuple an entry stores (for index-only scans and error reports):
 * types and enum labels named by portable id (portable.c).
 */
static IndexTuple
index_form_stored(Relation index, Datum *values, bool *isnull)
{
	TupleDesc	desc = RelationGetDescr(index);
	Datum		stored[INDEX_MAX_KEYS];

	if (!plinth_portable_desc(desc))
		return index_form_tuple(desc, values, isnull);
	memcpy(stored, values, desc->natts * sizeof(Datum));
	plinth_portable_values(desc, stored, isnull, true);
	return index_form_tuple(desc, stored, isnull);
}

/*
 * Stores the entry of one row (aminsert, index builds). Uniqueness: a
 * check of a row a statement inserts waits for the end of the statement
 * and runs with the others (one store round trip for all, not one per
 * row); rows an UPDATE moves are checked at once, as heap checks them
 * (Swift decides). Returns false when the key is taken by another row and
 * `check` is partial (deferrable constraints); raises the violation
 * otherwise.
 */
bool
plinth_insert_entry(Relation index, Relation heap, PlinthIndexEntry *e, Datum *values, bool *isnull,
					ItemPointer tid, PlinthUniqueCheck check, bool building)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "plinth index insert", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	IndexTuple	itup = index_form_stored(index, values, isnull);
	PlinthKeyBuf b;
	bool		conflict = false;
	PlinthUniqueViolation v;
	PlinthLockWait retry;
	PlinthLockIds ids;

	itup->t_tid = *tid;
	plinth_keybuf_init(&b);
	plinth_index_key_elements(e, values, isnull, &b);
	plinth_lock_ids(&ids);
	for (;;)
	{
		PLINTH_CHECK(plinth_swift_index_insert(&e->desc, b.elems, b.n, plinth_tid_to_row(tid), itup,
											   IndexTupleSize(itup), check, plinth_statement_depth, building,
											   GetCurrentCommandId(true), &ids, &conflict, &v, &retry));
		if (!retry.blocked)
			break;
		/* Another transaction is inserting the key, or deleting its row. */
		plinth_wait_for_holder(&retry, heap, tid, XLTW_InsertIndexUnique);
	}
	while (v.wait.blocked)
	{
		plinth_wait_for_holder(&v.wait, heap, NULL, XLTW_InsertIndexUnique);
		PLINTH_CHECK(plinth_swift_statement_event(PLINTH_STATEMENT_UNIQUE_CHECKS, plinth_statement_depth, &ids, &v));
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	if (conflict && check != PLINTH_UNIQUE_PARTIAL)
		report_unique_violation(index, heap, values, isnull, building);
	plinth_report_violation(&v);
	return !conflict;
}

/*
 * Foreign key checks read ahead.
 *
 * After a statement inserts rows into a table with foreign keys, Postgres
 * checks each row with a query on the parent (ri_triggers.c: a probe of the
 * parent's key index, then the row, FOR KEY SHARE): two store round trips
 * per row. As rows are inserted, the parent keys their checks will probe
 * are noted here; before the AFTER triggers run (ExecutorFinish), after each
 * batch of COPY, or every 1,000 rows (StatementWork.swift decides), they are
 * read together — the index
 * entries in one round trip, the rows they name in another — into the
 * transaction's caches, where the checks find them; under READ COMMITTED
 * the parents found are locked too and kept for the checks across their
 * snapshots (Indexes.swift, readParentKeys). Only a hint: a check that
 * misses reads the store itself, so a key noted wrongly costs a read,
 * never a wrong answer.
 */
typedef struct ParentProbe
{
	Oid			conoid;			/* hash key: the foreign key constraint */
	Oid			parent_index;	/* InvalidOid: nothing to read ahead */
	int			nkeys;
	AttrNumber	child_att[INDEX_MAX_KEYS];	/* per parent index column */
} ParentProbe;

static HTAB *parent_probes = NULL;	/* in TopTransactionContext */

/* How a foreign key's parent key is probed: its index and column order. */
static ParentProbe *
parent_probe(Relation rel, ForeignKeyCacheInfo *fk)
{
	ParentProbe *p;
	bool		found;
	Relation	parent;
	Relation	index;

	if (parent_probes == NULL)
		parent_probes = oid_hash("plinth parent probes", sizeof(ParentProbe), TopTransactionContext);
	p = hash_search(parent_probes, &fk->conoid, HASH_ENTER, &found);
	if (found)
		return p;
	p->parent_index = InvalidOid;
	p->nkeys = 0;
	parent = try_relation_open(fk->confrelid, AccessShareLock);
	if (parent == NULL)
		return p;
	if (plinth_is_table(parent))
	{
		Oid			indexoid = InvalidOid;
		HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(fk->conoid));

		/*
		 * The parent's key index (get_constraint_index answers only for
		 * keys). Not for a deferrable foreign key: its checks may run at
		 * commit, and the parents read ahead are locked at once (heap locks
		 * them when the check runs).
		 */
		if (HeapTupleIsValid(tup))
		{
			Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);

			if (!con->condeferrable)
				indexoid = con->conindid;
			ReleaseSysCache(tup);
		}

		index = OidIsValid(indexoid) ? try_relation_open(indexoid, AccessShareLock) : NULL;
		if (index != NULL && plinth_is_index(index) &&
			IndexRelationGetNumberOfKeyAttributes(index) == fk->nkeys)
		{
			bool		usable = true;

			for (int i = 0; i < fk->nkeys && usable; i++)
			{
				AttrNumber	patt = index->rd_index->indkey.values[i];
				int			j;

				for (j = 0; j < fk->nkeys && fk->confkey[j] != patt; j++)
					;
				/* Same type on both sides: the child's value encodes as the parent's key. */
				usable = patt != 0 && j < fk->nkeys &&
					TupleDescAttr(RelationGetDescr(rel), fk->conkey[j] - 1)->atttypid ==
					TupleDescAttr(RelationGetDescr(parent), patt - 1)->atttypid;
				p->child_att[i] = fk->conkey[j < fk->nkeys ? j : 0];
			}
			if (usable)
			{
				p->parent_index = indexoid;
				p->nkeys = fk->nkeys;
			}
		}
		if (index != NULL)
			relation_close(index, NoLock);
	}
	relation_close(parent, NoLock);
	return p;
}

void
plinth_note_parent_keys(Relation rel, TupleTableSlot *slot)
{
	ListCell   *lc;

	if (!rel->rd_rel->relhastriggers)	/* no foreign keys */
		return;
	foreach(lc, RelationGetFKeyList(rel))
	{
		ParentProbe *p = parent_probe(rel, lfirst(lc));
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];
		bool		anynull = false;
		Relation	index;
		PlinthIndexEntry *e;
		PlinthKeyBuf b;
		PlinthLockIds ids;

		if (!OidIsValid(p->parent_index))
			continue;
		for (int i = 0; i < p->nkeys; i++)
		{
			values[i] = slot_getattr(slot, p->child_att[i], &isnull[i]);
			anynull |= isnull[i];
		}
		if (anynull)			/* no check to prepare */
			continue;
		index = try_relation_open(p->parent_index, AccessShareLock);
		if (index == NULL)
			continue;
		e = plinth_index_describe(index);
		plinth_keybuf_init(&b);
		plinth_index_key_elements(e, values, isnull, &b);
		plinth_lock_ids_if_any(&ids);
		PLINTH_CHECK(plinth_swift_parent_key_note(&e->desc, b.elems, b.n, &ids));
		relation_close(index, NoLock);
	}
}

/*
 * The indexes of a table, open for the rest of the transaction, with what it
 * takes to compute their entries for a row: deleting a row deletes its
 * entries (Postgres deletes none: heap leaves them for VACUUM).
 */
typedef struct TableIndexes
{
	Oid			tableoid;		/* hash key */
	int			n;
	Oid		   *indexes;		/* opened (locked) for the transaction */
	IndexInfo **infos;
	EState	   *estate;
	TupleTableSlot *slot;
} TableIndexes;

static HTAB *table_indexes = NULL;
static MemoryContext table_indexes_cxt = NULL;

static void
table_indexes_invalidate(Datum arg, Oid relid)
{
	if (table_indexes == NULL)
		return;
	if (OidIsValid(relid))
	{
		TableIndexes *t = hash_search(table_indexes, &relid, HASH_FIND, NULL);

		/* Drop the entry's contents at transaction end; forget it now. */
		if (t != NULL)
			hash_search(table_indexes, &relid, HASH_REMOVE, NULL);
	}
	else
		hash_destroy(table_indexes), table_indexes = NULL;
}

void
plinth_indexes_at_transaction_end(void)
{
	parent_probes = NULL;		/* in TopTransactionContext: gone */
	table_indexes = NULL;
	if (table_indexes_cxt != NULL)
	{
		MemoryContextDelete(table_indexes_cxt);
		table_indexes_cxt = NULL;
	}
}

static TableIndexes *
indexes_of(Relation rel)
{
	Oid			oid = RelationGetRelid(rel);
	TableIndexes *t;
	bool		found;

	if (table_indexes == NULL)
	{
		table_indexes_cxt = AllocSetContextCreate(TopTransactionContext, "plinth table indexes",
												  ALLOCSET_DEFAULT_SIZES);
		table_indexes = oid_hash("plinth table indexes", sizeof(TableIndexes), table_indexes_cxt);
	}
	t = hash_search(table_indexes, &oid, HASH_ENTER, &found);
	if (!found)
	{
		MemoryContext old = MemoryContextSwitchTo(table_indexes_cxt);
		List	   *list = RelationGetIndexList(rel);
		ListCell   *lc;
		int			i = 0;

		t->n = list_length(list);
		t->indexes = palloc(sizeof(Oid) * Max(t->n, 1));
		t->infos = palloc(sizeof(IndexInfo *) * Max(t->n, 1));
		foreach(lc, list)
		{
			/* The lock stays until the transaction ends, as ExecOpenIndices'. */
			Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);

			t->indexes[i] = RelationGetRelid(index);
			t->infos[i] = BuildIndexInfo(index);
			index_close(index, NoLock);
			i++;
		}
		t->estate = CreateExecutorState();
		/* A copied descriptor: not reference-counted, nothing to release. */
		t->slot = MakeSingleTupleTableSlot(CreateTupleDescCopy(RelationGetDescr(rel)), &TTSOpsHeapTuple);
		GetPerTupleExprContext(t->estate)->ecxt_scantuple = t->slot;
		MemoryContextSwitchTo(old);
	}
	return t;
}

void
plinth_indexes_delete_row(Relation rel, HeapTuple old_row, int64 row_id)
{
	TableIndexes *t = indexes_of(rel);
	ExprContext *econtext;
	HeapTupleData tuple = *old_row;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];

	if (t->n == 0)
		return;
	econtext = GetPerTupleExprContext(t->estate);
	ExecStoreHeapTuple(&tuple, t->slot, false);
	for (int i = 0; i < t->n; i++)
	{
		Relation	index = RelationIdGetRelation(t->indexes[i]);
		IndexInfo  *info = t->infos[i];
		PlinthIndexEntry *e;
		PlinthKeyBuf b;
		MemoryContext old;

		/*
		 * Only btree indexes live in the store. Other access methods (GIN,
		 * GiST, hash, BRIN) keep their entries in local files, as for heap:
		 * a deleted row's entries stay and its fetch finds nothing.
		 */
		if (!index->rd_index->indisready || index->rd_rel->relam != BTREE_AM_OID)
		{
			RelationClose(index);
			continue;
		}
		e = plinth_index_describe(index);
		old = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		if (info->ii_Predicate != NIL)
		{
			if (info->ii_PredicateState == NULL)
			{
				MemoryContext q = MemoryContextSwitchTo(t->estate->es_query_cxt);

				info->ii_PredicateState = ExecPrepareQual(info->ii_Predicate, t->estate);
				MemoryContextSwitchTo(q);
			}
			if (!ExecQual(info->ii_PredicateState, econtext))
			{
				MemoryContextSwitchTo(old);
				RelationClose(index);
				continue;
			}
		}
		FormIndexDatum(info, t->slot, t->estate, values, isnull);
		plinth_keybuf_init(&b);
		plinth_index_key_elements(e, values, isnull, &b);
		PLINTH_CHECK(plinth_swift_index_delete(&e->desc, b.elems, b.n, row_id, GetCurrentCommandId(true),
											   (uint32) GetCurrentSubTransactionId()));
		MemoryContextSwitchTo(old);
		ResetExprContext(econtext);
		RelationClose(index);
	}
	ExecClearTuple(t->slot);
}


/* Registers the caches' invalidation (in _PG_init: every backend inherits it). */
void
plinth_indexes_init(void)
{
	CacheRegisterRelcacheCallback(index_cache_invalidate, (Datum) 0);
	CacheRegisterRelcacheCallback(table_indexes_invalidate, (Datum) 0);
}
