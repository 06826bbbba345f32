/*
 * keys.c — Postgres values as index key elements.
 *
 * An index key must sort in the store exactly as the column's btree
 * operator family sorts it. For each operator family Plinth supports, this
 * file turns a datum into primitive elements (integers, doubles, byte
 * strings, decimals, nested groups); Swift turns those into order-preserving
 * bytes (Sources/PlinthEncoding/IndexKey.swift). What the family's
 * comparison depends on — the collation's sort key for text, the sort order
 * of an enum's labels, the masked network of an inet — is computed here.
 *
 * A family without an encoding here cannot be indexed: CREATE INDEX says so
 * instead of giving wrong answers later.
 */
#include "postgres.h"

#include <math.h>
#include <sys/socket.h>

#include "catalog/pg_am.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_opfamily.h"
#include "catalog/pg_range.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "datatype/timestamp.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/inet.h"
#include "utils/lsyscache.h"
#include "utils/pg_locale.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"
#include "utils/uuid.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/multirangetypes.h"
#include "utils/rangetypes.h"
#include "utils/varbit.h"
#include "tsearch/ts_type.h"
#include "tsearch/ts_utils.h"
#include "miscadmin.h"

#ifdef USE_ICU
#include <unicode/ucol.h>
#include <unicode/uiter.h>
#endif

#include "keys.h"

/* ---- the element buffer --------------------------------------------- */

void
plinth_keybuf_init(PlinthKeyBuf *b)
{
	b->n = 0;
	b->cap = 16;
	b->elems = palloc(sizeof(PlinthKeyElement) * b->cap);
}

