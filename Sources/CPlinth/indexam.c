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

#include "keys.h"
#include "plinth_am.h"

/* btree's own callbacks, for every index that is not Plinth's. */
static IndexAmRoutine btree_routine;
static bool btree_routine_saved = false;

/* ------------------------------------------------------------------------
 * Which indexes are Plinth's, and what Swift needs to know of them
 * ------------------------------------------------------------------------
 */

typedef struct PlinthIndexEntry
{
	Oid			indexoid;		/* hash key */
	bool		is_plinth;
	bool		described;		/* desc below is filled in */
	Oid			relfilenode;
	PlinthIndexDesc desc;
	uint8		descending[INDEX_MAX_KEYS];
	uint8		nulls_first[INDEX_MAX_KEYS];
	PlinthKeyType keytype[INDEX_MAX_KEYS];
	Oid			coltype[INDEX_MAX_KEYS];
	Oid			collation[INDEX_MAX_KEYS];
} PlinthIndexEntry;

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

static PlinthIndexEntry *
index_entry(Relation index)
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
static bool
is_plinth_index(Relation index)
{
	if (index->rd_index == NULL || index->rd_index->indrelid < FirstNormalObjectId)
		return false;
	return index_entry(index)->is_plinth;
}

/* How each key column is encoded; an error for a type Plinth cannot index. */
static void
describe_columns(Relation index, PlinthIndexEntry *e)
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
static PlinthIndexEntry *
plinth_index_describe(Relation index)
{
	PlinthIndexEntry *e = index_entry(index);

	if (!e->described)
	{
		Relation	heap;
		int64		index_id;

		plinth_prepare();
		describe_columns(index, e);
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
		e->described = true;
	}
	return e;
}

/* The key elements of an index tuple's values. */
static void
key_elements(PlinthIndexEntry *e, Datum *values, bool *isnull, PlinthKeyBuf *b)
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
 * Uniqueness checks at the end of the statement.
 *
 * Heap's btree checks a key when the row is inserted: one index descent.
 * Here that is a store read, and on FoundationDB a network round trip per
 * row. So a UNIQUE_CHECK_YES check is recorded instead (the entry is
 * written at once), and the checks of a statement run together when it
 * ends (ExecutorFinish, the end of a utility command such as COPY, the end
 * of an index build, pre-commit), in one round trip; more than 10,000
 * waiting run at once. The error is the one heap raises, for the first row
 * inserted whose key is not alone. Rows written by UPDATE are checked at
 * once, as heap does: heap fails an UPDATE that moves a key onto one a later
 * row will move away from, and so does Plinth. So are the rows of a bulk
 * load (plinth.bulk_load), which sends rows to the store as it goes.
 */
static int	unique_checks_waiting = 0;

/* Checks run when this many wait, whether or not the statement ended: memory stays bounded, the batch large. */
#define UNIQUE_CHECK_BATCH 10000

void
plinth_unique_checks_run(int min_depth)
{
	PlinthUniqueViolation v;
	size_t		remaining = 0;
	Relation	index;
	Relation	heap;
	IndexTuple	itup;
	Datum		values[INDEX_MAX_KEYS];
	bool		isnull[INDEX_MAX_KEYS];

	if (unique_checks_waiting == 0)
		return;
	PLINTH_CHECK(plinth_swift_unique_checks_run(min_depth, &v, &remaining));
	unique_checks_waiting = (int) remaining;
	if (!v.found)
		return;
	/* Open under the statement's own lock; an index since dropped checks nothing. */
	index = try_relation_open(v.index_oid, AccessShareLock);
	if (index == NULL)
		return;
	heap = table_open(index->rd_index->indrelid, AccessShareLock);
	itup = palloc(v.tuple_len);
	memcpy(itup, v.tuple, v.tuple_len);
	index_deform_tuple(itup, RelationGetDescr(index), values, isnull);
	report_unique_violation(index, heap, values, isnull, v.building);
}

/*
 * Foreign key checks read ahead.
 *
 * After a statement inserts rows into a table with foreign keys, Postgres
 * checks each row with a query on the parent (ri_triggers.c: a probe of the
 * parent's key index, then the row, FOR KEY SHARE): two store round trips
 * per row. As rows are inserted, the parent keys their checks will probe
 * are noted here; before the AFTER triggers run (ExecutorFinish), after each
 * batch of COPY, or every 1,000 rows, they are read together — the index
 * entries in one round trip, the rows they name in another — into the
 * transaction's caches, where the checks find them. Only a hint: a check
 * that misses the cache reads the store itself, so a key noted wrongly
 * costs a read, never a wrong answer.
 */
