/*
 * liveness.c — the server's heartbeat, for row locks held across servers.
 *
 * A row lock held by a transaction of another server is waited for by
 * polling (locks.c); if that server died and does not come back, nothing
 * would ever end the wait. So each server runs a background worker that
 * advances a counter in the store's volatile space every tenth of
 * plinth.server_timeout (Session.beat). A waiter that sees the counter of
 * the holder's server unchanged for plinth.server_timeout declares that run
 * of the server dead (Session.declareDead): its locks are free from then on.
 * A server so declared that was only stalled finds out at its next beat and
 * restarts (exit code 2: the postmaster restarts every backend, and the new
 * run records itself); until then its backends commit nothing that holds
 * locks (Session.commit asks the store when the last beat is not recent).
 * Depends on the session.
 */
#include "postgres.h"

#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/timestamp.h"

#include "session.h"
#include "liveness.h"

PGDLLEXPORT void plinth_liveness_main(Datum arg);

/* From _PG_init, in the postmaster. */
void
plinth_register_liveness_worker(void)
{
	plinth_register_worker("plinth liveness", "plinth_liveness_main", 0);
}

void
plinth_liveness_main(Datum arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	for (;;)
	{
		long		pause;
		bool		failed = false;

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (ShutdownRequestPending)
		{
			/* Servers running DDL stop waiting for this one (schema.c). */
			PG_TRY();
			{
				plinth_prepare_worker();
				plinth_swift_server_stopping();
			}
			PG_CATCH();
			{
				FlushErrorState();
			}
			PG_END_TRY();
			proc_exit(0);
		}
		if (plinth_server_timeout_ms > 0)
		{
			TimestampTz began = GetCurrentTimestamp();
			bool		alive = true;
			bool		beat = false;

			/* A store that fails now (unreachable, full) is logged; the next beat tries again. */
			PG_TRY();
			{
				plinth_prepare_worker();
				PLINTH_CHECK(plinth_swift_server_beat(&alive));
				beat = true;
			}
			PG_CATCH();
			{
				EmitErrorReport();
				FlushErrorState();
				failed = true;
			}
			PG_END_TRY();
			if (beat && !alive)
			{
				ereport(LOG,
						(errmsg("plinth: this server was declared dead by another server sharing its store; restarting"),
						 errdetail("It sent no heartbeat for longer than plinth.server_timeout (%d ms), "
								   "so its row locks were released.", plinth_server_timeout_ms)));
				/* Not 0 or 1: the postmaster restarts every process. */
				proc_exit(2);
			}
			if (beat)
				plinth_note_beat(began);
		}
		pause = plinth_server_timeout_ms > 0 ? Min(Max(plinth_server_timeout_ms / 10, 10), 1000) : 1000;
		if (failed)
			pause = 10000;		/* logged once per 10 s while the store fails */
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, pause, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