static PlinthKeyElement *
add(PlinthKeyBuf *b, PlinthKeyKind kind)
{
	PlinthKeyElement *e;

	if (b->n == b->cap)
	{
		b->cap *= 2;
		b->elems = repalloc(b->elems, sizeof(PlinthKeyElement) * b->cap);
	}
	e = &b->elems[b->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	return e;
}

static void
add_int(PlinthKeyBuf *b, int64 v)
{
	add(b, PLINTH_KEY_INT)->i = v;
}

static void
add_uint(PlinthKeyBuf *b, uint64 v)
{
	add(b, PLINTH_KEY_UINT)->i = (int64) v;
}

static void
add_double(PlinthKeyBuf *b, double d)
{
	/* Postgres: -0 = 0, and every NaN is one value, above +Infinity. */
	if (isnan(d))
		d = NAN;
	else if (d == 0)
		d = 0;
	add(b, PLINTH_KEY_DOUBLE)->d = d;
}

/* Bytes are referenced, not copied: they must live until the call to Swift. */
static void
add_bytes(PlinthKeyBuf *b, const void *p, size_t len)
{
	PlinthKeyElement *e = add(b, PLINTH_KEY_BYTES);

	e->ptr = p;
	e->len = len;
}

static void
add_decimal(PlinthKeyBuf *b, const char *text)
{
	PlinthKeyElement *e = add(b, PLINTH_KEY_DECIMAL);

	e->ptr = text;
	e->len = strlen(text);
}

static void
begin_nested(PlinthKeyBuf *b)
{
	add(b, PLINTH_KEY_BEGIN_NESTED);
}

static void
end_nested(PlinthKeyBuf *b)
{
	add(b, PLINTH_KEY_END_NESTED);
}

void
plinth_key_add_null(PlinthKeyBuf *b)
{
	add(b, PLINTH_KEY_NULL);
}

/* ---- operator families -------------------------------------------- */

static const struct
{
	const char *name;
	PlinthKeyType type;
}			families[] =
{
	{"integer_ops", PLINTH_KT_INTEGER},
	{"oid_ops", PLINTH_KT_OID},
	{"bool_ops", PLINTH_KT_BOOL},
	{"char_ops", PLINTH_KT_CHAR},
	{"float_ops", PLINTH_KT_FLOAT},
	{"numeric_ops", PLINTH_KT_NUMERIC},
	{"text_ops", PLINTH_KT_TEXT},
	{"text_pattern_ops", PLINTH_KT_TEXT_PATTERN},
	{"bpchar_ops", PLINTH_KT_BPCHAR},
	{"bpchar_pattern_ops", PLINTH_KT_BPCHAR_PATTERN},
	{"bytea_ops", PLINTH_KT_BYTEA},
	{"datetime_ops", PLINTH_KT_DATETIME},
	{"time_ops", PLINTH_KT_TIME},
	{"timetz_ops", PLINTH_KT_TIMETZ},
	{"interval_ops", PLINTH_KT_INTERVAL},
	{"uuid_ops", PLINTH_KT_UUID},
	{"network_ops", PLINTH_KT_NETWORK},
	{"enum_ops", PLINTH_KT_ENUM},
	{"money_ops", PLINTH_KT_MONEY},
	{"macaddr_ops", PLINTH_KT_MACADDR},
	{"macaddr8_ops", PLINTH_KT_MACADDR8},
	{"pg_lsn_ops", PLINTH_KT_LSN},
	{"tid_ops", PLINTH_KT_TID},
	{"xid8_ops", PLINTH_KT_XID8},
	{"array_ops", PLINTH_KT_ARRAY},
	{"record_ops", PLINTH_KT_RECORD},
	{"bit_ops", PLINTH_KT_BIT},
	{"varbit_ops", PLINTH_KT_BIT},
	{"oidvector_ops", PLINTH_KT_OIDVECTOR},
	{"jsonb_ops", PLINTH_KT_JSONB},
	{"range_ops", PLINTH_KT_RANGE},
	{"multirange_ops", PLINTH_KT_MULTIRANGE},
	{"tsquery_ops", PLINTH_KT_TSQUERY},
	{"tsvector_ops", PLINTH_KT_TSVECTOR},
};

/* Families of extensions Plinth knows, in whatever schema they live. */
static const struct
{
	const char *name;
	PlinthKeyType type;
}			extension_families[] =
{
	{"citext_ops", PLINTH_KT_CITEXT},
	{"citext_pattern_ops", PLINTH_KT_CITEXT_PATTERN},
};

/* The encoding of a btree operator family, or PLINTH_KT_NONE. */
PlinthKeyType
plinth_key_type_for_opfamily(Oid opfamily)
{
	HeapTuple	tp = SearchSysCache1(OPFAMILYOID, ObjectIdGetDatum(opfamily));
	Form_pg_opfamily f;
	PlinthKeyType result = PLINTH_KT_NONE;

	if (!HeapTupleIsValid(tp))
		return PLINTH_KT_NONE;
	f = (Form_pg_opfamily) GETSTRUCT(tp);
	if (f->opfnamespace == PG_CATALOG_NAMESPACE)
	{
		for (int i = 0; i < lengthof(families); i++)
			if (strcmp(NameStr(f->opfname), families[i].name) == 0)
				result = families[i].type;
	}
	else
	{
		for (int i = 0; i < lengthof(extension_families); i++)
			if (strcmp(NameStr(f->opfname), extension_families[i].name) == 0)
				result = extension_families[i].type;
	}
	ReleaseSysCache(tp);
	return result;
}

/* An operator family's name, for messages. */
char *
plinth_opfamily_name(Oid opfamily)
{
	HeapTuple	tp = SearchSysCache1(OPFAMILYOID, ObjectIdGetDatum(opfamily));
	char	   *name;

	if (!HeapTupleIsValid(tp))
		return psprintf("%u", opfamily);
	name = pstrdup(NameStr(((Form_pg_opfamily) GETSTRUCT(tp))->opfname));
	ReleaseSysCache(tp);
	return name;
}

/* The family of a type's default btree operator class, for elements of arrays and records. */
static PlinthKeyType
key_type_for_type(Oid type, Oid *family)
{
	Oid			opclass = GetDefaultOpClass(type, BTREE_AM_OID);

	if (!OidIsValid(opclass))
		return PLINTH_KT_NONE;
	*family = get_opclass_family(opclass);
	return plinth_key_type_for_opfamily(*family);
}

/* ---- strings under a collation -------------------------------------- */

/*
 * A string's key under a collation: for "C" its bytes; otherwise the
 * collation's sort key (ICU ucol sort key, or libc strxfrm), followed for a
 * deterministic collation by the bytes, which break ties as Postgres does
 * (varstr_cmp falls back to strcmp). Nondeterministic collations compare
 * equal what their sort keys make equal.
 */
static void
add_string(PlinthKeyBuf *b, const char *s, int len, Oid collation)
{
	pg_locale_t locale = 0;
	char	   *key;
	size_t		keylen;

	if (!OidIsValid(collation))
		ereport(ERROR,
				(errcode(ERRCODE_INDETERMINATE_COLLATION),
				 errmsg("could not determine which collation to use for an index key"),
				 errhint("Use the COLLATE clause to set the collation explicitly.")));
	if (lc_collate_is_c(collation))
	{
		add_bytes(b, s, len);
		return;
	}
	if (collation != DEFAULT_COLLATION_OID)
		locale = pg_newlocale_from_collation(collation);
	else if (default_locale.provider == COLLPROVIDER_ICU)
		locale = &default_locale;

#ifdef USE_ICU
	if (locale && locale->provider == COLLPROVIDER_ICU)
	{
		UCharIterator iter;
		uint32_t	state[2] = {0, 0};
		UErrorCode	status = U_ZERO_ERROR;
		size_t		cap = len * 3 + 16;
		int32_t		got;

		key = palloc(cap);
		keylen = 0;
		uiter_setUTF8(&iter, s, len);
		for (;;)
		{
			got = ucol_nextSortKeyPart(locale->info.icu.ucol, &iter, state,
									   (uint8_t *) key + keylen, (int32_t) (cap - keylen), &status);
			if (U_FAILURE(status))
				ereport(ERROR, (errmsg("sort key generation failed: %s", u_errorName(status))));
			keylen += got;
			if (keylen < cap)
				break;
			cap *= 2;
			key = repalloc(key, cap);
		}
	}
	else
#endif
	{
		char	   *nul = pnstrdup(s, len);
		size_t		cap = len * 4 + 16;

		key = palloc(cap);
		for (;;)
		{
#ifdef HAVE_LOCALE_T
			if (locale)
				keylen = strxfrm_l(key, nul, cap, locale->info.lt);
			else
#endif
				keylen = strxfrm(key, nul, cap);
			if (keylen < cap)
				break;
			cap = keylen + 1;
			key = repalloc(key, cap);
		}
	}
	if (locale && !locale->deterministic)
	{
		add_bytes(b, key, keylen);
		return;
	}
	begin_nested(b);
	add_bytes(b, key, keylen);
	add_bytes(b, s, len);
	end_nested(b);
}

/* bpchar compares without its trailing spaces. */
static int
bpchar_true_length(const char *s, int len)
{
	while (len > 0 && s[len - 1] == ' ')
		len--;
	return len;
}

/* ---- dates and times ---------------------------------------------- */

/*
 * date, timestamp and timestamptz share one domain, as their cross-type
 * operators compare them: (day, microsecond of the day), infinities first
 * and last.
 */
static void
add_datetime_usec(PlinthKeyBuf *b, int64 usec)
{
	begin_nested(b);
	if (usec == DT_NOBEGIN)
	{
		add_int(b, PG_INT64_MIN);
		add_int(b, 0);
	}
	else if (usec == DT_NOEND)
	{
		add_int(b, PG_INT64_MAX);
		add_int(b, 0);
	}
	else
	{
		int64		day = usec / USECS_PER_DAY;
		int64		rem = usec % USECS_PER_DAY;

		if (rem < 0)
		{
			rem += USECS_PER_DAY;
			day -= 1;
		}
		add_int(b, day);
		add_int(b, rem);
	}
	end_nested(b);
}

static void
add_date(PlinthKeyBuf *b, DateADT d)
{
	begin_nested(b);
	if (DATE_IS_NOBEGIN(d))
		add_int(b, PG_INT64_MIN);
	else if (DATE_IS_NOEND(d))
		add_int(b, PG_INT64_MAX);
	else
		add_int(b, d);
	add_int(b, 0);
	end_nested(b);
}

/* ---- the encoders --------------------------------------------------- */

static void add_value(PlinthKeyBuf *b, PlinthKeyType kt, Datum d, Oid type, Oid collation);

static void
add_array(PlinthKeyBuf *b, Datum d, Oid collation)
{
	ArrayType  *a = DatumGetArrayTypeP(d);
	Oid			elemtype = ARR_ELEMTYPE(a);
	Oid			family;
	PlinthKeyType kt = key_type_for_type(elemtype, &family);
	int16		typlen;
	bool		typbyval;
	char		typalign;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			ndims = ARR_NDIM(a);

	if (kt == PLINTH_KT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("Plinth indexes do not support arrays of type %s", format_type_be(elemtype))));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
	/* As array_cmp: elements (a NULL after every value), then shape. */
	begin_nested(b);
	begin_nested(b);
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			add_int(b, 2);
		else
		{
			add_int(b, 1);
			add_value(b, kt, elems[i], elemtype, collation);
		}
	}
	end_nested(b);
	add_int(b, ndims);
	begin_nested(b);
	for (int i = 0; i < ndims; i++)
		add_int(b, ARR_DIMS(a)[i]);
	end_nested(b);
	begin_nested(b);
	for (int i = 0; i < ndims; i++)
		add_int(b, ARR_LBOUND(a)[i]);
	end_nested(b);
	end_nested(b);
}