typedef struct ParentProbe
{
	Oid			conoid;			/* hash key: the foreign key constraint */
	Oid			parent_index;	/* InvalidOid: nothing to read ahead */
	int			nkeys;
	AttrNumber	child_att[INDEX_MAX_KEYS];	/* per parent index column */
} ParentProbe;

static HTAB *parent_probes = NULL;	/* in TopTransactionContext */
static bool parent_keys_noted = false;

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

		/* The parent's key index (get_constraint_index answers only for keys). */
		if (HeapTupleIsValid(tup))
		{
			indexoid = ((Form_pg_constraint) GETSTRUCT(tup))->conindid;
			ReleaseSysCache(tup);
		}

		index = OidIsValid(indexoid) ? try_relation_open(indexoid, AccessShareLock) : NULL;
		if (index != NULL && is_plinth_index(index) &&
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
		bool		due = false;

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
		key_elements(e, values, isnull, &b);
		PLINTH_CHECK(plinth_swift_parent_key_note(&e->desc, b.elems, b.n, &due));
		relation_close(index, NoLock);
		parent_keys_noted = true;
		if (due)
			plinth_parent_keys_read();
	}
}

void
plinth_parent_keys_read(void)
{
	if (!parent_keys_noted)
		return;
	parent_keys_noted = false;
	PLINTH_CHECK(plinth_swift_parent_keys_read());
}

/* Stores one entry; returns false when the key is taken by another row. */
static bool
insert_entry(Relation index, Relation heap, PlinthIndexEntry *e, Datum *values, bool *isnull,
			 ItemPointer tid, PlinthUniqueCheck check, bool building)
{
	MemoryContext tmp = AllocSetContextCreate(CurrentMemoryContext, "plinth index insert", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	IndexTuple	itup = index_form_tuple(RelationGetDescr(index), values, isnull);
	PlinthKeyBuf b;
	bool		conflict = false;

	if (check == PLINTH_UNIQUE_YES && e->desc.unique && (building || !plinth_row_is_updated(tid)))
		check = PLINTH_UNIQUE_LATER;
	itup->t_tid = *tid;
	plinth_keybuf_init(&b);
	key_elements(e, values, isnull, &b);
	PLINTH_CHECK(plinth_swift_index_insert(&e->desc, b.elems, b.n, plinth_tid_to_row(tid), itup,
										   IndexTupleSize(itup), check, plinth_statement_depth, building,
										   GetCurrentCommandId(true), (uint32) GetCurrentSubTransactionId(),
										   &conflict));
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
	/* A LATER check found a conflict at once only in a bulk load (IndexAM.swift). */
	if (conflict && check != PLINTH_UNIQUE_PARTIAL)
		report_unique_violation(index, heap, values, isnull, building);
	if (check == PLINTH_UNIQUE_LATER && ++unique_checks_waiting >= UNIQUE_CHECK_BATCH)
		plinth_unique_checks_run(plinth_statement_depth);
	return !conflict;
}

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
	double		entries;
} BuildState;

static void
build_callback(Relation index, ItemPointer tid, Datum *values, bool *isnull, bool tupleIsAlive, void *arg)
{
	BuildState *s = arg;

	insert_entry(index, s->heap, s->entry, values, isnull, tid,
				 s->entry->desc.unique ? PLINTH_UNIQUE_YES : PLINTH_UNIQUE_NO, true);
	s->entries += 1;
}

