/*
 * sequences.c — sequences shared by the servers of a store (docs/design.md,
 * "Sequences").
 *
 * PostgreSQL 15 has no sequence access method, and nextval is a built-in
 * that fmgr calls without looking at pg_proc. So the planner hook rewrites
 * every planned query: nextval, currval, setval, lastval and
 * pg_sequence_last_value become the plinth schema's functions below, and
 * an identity column's NextValueExpr a call of plinth.identity_nextval_*.
 * Those hand out values leased from the store in blocks, each lease a short
 * store transaction of its own (SequenceEntryPoints.swift), kept per
 * backend as Postgres keeps a sequence's cache. Temporary sequences, and
 * sequences without a store id (made before the extension's version 0.3),
 * go on to Postgres's own functions.
 *
 * What the planner does not see uses the server's own sequence: COPY FROM
 * and table rewrites (ALTER TABLE ... ADD COLUMN serial) evaluate column
 * defaults themselves. For COPY FROM the target table's own sequences hand
 * out values from blocks leased as it goes ("COPY FROM's guard" below);
 * for a rewrite they are set from the store first, and the store is moved
 * past what they handed out after (plinth_sequences_before_utility/
 * _after_utility).
 * A query that reads a sequence relation (SELECT last_value FROM s,
 * pg_dump) gets its catalog state set from the store first.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xloginsert.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_class.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/sequence.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/planner.h"
#include "storage/bufmgr.h"
#include "storage/ipc.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "sequences.h"
#include "session.h"

/* The magic number Postgres's sequence.c puts in a sequence page's special space. */
#define PLINTH_SEQ_MAGIC 0x1717

/* The largest block one lease takes (more if the sequence's CACHE says so). */
#define PLINTH_SEQUENCE_MAX_LEASE 1024

/* ---- the plinth schema's functions ---------------------------------- */

typedef struct SequenceFunctions
{
	bool		valid;
	Oid			nextval;
	Oid			currval;
	Oid			setval2;
	Oid			setval3;
	Oid			lastval;
	Oid			last_value;
	Oid			identity2;
	Oid			identity4;
	Oid			identity8;
} SequenceFunctions;

static SequenceFunctions functions;
static planner_hook_type prev_planner_hook = NULL;

static void
forget_functions(Datum arg, int cacheid, uint32 hashvalue)
{
	functions.valid = false;
}

/*
 * The extension's function plinth.name(args), or InvalidOid. Read from the
 * catalog, not resolved as a name: LookupFuncName checks the current user's
 * USAGE on the plinth schema, which an application's role does not have, and
 * this runs around every utility statement of every role.
 */
static Oid
plinth_function(const char *name, int nargs, Oid arg0, Oid arg1, Oid arg2)
{
	Oid			types[3] = {arg0, arg1, arg2};
	Oid			nsp = get_namespace_oid("plinth", true);

	if (!OidIsValid(nsp))
		return InvalidOid;
	return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum(name),
						   PointerGetDatum(buildoidvector(types, nargs)), ObjectIdGetDatum(nsp));
}

/* The plinth schema's sequence functions: InvalidOid where the extension is not at 0.3 here. */
static const SequenceFunctions *
sequence_functions(void)
{
	static bool registered = false;

	if (!registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, forget_functions, (Datum) 0);
		registered = true;
	}
	if (!functions.valid)
	{
		functions.nextval = plinth_function("nextval", 1, REGCLASSOID, 0, 0);
		functions.currval = plinth_function("currval", 1, REGCLASSOID, 0, 0);
		functions.setval2 = plinth_function("setval", 2, REGCLASSOID, INT8OID, 0);
		functions.setval3 = plinth_function("setval", 3, REGCLASSOID, INT8OID, BOOLOID);
		functions.lastval = plinth_function("lastval", 0, 0, 0, 0);
		functions.last_value = plinth_function("sequence_last_value", 1, REGCLASSOID, 0, 0);
		functions.identity2 = plinth_function("identity_nextval_int2", 1, REGCLASSOID, 0, 0);
		functions.identity4 = plinth_function("identity_nextval_int4", 1, REGCLASSOID, 0, 0);
		functions.identity8 = plinth_function("identity_nextval_int8", 1, REGCLASSOID, 0, 0);
		functions.valid = true;
	}
	return &functions;
}

/*
 * Sequences are shared in this database: the extension is at 0.3. Even
 * with plinth.single_server: the store must hold every value handed out
 * if more servers join it later.
 */
static bool
sequences_shared_here(void)
{
	return IsTransactionState() && OidIsValid(sequence_functions()->nextval);
}

/* ---- each backend's leases --------------------------------------------- */

typedef struct SequenceLease
{
	Oid			relid;			/* hash key */
	int64		store_id;		/* 0: the server's own sequence */
	LocalTransactionId lxid;	/* the sequence is locked in this transaction */
	bool		last_valid;		/* currval is defined */
	int64		last;			/* the value last handed out */
	int64		cached;			/* the last value of the lease */
	int64		increment;
	int64		lease_size;		/* the next lease's */
} SequenceLease;

static HTAB *leases = NULL;
static bool registered_exit = false;

static void give_back_at_exit(int code, Datum arg);
static Oid	last_used = InvalidOid; /* lastval's sequence */