static void
add_record(PlinthKeyBuf *b, Datum d)
{
	HeapTupleHeader rec = DatumGetHeapTupleHeader(d);
	Oid			type = HeapTupleHeaderGetTypeId(rec);
	int32		typmod = HeapTupleHeaderGetTypMod(rec);
	TupleDesc	desc = lookup_rowtype_tupdesc(type, typmod);
	HeapTupleData tuple;
	Datum	   *values = palloc(desc->natts * sizeof(Datum));
	bool	   *isnull = palloc(desc->natts * sizeof(bool));

	tuple.t_len = HeapTupleHeaderGetDatumLength(rec);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = rec;
	heap_deform_tuple(&tuple, desc, values, isnull);
	/* As record_cmp: column by column, NULL after every value. */
	begin_nested(b);
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		Oid			family;
		PlinthKeyType kt;

		if (att->attisdropped)
			continue;
		if (isnull[i])
		{
			add_int(b, 2);
			continue;
		}
		kt = key_type_for_type(att->atttypid, &family);
		if (kt == PLINTH_KT_NONE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("Plinth indexes do not support records with a column of type %s",
							format_type_be(att->atttypid))));
		add_int(b, 1);
		add_value(b, kt, values[i], att->atttypid, att->attcollation);
	}
	end_nested(b);
	ReleaseTupleDesc(desc);
}

