/*
 * relation.c — Plinth relations as Postgres sees them: which relations are
 * Plinth's, the store id behind a relation's storage (cached in
 * rd_amcache), the visibility map kept all-visible, snapshots as the
 * store's visibility, and rows from the store put into slots with their
 * tuple headers made up.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/visibilitymap.h"
#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/hsearch.h"
#include "utils/snapmgr.h"
#include "storage/smgr.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "portable.h"
#include "relation.h"
#include "session.h"

/* What Plinth keeps in rd_amcache of a table relation. */
typedef struct PlinthRelCache
{
	Oid			relfilenode;	/* the storage this id belongs to */
	int64		store_id;
	BlockNumber vm_covered;		/* heap blocks the visibility map covers */
	TimestampTz vm_checked;		/* when the table's size was last read */
} PlinthRelCache;

/* Whether a relation is a Plinth table (or materialized view). */
bool
plinth_is_table(Relation rel)
{
	Oid			am = plinth_am_oid();

	return OidIsValid(am) && rel->rd_rel->relam == am &&
		(rel->rd_rel->relkind == RELKIND_RELATION || rel->rd_rel->relkind == RELKIND_MATVIEW);
}

/* Whether a pg_class entry is a Plinth table, or an index on one. */
bool
plinth_class_is_plinth(Form_pg_class c, Oid relid)
{
	Oid			am = plinth_am_oid();

	if (!OidIsValid(am))
		return false;
	if (c->relkind == RELKIND_RELATION || c->relkind == RELKIND_MATVIEW)
		return c->relam == am;
	if (c->relkind == RELKIND_INDEX)
	{
		HeapTuple	it = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(relid));
		bool		result = false;

		if (HeapTupleIsValid(it))
		{
			Oid			table = ((Form_pg_index) GETSTRUCT(it))->indrelid;
			HeapTuple	tt = SearchSysCache1(RELOID, ObjectIdGetDatum(table));

			if (HeapTupleIsValid(tt))
			{
				result = ((Form_pg_class) GETSTRUCT(tt))->relam == am;
				ReleaseSysCache(tt);
			}
			ReleaseSysCache(it);
		}
		return result;
	}
	return false;
}

/*
 * The store id of a relation's data, looked up once per relcache entry (the
 * entry is rebuilt, and rd_amcache freed, whenever the relation changes).
 */
int64
plinth_store_id(Relation rel)
{
	PlinthRelCache *cache = (PlinthRelCache *) rel->rd_amcache;
	int64		id;

	if (cache != NULL && cache->relfilenode == rel->rd_node.relNode)
		return cache->store_id;
	plinth_prepare();
	PLINTH_CHECK(plinth_swift_relation_lookup(rel->rd_node.relNode, &id));
	if (id < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("relation \"%s\" has no data in the Plinth store",
						RelationGetRelationName(rel)),
				 errdetail("No store id is recorded for its storage (relfilenode %u) in this database.",
						   rel->rd_node.relNode),
				 errhint("Was the database copied from a template whose Plinth data is on another server? CREATE DATABASE copies what the template holds on this server.")));
	if (cache == NULL)
		cache = MemoryContextAllocZero(CacheMemoryContext, sizeof(PlinthRelCache));
	cache->relfilenode = rel->rd_node.relNode;
	cache->store_id = id;
	cache->vm_covered = 0;
	cache->vm_checked = 0;
	rel->rd_amcache = cache;
	return id;
}

/* CREATE INDEX or REINDEX CONCURRENTLY runs, to be logged (set by schema.c). */
bool		plinth_concurrent_build = false;

/*
 * Whether this transaction holds a Plinth table against writers (ShareLock
 * or stronger: an index build, a rewrite, a constraint's validation, LOCK
 * TABLE), asked as a scan of it begins. This server's writers then wait
 * until the transaction ends; other servers' are fenced off too
 * (DefinitionGuard.swift, fenceWriters) — except for temporary tables,
 * which no other server writes, and with plinth.single_server.
 */