static SequenceLease *
sequence_lease(Oid relid)
{
	SequenceLease *e;
	bool		found;

	if (leases == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(SequenceLease);
		leases = hash_create("Plinth sequence leases", 16, &ctl, HASH_ELEM | HASH_BLOBS);
		if (!registered_exit)
			before_shmem_exit(give_back_at_exit, (Datum) 0);
		registered_exit = true;
	}
	e = hash_search(leases, &relid, HASH_ENTER, &found);
	if (!found)
	{
		e->store_id = -1;
		e->lxid = InvalidLocalTransactionId;
		e->last_valid = false;
		e->last = e->cached = 0;
		e->increment = 0;
		e->lease_size = 1;
	}
	if (e->store_id < 0)
	{
		int64		id = 0;

		/* Temporary sequences are the session's own; the store knows the others. */
		if (get_rel_persistence(relid) != RELPERSISTENCE_TEMP && get_rel_relkind(relid) == RELKIND_SEQUENCE)
		{
			plinth_prepare();
			PLINTH_CHECK(plinth_swift_sequence_lookup(relid, &id));
		}
		e->store_id = id;
	}
	return e;
}

/* The sequence, locked as nextval_internal locks it: once per transaction. */
static Relation
open_sequence(SequenceLease *e)
{
	LocalTransactionId lxid = MyProc->lxid;

	if (e->lxid != lxid)
	{
		LockRelationOid(e->relid, RowExclusiveLock);
		e->lxid = lxid;
	}
	return relation_open(e->relid, NoLock);
}

/* ---- the catalog's copy of a sequence (its one-tuple relation) ---------- */

static Form_pg_sequence_data
read_local_tuple(Relation rel, Buffer *buf, HeapTupleData *tuple, int mode)
{
	Page		page;
	ItemId		lp;

	*buf = ReadBuffer(rel, 0);
	LockBuffer(*buf, mode);
	page = BufferGetPage(*buf);
	if (*(uint32 *) PageGetSpecialPointer(page) != PLINTH_SEQ_MAGIC)
		elog(ERROR, "bad magic number in sequence \"%s\"", RelationGetRelationName(rel));
	lp = PageGetItemId(page, FirstOffsetNumber);
	if (!ItemIdIsNormal(lp))
		elog(ERROR, "sequence \"%s\" has no tuple", RelationGetRelationName(rel));
	tuple->t_data = (HeapTupleHeader) PageGetItem(page, lp);
	tuple->t_len = ItemIdGetLength(lp);
	return (Form_pg_sequence_data) GETSTRUCT(tuple);
}

static void
local_state(Relation rel, int64 *last, bool *is_called)
{
	Buffer		buf;
	HeapTupleData tuple;
	Form_pg_sequence_data seq = read_local_tuple(rel, &buf, &tuple, BUFFER_LOCK_SHARE);

	*last = seq->last_value;
	*is_called = seq->is_called;
	UnlockReleaseBuffer(buf);
}

/*
 * The catalog's copy takes the store's state, WAL-logged as setval logs it
 * (without setval's checks: a read-only transaction reading the sequence
 * sets it too). Never during recovery: a standby's copy is its primary's.
 */
static void
set_local_state(Relation rel, int64 last, bool is_called)
{
	Buffer		buf;
	HeapTupleData tuple;
	Form_pg_sequence_data seq;

	if (RecoveryInProgress())
		return;
	seq = read_local_tuple(rel, &buf, &tuple, BUFFER_LOCK_EXCLUSIVE);
	if (seq->last_value == last && seq->is_called == is_called)
	{
		UnlockReleaseBuffer(buf);
		return;
	}
	START_CRIT_SECTION();
	seq->last_value = last;
	seq->is_called = is_called;
	seq->log_cnt = 0;
	MarkBufferDirty(buf);
	if (RelationNeedsWAL(rel))
	{
		xl_seq_rec	xlrec;
		XLogRecPtr	recptr;

		XLogBeginInsert();
		XLogRegisterBuffer(0, buf, REGBUF_WILL_INIT);
		xlrec.node = rel->rd_node;
		XLogRegisterData((char *) &xlrec, sizeof(xl_seq_rec));
		XLogRegisterData((char *) tuple.t_data, tuple.t_len);
		recptr = XLogInsert(RM_SEQ_ID, XLOG_SEQ_LOG);
		PageSetLSN(BufferGetPage(buf), recptr);
	}
	END_CRIT_SECTION();
	UnlockReleaseBuffer(buf);
}

/*
 * The unused rest of this backend's lease goes back to the store if no
 * other backend leased since: sessions one after another then hand out
 * values without gaps, and a session reading its sequence sees the last
 * value it handed out, as on heap.
 */
static PlinthStatus
give_back_lease(SequenceLease *e)
{
	PlinthStatus status = PLINTH_OK;

	if (e->store_id > 0 && e->last_valid && e->last != e->cached)
		status = plinth_swift_sequence_give_back(e->store_id, e->cached, e->last);
	e->cached = e->last;
	return status;
}

/* The store's state of a shared sequence, this backend's unused values given back first. */
static bool
store_state(SequenceLease *e, int64 *last, bool *is_called)
{
	bool		found;

	PLINTH_CHECK(give_back_lease(e));
	PLINTH_CHECK(plinth_swift_sequence_state(e->store_id, &found, last, is_called));
	return found;
}

