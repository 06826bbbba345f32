/*
 * databases.c — databases shared by name by every server on one store.
 *
 * CREATE, DROP, RENAME and ALTER DATABASE belong to no database's schema
 * log: they go to the store-wide database log (Databases.swift) with
 * their transaction's commit, under a server-wide lock held until the
 * commit is done, and the server that ran them waits until every live
 * server has applied them, as for other DDL. The other servers' "plinth
 * schema" worker (schema.c) runs each entry through a connection of its
 * own with plinth.replay_database set; here, such a statement is made
 * idempotent (a server that crashed before recording its position runs an
 * entry again): a database that exists is not created again, a drop
 * forces its way and misses nothing, a rename forces its way and one or an
 * ALTER of a database already gone changes nothing. Depends on the session.
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "session.h"
#include "databases.h"

int			plinth_replay_database_seq = 0;

/*
 * The server's database log lock (a shared object lock of no database),
 * held exclusively by a transaction that logs database statements from its
 * pre-commit until its position is recorded after its commit; the worker
 * reads what is pending under it, shared, and so never runs again an entry
 * this server logged but has not committed in its catalog yet.
 */
#define DATABASE_LOG_LOCK 2

static bool log_lock_held = false;
/* The last entry this transaction logged, for its commit. */
static int64 pending_seq = 0;

/*
 * Databases this transaction drops (DROP DATABASE). Their store data goes
 * at commit: dropdb may still fail after the drop hook ran (other sessions
 * connected), and then nothing must be lost.
 */
static List *dropped_databases = NIL;
static List *dropped_database_names = NIL;

void
plinth_databases_init(void)
{
	/* Set by the "plinth schema" worker: the database statement that follows replays that entry. */
	DefineCustomIntVariable("plinth.replay_database",
							"Internal: the database log entry the next database statement replays.",
							NULL,
							&plinth_replay_database_seq, 0, 0, INT_MAX,
							PGC_SUSET, GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE, NULL, NULL, NULL);
}

/* The statement's own text (a query string may hold several). */
char *
plinth_statement_text(PlannedStmt *pstmt, const char *queryString)
{
	int			loc = pstmt->stmt_location > 0 ? pstmt->stmt_location : 0;
	int			len = pstmt->stmt_len > 0 ? pstmt->stmt_len : (int) strlen(queryString + loc);

	return pnstrdup(queryString + loc, len);
}

static const char *
template_name(CreatedbStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
			return defGetString(opt);
	}
	return "template1";
}

/*
 * Whether the statement is one of the database log's, and what it is
 * about. ALTER DATABASE ... SET TABLESPACE and REFRESH COLLATION VERSION
 * stay on the server that ran them: tablespaces and collation libraries
 * are each server's own.
 */
static bool
database_statement(Node *stmt, PlinthDatabaseKind *kind, const char **name, const char **other)
{
	*other = "";
	switch (nodeTag(stmt))
	{
		case T_CreatedbStmt:
			*kind = PLINTH_DATABASE_CREATE;
			*name = ((CreatedbStmt *) stmt)->dbname;
			*other = template_name((CreatedbStmt *) stmt);
			return true;
		case T_DropdbStmt:
			*kind = PLINTH_DATABASE_DROP;
			*name = ((DropdbStmt *) stmt)->dbname;
			return true;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType != OBJECT_DATABASE)
				return false;
			*kind = PLINTH_DATABASE_RENAME;
			*name = ((RenameStmt *) stmt)->subname;
			*other = ((RenameStmt *) stmt)->newname;
			return true;
		case T_AlterDatabaseStmt:
			{
				ListCell   *lc;

				foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
				{
					if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0)
						return false;
				}
				*kind = PLINTH_DATABASE_ALTER;
				*name = ((AlterDatabaseStmt *) stmt)->dbname;
				return true;
			}
		case T_AlterDatabaseSetStmt:
			*kind = PLINTH_DATABASE_ALTER;
			*name = ((AlterDatabaseSetStmt *) stmt)->dbname;
			return true;
		case T_AlterOwnerStmt:
			if (((AlterOwnerStmt *) stmt)->objectType != OBJECT_DATABASE)
				return false;
			*kind = PLINTH_DATABASE_ALTER;
			*name = strVal(((AlterOwnerStmt *) stmt)->object);
			return true;
		default:
			return false;
	}
}

