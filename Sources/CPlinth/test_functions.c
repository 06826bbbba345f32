/*
 * test_functions.c — SQL functions of the plinth_test extension, used by the
 * regression tests to prove the error boundary and memory behaviour. They are
 * not part of the plinth extension users install.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "relation.h"

/* plinth_test_raise(sqlstate text, message text): a Swift error */
PG_FUNCTION_INFO_V1(plinth_test_raise);
Datum
plinth_test_raise(PG_FUNCTION_ARGS)
{
	char	   *sqlstate = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *message = text_to_cstring(PG_GETARG_TEXT_PP(1));

	PLINTH_CHECK(plinth_swift_test_raise(sqlstate, message));
	PG_RETURN_VOID();
}

/* plinth_test_parse_int4(text): Swift calls int4in, which may raise */
PG_FUNCTION_INFO_V1(plinth_test_parse_int4);
Datum
plinth_test_parse_int4(PG_FUNCTION_ARGS)
{
	char	   *s = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int32_t		result = 0;

	PLINTH_CHECK(plinth_swift_test_parse_int4(s, &result));
	PG_RETURN_INT32(result);
}

/* plinth_test_unwound(): Swift frames that returned normally after an error */
PG_FUNCTION_INFO_V1(plinth_test_unwound);
Datum
plinth_test_unwound(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(plinth_swift_test_unwound());
}

/*
 * plinth_test_retry_forever(limit_ms): a store transaction that conflicts at
 * every attempt, in Plinth's retry loop: it must answer query cancel and
 * statement_timeout, and give up after limit_ms.
 */
PG_FUNCTION_INFO_V1(plinth_test_retry_forever);
Datum
plinth_test_retry_forever(PG_FUNCTION_ARGS)
{
	plinth_prepare();
	PLINTH_CHECK(plinth_swift_test_retry_forever(PG_GETARG_INT32(0)));
	PG_RETURN_VOID();
}

/*
 * plinth_test_database_keys(): how many keys this database has in the store
 * (committed), to show that what goes leaves nothing behind.
 */
PG_FUNCTION_INFO_V1(plinth_test_database_keys);
Datum
plinth_test_database_keys(PG_FUNCTION_ARGS)
{
	int64_t		n;

	plinth_prepare();
	PLINTH_CHECK(plinth_swift_test_database_keys(&n));
	PG_RETURN_INT64(n);
}

/*
 * plinth_test_staged_commits(): how many staged commits the store holds,
 * to show that a crash while staging leaves none for long.
 */
PG_FUNCTION_INFO_V1(plinth_test_staged_commits);
Datum
plinth_test_staged_commits(PG_FUNCTION_ARGS)
{
	int64_t		n;

	plinth_prepare();
	PLINTH_CHECK(plinth_swift_test_staged_commits(&n));
	PG_RETURN_INT64(n);
}

/* plinth_test_backend_rss(): resident set size of this backend, in kB */
PG_FUNCTION_INFO_V1(plinth_test_backend_rss);
Datum
plinth_test_backend_rss(PG_FUNCTION_ARGS)
{
	FILE	   *f = fopen("/proc/self/status", "r");
	char		line[256];
	int64		kb = -1;

	if (f == NULL)
		ereport(ERROR, (errcode_for_file_access(), errmsg("could not open /proc/self/status: %m")));
	while (fgets(line, sizeof(line), f))
	{
		if (strncmp(line, "VmRSS:", 6) == 0)
		{
			kb = strtoll(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	PG_RETURN_INT64(kb);
}