/* The catalog's copy of a shared sequence, set from the store's state if it has one. */
static void
sync_local_from_store(Oid relid)
{
	SequenceLease *e = sequence_lease(relid);
	int64		last;
	bool		is_called;
	Relation	rel;

	if (e->store_id == 0)
		return;
	if (!store_state(e, &last, &is_called))
		return;
	rel = relation_open(relid, AccessShareLock);
	set_local_state(rel, last, is_called);
	relation_close(rel, AccessShareLock);
}

/* ---- nextval and the others ---------------------------------------------- */

static void
check_privilege(Oid relid, AclMode mode)
{
	if (pg_class_aclcheck(relid, GetUserId(), mode) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for sequence %s", get_rel_name(relid))));
}

static int64
plinth_nextval_internal(Oid relid, bool check_permissions)
{
	SequenceLease *e = sequence_lease(relid);
	Relation	rel;
	HeapTuple	pgs;
	Form_pg_sequence form;
	PlinthSequenceDefinition def;
	PlinthSequenceLease lease;
	int64		local_last;
	bool		local_called;
	int64		count;

	if (e->store_id == 0)
	{
		int64		v = nextval_internal(relid, check_permissions);

		last_used = relid;
		return v;
	}
	rel = open_sequence(e);
	if (check_permissions)
		check_privilege(relid, ACL_USAGE | ACL_UPDATE);
	PreventCommandIfReadOnly("nextval()");
	PreventCommandIfParallelMode("nextval()");
	if (e->last_valid && e->last != e->cached)
	{
		e->last += e->increment;
		relation_close(rel, NoLock);
		last_used = relid;
		return e->last;
	}

	pgs = SearchSysCache1(SEQRELID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(pgs))
		elog(ERROR, "cache lookup failed for sequence %u", relid);
	form = (Form_pg_sequence) GETSTRUCT(pgs);
	def.increment = form->seqincrement;
	def.min = form->seqmin;
	def.max = form->seqmax;
	def.cycle = form->seqcycle;
	/* Postgres's CACHE, else a block that doubles as the backend uses it. */
	count = Max(form->seqcache, e->lease_size);
	ReleaseSysCache(pgs);

	local_state(rel, &local_last, &local_called);
	PLINTH_CHECK(plinth_swift_sequence_lease(e->store_id, &def, local_last, local_called, count, &lease));
	if (lease.limit == PLINTH_SEQUENCE_REACHED_MAXIMUM)
		ereport(ERROR,
				(errcode(ERRCODE_SEQUENCE_GENERATOR_LIMIT_EXCEEDED),
				 errmsg("nextval: reached maximum value of sequence \"%s\" (%lld)",
						RelationGetRelationName(rel), (long long) def.max)));
	if (lease.limit == PLINTH_SEQUENCE_REACHED_MINIMUM)
		ereport(ERROR,
				(errcode(ERRCODE_SEQUENCE_GENERATOR_LIMIT_EXCEEDED),
				 errmsg("nextval: reached minimum value of sequence \"%s\" (%lld)",
						RelationGetRelationName(rel), (long long) def.min)));
	e->increment = def.increment;
	e->last = lease.first;
	e->cached = lease.last;
	e->last_valid = true;
	e->lease_size = Min(e->lease_size * 2, PLINTH_SEQUENCE_MAX_LEASE);
	relation_close(rel, NoLock);
	last_used = relid;
	return lease.first;
}

PG_FUNCTION_INFO_V1(plinth_nextval);
Datum
plinth_nextval(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(plinth_nextval_internal(PG_GETARG_OID(0), true));
}

/*
 * An identity column's value. Postgres checks no privilege on the sequence
 * here (the INSERT's on the table covers it); since anyone may call this
 * function, it asks for INSERT or UPDATE on the table that owns the
 * sequence, or for nextval's own privilege on the sequence.
 */
PG_FUNCTION_INFO_V1(plinth_identity_nextval);
Datum
plinth_identity_nextval(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	Oid			table;
	int32		column;
	Oid			type = get_func_rettype(fcinfo->flinfo->fn_oid);
	int64		v;

	if (pg_class_aclcheck(relid, GetUserId(), ACL_USAGE | ACL_UPDATE) != ACLCHECK_OK &&
		!(sequenceIsOwned(relid, DEPENDENCY_INTERNAL, &table, &column) &&
		  pg_class_aclmask(table, GetUserId(), ACL_INSERT | ACL_UPDATE, ACLMASK_ANY) != 0))
		check_privilege(relid, ACL_USAGE | ACL_UPDATE);
	v = plinth_nextval_internal(relid, false);
	switch (type)
	{
		case INT2OID:
			PG_RETURN_INT16((int16) v);
		case INT4OID:
			PG_RETURN_INT32((int32) v);
		default:
			PG_RETURN_INT64(v);
	}
}

PG_FUNCTION_INFO_V1(plinth_currval);
Datum
plinth_currval(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	SequenceLease *e = sequence_lease(relid);
	Relation	rel;
	int64		v;

	if (e->store_id == 0)
		return DirectFunctionCall1(currval_oid, ObjectIdGetDatum(relid));
	rel = open_sequence(e);
	check_privilege(relid, ACL_SELECT | ACL_USAGE);
	if (!e->last_valid)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("currval of sequence \"%s\" is not yet defined in this session",
						RelationGetRelationName(rel))));
	v = e->last;
	relation_close(rel, NoLock);
	PG_RETURN_INT64(v);
}

