/*
 * locks.c — waiting for the holder of a row or key lock.
 *
 * Swift keeps row and key locks in the store (RowLocks.swift) so that every
 * server sharing it sees them; it never waits itself, it says whom to wait
 * for. A holder on this server is waited for through Postgres's lock
 * manager — XactLockTableWait on the (sub)transaction that took the lock —
 * so deadlock detection, lock_timeout, query cancel, pg_locks and
 * pg_stat_activity work as for heap. A holder on another server is polled
 * in the store (its transaction record) with a growing pause up to 100 ms,
 * answering interrupts and lock_timeout; a deadlock across servers is
 * broken by lock_timeout (docs/design.md, "Row locks").
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/timestamp.h"

#include "locks.h"
#include "session.h"

/* The ids a lock is taken under; assigns the transaction an id, as heap does. */
void
plinth_lock_ids(PlinthLockIds *ids)
{
	ids->wait_xid = GetCurrentTransactionId();
	ids->top_xid = (int64) U64FromFullTransactionId(GetTopFullTransactionId());
	ids->subid = GetCurrentSubTransactionId();
}

/*
 * The same without assigning an id (statement ends, where a transaction
 * that wrote nothing takes no lock): zero for a transaction that has none.
 */
void
plinth_lock_ids_if_any(PlinthLockIds *ids)
{
	ids->wait_xid = GetCurrentTransactionIdIfAny();
	if (!TransactionIdIsValid(ids->wait_xid))
		ids->wait_xid = GetTopTransactionIdIfAny();
	ids->top_xid = (int64) U64FromFullTransactionId(GetTopFullTransactionIdIfAny());
	ids->subid = GetCurrentSubTransactionId();
}

/*
 * Polls the holder's transaction on another server until it ends. Its
 * server's heartbeat is watched too: unchanged for plinth.server_timeout,
 * that server is declared dead and its locks are free (liveness.c).
 */
static void
wait_for_remote(const PlinthLockWait *wait)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz beat_seen = start;
	int64		last_beat = -1;
	long		pause = 1;

	for (;;)
	{
		bool		running;
		int64		beat;

		CHECK_FOR_INTERRUPTS();
		PLINTH_CHECK(plinth_swift_holder_running(wait, &running, &beat));
		if (!running)
			return;
		if (beat != last_beat)
		{
			last_beat = beat;
			beat_seen = GetCurrentTimestamp();
		}
		else if (plinth_server_timeout_ms > 0 &&
				 TimestampDifferenceExceeds(beat_seen, GetCurrentTimestamp(), plinth_server_timeout_ms))
		{
			ereport(LOG,
					(errmsg("plinth: server " INT64_FORMAT " sent no heartbeat for %d ms: declared dead, its row locks released",
							wait->holder_server, plinth_server_timeout_ms)));
			PLINTH_CHECK(plinth_swift_declare_server_dead(wait));
			continue;
		}
		if (LockTimeout > 0 && TimestampDifferenceExceeds(start, GetCurrentTimestamp(), LockTimeout))
			ereport(ERROR,
					(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
					 errmsg("canceling statement due to lock timeout"),
					 errdetail("Waiting for transaction " INT64_FORMAT " of Plinth server " INT64_FORMAT ".",
							   wait->holder_xid, wait->holder_server)));
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, pause,
						 PG_WAIT_LOCK | LOCKTAG_TRANSACTION);
		ResetLatch(MyLatch);
		pause = Min(pause * 2, 100);
	}
}

/*
 * Waits until the transaction `wait` names has ended; the caller then tries
 * its lock again. `rel` and `tid` (may be NULL) say what for, in messages.
 */
void
plinth_wait_for_holder(const PlinthLockWait *wait, Relation rel, ItemPointer tid, XLTW_Oper oper)
{
	Assert(wait->blocked);
	if (!wait->local)
		wait_for_remote(wait);
	else if (TransactionIdIsCurrentTransactionId(wait->wait_xid))
		/* Waiting for oneself would never end: a lock of an earlier run. */
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("a row lock is held under this transaction's own id"),
				 errdetail("Transaction " INT64_FORMAT " of this server holds it (lock of an earlier run?).",
						   wait->holder_xid)));
	else
		XactLockTableWait(wait->wait_xid, rel, tid, oper);
}
