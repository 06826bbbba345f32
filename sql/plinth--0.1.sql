-- Plinth 0.1: tables and indexes stored in a transactional key-value store.
\echo Use "CREATE EXTENSION plinth" to load this file. \quit

-- Refuse to install into a server that did not preload the library: the
-- index dispatcher and transaction callbacks are installed at server start.
CREATE FUNCTION plinth_check_preloaded() RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
SELECT plinth_check_preloaded();

CREATE FUNCTION plinth_version() RETURNS text
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT IMMUTABLE;
COMMENT ON FUNCTION plinth_version() IS 'Version of the loaded Plinth library';