PG_FUNCTION_INFO_V1(plinth_lastval);
Datum
plinth_lastval(PG_FUNCTION_ARGS)
{
	SequenceLease *e;
	Relation	rel;
	int64		v;

	if (!OidIsValid(last_used) || !SearchSysCacheExists1(RELOID, ObjectIdGetDatum(last_used)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("lastval is not yet defined in this session")));
	e = sequence_lease(last_used);
	if (e->store_id == 0)
		return DirectFunctionCall1(currval_oid, ObjectIdGetDatum(last_used));
	rel = open_sequence(e);
	check_privilege(last_used, ACL_SELECT | ACL_USAGE);
	v = e->last;
	relation_close(rel, NoLock);
	PG_RETURN_INT64(v);
}

/* setval: the store's state, at once and for good (not undone by a rollback). */
static void
plinth_setval_internal(Oid relid, int64 next, bool is_called)
{
	SequenceLease *e = sequence_lease(relid);
	Relation	rel;
	HeapTuple	pgs;
	Form_pg_sequence form;
	int64		minv,
				maxv;

	rel = open_sequence(e);
	check_privilege(relid, ACL_UPDATE);
	PreventCommandIfReadOnly("setval()");
	PreventCommandIfParallelMode("setval()");
	pgs = SearchSysCache1(SEQRELID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(pgs))
		elog(ERROR, "cache lookup failed for sequence %u", relid);
	form = (Form_pg_sequence) GETSTRUCT(pgs);
	minv = form->seqmin;
	maxv = form->seqmax;
	ReleaseSysCache(pgs);
	if (next < minv || next > maxv)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("setval: value %lld is out of bounds for sequence \"%s\" (%lld..%lld)",
						(long long) next, RelationGetRelationName(rel), (long long) minv, (long long) maxv)));
	PLINTH_CHECK(plinth_swift_sequence_set(e->store_id, next, is_called, false, true));
	/* currval follows a called setval; a lease this backend held is given up. */
	if (is_called)
	{
		e->last = next;
		e->last_valid = true;
	}
	e->cached = e->last;
	relation_close(rel, NoLock);
}

PG_FUNCTION_INFO_V1(plinth_setval);
Datum
plinth_setval(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		next = PG_GETARG_INT64(1);
	bool		is_called = PG_NARGS() > 2 ? PG_GETARG_BOOL(2) : true;

	if (sequence_lease(relid)->store_id == 0)
		return PG_NARGS() > 2
			? DirectFunctionCall3(setval3_oid, ObjectIdGetDatum(relid), Int64GetDatum(next), BoolGetDatum(is_called))
			: DirectFunctionCall2(setval_oid, ObjectIdGetDatum(relid), Int64GetDatum(next));
	plinth_setval_internal(relid, next, is_called);
	PG_RETURN_INT64(next);
}

/* pg_sequence_last_value (the pg_sequences view): the store's state. */
PG_FUNCTION_INFO_V1(plinth_sequence_last_value);
Datum
plinth_sequence_last_value(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	SequenceLease *e = sequence_lease(relid);
	int64		last;
	bool		is_called;
	Datum		local;

	LOCAL_FCINFO(inner, 1);

	if (e->store_id != 0)
	{
		if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT | ACL_USAGE) != ACLCHECK_OK)
			PG_RETURN_NULL();
		if (store_state(e, &last, &is_called))
		{
			if (!is_called)
				PG_RETURN_NULL();
			PG_RETURN_INT64(last);
		}
	}

	/*
	 * The catalog's copy (a local sequence, or a shared one no nextval has
	 * reached the store for): NULL until it is called, which
	 * DirectFunctionCall1 would refuse.
	 */
	InitFunctionCallInfoData(*inner, NULL, 1, InvalidOid, NULL, NULL);
	inner->args[0].value = ObjectIdGetDatum(relid);
	inner->args[0].isnull = false;
	local = pg_sequence_last_value(inner);
	if (inner->isnull)
		PG_RETURN_NULL();
	return local;
}

/* ---- the planner hook ----------------------------------------------------- */

typedef struct SequenceUse
{
	bool		calls;			/* a sequence function or NextValueExpr */
	List	   *read;			/* sequence relations the query reads */
} SequenceUse;

static bool
is_sequence_function(Oid funcid)
{
	return funcid == F_NEXTVAL || funcid == F_CURRVAL || funcid == F_SETVAL_REGCLASS_INT8 ||
		funcid == F_SETVAL_REGCLASS_INT8_BOOL || funcid == F_LASTVAL || funcid == F_PG_SEQUENCE_LAST_VALUE;
}

static bool
find_sequence_use(Node *node, SequenceUse *use)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncExpr) && is_sequence_function(((FuncExpr *) node)->funcid))
		use->calls = true;
	else if (IsA(node, NextValueExpr))
		use->calls = true;
	else if (IsA(node, RangeTblEntry))
	{
		RangeTblEntry *rte = (RangeTblEntry *) node;

		if (rte->rtekind == RTE_RELATION && rte->relkind == RELKIND_SEQUENCE)
			use->read = list_append_unique_oid(use->read, rte->relid);
		return false;
	}
	else if (IsA(node, Query))
		return query_tree_walker((Query *) node, find_sequence_use, use, QTW_EXAMINE_RTES_BEFORE);
	return expression_tree_walker(node, find_sequence_use, use);
}

