/*
 * functions.c — SQL functions of the plinth extension: store work counters
 * and what the store holds for a relation.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_am.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/rel.h"

#include "relation.h"

static Datum
counters_tuple(FunctionCallInfo fcinfo, const PlinthCounters *c)
{
	TupleDesc	desc;
	Datum		values[7];
	bool		nulls[7] = {0};

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "plinth: return type must be a row type");
	values[0] = Int64GetDatum(c->reads);
	values[1] = Int64GetDatum(c->range_reads);
	values[2] = Int64GetDatum(c->round_trips);
	values[3] = Int64GetDatum(c->bytes_read);
	values[4] = Int64GetDatum(c->bytes_written);
	values[5] = Int64GetDatum(c->commits);
	values[6] = Int64GetDatum(c->conflicts);
	return HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls));
}

/* Store work of the last top-level statement of this session. */
PG_FUNCTION_INFO_V1(plinth_stat_statement);
Datum
plinth_stat_statement(PG_FUNCTION_ARGS)
{
	PlinthCounters session,
				statement;

	plinth_swift_counters(&session, &statement);
	PG_RETURN_DATUM(counters_tuple(fcinfo, &statement));
}

/* Store work of this session so far. */
PG_FUNCTION_INFO_V1(plinth_stat_session);
Datum
plinth_stat_session(PG_FUNCTION_ARGS)
{
	PlinthCounters session,
				statement;

	plinth_swift_counters(&session, &statement);
	PG_RETURN_DATUM(counters_tuple(fcinfo, &session));
}

/*
 * What the store holds for a Plinth table or index: its store id (never an
 * OID: several servers may share the store), and for a table its row count
 * and bytes as the store's counters have them.
 */
PG_FUNCTION_INFO_V1(plinth_relation_info);
Datum
plinth_relation_info(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Relation	rel = relation_open(relid, AccessShareLock);
	TupleDesc	desc;
	Datum		values[3];
	bool		nulls[3] = {false, true, true};
	int64		id;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "plinth: return type must be a row type");
	plinth_prepare();
	if (rel->rd_rel->relkind == RELKIND_INDEX && rel->rd_rel->relam == BTREE_AM_OID)
	{
		Relation	heap = RelationIdGetRelation(rel->rd_index->indrelid);
		bool		plinth = plinth_is_table(heap);

		RelationClose(heap);
		if (!plinth)
			ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
							errmsg("\"%s\" is not an index of a Plinth table", RelationGetRelationName(rel))));
		PLINTH_CHECK(plinth_swift_relation_lookup(rel->rd_node.relNode, &id));
	}
	else if (plinth_is_table(rel))
	{
		PlinthRelStats stats;

		id = plinth_store_id(rel);
		PLINTH_CHECK(plinth_swift_relation_stats(id, false, &stats));
		values[1] = Int64GetDatum((int64) stats.rows);
		values[2] = Int64GetDatum((int64) stats.bytes);
		nulls[1] = nulls[2] = false;
	}
	else
		ereport(ERROR, (errcode(ERRCODE_WRONG_OBJECT_TYPE),
						errmsg("\"%s\" is not a Plinth table or index", RelationGetRelationName(rel))));
	values[0] = Int64GetDatum(id);
	relation_close(rel, AccessShareLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(desc), values, nulls)));
}

/*
 * This server takes over its store identity (a moved data directory, or a
 * server replacing the one that used it): see Backend.checkHome.
 */
PG_FUNCTION_INFO_V1(plinth_claim_server_identity);
Datum
plinth_claim_server_identity(PG_FUNCTION_ARGS)
{
	if (!superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("must be superuser to claim the server's Plinth identity")));
	plinth_prepare();
	PLINTH_CHECK(plinth_swift_claim_server_identity());
	PG_RETURN_VOID();
}

/* Store data of relations that no longer exist goes (relation.c). */
PG_FUNCTION_INFO_V1(plinth_sweep_orphans_sql);
Datum
plinth_sweep_orphans_sql(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT32(plinth_sweep_orphans());
}