bool
plinth_held_against_writers(Relation rel)
{
	bool		held = CheckRelationLockedByMe(rel, ShareLock, true);

	/*
	 * A concurrent index build's scans hold writers off nowhere; the other
	 * servers' would miss the index until they replay the statement, so
	 * they are fenced off until it is logged (the fence is the statement's).
	 */
	bool		statement = !held && plinth_concurrent_build &&
		CheckRelationLockedByMe(rel, ShareUpdateExclusiveLock, false);

	if ((held || statement) && !plinth_single_server && rel->rd_rel->relpersistence != RELPERSISTENCE_TEMP)
		PLINTH_CHECK(plinth_swift_fence_writers(plinth_store_id(rel),
												U64FromFullTransactionId(GetTopFullTransactionId()), statement));
	return held;
}

/*
 * Index-only scans ask the visibility map whether a heap block is
 * all-visible before they trust an index tuple. For a Plinth table they may
 * always: index entries are written and read in the same store transactions
 * as rows, so an entry an index scan returns is visible to its snapshot. So
 * the map is kept all-visible — pages of 0xFF covering every block of row
 * ids handed out — extended here, before an index-only scan, at most once a
 * second per table. Written without WAL: after a crash a missing page only
 * means heap fetches, never a wrong answer.
 */
#define PLINTH_VM_HEAPBLOCKS_PER_PAGE ((BLCKSZ - MAXALIGN(SizeOfPageHeaderData)) * 4)

void
plinth_visibility_map_cover(Relation rel)
{
	PlinthRelCache *cache;
	TimestampTz now = GetCurrentTimestamp();
	BlockNumber heap_blocks;
	BlockNumber vm_blocks;
	SMgrRelation reln;
	PGAlignedBlock pg;
	BlockNumber have;

	(void) plinth_store_id(rel);
	cache = (PlinthRelCache *) rel->rd_amcache;
	if (cache->vm_checked != 0 && !TimestampDifferenceExceeds(cache->vm_checked, now, 1000))
		return;
	cache->vm_checked = now;
	heap_blocks = RelationGetNumberOfBlocks(rel);
	if (heap_blocks <= cache->vm_covered)
		return;
	vm_blocks = (heap_blocks + PLINTH_VM_HEAPBLOCKS_PER_PAGE - 1) / PLINTH_VM_HEAPBLOCKS_PER_PAGE;

	LockRelationForExtension(rel, ExclusiveLock);
	reln = RelationGetSmgr(rel);
	if (!smgrexists(reln, VISIBILITYMAP_FORKNUM))
		smgrcreate(reln, VISIBILITYMAP_FORKNUM, false);
	reln->smgr_cached_nblocks[VISIBILITYMAP_FORKNUM] = InvalidBlockNumber;
	have = smgrnblocks(reln, VISIBILITYMAP_FORKNUM);
	if (have < vm_blocks)
	{
		PageInit((Page) pg.data, BLCKSZ, 0);
		memset(PageGetContents((Page) pg.data), 0xFF, BLCKSZ - MAXALIGN(SizeOfPageHeaderData));
		for (; have < vm_blocks; have++)
		{
			PageSetChecksumInplace((Page) pg.data, have);
			smgrextend(reln, VISIBILITYMAP_FORKNUM, have, pg.data, false);
		}
		CacheInvalidateSmgr(reln->smgr_rnode);
	}
	UnlockRelationForExtension(rel, ExclusiveLock);
	cache->vm_covered = vm_blocks * PLINTH_VM_HEAPBLOCKS_PER_PAGE;
}

/*
 * Whether `snapshot`, in a transaction that keeps one snapshot (REPEATABLE
 * READ, SERIALIZABLE), was taken after the transaction's: it sees
 * transactions the transaction's snapshot does not.
 */
static bool
plinth_snapshot_is_newer(Snapshot snapshot)
{
	Snapshot	xact;

	if (!IsolationUsesXactSnapshot() || !FirstSnapshotSet)
		return false;
	xact = GetTransactionSnapshot();
	return snapshot->xmin != xact->xmin || snapshot->xmax != xact->xmax || snapshot->xcnt != xact->xcnt;
}