static Oid
replacement(const SequenceFunctions *f, Oid funcid)
{
	switch (funcid)
	{
		case F_NEXTVAL:
			return f->nextval;
		case F_CURRVAL:
			return f->currval;
		case F_SETVAL_REGCLASS_INT8:
			return f->setval2;
		case F_SETVAL_REGCLASS_INT8_BOOL:
			return f->setval3;
		case F_LASTVAL:
			return f->lastval;
		case F_PG_SEQUENCE_LAST_VALUE:
			return f->last_value;
	}
	return InvalidOid;
}

static Node *
redirect_sequence_calls(Node *node, const SequenceFunctions *f)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Query))
		return (Node *) query_tree_mutator((Query *) node, redirect_sequence_calls, (void *) f, 0);
	if (IsA(node, NextValueExpr))
	{
		NextValueExpr *n = (NextValueExpr *) node;
		Oid			fn = n->typeId == INT2OID ? f->identity2 : n->typeId == INT4OID ? f->identity4 : f->identity8;
		Const	   *seq = makeConst(REGCLASSOID, -1, InvalidOid, sizeof(Oid), ObjectIdGetDatum(n->seqid), false, true);

		return (Node *) makeFuncExpr(fn, n->typeId, list_make1(seq), InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	}
	node = expression_tree_mutator(node, redirect_sequence_calls, (void *) f);
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *fe = (FuncExpr *) node;
		Oid			to = replacement(f, fe->funcid);

		if (OidIsValid(to))
			fe->funcid = to;
	}
	return node;
}

static PlannedStmt *
plinth_planner(Query *parse, const char *query_string, int cursorOptions, ParamListInfo boundParams)
{
	if (sequences_shared_here())
	{
		SequenceUse use = {false, NIL};
		ListCell   *lc;

		(void) query_tree_walker(parse, find_sequence_use, &use, QTW_EXAMINE_RTES_BEFORE);
		foreach(lc, use.read)
			sync_local_from_store(lfirst_oid(lc));
		if (use.calls)
			parse = (Query *) redirect_sequence_calls((Node *) parse, sequence_functions());
	}
	if (prev_planner_hook)
		return prev_planner_hook(parse, query_string, cursorOptions, boundParams);
	return standard_planner(parse, query_string, cursorOptions, boundParams);
}

/* ---- DDL --------------------------------------------------------------- */

/* The new relation's pg_class row: not visible to the syscache before the next command. */
static bool
new_relation_is_shared_sequence(Oid relid)
{
	Relation	pg_class = table_open(RelationRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		shared = false;

	ScanKeyInit(&key, Anum_pg_class_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(pg_class, ClassOidIndexId, true, SnapshotSelf, 1, &key);
	if (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_class c = (Form_pg_class) GETSTRUCT(tup);

		shared = c->relkind == RELKIND_SEQUENCE && c->relpersistence != RELPERSISTENCE_TEMP;
	}
	systable_endscan(scan);
	table_close(pg_class, AccessShareLock);
	return shared;
}

/*
 * A sequence created gets its store id (in the order of the statement's
 * other new storage, so a replay takes the same); one dropped loses it.
 * Whether the extension is at 0.3 decides, as it does on every server
 * replaying the statement.
 */
void
plinth_sequence_object_access(Oid relid, ObjectAccessType access)
{
	if (access == OAT_POST_CREATE)
	{
		if (!OidIsValid(sequence_functions()->nextval) || !new_relation_is_shared_sequence(relid))
			return;
		plinth_prepare();
		PLINTH_CHECK(plinth_swift_sequence_create(relid, GetCurrentCommandId(true),
												  (uint32) GetCurrentSubTransactionId()));
	}
	else if (access == OAT_DROP)
	{
		if (get_rel_relkind(relid) != RELKIND_SEQUENCE || get_rel_persistence(relid) == RELPERSISTENCE_TEMP ||
			!OidIsValid(sequence_functions()->nextval))
			return;
		plinth_prepare();
		PLINTH_CHECK(plinth_swift_sequence_drop(relid, GetCurrentCommandId(true),
												(uint32) GetCurrentSubTransactionId()));
		if (leases != NULL)
			hash_search(leases, &relid, HASH_REMOVE, NULL);
		if (last_used == relid)
			last_used = InvalidOid;
	}
}

/* The sequence restarts from its catalog: the store's state goes with this transaction. */
static void
sequence_restarted(Oid relid)
{
	SequenceLease *e = sequence_lease(relid);

	e->cached = e->last;
	if (e->store_id == 0)
		return;
	PLINTH_CHECK(plinth_swift_sequence_restart(e->store_id, GetCurrentCommandId(true),
											   (uint32) GetCurrentSubTransactionId()));
}

static bool
has_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		if (strcmp(lfirst_node(DefElem, lc)->defname, name) == 0)
			return true;
	}
	return false;
}

/* A statement's table and its inheritors (unless ONLY); NIL if it does not exist. */
static List *
target_relations(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);

	if (!OidIsValid(relid))
		return NIL;
	return rv->inh ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
}

/* The sequences a table (and its inheritors, unless ONLY) owns: serial and identity columns. */
static List *
owned_sequences(RangeVar *rv)
{
	List	   *seqs = NIL;
	ListCell   *lc;

	foreach(lc, target_relations(rv))
		seqs = list_concat(seqs, getOwnedSequences(lfirst_oid(lc)));
	return seqs;
}

