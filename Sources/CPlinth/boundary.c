/*
 * boundary.c — the error boundary between Postgres and Swift.
 *
 * Two rules (docs/design.md, "Rules of the Postgres boundary"):
 *  1. ereport(ERROR) longjmps; it must never jump over a Swift frame. Swift
 *     reaches Postgres only through plinth_pg_try(), which catches the error
 *     with PG_TRY, copies it out of ErrorContext and returns false.
 *  2. Swift reports its own failures by returning PLINTH_ERROR after calling
 *     plinth_error_set(). The C entry point then calls plinth_raise_pending(),
 *     which raises whichever error is pending, after Swift has returned.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "storage/procarray.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "plinth_bridge.h"
#include "boundary.h"

/* A Swift error waiting to be raised (filled by plinth_error_set). */
static bool swift_error_pending = false;
static char swift_sqlstate[6];
static char swift_message[2048];
static char swift_detail[2048];
static char swift_hint[1024];
static bool swift_has_detail;
static bool swift_has_hint;

/*
 * A Postgres error caught by plinth_pg_try, waiting to be re-raised. It lives
 * in its own memory context, reset once the error is raised again: on
 * PostgreSQL 15.x, FreeErrorData does not free every string that
 * CopyErrorData copies (filename, funcname, domain... leak about 200 bytes a
 * time), so a context reset is the only leak-free way to drop a copy.
 */
static ErrorData *pg_error_pending = NULL;
static MemoryContext pending_error_context = NULL;

static void
copy_text(char *dst, size_t size, const char *src)
{
	size_t		n = strlen(src);

	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

void
plinth_error_set(const char *sqlstate, const char *message,
				 const char *detail, const char *hint)
{
	copy_text(swift_sqlstate, sizeof(swift_sqlstate),
			  (sqlstate && strlen(sqlstate) == 5) ? sqlstate : "XX000");
	copy_text(swift_message, sizeof(swift_message), message ? message : "plinth error");
	swift_has_detail = detail != NULL;
	if (detail)
		copy_text(swift_detail, sizeof(swift_detail), detail);
	swift_has_hint = hint != NULL;
	if (hint)
		copy_text(swift_hint, sizeof(swift_hint), hint);
	swift_error_pending = true;
}

bool
plinth_pg_try(void (*fn) (void *arg), void *arg)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		fn(arg);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/*
		 * Keep a copy outside ErrorContext, then leave the error state clean.
		 * Only the first error is kept: it is the cause.
		 */
		if (pg_error_pending == NULL)
		{
			if (pending_error_context == NULL)
				pending_error_context = AllocSetContextCreate(TopMemoryContext,
															  "plinth pending error",
															  ALLOCSET_SMALL_SIZES);
			MemoryContextSwitchTo(pending_error_context);
			edata = CopyErrorData();
			pg_error_pending = edata;
		}
		FlushErrorState();
		MemoryContextSwitchTo(oldcontext);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

void
plinth_raise_pending(void)
{
	if (pg_error_pending != NULL)
	{
		ErrorData  *edata = pg_error_pending;

		pg_error_pending = NULL;
		swift_error_pending = false;
		/* ReThrowError copies edata into ErrorContext; ours can go. */
		PG_TRY();
		{
			ReThrowError(edata);
		}
		PG_FINALLY();
		{
			MemoryContextReset(pending_error_context);
		}
		PG_END_TRY();
	}
	if (swift_error_pending)
	{
		swift_error_pending = false;
		ereport(ERROR,
				(errcode(MAKE_SQLSTATE(swift_sqlstate[0], swift_sqlstate[1],
									   swift_sqlstate[2], swift_sqlstate[3],
									   swift_sqlstate[4])),
				 errmsg_internal("%s", swift_message),
				 swift_has_detail ? errdetail_internal("%s", swift_detail) : 0,
				 swift_has_hint ? errhint("%s", swift_hint) : 0));
	}
	elog(ERROR, "plinth: an operation failed without recording an error");
}

/*
 * Interrupts, as Swift's waits and retry loops see them (StoreInterrupts in
 * Sources/PlinthStore/Waits.swift). Reading the flag is cheap and raises
 * nothing; processing runs CHECK_FOR_INTERRUPTS under plinth_pg_try, so a
 * query cancel or statement_timeout is caught, waits while Swift unwinds,
 * and is raised unchanged by plinth_raise_pending (a termination ends the
 * process there, as it would anywhere).
 */
bool
plinth_interrupt_pending(void)
{
	return InterruptPending && INTERRUPTS_CAN_BE_PROCESSED();
}

static void
process_interrupts_body(void *arg)
{
	CHECK_FOR_INTERRUPTS();
}

bool
plinth_interrupt_raised(void)
{
	return !plinth_pg_try(process_interrupts_body, NULL);
}

typedef struct InProgressArgs
{
	TransactionId xid;
	bool		running;
} InProgressArgs;

static void
in_progress_body(void *arg)
{
	InProgressArgs *a = arg;

	a->running = TransactionIdIsInProgress(a->xid);
}

bool
plinth_transaction_in_progress(uint32_t xid, bool *running)
{
	InProgressArgs a = {xid, true};
	bool		ok = plinth_pg_try(in_progress_body, &a);

	*running = a.running;
	return ok;
}

/* Forget anything pending: called at transaction end. */
void
plinth_boundary_reset(void)
{
	if (pending_error_context != NULL)
		MemoryContextReset(pending_error_context);
	pg_error_pending = NULL;
	swift_error_pending = false;
}

/* ---- test support --------------------------------------------------- */

struct parse_int4_args
{
	const char *text;
	int32		result;
};

static void
parse_int4_body(void *arg)
{
	struct parse_int4_args *a = arg;

	a->result = DatumGetInt32(DirectFunctionCall1(int4in, CStringGetDatum(a->text)));
}

bool
plinth_pg_parse_int4(const char *text, int32_t *result)
{
	struct parse_int4_args a = {text, 0};

	if (!plinth_pg_try(parse_int4_body, &a))
		return false;
	*result = a.result;
	return true;
}