static IndexBuildResult *
plinth_ambuild(Relation heap, Relation index, IndexInfo *indexInfo)
{
	IndexBuildResult *result;
	BuildState	state;
	int64		index_id;

	if (!is_plinth_index(index))
		return btree_routine.ambuild(heap, index, indexInfo);
	if (RelationGetNumberOfBlocks(index) != 0)
		elog(ERROR, "index \"%s\" already contains data", RelationGetRelationName(index));
	/* Refuse an unsupported type before writing anything. */
	describe_columns(index, index_entry(index));
	write_metapage(index, MAIN_FORKNUM);

	/* New storage, a new store id; REINDEX drops the old one at commit. */
	(void) GetTopTransactionId();
	plinth_prepare();
	PLINTH_CHECK(plinth_swift_relation_create(index->rd_node.relNode, InvalidOid, GetCurrentCommandId(true),
											  (uint32) GetCurrentSubTransactionId(), &index_id));
	index_entry(index)->described = false;

	state.heap = heap;
	state.entry = plinth_index_describe(index);
	state.entries = 0;
	indexInfo->ii_ParallelWorkers = 0;
	result = palloc(sizeof(IndexBuildResult));
	result->heap_tuples = table_index_build_scan(heap, index, indexInfo, true, false, build_callback, &state, NULL);
	plinth_unique_checks_run(plinth_statement_depth);
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

	if (!is_plinth_index(index))
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
	return insert_entry(index, heap, plinth_index_describe(index), values, isnull, ht_ctid, check, false);
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
	unique_checks_waiting = 0;	/* the store transaction forgot them */
	parent_keys_noted = false;
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
		key_elements(e, values, isnull, &b);
		PLINTH_CHECK(plinth_swift_index_delete(&e->desc, b.elems, b.n, row_id, GetCurrentCommandId(true),
											   (uint32) GetCurrentSubTransactionId()));
		MemoryContextSwitchTo(old);
		ResetExprContext(econtext);
		RelationClose(index);
	}
	ExecClearTuple(t->slot);
}

/* ------------------------------------------------------------------------
 * Scans
 * ------------------------------------------------------------------------
 */

typedef struct PlinthIndexScanOpaque
{
	void	   *scan;			/* Swift IndexScan */
	void	   *fetcher;		/* buffer for index tuples handed out */
	bool		recheck;		/* some key could not bound the scan */
	MemoryContextCallback release;
} PlinthIndexScanOpaque;

static void
release_scan_handles(void *arg)
{
	PlinthIndexScanOpaque *o = arg;

	if (o->scan)
	{
		void	   *p = o->scan;

		o->scan = NULL;
		plinth_swift_release(p);
	}
	if (o->fetcher)
	{
		void	   *p = o->fetcher;

		o->fetcher = NULL;
		plinth_swift_release(p);
	}
}

static IndexScanDesc
plinth_ambeginscan(Relation index, int nkeys, int norderbys)
{
	IndexScanDesc scan;
	PlinthIndexScanOpaque *o;

	if (!is_plinth_index(index))
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

	if (!is_plinth_index(scan->indexRelation))
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
	if (o->scan)
	{
		void	   *p = o->scan;

		o->scan = NULL;
		plinth_swift_release(p);
	}
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

	if (!is_plinth_index(scan->indexRelation))
		return btree_routine.amgettuple(scan, dir);
	o = scan->opaque;
	if (o->scan == NULL)
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
		scan->xs_itup = (IndexTuple) tuple;
		scan->xs_itup->t_tid = scan->xs_heaptid;
		scan->xs_itupdesc = RelationGetDescr(scan->indexRelation);
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

	if (!is_plinth_index(scan->indexRelation))
		return btree_routine.amgetbitmap(scan, tbm);
	o = scan->opaque;
	if (o->scan == NULL)
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
	if (!is_plinth_index(scan->indexRelation))
	{
		btree_routine.amendscan(scan);
		return;
	}
	release_scan_handles(scan->opaque);
}

static void
plinth_ammarkpos(IndexScanDesc scan)
{
	if (!is_plinth_index(scan->indexRelation))
	{
		btree_routine.ammarkpos(scan);
		return;
	}
	if (((PlinthIndexScanOpaque *) scan->opaque)->scan)
		plinth_swift_index_scan_mark(((PlinthIndexScanOpaque *) scan->opaque)->scan);
}

static void
plinth_amrestrpos(IndexScanDesc scan)
{
	if (!is_plinth_index(scan->indexRelation))
	{
		btree_routine.amrestrpos(scan);
		return;
	}
	if (((PlinthIndexScanOpaque *) scan->opaque)->scan)
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
	void	   *scan = NULL;
	int64		rows[1024];
	size_t		n;
	PlinthVisibility all = {true, false, 0};

	if (!is_plinth_index(info->index))
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
		plinth_swift_release(scan);
	}
	PG_END_TRY();
	return stats;
}

static IndexBulkDeleteResult *
plinth_amvacuumcleanup(IndexVacuumInfo *info, IndexBulkDeleteResult *stats)
{
	if (!is_plinth_index(info->index))
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
	CacheRegisterRelcacheCallback(index_cache_invalidate, (Datum) 0);
	CacheRegisterRelcacheCallback(table_indexes_invalidate, (Datum) 0);
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