/*
 * The sequences the column defaults of a table (and its inheritors, unless
 * ONLY) call, whoever owns them (DEFAULT nextval('s')): a default depends
 * on the sequences its expression names (pg_depend, from its pg_attrdef
 * row).
 */
static List *
default_sequences(RangeVar *rv)
{
	List	   *rels = target_relations(rv);
	List	   *seqs = NIL;
	ListCell   *lc;
	Relation	attrdef;
	Relation	depend;

	if (rels == NIL)
		return NIL;
	attrdef = table_open(AttrDefaultRelationId, AccessShareLock);
	depend = table_open(DependRelationId, AccessShareLock);
	foreach(lc, rels)
	{
		ScanKeyData key;
		SysScanDesc defaults;
		HeapTuple	def;

		ScanKeyInit(&key, Anum_pg_attrdef_adrelid, BTEqualStrategyNumber, F_OIDEQ,
					ObjectIdGetDatum(lfirst_oid(lc)));
		defaults = systable_beginscan(attrdef, AttrDefaultIndexId, true, NULL, 1, &key);
		while (HeapTupleIsValid(def = systable_getnext(defaults)))
		{
			ScanKeyData keys[2];
			SysScanDesc deps;
			HeapTuple	dep;

			ScanKeyInit(&keys[0], Anum_pg_depend_classid, BTEqualStrategyNumber, F_OIDEQ,
						ObjectIdGetDatum(AttrDefaultRelationId));
			ScanKeyInit(&keys[1], Anum_pg_depend_objid, BTEqualStrategyNumber, F_OIDEQ,
						ObjectIdGetDatum(((Form_pg_attrdef) GETSTRUCT(def))->oid));
			deps = systable_beginscan(depend, DependDependerIndexId, true, NULL, 2, keys);
			while (HeapTupleIsValid(dep = systable_getnext(deps)))
			{
				Form_pg_depend d = (Form_pg_depend) GETSTRUCT(dep);

				if (d->refclassid == RelationRelationId && get_rel_relkind(d->refobjid) == RELKIND_SEQUENCE)
					seqs = list_append_unique_oid(seqs, d->refobjid);
			}
			systable_endscan(deps);
		}
		systable_endscan(defaults);
	}
	table_close(depend, AccessShareLock);
	table_close(attrdef, AccessShareLock);
	return seqs;
}

/*
 * The existing sequences a raw default expression calls nextval of with a
 * constant name (nextval('s'), nextval('s'::regclass)): ALTER TABLE ... ADD
 * COLUMN ... DEFAULT nextval('s') fills the column in the rewrite.
 */
static bool
raw_nextval_sequences(Node *node, List **seqs)
{
	if (node == NULL)
		return false;
	if (IsA(node, FuncCall))
	{
		FuncCall   *call = (FuncCall *) node;
		Node	   *arg = list_length(call->args) == 1 ? linitial(call->args) : NULL;

		if (arg != NULL && IsA(arg, TypeCast))
			arg = ((TypeCast *) arg)->arg;
		if (arg != NULL && IsA(arg, A_Const) && IsA(&((A_Const *) arg)->val, String) &&
			strcmp(strVal(llast(call->funcname)), "nextval") == 0)
		{
			List	   *name = stringToQualifiedNameList(strVal(&((A_Const *) arg)->val));
			Oid			relid = RangeVarGetRelid(makeRangeVarFromNameList(name), NoLock, true);

			if (OidIsValid(relid) && get_rel_relkind(relid) == RELKIND_SEQUENCE)
				*seqs = list_append_unique_oid(*seqs, relid);
		}
	}
	return raw_expression_tree_walker(node, raw_nextval_sequences, (void *) seqs);
}

/*
 * The sequences a statement fills rows from without the planner, guarded
 * while it runs: the target table's of COPY FROM (its own, and those its
 * defaults call), and those the defaults of the columns an ALTER TABLE
 * adds call (the rewrite fills them).
 */
static List *
guarded_sequences(Node *stmt)
{
	if (IsA(stmt, CopyStmt) && ((CopyStmt *) stmt)->is_from && ((CopyStmt *) stmt)->relation)
		return list_concat_unique_oid(owned_sequences(((CopyStmt *) stmt)->relation),
									  default_sequences(((CopyStmt *) stmt)->relation));
	if (IsA(stmt, AlterTableStmt) && ((AlterTableStmt *) stmt)->objtype == OBJECT_TABLE)
	{
		List	   *seqs = NIL;
		ListCell   *lc;

		foreach(lc, ((AlterTableStmt *) stmt)->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (cmd->subtype == AT_AddColumn && IsA(cmd->def, ColumnDef))
			{
				ListCell   *c;

				foreach(c, ((ColumnDef *) cmd->def)->constraints)
				{
					Constraint *con = lfirst_node(Constraint, c);

					if (con->contype == CONSTR_DEFAULT)
						(void) raw_nextval_sequences(con->raw_expr, &seqs);
				}
			}
		}
		return seqs;
	}
	return NIL;
}

/*
 * The sequences a statement may use without the planner: those it
 * guards, and the ALTER TABLE's table's own (a rewrite after ADD COLUMN
 * serial fills the new column from its new sequence, which no other server
 * can use before the commit).
 */
