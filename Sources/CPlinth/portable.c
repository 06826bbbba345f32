/*
 * portable.c — values that name catalog rows by OID, the same on every
 * server.
 *
 * An enum value is its label's pg_enum OID; an array names its element
 * type, a composite value its row type, a range or multirange its own
 * type, by pg_type OID. Each server's replay of the schema log gives the
 * objects it creates its own OIDs, so such a value written on one server
 * would name another object, or none, on the next (pg_upgrade keeps these
 * OIDs for the same reason). So the store holds portable ids in their
 * place: for each pg_type and pg_enum row a logged DDL statement creates,
 * the first server takes an id from the store's allocator (types, then
 * enum labels, each in OID order: the same statement on the same catalog
 * creates them in the same order everywhere), the schema log entry carries
 * the ids, and every server records which of its rows each one is
 * (plinth.portable_oids, committed with the rows). A portable id is
 * 0x80000000 | store id. OIDs below that are of types made before Plinth
 * 0.4 (or by initdb) and are stored as they are, as before.
 *
 * Rows are translated as they go to the store (plinth_form_tuple, index
 * entries) and as they come back (plinth_row_to_slot, index-only scans,
 * rows read for index maintenance and error reports). Tables whose columns
 * are all of built-in types (OIDs below FirstNormalObjectId) cost one
 * comparison per column.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/tupmacs.h"
#include "access/table.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/catcache.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/multirangetypes.h"
#include "utils/rangetypes.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "boundary.h"
#include "portable.h"
#include "plinth_bridge.h"

#define PORTABLE_BIT 0x80000000u

/* How values of a type name catalog rows. */
typedef enum PortableKind
{
	KIND_NONE = 0,				/* they do not */
	KIND_ENUM,					/* the value is a pg_enum OID */
	KIND_ARRAY,					/* the header names the element type */
	KIND_COMPOSITE,				/* the header names the row type */
	KIND_RANGE,					/* the header names the range type */
	KIND_MULTIRANGE				/* the header names the multirange type */
} PortableKind;

typedef struct KindEntry
{
	Oid			typid;			/* hash key */
	PortableKind kind;			/* of the type, a domain's base type's */
} KindEntry;

typedef struct LocalKey
{
	Oid			catalog;		/* TypeRelationId or EnumRelationId */
	Oid			local;
} LocalKey;

typedef struct ToStoreEntry
{
	LocalKey	key;
	uint32		portable;
} ToStoreEntry;

typedef struct ToLocalEntry
{
	uint32		portable;		/* hash key */
	LocalKey	local;
} ToLocalEntry;

/* The caches, in portable_cxt: emptied when pg_type or pg_enum change. */
static MemoryContext portable_cxt = NULL;
static HTAB *kinds = NULL;
static HTAB *to_store = NULL;
static HTAB *to_local = NULL;
static bool map_loaded = false;

static void
reset_caches(void)
{
	kinds = NULL;
	to_store = NULL;
	to_local = NULL;
	map_loaded = false;
	if (portable_cxt != NULL)
		MemoryContextReset(portable_cxt);
}

/*
 * Any change of pg_type or pg_enum, committed anywhere or rolled back here
 * (Postgres replays an aborted (sub)transaction's catalog invalidations in
 * its own backend): ids are only recorded with such a change, so a
 * rolled-back recording leaves no stale id in the cache either.
 */
static void
catalog_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	reset_caches();
}