/* Which of this transaction's own writes a snapshot sees. */
PlinthVisibility
plinth_visibility(Snapshot snapshot)
{
	PlinthVisibility v = {false, false, 0, false, false};

	if (snapshot == NULL)
	{
		v.all = true;
		return v;
	}
	switch (snapshot->snapshot_type)
	{
		case SNAPSHOT_MVCC:
			v.curcid = snapshot->curcid;
			/*
			 * REPEATABLE READ reads the transaction's snapshot; a newer one
			 * (the referential actions' GetLatestSnapshot, checked against
			 * the transaction's through a crosscheck) reads the newest
			 * committed rows, as heap's would.
			 */
			v.current = plinth_snapshot_is_newer(snapshot);
			break;
		case SNAPSHOT_ANY:
			v.all = true;
			v.any_version = true;
			/* A row updated in place by this command: its old version. */
			v.curcid = GetCurrentCommandId(false);
			break;
		case SNAPSHOT_DIRTY:
			/*
			 * The newest committed rows (ON CONFLICT's and exclusion
			 * constraints' checks). Nothing is ever "in progress" for the
			 * caller to wait on: an inserter of the same key is waited for
			 * through its key lock (RowLocks.swift), when the entry goes in.
			 */
			snapshot->xmin = InvalidTransactionId;
			snapshot->xmax = InvalidTransactionId;
			snapshot->speculativeToken = 0;
			v.all = true;
			v.current = true;
			break;
		case SNAPSHOT_SELF:
		case SNAPSHOT_TOAST:
		case SNAPSHOT_NON_VACUUMABLE:
			v.all = true;
			break;
		case SNAPSHOT_HISTORIC_MVCC:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("logical decoding of Plinth tables is not supported")));
	}
	return v;
}

/*
 * The header of a row from the store: its first bytes (xmin, xmax, cid,
 * ctid) are not stored, and its transaction bits are Postgres's to set.
 */
static void
make_up_header(HeapTuple tup, const PlinthRow *row)
{
	HeapTupleHeader hdr = tup->t_data;

	hdr->t_infomask &= ~HEAP_XACT_MASK;
	hdr->t_infomask2 &= ~HEAP2_XACT_MASK;
	if (row->own)
	{
		/* Written by this transaction: xmin is the writer's, cmin its command. */
		HeapTupleHeaderSetXmin(hdr, TransactionIdIsValid(row->xmin) ? row->xmin : GetTopTransactionIdIfAny());
		HeapTupleHeaderSetCmin(hdr, row->cid);
	}
	else
	{
		/*
		 * Committed: frozen, so that Postgres never asks the commit log about
		 * it (HeapTupleHeaderGetXmin says FrozenTransactionId), while the
		 * xmin column shows the writer's id as heap's frozen rows do — ORMs
		 * use it as a row version.
		 */
		HeapTupleHeaderSetXmin(hdr, TransactionIdIsValid(row->xmin) ? row->xmin : FrozenTransactionId);
		HeapTupleHeaderSetCmin(hdr, FirstCommandId);
		hdr->t_infomask |= HEAP_XMIN_FROZEN;
	}
	HeapTupleHeaderSetXmax(hdr, InvalidTransactionId);
	hdr->t_infomask |= HEAP_XMAX_INVALID;
	hdr->t_ctid = tup->t_self;
}

/*
 * Puts a row from the store into a slot: a palloc'd copy in the slot's
 * memory, so that it lives as long as the slot holds it (as a pinned buffer
 * would for heap), with the tuple header made up.
 */
void
plinth_row_to_slot(Relation rel, const PlinthRow *row, TupleTableSlot *slot)
{
	HeapTuple	tup;

	tup = MemoryContextAlloc(slot->tts_mcxt, HEAPTUPLESIZE + row->len);
	tup->t_len = row->len;
	tup->t_data = (HeapTupleHeader) ((char *) tup + HEAPTUPLESIZE);
	memcpy(tup->t_data, row->data, row->len);
	plinth_row_to_tid(row->row_id, &tup->t_self);
	tup->t_tableOid = RelationGetRelid(rel);
	make_up_header(tup, row);

	/*
	 * Types and enum labels the store names by portable id: this server's.
	 * By the slot's descriptor, which is the table's as its rows were
	 * written (a rewrite by ALTER TABLE reads them with the old one). The
	 * header is made up first: the stored one may say "composite datum"
	 * (heap_form_tuple marks its tuples so), which deforming would check.
	 */
	{
		HeapTuple	local = plinth_portable_to_local(slot->tts_tupleDescriptor, tup, slot->tts_mcxt);

		if (local != tup)
		{
			pfree(tup);
			tup = local;
			make_up_header(tup, row);
		}
	}

	ExecStoreHeapTuple(tup, slot, true);
	slot->tts_tableOid = RelationGetRelid(rel);
}