/*
 * jsonb as compareJsonbContainers walks two values: token by token in
 * iteration order (object keys in their stored order), each a group —
 * the value's type first (jbvNull < jbvString < jbvNumeric < jbvBool <
 * jbvArray < jbvObject), then for an array its length and whether it is a
 * raw scalar's pseudo-array (sorting first), for an object its pair count,
 * for a scalar its value (strings under the database's collation). End
 * tokens carry nothing: lengths already decided.
 */
static void
add_jsonb(PlinthKeyBuf *b, Datum d)
{
	Jsonb	   *j = DatumGetJsonbP(d);
	JsonbIterator *it = JsonbIteratorInit(&j->root);
	JsonbValue	v;
	JsonbIteratorToken t;

	begin_nested(b);
	while ((t = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (t == WJB_END_ARRAY || t == WJB_END_OBJECT)
			continue;
		begin_nested(b);
		add_int(b, v.type);
		switch (v.type)
		{
			case jbvArray:
				add_int(b, v.val.array.nElems);
				add_int(b, v.val.array.rawScalar ? 0 : 1);
				break;
			case jbvObject:
				add_int(b, v.val.object.nPairs);
				break;
			case jbvString:
				add_string(b, v.val.string.val, v.val.string.len, DEFAULT_COLLATION_OID);
				break;
			case jbvNumeric:
				add_decimal(b, DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v.val.numeric))));
				break;
			case jbvBool:
				add_int(b, v.val.boolean ? 1 : 0);
				break;
			case jbvNull:
				break;
			default:
				elog(ERROR, "plinth: unexpected jsonb value type %d", (int) v.type);
		}
		end_nested(b);
	}
	end_nested(b);
}