void
plinth_portable_init(void)
{
	CacheRegisterSyscacheCallback(TYPEOID, catalog_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(ENUMOID, catalog_changed, (Datum) 0);
}

static HTAB *
new_hash(const char *name, Size keysize, Size entrysize)
{
	HASHCTL		ctl;

	if (portable_cxt == NULL)
		portable_cxt = AllocSetContextCreate(CacheMemoryContext, "plinth portable ids", ALLOCSET_SMALL_SIZES);
	ctl.keysize = keysize;
	ctl.entrysize = entrysize;
	ctl.hcxt = portable_cxt;
	return hash_create(name, 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* plinth.portable_oids, or InvalidOid (no extension, or one older than 0.4). */
static Oid
map_table(void)
{
	Oid			nsp = get_namespace_oid("plinth", true);

	return OidIsValid(nsp) ? get_relname_relid("portable_oids", nsp) : InvalidOid;
}

/*
 * Loads this server's map. The rows are read first and the hashes built
 * after, with no catalog access between: an invalidation arriving while
 * the table is read (its lock is taken then) empties the caches before
 * they are built, not after.
 */
static void
load_map(void)
{
	Oid			relid;
	int			n = 0;
	int			cap = 64;
	int64	   *portable;
	Oid		   *catalog;
	Oid		   *local;

	if (map_loaded)
		return;
	relid = map_table();
	portable = palloc(cap * sizeof(int64));
	catalog = palloc(cap * sizeof(Oid));
	local = palloc(cap * sizeof(Oid));
	if (OidIsValid(relid))
	{
		Relation	rel = table_open(relid, AccessShareLock);
		SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
		HeapTuple	tup;

		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			bool		null1,
						null2,
						null3;

			if (n == cap)
			{
				cap *= 2;
				portable = repalloc(portable, cap * sizeof(int64));
				catalog = repalloc(catalog, cap * sizeof(Oid));
				local = repalloc(local, cap * sizeof(Oid));
			}
			portable[n] = DatumGetInt64(heap_getattr(tup, 1, RelationGetDescr(rel), &null1));
			catalog[n] = DatumGetObjectId(heap_getattr(tup, 2, RelationGetDescr(rel), &null2));
			local[n] = DatumGetObjectId(heap_getattr(tup, 3, RelationGetDescr(rel), &null3));
			if (!null1 && !null2 && !null3 && portable[n] > 0 && portable[n] < PORTABLE_BIT)
				n++;
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	to_store = new_hash("plinth portable ids by OID", sizeof(LocalKey), sizeof(ToStoreEntry));
	to_local = new_hash("plinth OIDs by portable id", sizeof(uint32), sizeof(ToLocalEntry));
	for (int i = 0; i < n; i++)
	{
		LocalKey	key = {catalog[i], local[i]};
		uint32		id = PORTABLE_BIT | (uint32) portable[i];
		ToStoreEntry *s = hash_search(to_store, &key, HASH_ENTER, NULL);
		ToLocalEntry *l = hash_search(to_local, &id, HASH_ENTER, NULL);

		s->portable = id;
		l->local = key;
	}
	map_loaded = true;
	pfree(portable);
	pfree(catalog);
	pfree(local);
}

/* The id a row of `catalog` goes to the store with: its portable id, or its OID. */
static uint32
oid_to_store(Oid catalog, Oid oid)
{
	LocalKey	key = {catalog, oid};
	ToStoreEntry *e;

	if (oid < FirstNormalObjectId)
		return oid;
	load_map();
	e = hash_search(to_store, &key, HASH_FIND, NULL);
	if (e != NULL)
		return e->portable;
	if (oid & PORTABLE_BIT)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("a value of a type made before Plinth 0.4 with OID %u cannot be stored", oid),
				 errdetail("OIDs from 2^31 on name portable ids in the store.")));
	return oid;
}

/* This server's OID of a row of `catalog` as the store names it. */
static Oid
oid_to_local(Oid catalog, uint32 stored)
{
	ToLocalEntry *e;

	if (!(stored & PORTABLE_BIT))
		return stored;
	load_map();
	e = hash_search(to_local, &stored, HASH_FIND, NULL);
	if (e == NULL || e->local.catalog != catalog)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("a stored value names %s %u, which this server does not know",
						catalog == EnumRelationId ? "enum label" : "type", stored & ~PORTABLE_BIT),
				 errdetail("Types and enum labels are named in the store by the ids the schema log gave them; "
						   "this server has no row of its catalog with that id.")));
	return e->local.local;
}

