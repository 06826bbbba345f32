/*
 * boundary.h — the error boundary between Postgres and Swift (boundary.c).
 * The leaf of the shim: every other file raises Swift's errors through it.
 */
#ifndef PLINTH_BOUNDARY_H
#define PLINTH_BOUNDARY_H

#include "plinth_bridge.h"

/* Raises the error a Swift entry point returned (a Postgres error caught
   by plinth_pg_try first, else the one Swift recorded). */
extern void plinth_raise_pending(void) pg_attribute_noreturn();
/* Forget anything pending: called at transaction end. */
extern void plinth_boundary_reset(void);

/* Call a Swift entry point and raise its error, if any, once it returned. */
#define PLINTH_CHECK(call) \
	do { \
		if ((call) != PLINTH_OK) \
			plinth_raise_pending(); \
	} while (0)

#endif							/* PLINTH_BOUNDARY_H */