/*
 * A range bound as range_cmp_bounds orders them: an infinite lower bound
 * first and an infinite upper bound last; at equal values, an inclusive
 * lower bound before an exclusive one, an exclusive upper bound before an
 * inclusive one.
 */
static void
add_range_bound(PlinthKeyBuf *b, TypeCacheEntry *rng, PlinthKeyType kt, RangeBound *bound)
{
	if (bound->infinite)
	{
		add_int(b, bound->lower ? 0 : 2);
		return;
	}
	add_int(b, 1);
	add_value(b, kt, bound->val, rng->rngelemtype->type_id, rng->rng_collation);
	add_int(b, bound->lower ? (bound->inclusive ? 0 : 1) : (bound->inclusive ? 1 : 0));
}

/* The encoding of a range type's bounds: its subtype's operator class's. */
static PlinthKeyType
range_bound_key_type(TypeCacheEntry *rng)
{
	HeapTuple	tp = SearchSysCache1(RANGETYPE, ObjectIdGetDatum(rng->type_id));
	PlinthKeyType kt = PLINTH_KT_NONE;

	if (HeapTupleIsValid(tp))
	{
		/* The subtype operator class the range type orders its bounds by. */
		kt = plinth_key_type_for_opfamily(get_opclass_family(((Form_pg_range) GETSTRUCT(tp))->rngsubopc));
		ReleaseSysCache(tp);
	}
	if (kt == PLINTH_KT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("Plinth indexes do not support ranges of type %s",
						format_type_be(rng->rngelemtype->type_id))));
	return kt;
}

/* As range_cmp: empty ranges first, then the lower bound, then the upper. */
static void
add_range(PlinthKeyBuf *b, Datum d)
{
	RangeType  *r = DatumGetRangeTypeP(d);
	TypeCacheEntry *rng = lookup_type_cache(RangeTypeGetOid(r), TYPECACHE_RANGE_INFO);
	RangeBound	lower,
				upper;
	bool		empty;

	range_deserialize(rng, r, &lower, &upper, &empty);
	begin_nested(b);
	if (empty)
		add_int(b, 0);
	else
	{
		PlinthKeyType kt = range_bound_key_type(rng);

		add_int(b, 1);
		add_range_bound(b, rng, kt, &lower);
		add_range_bound(b, rng, kt, &upper);
	}
	end_nested(b);
}

/* As multirange_cmp: range by range, a shorter multirange first. */
static void
add_multirange(PlinthKeyBuf *b, Datum d)
{
	MultirangeType *mr = DatumGetMultirangeTypeP(d);
	TypeCacheEntry *mrt = lookup_type_cache(MultirangeTypeGetOid(mr), TYPECACHE_MULTIRANGE_INFO);
	TypeCacheEntry *rng = mrt->rngtype;
	PlinthKeyType kt = range_bound_key_type(rng);

	begin_nested(b);
	for (int32 i = 0; i < mr->rangeCount; i++)
	{
		RangeBound	lower,
					upper;

		multirange_get_bounds(rng, mr, i, &lower, &upper);
		begin_nested(b);
		add_range_bound(b, rng, kt, &lower);
		add_range_bound(b, rng, kt, &upper);
		end_nested(b);
	}
	end_nested(b);
}

/*
 * A tsquery node as QTNodeCompare orders them: item type (descending), then
 * for an operator its code and arity (descending), its operands, and a
 * phrase's distance (descending); for an operand its CRC (descending) and
 * its word's bytes.
 */