static PortableKind
type_kind(Oid typid)
{
	KindEntry  *e;
	HeapTuple	tp;
	Form_pg_type t;
	PortableKind kind = KIND_NONE;
	Oid			base = InvalidOid;

	if (typid < FirstNormalObjectId)
		return KIND_NONE;
	if (kinds != NULL && (e = hash_search(kinds, &typid, HASH_FIND, NULL)) != NULL)
		return e->kind;
	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for type %u", typid);
	t = (Form_pg_type) GETSTRUCT(tp);
	switch (t->typtype)
	{
		case TYPTYPE_DOMAIN:
			base = t->typbasetype;
			break;
		case TYPTYPE_ENUM:
			kind = KIND_ENUM;
			break;
		case TYPTYPE_COMPOSITE:
			kind = KIND_COMPOSITE;
			break;
		case TYPTYPE_RANGE:
			kind = KIND_RANGE;
			break;
		case TYPTYPE_MULTIRANGE:
			kind = KIND_MULTIRANGE;
			break;
		default:
			kind = IsTrueArrayType(t) ? KIND_ARRAY : KIND_NONE;
			break;
	}
	ReleaseSysCache(tp);
	if (OidIsValid(base))
		kind = type_kind(base);
	/* Entered last: the lookups above may have emptied the caches. */
	if (kinds == NULL)
		kinds = new_hash("plinth portable type kinds", sizeof(Oid), sizeof(KindEntry));
	e = hash_search(kinds, &typid, HASH_ENTER, NULL);
	e->kind = kind;
	return kind;
}

static Datum portable_datum(Datum d, Oid typid, bool to_store);

/* This server's OID of the type a value's header names (the store's header, or this server's). */
static Oid
header_type(Oid header, bool to_store)
{
	return to_store ? header : oid_to_local(TypeRelationId, header);
}

/* What a translated value's header names its type by: in the store, its portable id. */
static Oid
translated_header(Oid type, bool to_store)
{
	return to_store ? oid_to_store(TypeRelationId, type) : type;
}

