/*
 * swift_api.h — the Swift entry points the C shim calls (@_cdecl functions in
 * Sources/PlinthGlue). Every one that can fail returns PlinthStatus; the
 * caller wraps it in PLINTH_CHECK so the error is raised after Swift returned.
 */
#ifndef PLINTH_SWIFT_API_H
#define PLINTH_SWIFT_API_H

#include "plinth_bridge.h"

/* Version.swift */
extern const char *plinth_swift_version(void);

/* BoundaryTests.swift: prove the error boundary (SQL: plinth_test.*) */
extern PlinthStatus plinth_swift_test_raise(const char *sqlstate, const char *message);
extern PlinthStatus plinth_swift_test_parse_int4(const char *text, int32_t *result);
extern int64_t plinth_swift_test_unwound(void);

#endif							/* PLINTH_SWIFT_API_H */
