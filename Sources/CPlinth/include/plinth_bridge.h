/*
 * plinth_bridge.h — the whole surface shared by the C shim and Swift.
 *
 * Swift imports this header (module CPlinth), so it must not include any
 * Postgres header: Postgres defines types named String, List, Node... that
 * would clash with Swift's. Everything here is plain C.
 *
 * Direction of calls:
 *   Postgres -> C shim (Sources/CPlinth) -> Swift @_cdecl entry points
 *   (declared in swift_api.h) -> store.
 * Swift never raises a Postgres error: it records one with plinth_error_set()
 * and returns PLINTH_ERROR; the C entry point raises it after Swift has
 * returned, so ereport's longjmp never crosses a Swift frame.
 */
#ifndef PLINTH_BRIDGE_H
#define PLINTH_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Returned by every Swift entry point that can fail. */
typedef enum PlinthStatus
{
	PLINTH_OK = 0,
	PLINTH_ERROR = 1			/* error recorded by plinth_error_set() or
								 * plinth_pg_try() */
} PlinthStatus;

/*
 * Record an error for the C entry point to raise. sqlstate is five
 * characters ("40001"); detail and hint may be NULL. Copies its arguments.
 */
void		plinth_error_set(const char *sqlstate, const char *message,
							 const char *detail, const char *hint);

/*
 * Run fn(arg) inside PG_TRY. Returns true when it finished normally. When it
 * raised a Postgres error, the error is copied, the error state flushed, and
 * false returned; the C entry point re-raises that error once Swift has
 * unwound (plinth_raise_pending). This is the only way Swift calls a Postgres
 * function that can raise.
 */
bool		plinth_pg_try(void (*fn) (void *arg), void *arg);

/* Test support: a Postgres call that raises for bad input (int4in). */
bool		plinth_pg_parse_int4(const char *text, int32_t *result);

#endif							/* PLINTH_BRIDGE_H */