static Datum
portable_array(Datum d, bool to_store)
{
	ArrayType  *a = DatumGetArrayTypePCopy(d);
	Oid			elem = header_type(ARR_ELEMTYPE(a), to_store);

	if (type_kind(elem) != KIND_NONE && ARR_NDIM(a) > 0)
	{
		int16		len;
		bool		byval;
		char		align;
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		get_typlenbyvalalign(elem, &len, &byval, &align);
		ARR_ELEMTYPE(a) = elem;
		deconstruct_array(a, elem, len, byval, align, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				elems[i] = portable_datum(elems[i], elem, to_store);
		a = construct_md_array(elems, nulls, ARR_NDIM(a), ARR_DIMS(a), ARR_LBOUND(a), elem, len, byval, align);
	}
	ARR_ELEMTYPE(a) = translated_header(elem, to_store);
	return PointerGetDatum(a);
}

/*
 * A composite value. Its copy in the store names its row type by portable
 * id and carries no descriptor version (Postgres 15.20 on stamps composite
 * values with the version of their type's descriptor, a position in this
 * server's WAL: another server's would not match); read back, it is
 * unversioned, as values made before versions were, or re-formed with this
 * server's version when its attributes needed translating too.
 */
static Datum
portable_record(Datum d, bool to_store)
{
	HeapTupleHeader td = DatumGetHeapTupleHeaderCopy(d);
	Oid			type = header_type(HeapTupleHeaderGetTypeId(td), to_store);
	TupleDesc	desc;

	/* Deforming a composite value checks its header's type: this server's first. */
	HeapTupleHeaderSetTypeId(td, type);
	desc = lookup_rowtype_tupdesc(type, -1);
	if (plinth_portable_desc(desc))
	{
		HeapTupleData tmp;
		Datum	   *values = palloc(desc->natts * sizeof(Datum));
		bool	   *isnull = palloc(desc->natts * sizeof(bool));

		tmp.t_len = HeapTupleHeaderGetDatumLength(td);
		ItemPointerSetInvalid(&tmp.t_self);
		tmp.t_tableOid = InvalidOid;
		tmp.t_data = td;
		heap_deform_tuple(&tmp, desc, values, isnull);
		plinth_portable_values(desc, values, isnull, to_store);
		td = DatumGetHeapTupleHeader(heap_copy_tuple_as_datum(heap_form_tuple(desc, values, isnull), desc));
	}
	ReleaseTupleDesc(desc);
	if (to_store)
	{
		HeapTupleHeaderSetTypeId(td, translated_header(type, to_store));
		HeapTupleHeaderSetTypMod(td, -1);
		ItemPointerSetInvalid(&td->t_ctid);
	}
	return PointerGetDatum(td);
}

/*
 * A range: its header, and its bounds if their values name catalog rows.
 * The bounds are read and written as range_deserialize and range_serialize
 * lay them out (after the header, each aligned, then a flags byte), but
 * without range_serialize's check that lower <= upper: that compares the
 * values, which cannot be done on their stored form.
 */
static Datum
portable_range(Datum d, bool to_store)
{
	RangeType  *r = DatumGetRangeTypePCopy(d);
	Oid			type = header_type(r->rangetypid, to_store);
	TypeCacheEntry *sub = lookup_type_cache(type, TYPECACHE_RANGE_INFO)->rngelemtype;
	char		flags = *((char *) r + VARSIZE(r) - 1);

	if (type_kind(sub->type_id) != KIND_NONE && (RANGE_HAS_LBOUND(flags) || RANGE_HAS_UBOUND(flags)))
	{
		Datum		bounds[2];
		int			n = 0;
		char	   *ptr = (char *) (r + 1);
		Size		size = sizeof(RangeType);
		RangeType  *out;

		for (int i = 0; i < 2; i++)
		{
			if (!(i == 0 ? RANGE_HAS_LBOUND(flags) : RANGE_HAS_UBOUND(flags)))
				continue;
			ptr = (char *) att_align_pointer(ptr, sub->typalign, sub->typlen, ptr);
			bounds[n] = portable_datum(fetch_att(ptr, sub->typbyval, sub->typlen), sub->type_id, to_store);
			ptr = (char *) att_addlength_pointer(ptr, sub->typlen, ptr);
			size = att_align_nominal(size, sub->typalign);
			size = att_addlength_datum(size, sub->typlen, bounds[n]);
			n++;
		}
		/* Zeroed: padding before a value must be zero bytes (att_align_pointer). */
		out = palloc0(size + sizeof(char));
		SET_VARSIZE(out, size + sizeof(char));
		ptr = (char *) (out + 1);
		for (int i = 0; i < n; i++)
		{
			ptr = (char *) att_align_nominal(ptr, sub->typalign);
			if (sub->typbyval)
				store_att_byval(ptr, bounds[i], sub->typlen);
			else
				memcpy(ptr, DatumGetPointer(bounds[i]), sub->typlen == -1 ? VARSIZE_ANY(DatumGetPointer(bounds[i])) : sub->typlen);
			ptr = (char *) att_addlength_datum(ptr, sub->typlen, bounds[i]);
		}
		*((char *) out + size) = flags;
		r = out;
	}
	r->rangetypid = translated_header(type, to_store);
	return RangeTypePGetDatum(r);
}

/*
 * A multirange: its header, and its ranges' bounds if their values name
 * catalog rows. Its ranges are taken apart (multirange_deserialize only
 * slices), translated as ranges, and put together again as
 * multirangetypes.c lays them out: after the header an item per range but
 * the first (every fourth an offset, the others lengths), a flags byte per
 * range, then each range's bounds, aligned. Not make_multirange: it sorts
 * the ranges, comparing values that cannot be compared in their stored
 * form.
 */
static Datum
portable_multirange(Datum d, bool to_store)
{
	MultirangeType *m = DatumGetMultirangeTypePCopy(d);
	Oid			type = header_type(m->multirangetypid, to_store);
	TypeCacheEntry *rangetyp = lookup_type_cache(type, TYPECACHE_MULTIRANGE_INFO)->rngtype;
	char		align = rangetyp->rngelemtype->typalign;
	int32		count;
	RangeType **ranges;
	Size		head;
	Size		size;
	uint32	   *items;
	uint8	   *flags;
	char	   *begin;
	char	   *ptr;
	uint32		previous = 0;

	if (type_kind(rangetyp->rngelemtype->type_id) == KIND_NONE || m->rangeCount == 0)
	{
		m->multirangetypid = translated_header(type, to_store);
		return MultirangeTypePGetDatum(m);
	}
	m->multirangetypid = type;
	multirange_deserialize(rangetyp, m, &count, &ranges);
	head = att_align_nominal(sizeof(MultirangeType) + (count - 1) * sizeof(uint32) + count * sizeof(uint8), align);
	size = head;
	for (int i = 0; i < count; i++)
	{
		ranges[i] = DatumGetRangeTypeP(portable_range(RangeTypePGetDatum(ranges[i]), to_store));
		size += att_align_nominal(VARSIZE(ranges[i]) - sizeof(RangeType) - sizeof(char), align);
	}
	m = palloc0(size);
	SET_VARSIZE(m, size);
	m->multirangetypid = translated_header(type, to_store);
	m->rangeCount = count;
	items = (uint32 *) (m + 1);
	flags = (uint8 *) (items + count - 1);
	begin = ptr = (char *) m + head;
	for (int i = 0; i < count; i++)
	{
		uint32		len = VARSIZE(ranges[i]) - sizeof(RangeType) - sizeof(char);

		if (i > 0)
		{
			uint32		offset = ptr - begin;

			items[i - 1] = i % 4 != 0 ? offset - previous : offset | 0x80000000;
			previous = offset;
		}
		flags[i] = *((uint8 *) ranges[i] + VARSIZE(ranges[i]) - sizeof(char));
		memcpy(ptr, ranges[i] + 1, len);
		ptr += att_align_nominal(len, align);
	}
	return MultirangeTypePGetDatum(m);
}

static Datum
portable_datum(Datum d, Oid typid, bool to_store)
{
	switch (type_kind(typid))
	{
		case KIND_NONE:
			return d;
		case KIND_ENUM:
			return ObjectIdGetDatum(to_store ? oid_to_store(EnumRelationId, DatumGetObjectId(d))
									: oid_to_local(EnumRelationId, DatumGetObjectId(d)));
		case KIND_ARRAY:
			return portable_array(d, to_store);
		case KIND_COMPOSITE:
			return portable_record(d, to_store);
		case KIND_RANGE:
			return portable_range(d, to_store);
		case KIND_MULTIRANGE:
			return portable_multirange(d, to_store);
	}
	return d;
}

bool
plinth_portable_desc(TupleDesc desc)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && type_kind(att->atttypid) != KIND_NONE)
			return true;
	}
	return false;
}