static List *
locally_used_sequences(Node *stmt)
{
	List	   *seqs = guarded_sequences(stmt);

	if (IsA(stmt, AlterTableStmt) && ((AlterTableStmt *) stmt)->objtype == OBJECT_TABLE)
		seqs = list_concat_unique_oid(seqs, owned_sequences(((AlterTableStmt *) stmt)->relation));
	return seqs;
}

/* ---- COPY FROM's guard ---------------------------------------------------- */

/*
 * COPY FROM fills columns from the table's own sequences and from those its
 * defaults call with the server's copy of them (Postgres's nextval, not the
 * planner's). While it runs, each
 * such sequence holds a block leased from the store, which no other server
 * hands out, and the copy hands out from that block: every
 * GUARD_CHECK_ROWS rows the statement inserts into Plinth tables, a copy
 * that used half its block leases the next one (and jumps to it if another
 * server took the values between). COPY evaluates the defaults of at most
 * its buffer (1,000 rows) before it inserts them, so between two checks a
 * copy hands out at most 1,064 values per column it fills: a block of
 * 8,192 keeps a sequence that fills up to three columns of a row within
 * its blocks. After the statement the block's unused rest goes back to the
 * store if no one leased since.
 */
#define GUARD_BLOCK 8192
#define GUARD_CHECK_ROWS 64

typedef struct SequenceGuard
{
	Oid			relid;
	int64		store_id;
	bool		leased;			/* a block was leased (none at the sequence's limit) */
	int64		end;			/* the last value of the block leased */
	int64		increment;
} SequenceGuard;

static SequenceGuard *guards = NULL;	/* in TopMemoryContext */
static int	nguards = 0;
static int	max_guards = 0;
static int	guard_depth = -1;		/* the statement depth of the COPY guarded */
static int	guard_rows = 0;

/*
 * Leases the next block of a guarded sequence, from the copy's state; the
 * copy goes on from the block's start unless the block follows on. At its
 * limit the copy is left as it is: it fails there as Postgres's would.
 */
static void
guard_lease(SequenceGuard *g, Relation rel, int64 last, bool is_called, bool first)
{
	HeapTuple	pgs = SearchSysCache1(SEQRELID, ObjectIdGetDatum(g->relid));
	Form_pg_sequence form;
	PlinthSequenceDefinition def;
	PlinthSequenceLease lease;

	if (!HeapTupleIsValid(pgs))
		elog(ERROR, "cache lookup failed for sequence %u", g->relid);
	form = (Form_pg_sequence) GETSTRUCT(pgs);
	def.increment = form->seqincrement;
	def.min = form->seqmin;
	def.max = form->seqmax;
	def.cycle = form->seqcycle;
	ReleaseSysCache(pgs);
	PLINTH_CHECK(plinth_swift_sequence_lease(g->store_id, &def, last, is_called, GUARD_BLOCK, &lease));
	if (lease.limit != PLINTH_SEQUENCE_OK)
		return;
	if (first || lease.first != g->end + def.increment)
		set_local_state(rel, lease.first, false);
	g->increment = def.increment;
	g->end = lease.last;
	g->leased = true;
}

/* Every GUARD_CHECK_ROWS rows: a copy past half its block leases the next. */
static void
guard_row_inserted(void)
{
	if (++guard_rows < GUARD_CHECK_ROWS)
		return;
	guard_rows = 0;
	for (int i = 0; i < nguards; i++)
	{
		SequenceGuard *g = &guards[i];
		Relation	rel = relation_open(g->relid, AccessShareLock);
		int64		last;
		bool		is_called;
		int64		left;

		local_state(rel, &last, &is_called);
		left = (g->end - last) / g->increment + (is_called ? 0 : 1);
		if (g->leased && left < GUARD_BLOCK / 2)
			guard_lease(g, rel, last, is_called, false);
		relation_close(rel, AccessShareLock);
	}
}

static void
guard_start(Oid relid)
{
	SequenceLease *e = sequence_lease(relid);
	SequenceGuard *g;
	Relation	rel;
	int64		last;
	bool		is_called;

	if (e->store_id == 0)
		return;
	/* This backend's own lease goes back first, as a read of the store's state does. */
	PLINTH_CHECK(give_back_lease(e));
	if (nguards == max_guards)
	{
		max_guards = Max(4, max_guards * 2);
		guards = guards == NULL ? MemoryContextAlloc(TopMemoryContext, max_guards * sizeof(SequenceGuard))
			: repalloc(guards, max_guards * sizeof(SequenceGuard));
	}
	g = &guards[nguards++];
	g->relid = relid;
	g->store_id = e->store_id;
	g->leased = false;
	g->end = 0;
	g->increment = 1;
	rel = relation_open(relid, AccessShareLock);
	local_state(rel, &last, &is_called);
	guard_lease(g, rel, last, is_called, true);
	relation_close(rel, AccessShareLock);
	guard_depth = plinth_statement_depth;
	guard_rows = 0;
	plinth_row_inserted_hook = guard_row_inserted;
}

/* Whether the statement ending guards the sequence with a block (given back by guards_give_back). */
static bool
guarding(Oid relid)
{
	if (guard_depth != plinth_statement_depth - 1)
		return false;
	for (int i = 0; i < nguards; i++)
		if (guards[i].relid == relid && guards[i].leased)
			return true;
	return false;
}

