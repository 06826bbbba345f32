/*
 * databases.h — databases shared by name by every server on one store
 * (databases.c): CREATE / DROP / RENAME / ALTER DATABASE logged in the
 * store-wide database log at their commit, applied by the other servers'
 * "plinth schema" worker. Depends on the session.
 */
#ifndef PLINTH_DATABASES_H
#define PLINTH_DATABASES_H

#include "postgres.h"

#include "nodes/plannodes.h"

/* plinth.replay_database: the database log entry the statement replays (0: none). */
extern int	plinth_replay_database_seq;

extern void plinth_databases_init(void);
extern char *plinth_statement_text(PlannedStmt *pstmt, const char *queryString);
extern PlannedStmt *plinth_database_statement_begin(PlannedStmt *pstmt);
extern void plinth_database_statement_done(PlannedStmt *pstmt, const char *queryString);
extern void plinth_databases_note_drop(Oid dboid);
extern void plinth_databases_pre_commit(void);
extern void plinth_databases_at_commit(void);
extern void plinth_databases_at_abort(void);
extern void plinth_database_log_lock_shared(void);
extern bool plinth_commit_wait_interrupted(void);
extern void plinth_warn_servers_behind(int32 gave_up, const char *change);

#endif							/* PLINTH_DATABASES_H */