void
plinth_portable_values(TupleDesc desc, Datum *values, bool *isnull, bool to_store)
{
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && !isnull[i])
			values[i] = portable_datum(values[i], att->atttypid, to_store);
	}
}

HeapTuple
plinth_portable_to_local(TupleDesc desc, HeapTuple tuple, MemoryContext cxt)
{
	MemoryContext work;
	MemoryContext old;
	Datum	   *values;
	bool	   *isnull;
	HeapTuple	out;

	if (!plinth_portable_desc(desc))
		return tuple;
	work = AllocSetContextCreate(CurrentMemoryContext, "plinth portable row", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(work);
	values = palloc(desc->natts * sizeof(Datum));
	isnull = palloc(desc->natts * sizeof(bool));
	heap_deform_tuple(tuple, desc, values, isnull);
	plinth_portable_values(desc, values, isnull, false);
	MemoryContextSwitchTo(cxt);
	out = heap_form_tuple(desc, values, isnull);
	out->t_self = tuple->t_self;
	out->t_tableOid = tuple->t_tableOid;
	MemoryContextSwitchTo(old);
	MemoryContextDelete(work);
	return out;
}

/* ------------------------------------------------------------------------
 * Giving new catalog rows their portable ids
 * ------------------------------------------------------------------------
 */

typedef struct NewRows
{
	Oid		   *oids;
	int			n;
	int			cap;
} NewRows;

static void
add_row(NewRows *rows, Oid oid)
{
	if (rows->n == rows->cap)
	{
		rows->cap = rows->cap == 0 ? 16 : rows->cap * 2;
		rows->oids = rows->oids == NULL ? palloc(rows->cap * sizeof(Oid))
			: repalloc(rows->oids, rows->cap * sizeof(Oid));
	}
	rows->oids[rows->n++] = oid;
}

static Oid
type_namespace(Oid typid)
{
	HeapTuple	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	Oid			nsp;

	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for type %u", typid);
	nsp = ((Form_pg_type) GETSTRUCT(tp))->typnamespace;
	ReleaseSysCache(tp);
	return nsp;
}

/*
 * The rows of `catalog` this transaction inserted (or updated) that have
 * no portable id yet, outside temporary schemas, in OID order.
 */
static void
new_rows(Oid catalog, NewRows *rows)
{
	Relation	rel = table_open(catalog, AccessShareLock);
	SysScanDesc scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	HeapTuple	tup;

	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Oid			oid;
		Oid			nsp;

		if (!TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(tup->t_data)))
			continue;
		if (catalog == TypeRelationId)
		{
			oid = ((Form_pg_type) GETSTRUCT(tup))->oid;
			nsp = ((Form_pg_type) GETSTRUCT(tup))->typnamespace;
		}
		else
		{
			oid = ((Form_pg_enum) GETSTRUCT(tup))->oid;
			nsp = type_namespace(((Form_pg_enum) GETSTRUCT(tup))->enumtypid);
		}
		if (!isAnyTempNamespace(nsp))
			add_row(rows, oid);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	/* After the scan: loading the map reads a table. */
	if (rows->n > 0)
		load_map();
	{
		int			kept = 0;

		for (int i = 0; i < rows->n; i++)
		{
			LocalKey	key = {catalog, rows->oids[i]};

			if (hash_search(to_store, &key, HASH_FIND, NULL) == NULL)
				rows->oids[kept++] = rows->oids[i];
		}
		rows->n = kept;
	}
	if (rows->n > 1)
		qsort(rows->oids, rows->n, sizeof(Oid), oid_cmp);
}