static void
add_tsquery_node(PlinthKeyBuf *b, QTNode *n)
{
	check_stack_depth();
	begin_nested(b);
	add_int(b, -(int64) n->valnode->type);
	if (n->valnode->type == QI_OPR)
	{
		QueryOperator *o = &n->valnode->qoperator;

		add_int(b, -(int64) o->oper);
		add_int(b, -(int64) n->nchild);
		for (int i = 0; i < n->nchild; i++)
			add_tsquery_node(b, n->child[i]);
		if (o->oper == OP_PHRASE)
			add_int(b, -(int64) o->distance);
	}
	else
	{
		QueryOperand *o = &n->valnode->qoperand;

		add_int(b, -(int64) o->valcrc);
		add_bytes(b, n->word, o->length);
	}
	end_nested(b);
}

/* As CompareTSQ: item count, then size, then the trees. */
static void
add_tsquery(PlinthKeyBuf *b, Datum d)
{
	TSQuery		q = DatumGetTSQuery(d);

	begin_nested(b);
	add_int(b, q->size);
	add_int(b, VARSIZE(q));
	if (q->size > 0)
	{
		QTNode	   *tree = QT2QTN(GETQUERY(q), GETOPERAND(q));

		add_tsquery_node(b, tree);
		QTNFree(tree);
	}
	end_nested(b);
}

/*
 * A tsvector as tsvector_cmp orders them: its size, then its lexeme count,
 * then lexeme by lexeme: whether it has positions (those with first), its
 * bytes, and its positions: their count (more first), then each position
 * and its weight (both descending).
 */
static void
add_tsvector(PlinthKeyBuf *b, Datum d)
{
	TSVector	v = DatumGetTSVector(d);
	WordEntry  *e = ARRPTR(v);

	begin_nested(b);
	add_int(b, VARSIZE(v));
	add_int(b, v->size);
	for (int i = 0; i < v->size; i++, e++)
	{
		add_int(b, -(int64) e->haspos);
		add_bytes(b, STRPTR(v) + e->pos, e->len);
		if (e->haspos)
		{
			WordEntryPos *p = POSDATAPTR(v, e);
			int			n = POSDATALEN(v, e);

			add_int(b, -(int64) n);
			for (int j = 0; j < n; j++, p++)
			{
				add_int(b, -(int64) WEP_GETPOS(*p));
				add_int(b, -(int64) WEP_GETWEIGHT(*p));
			}
		}
	}
	end_nested(b);
}

/*
 * citext compares its values lowercased (by the database's rules) under
 * the column's collation; citext_pattern_ops compares the lowercased bytes.
 */
static void
add_citext(PlinthKeyBuf *b, Datum d, Oid collation, bool pattern)
{
	text	   *t = DatumGetTextPP(d);
	char	   *lower = str_tolower(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), DEFAULT_COLLATION_OID);

	if (pattern)
		add_bytes(b, lower, strlen(lower));
	else
		add_string(b, lower, strlen(lower), collation);
}

