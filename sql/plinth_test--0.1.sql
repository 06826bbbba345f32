-- Test support for Plinth's regression tests. Not for production use.
\echo Use "CREATE EXTENSION plinth_test" to load this file. \quit

CREATE FUNCTION plinth_test_raise(sqlstate text, message text) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plinth_test_parse_int4(text) RETURNS int4
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plinth_test_unwound() RETURNS int8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plinth_test_backend_rss() RETURNS int8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plinth_test_retry_forever(limit_ms int4) RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plinth_test_database_keys() RETURNS int8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE FUNCTION plinth_test_staged_commits() RETURNS int8
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