void
plinth_portable_map_new_rows(void)
{
	NewRows		types = {0};
	NewRows		labels = {0};
	int			n;
	int64	   *ids;
	bool		mapped;
	Datum	   *portable;
	Datum	   *catalogs;
	Datum	   *locals;
	Oid			argtypes[3] = {INT8ARRAYOID, OIDARRAYOID, OIDARRAYOID};
	Datum		args[3];
	Oid			save_userid;
	int			save_sec;

	if (!OidIsValid(map_table()))
		return;
	new_rows(TypeRelationId, &types);
	new_rows(EnumRelationId, &labels);
	n = types.n + labels.n;
	ids = palloc((n + 1) * sizeof(int64));
	PLINTH_CHECK(plinth_swift_portable_ids(n, ids, &mapped));
	if (!mapped || n == 0)
		return;
	portable = palloc(n * sizeof(Datum));
	catalogs = palloc(n * sizeof(Datum));
	locals = palloc(n * sizeof(Datum));
	for (int i = 0; i < n; i++)
	{
		bool		type = i < types.n;

		portable[i] = Int64GetDatum(ids[i]);
		catalogs[i] = ObjectIdGetDatum(type ? TypeRelationId : EnumRelationId);
		locals[i] = ObjectIdGetDatum(type ? types.oids[i] : labels.oids[i - types.n]);
	}
	args[0] = PointerGetDatum(construct_array(portable, n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	args[1] = PointerGetDatum(construct_array(catalogs, n, OIDOID, 4, true, TYPALIGN_INT));
	args[2] = PointerGetDatum(construct_array(locals, n, OIDOID, 4, true, TYPALIGN_INT));
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	SPI_connect();
	if (SPI_execute_with_args("INSERT INTO plinth.portable_oids (portable, catalog, local) "
							  "SELECT * FROM unnest($1, $2, $3) "
							  "ON CONFLICT (catalog, local) DO UPDATE SET portable = excluded.portable",
							  3, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "plinth: could not record portable type ids");
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	reset_caches();
}