static void
add_value(PlinthKeyBuf *b, PlinthKeyType kt, Datum d, Oid type, Oid collation)
{
	switch (kt)
	{
		case PLINTH_KT_INTEGER:
			if (type == INT2OID)
				add_int(b, DatumGetInt16(d));
			else if (type == INT4OID)
				add_int(b, DatumGetInt32(d));
			else
				add_int(b, DatumGetInt64(d));
			break;
		case PLINTH_KT_OID:
			add_int(b, DatumGetObjectId(d));
			break;
		case PLINTH_KT_BOOL:
			add_int(b, DatumGetBool(d) ? 1 : 0);
			break;
		case PLINTH_KT_CHAR:
			add_int(b, (uint8) DatumGetChar(d));
			break;
		case PLINTH_KT_FLOAT:
			add_double(b, type == FLOAT4OID ? (double) DatumGetFloat4(d) : DatumGetFloat8(d));
			break;
		case PLINTH_KT_NUMERIC:
			add_decimal(b, DatumGetCString(DirectFunctionCall1(numeric_out, d)));
			break;
		case PLINTH_KT_TEXT:
			if (type == NAMEOID)
			{
				Name		n = DatumGetName(d);

				add_string(b, NameStr(*n), strlen(NameStr(*n)), collation);
			}
			else
			{
				text	   *t = DatumGetTextPP(d);

				add_string(b, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), collation);
			}
			break;
		case PLINTH_KT_TEXT_PATTERN:
			{
				text	   *t = DatumGetTextPP(d);

				add_bytes(b, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
			break;
		case PLINTH_KT_BPCHAR:
			{
				BpChar	   *t = DatumGetBpCharPP(d);

				add_string(b, VARDATA_ANY(t), bpchar_true_length(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)), collation);
			}
			break;
		case PLINTH_KT_BPCHAR_PATTERN:
			{
				BpChar	   *t = DatumGetBpCharPP(d);

				add_bytes(b, VARDATA_ANY(t), bpchar_true_length(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
			}
			break;
		case PLINTH_KT_BYTEA:
			{
				bytea	   *t = DatumGetByteaPP(d);

				add_bytes(b, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
			}
			break;
		case PLINTH_KT_DATETIME:
			if (type == DATEOID)
				add_date(b, DatumGetDateADT(d));
			else
				add_datetime_usec(b, DatumGetInt64(d));
			break;
		case PLINTH_KT_TIME:
			add_int(b, DatumGetTimeADT(d));
			break;
		case PLINTH_KT_TIMETZ:
			{
				TimeTzADT  *t = DatumGetTimeTzADTP(d);

				/* As timetz_cmp: UTC time, then zone. */
				begin_nested(b);
				add_int(b, t->time + (int64) t->zone * USECS_PER_SEC);
				add_int(b, t->zone);
				end_nested(b);
			}
			break;
		case PLINTH_KT_INTERVAL:
			{
				Interval   *iv = DatumGetIntervalP(d);
				int128		span;

				/* As interval_cmp_value: months of 30 days, days of 24 hours. */
				span = (int128) iv->time + ((int128) iv->month * 30 + iv->day) * USECS_PER_DAY;
				begin_nested(b);
				add_int(b, (int64) (span >> 64));
				add_uint(b, (uint64) span);
				end_nested(b);
			}
			break;
		case PLINTH_KT_UUID:
			add_bytes(b, DatumGetUUIDP(d)->data, UUID_LEN);
			break;
		case PLINTH_KT_NETWORK:
			{
				inet	   *ip = DatumGetInetPP(d);
				int			bits = ip_bits(ip);
				int			size = ip_addrsize(ip);
				unsigned char *masked = palloc0(16);

				/*
				 * As network_cmp: family, then the addresses compared over
				 * the shorter netmask, then netmask length, then the whole
				 * address. Comparing the address masked to its own netmask
				 * orders exactly so.
				 */
				memcpy(masked, ip_addr(ip), size);
				for (int i = 0; i < size * 8; i++)
					if (i >= bits)
						masked[i / 8] &= ~(0x80 >> (i % 8));
				begin_nested(b);
				add_int(b, ip_family(ip));
				add_bytes(b, masked, size);
				add_int(b, bits);
				add_bytes(b, ip_addr(ip), size);
				end_nested(b);
			}
			break;
		case PLINTH_KT_ENUM:
			{
				HeapTuple	tp = SearchSysCache1(ENUMOID, d);

				if (!HeapTupleIsValid(tp))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
							 errmsg("invalid internal value for enum: %u", DatumGetObjectId(d))));
				add_double(b, ((Form_pg_enum) GETSTRUCT(tp))->enumsortorder);
				ReleaseSysCache(tp);
			}
			break;
		case PLINTH_KT_MONEY:
			add_int(b, DatumGetInt64(d));
			break;
		case PLINTH_KT_MACADDR:
			add_bytes(b, DatumGetMacaddrP(d), sizeof(macaddr));
			break;
		case PLINTH_KT_MACADDR8:
			add_bytes(b, DatumGetMacaddr8P(d), sizeof(macaddr8));
			break;
		case PLINTH_KT_LSN:
		case PLINTH_KT_XID8:
			add_uint(b, DatumGetUInt64(d));
			break;
		case PLINTH_KT_TID:
			{
				ItemPointer tid = (ItemPointer) DatumGetPointer(d);

				begin_nested(b);
				add_int(b, ItemPointerGetBlockNumberNoCheck(tid));
				add_int(b, ItemPointerGetOffsetNumberNoCheck(tid));
				end_nested(b);
			}
			break;
		case PLINTH_KT_ARRAY:
			add_array(b, d, collation);
			break;
		case PLINTH_KT_RECORD:
			add_record(b, d);
			break;
		case PLINTH_KT_BIT:
			{
				VarBit	   *v = DatumGetVarBitP(d);

				/* As bit_cmp: the bits, then the length. */
				begin_nested(b);
				add_bytes(b, VARBITS(v), VARBITBYTES(v));
				add_int(b, VARBITLEN(v));
				end_nested(b);
			}
			break;
		case PLINTH_KT_OIDVECTOR:
			{
				oidvector  *v = (oidvector *) DatumGetPointer(d);

				/* As btoidvectorcmp: the length first. */
				begin_nested(b);
				add_int(b, v->dim1);
				for (int i = 0; i < v->dim1; i++)
					add_int(b, v->values[i]);
				end_nested(b);
			}
			break;
		case PLINTH_KT_JSONB:
			add_jsonb(b, d);
			break;
		case PLINTH_KT_RANGE:
			add_range(b, d);
			break;
		case PLINTH_KT_MULTIRANGE:
			add_multirange(b, d);
			break;
		case PLINTH_KT_TSQUERY:
			add_tsquery(b, d);
			break;
		case PLINTH_KT_TSVECTOR:
			add_tsvector(b, d);
			break;
		case PLINTH_KT_CITEXT:
		case PLINTH_KT_CITEXT_PATTERN:
			add_citext(b, d, collation, kt == PLINTH_KT_CITEXT_PATTERN);
			break;
		default:
			elog(ERROR, "plinth: no key encoding for type %s", format_type_be(type));
	}
}

void
plinth_key_add_value(PlinthKeyBuf *b, PlinthKeyType kt, Datum d, Oid type, Oid collation)
{
	add_value(b, kt, d, type, collation);
}

/*
 * A scan key's argument in the column's domain. Returns false when the
 * argument's type compares with the column through a conversion that is not
 * exact in the key's domain (timestamp against timestamptz, for one): then
 * the key only filters, and the executor rechecks.
 */
bool
plinth_key_add_argument(PlinthKeyBuf *b, PlinthKeyType kt, Datum d, Oid argtype, Oid coltype, Oid collation)
{
	if (kt == PLINTH_KT_DATETIME && argtype != coltype)
	{
		int			overflow = 0;

		if (coltype == TIMESTAMPTZOID && argtype == DATEOID)
		{
			TimestampTz t = date2timestamptz_opt_overflow(DatumGetDateADT(d), &overflow);

			add_datetime_usec(b, overflow < 0 ? DT_NOBEGIN : overflow > 0 ? DT_NOEND : t);
			return true;
		}
		if (coltype == TIMESTAMPTZOID && argtype == TIMESTAMPOID)
		{
			TimestampTz t = timestamp2timestamptz_opt_overflow(DatumGetTimestamp(d), &overflow);

			add_datetime_usec(b, overflow < 0 ? DT_NOBEGIN : overflow > 0 ? DT_NOEND : t);
			return true;
		}
		if ((coltype == DATEOID && argtype == TIMESTAMPOID) || (coltype == TIMESTAMPOID && argtype == DATEOID))
		{
			add_value(b, kt, d, argtype, collation);
			return true;
		}
		return false;
	}
	add_value(b, kt, d, argtype, collation);
	return true;
}
