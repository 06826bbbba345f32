/*
 * schema.h — the schema shared by every server on one store (schema.c):
 * DDL logged as it runs, replayed by the other servers' "plinth schema"
 * worker, and waited for at commit. Depends on the session.
 */
#ifndef PLINTH_SCHEMA_H
#define PLINTH_SCHEMA_H

#include "postgres.h"

#include "catalog/objectaccess.h"
#include "nodes/plannodes.h"

/* What plinth_ProcessUtility does with a statement's DDL. */
typedef enum PlinthSchemaMode
{
	PLINTH_SCHEMA_NONE,			/* not DDL, not shared, or inside another's */
	PLINTH_SCHEMA_LOG,			/* this server runs it first: log it */
	PLINTH_SCHEMA_REPLAY		/* another server ran it (plinth.replay) */
} PlinthSchemaMode;

/* plinth.replay: the schema log entry the statement replays (0: none). */
extern int	plinth_replay_seq;
/* plinth.schema_worker: this connection is the worker's. */
extern bool plinth_schema_worker;

extern PlinthSchemaMode plinth_schema_statement_begin(PlannedStmt *pstmt);
extern void plinth_schema_statement_done(PlannedStmt *pstmt, const char *queryString, PlinthSchemaMode mode);
extern void plinth_schema_statement_reset(PlinthSchemaMode mode);
extern void plinth_schema_note_relation(Oid relid, ObjectAccessType access);
extern void plinth_schema_backend_start(void);
extern void plinth_schema_pre_commit(void);
extern void plinth_schema_at_commit(void);
extern void plinth_schema_at_abort(void);
extern void plinth_schema_init(void);

#endif							/* PLINTH_SCHEMA_H */