/* After the COPY: each block's unused rest goes back, if no one leased since. */
static void
guards_give_back(void)
{
	for (int i = 0; i < nguards; i++)
	{
		SequenceGuard *g = &guards[i];
		Relation	rel;
		int64		last;
		bool		is_called;

		if (!g->leased)
			continue;
		rel = relation_open(g->relid, AccessShareLock);
		local_state(rel, &last, &is_called);
		relation_close(rel, AccessShareLock);
		PLINTH_CHECK(plinth_swift_sequence_give_back(g->store_id, g->end, is_called ? last : last - g->increment));
	}
}

static void
guards_end(void)
{
	nguards = 0;
	guard_depth = -1;
	plinth_row_inserted_hook = NULL;
}

/* The statement at `depth` ended, run or failed: its guards end with it. */
void
plinth_sequences_utility_reset(int depth)
{
	if (guard_depth == depth)
		guards_end();
}

/* And at the latest with its transaction (a guard that failed to start, say). */
void
plinth_sequences_at_transaction_end(void)
{
	guards_end();
}

/*
 * Before a utility statement: the server's own copies of the sequences it
 * may use directly (COPY FROM, a table rewrite) or check against (ALTER
 * SEQUENCE) start from the store's state.
 */
void
plinth_sequences_before_utility(Node *stmt)
{
	List	   *seqs;
	ListCell   *lc;

	if (!sequences_shared_here())
		return;
	if (IsA(stmt, AlterSeqStmt))
	{
		Oid			relid = RangeVarGetRelid(((AlterSeqStmt *) stmt)->sequence, NoLock, true);

		if (OidIsValid(relid))
			sync_local_from_store(relid);
		return;
	}
	seqs = guarded_sequences(stmt);
	foreach(lc, seqs)
		guard_start(lfirst_oid(lc));
	foreach(lc, locally_used_sequences(stmt))
	{
		if (!list_member_oid(seqs, lfirst_oid(lc)))
			sync_local_from_store(lfirst_oid(lc));
	}
}

/*
 * After it: a restart clears the store's state; values the server's own
 * sequences handed out move the store's state past them (the sequences of
 * the table as it is now: ALTER TABLE ... ADD COLUMN serial made one).
 */
void
plinth_sequences_after_utility(Node *stmt)
{
	ListCell   *lc;

	if (!sequences_shared_here())
		return;
	if (IsA(stmt, AlterSeqStmt) && has_option(((AlterSeqStmt *) stmt)->options, "restart"))
	{
		Oid			relid = RangeVarGetRelid(((AlterSeqStmt *) stmt)->sequence, NoLock, true);

		if (OidIsValid(relid))
			sequence_restarted(relid);
	}
	else if (IsA(stmt, AlterSeqStmt))
	{
		Oid			relid = RangeVarGetRelid(((AlterSeqStmt *) stmt)->sequence, NoLock, true);

		/* ALTER SEQUENCE ends this backend's lease, as Postgres forgets its cache. */
		if (OidIsValid(relid))
			PLINTH_CHECK(give_back_lease(sequence_lease(relid)));
	}
	if (IsA(stmt, TruncateStmt) && ((TruncateStmt *) stmt)->restart_seqs)
	{
		foreach(lc, ((TruncateStmt *) stmt)->relations)
		{
			ListCell   *s;
			List	   *seqs = owned_sequences(lfirst_node(RangeVar, lc));

			foreach(s, seqs)
				sequence_restarted(lfirst_oid(s));
		}
	}
	/* A guarded sequence's rest went back: the store stands at what it used, or past. */
	if (guard_depth == plinth_statement_depth - 1)
		guards_give_back();
	foreach(lc, locally_used_sequences(stmt))
	{
		Oid			relid = lfirst_oid(lc);
		SequenceLease *e = sequence_lease(relid);
		Relation	rel;
		int64		last;
		bool		is_called;
		HeapTuple	pgs;
		bool		ascending;

		if (e->store_id == 0 || guarding(relid))
			continue;
		pgs = SearchSysCache1(SEQRELID, ObjectIdGetDatum(relid));
		if (!HeapTupleIsValid(pgs))
			continue;
		ascending = ((Form_pg_sequence) GETSTRUCT(pgs))->seqincrement > 0;
		ReleaseSysCache(pgs);
		rel = relation_open(relid, AccessShareLock);
		local_state(rel, &last, &is_called);
		relation_close(rel, AccessShareLock);
		if (is_called)
			PLINTH_CHECK(plinth_swift_sequence_set(e->store_id, last, true, true, ascending));
	}
}

/* Every lease's unused rest goes back: best effort (at exit nothing may be raised). */
static void
give_back_leases(void)
{
	HASH_SEQ_STATUS it;
	SequenceLease *e;

	if (leases == NULL)
		return;
	hash_seq_init(&it, leases);
	while ((e = hash_seq_search(&it)) != NULL)
		(void) give_back_lease(e);
	plinth_boundary_reset();
}

static void
give_back_at_exit(int code, Datum arg)
{
	give_back_leases();
}

/* DISCARD SEQUENCES / ALL: this backend's leases and lastval are forgotten. */
void
plinth_sequences_discard(void)
{
	give_back_leases();
	if (leases != NULL)
		hash_destroy(leases);
	leases = NULL;
	last_used = InvalidOid;
}

void
plinth_sequences_init(void)
{
	prev_planner_hook = planner_hook;
	planner_hook = plinth_planner;
}