static bool
database_exists(const char *name)
{
	return OidIsValid(get_database_oid(name, true));
}

/*
 * A replay ends the sessions this server has in the database (as DROP
 * DATABASE ... WITH (FORCE)): the statement already ran on another server,
 * and this server's catalog must follow it.
 */
static void
end_sessions_of(const char *name)
{
	Oid			db = get_database_oid(name, true);
	Oid			save_userid;
	int			save_sec;

	if (!OidIsValid(db) || db == MyDatabaseId)
		return;
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	TerminateOtherDBBackends(db);
	SetUserIdAndSecContext(save_userid, save_sec);
}

/*
 * Before a database statement runs. Replaying one (plinth.replay_database),
 * returns the statement to run in its place, or NULL when this server has
 * applied it already.
 */
PlannedStmt *
plinth_database_statement_begin(PlannedStmt *pstmt)
{
	PlinthDatabaseKind kind;
	const char *name;
	const char *other;

	if (plinth_replay_database_seq <= 0 || !plinth_preloaded ||
		!database_statement(pstmt->utilityStmt, &kind, &name, &other))
		return pstmt;
	switch (kind)
	{
		case PLINTH_DATABASE_CREATE:
			/* The template must have no other session: the worker sees to it. */
			return database_exists(name) ? NULL : pstmt;
		case PLINTH_DATABASE_DROP:
			{
				PlannedStmt *copy = copyObject(pstmt);
				DropdbStmt *drop = (DropdbStmt *) copy->utilityStmt;

				drop->missing_ok = true;
				drop->options = lappend(drop->options, makeDefElem("force", NULL, -1));
				return copy;
			}
		case PLINTH_DATABASE_RENAME:
			if (!database_exists(name) || database_exists(other))
				return NULL;
			end_sessions_of(name);
			return pstmt;
		case PLINTH_DATABASE_ALTER:
			return database_exists(name) ? pstmt : NULL;
	}
	return pstmt;
}

/*
 * The statement ran (inside plinth_ProcessUtility's PG_TRY): the store
 * follows it (a new database's id and template data, a rename's name),
 * and, on the server that ran it first, it is queued for the database log.
 */
void
plinth_database_statement_done(PlannedStmt *pstmt, const char *queryString)
{
	PlinthDatabaseKind kind;
	const char *name;
	const char *other;
	bool		replay = plinth_replay_database_seq > 0;
	const char *role;
	const char *text;
	uint32		subid;

	if (!plinth_preloaded || IsBinaryUpgrade || RecoveryInProgress() ||
		!database_statement(pstmt->utilityStmt, &kind, &name, &other))
		return;
	role = GetUserNameFromId(GetUserId(), false);
	text = plinth_statement_text(pstmt, queryString);
	subid = (uint32) GetCurrentSubTransactionId();
	plinth_prepare();
	if (kind == PLINTH_DATABASE_CREATE)
	{
		Oid			db = get_database_oid(name, false);
		Oid			template = get_database_oid(other, false);

		if (replay)
			PLINTH_CHECK(plinth_swift_database_replay_create(plinth_replay_database_seq, db, template,
															 GetCurrentCommandId(true), subid));
		else
			PLINTH_CHECK(plinth_swift_database_create(template, db, name, other, role, text,
													  GetCurrentCommandId(true), subid));
		return;
	}
	/* Servers sharing the store find a renamed database by its new name. */
	if (kind == PLINTH_DATABASE_RENAME)
		PLINTH_CHECK(plinth_swift_database_rename(get_database_oid(other, false), name, other,
												  GetCurrentCommandId(true), subid));
	if (!replay)
		PLINTH_CHECK(plinth_swift_database_queue(kind, name, other, role, text, subid));
}

