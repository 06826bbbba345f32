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

-- The table access method: CREATE TABLE ... USING plinth, or
-- default_table_access_method = plinth.
CREATE FUNCTION plinth_tableam_handler(internal) RETURNS table_am_handler
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT;
CREATE ACCESS METHOD plinth TYPE TABLE HANDLER plinth_tableam_handler;
COMMENT ON ACCESS METHOD plinth IS 'Tables stored in a FoundationDB-style transactional key-value store';

-- Store work counters: on FoundationDB every round trip is network latency.
CREATE FUNCTION plinth_stat_statement(
    OUT reads bigint, OUT range_reads bigint, OUT round_trips bigint,
    OUT bytes_read bigint, OUT bytes_written bigint, OUT commits bigint, OUT conflicts bigint)
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION plinth_stat_statement() IS 'Store work of the last top-level statement of this session';
CREATE FUNCTION plinth_stat_session(
    OUT reads bigint, OUT range_reads bigint, OUT round_trips bigint,
    OUT bytes_read bigint, OUT bytes_written bigint, OUT commits bigint, OUT conflicts bigint)
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION plinth_stat_session() IS 'Store work of this session';
CREATE FUNCTION plinth_relation_info(rel regclass, OUT store_id bigint, OUT live_rows bigint, OUT bytes bigint)
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE;
COMMENT ON FUNCTION plinth_relation_info(regclass) IS 'The store id of a Plinth table or index, and a table''s row count and bytes';
CREATE FUNCTION plinth_claim_server_identity() RETURNS void
    AS 'MODULE_PATHNAME' LANGUAGE C STRICT VOLATILE;
REVOKE EXECUTE ON FUNCTION plinth_claim_server_identity() FROM PUBLIC;
COMMENT ON FUNCTION plinth_claim_server_identity() IS 'Make this server the owner of its store identity (after moving its data directory)';
CREATE FUNCTION plinth_sweep_orphans() RETURNS int
    AS 'MODULE_PATHNAME', 'plinth_sweep_orphans_sql' LANGUAGE C STRICT VOLATILE;
REVOKE EXECUTE ON FUNCTION plinth_sweep_orphans() FROM PUBLIC;
COMMENT ON FUNCTION plinth_sweep_orphans() IS 'Remove store data of relations that no longer exist (a crash between the store''s commit and Postgres''s); also run by a database-wide VACUUM';