/*
 * The orphan sweep. A transaction commits in the store at pre-commit, before
 * Postgres writes its commit record: a backend or server that dies between
 * the two leaves the store with what Postgres then rolls back — storage
 * created for relations that do not exist. This finds the storage the store
 * maps for this server's database that no relation has, created by a
 * transaction that is over (one still running may be between its two
 * commits), and lets it go with the current transaction. Run by
 * plinth_sweep_orphans() and by a database-wide VACUUM. Returns how many
 * went.
 */
int
plinth_sweep_orphans(void)
{
	size_t		capacity = 256;
	size_t		n;
	PlinthMapping *mappings;
	HTAB	   *in_use;
	HASHCTL		ctl;
	Relation	pg_class;
	SysScanDesc scan;
	HeapTuple	tup;
	FullTransactionId next;
	int			swept = 0;

	plinth_prepare();
	for (;;)
	{
		mappings = palloc(sizeof(PlinthMapping) * capacity);
		PLINTH_CHECK(plinth_swift_relation_mappings(mappings, capacity, &n));
		if (n <= capacity)
			break;
		pfree(mappings);
		capacity = n + 64;
	}
	if (n == 0)
		return 0;

	/*
	 * Which creators are over, before the catalog is read: a transaction
	 * that ends after this check may have been between its store commit and
	 * Postgres's when the catalog is read, and is left alone. A creator at
	 * or past the next transaction id is over too: a crash lost it before
	 * its id reached the WAL (the id will be given again, to a transaction
	 * whose storage the mappings read above cannot hold).
	 */
	next = ReadNextFullTransactionId();
	for (size_t i = 0; i < n; i++)
	{
		PlinthMapping *m = &mappings[i];
		FullTransactionId creator = FullTransactionIdFromU64(m->creator);

		if (m->creator != 0 && FullTransactionIdPrecedes(creator, next) &&
			TransactionIdIsInProgress(XidFromFullTransactionId(creator)))
			m->store_id = -1;	/* still running: not a candidate */
	}

	/* Every relfilenode of this database, seen after those checks. */
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(Oid);
	ctl.hcxt = CurrentMemoryContext;
	in_use = hash_create("plinth relfilenodes", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	InvalidateCatalogSnapshot();
	pg_class = table_open(RelationRelationId, AccessShareLock);
	scan = systable_beginscan(pg_class, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Oid			node = ((Form_pg_class) GETSTRUCT(tup))->relfilenode;

		if (OidIsValid(node))
			(void) hash_search(in_use, &node, HASH_ENTER, NULL);
	}
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);

	for (size_t i = 0; i < n; i++)
	{
		PlinthMapping *m = &mappings[i];
		bool		found;

		if (m->store_id < 0)
			continue;
		bool		shared = false;

		(void) hash_search(in_use, &m->relfilenode, HASH_FIND, &found);
		if (found)
			continue;

		/*
		 * Storage a live relation maps too (a crash between the two
		 * commits, then the schema log replayed the DDL under a new
		 * relfilenode): its data is that relation's. Swept once it is gone.
		 */
		for (size_t j = 0; j < n && !shared; j++)
			shared = j != i && mappings[j].store_id == m->store_id;
		if (shared)
			continue;
		PLINTH_CHECK(plinth_swift_relation_forget(m->relfilenode, GetCurrentCommandId(true),
												  (uint32) GetCurrentSubTransactionId()));
		swept++;
	}
	hash_destroy(in_use);
	pfree(mappings);
	return swept;
}