/* From the object access hook: a database dropped (its keys go at the commit). */
void
plinth_databases_note_drop(Oid dboid)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	char	   *name = get_database_name(dboid);

	dropped_databases = lappend_oid(dropped_databases, dboid);
	dropped_database_names = lappend(dropped_database_names, name ? name : pstrdup(""));
	MemoryContextSwitchTo(old);
}

/*
 * Pre-commit, before the schema log's: the dropped databases' keys, and
 * the transaction's database statements to the end of the database log,
 * under this server's database log lock (held until the position is
 * recorded after the commit).
 */
void
plinth_databases_pre_commit(void)
{
	ListCell   *lc;
	ListCell   *name;
	int64		seq = 0;

	forboth(lc, dropped_databases, name, dropped_database_names)
	{
		plinth_prepare();
		PLINTH_CHECK(plinth_swift_database_drop(lfirst_oid(lc), (const char *) lfirst(name),
												GetCurrentCommandId(false),
												(uint32) GetCurrentSubTransactionId()));
	}
	dropped_databases = NIL;
	dropped_database_names = NIL;
	if (!plinth_swift_database_pending_log())
		return;
	LockSharedObject(DatabaseRelationId, InvalidOid, DATABASE_LOG_LOCK, ExclusiveLock);
	log_lock_held = true;
	PLINTH_CHECK(plinth_swift_database_log(&seq));
	pending_seq = seq;
}

/*
 * The waits after a commit (for the other servers to apply a change)
 * answer cancel and termination: checked, not raised (no error may be
 * raised after the commit, and interrupts are held there).
 */
bool
plinth_commit_wait_interrupted(void)
{
	return QueryCancelPending || ProcDiePending;
}

/* After such a wait: the servers it stopped waiting for. */
void
plinth_warn_servers_behind(int32 gave_up, const char *change)
{
	if (gave_up <= 0)
		return;
	ereport(WARNING,
			(errmsg("plinth: %d server(s) sharing this store did not apply this %s change", gave_up, change),
			 errdetail("Their position did not move for plinth.server_timeout (%d ms); a server that "
					   "also sent no heartbeat is considered gone and applies the change when it restarts.",
					   plinth_server_timeout_ms)));
}

/*
 * After Postgres's commit (no error may be raised): this server's position,
 * then the lock goes, and the server waits for the others to apply the
 * entries.
 */
void
plinth_databases_at_commit(void)
{
	int64		seq = pending_seq;
	int32		gave_up = 0;

	pending_seq = 0;
	dropped_databases = NIL;	/* in TopTransactionContext: gone */
	dropped_database_names = NIL;
	if (seq == 0)
		return;
	/* Best effort: if it is not recorded, the worker runs the entry again and finds it applied. */
	(void) plinth_swift_database_applied(seq);
	plinth_boundary_reset();
	if (log_lock_held)
		UnlockSharedObject(DatabaseRelationId, InvalidOid, DATABASE_LOG_LOCK, ExclusiveLock);
	log_lock_held = false;
	plinth_swift_database_wait(seq, plinth_server_timeout_ms, plinth_commit_wait_interrupted, &gave_up);
	plinth_warn_servers_behind(gave_up, "database");
}

void
plinth_databases_at_abort(void)
{
	log_lock_held = false;		/* released with the transaction's locks */
	pending_seq = 0;
	dropped_databases = NIL;
	dropped_database_names = NIL;
}

/* The worker's: reads what is pending while no commit of this server is between its store and its catalog. */
void
plinth_database_log_lock_shared(void)
{
	LockSharedObject(DatabaseRelationId, InvalidOid, DATABASE_LOG_LOCK, ShareLock);
}
