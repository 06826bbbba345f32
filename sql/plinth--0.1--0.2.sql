-- Plinth 0.2: servers sharing a store share the schema (docs/design.md,
-- "Several servers, one store").
\echo Use "ALTER EXTENSION plinth UPDATE" to load this file. \quit

-- Where this server's catalog stands in this database's schema log: updated
-- in the transaction of each DDL statement it logs or replays, so a crash
-- never leaves the two apart. Heap, local to this server. A database copied
-- from a template (another OID) starts from the beginning of its own log.
CREATE SCHEMA plinth;
COMMENT ON SCHEMA plinth IS 'Plinth''s own objects';
CREATE TABLE plinth.schema_applied (datoid oid NOT NULL, seq bigint NOT NULL) USING heap;
CREATE FUNCTION plinth.schema_start() RETURNS bigint
    AS 'MODULE_PATHNAME', 'plinth_schema_start' LANGUAGE C STRICT VOLATILE;
REVOKE EXECUTE ON FUNCTION plinth.schema_start() FROM PUBLIC;
INSERT INTO plinth.schema_applied SELECT oid, plinth.schema_start() FROM pg_database WHERE datname = current_database();
REVOKE ALL ON plinth.schema_applied FROM PUBLIC;
COMMENT ON TABLE plinth.schema_applied IS 'The last entry of this database''s schema log in the store that this server applied';

-- The "plinth schema" worker's queries.
CREATE FUNCTION plinth.schema_pending(max_entries int,
    OUT seq bigint, OUT role text, OUT search_path text, OUT statement text)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'plinth_schema_pending' LANGUAGE C STRICT VOLATILE;
REVOKE EXECUTE ON FUNCTION plinth.schema_pending(int) FROM PUBLIC;
COMMENT ON FUNCTION plinth.schema_pending(int) IS 'Schema log entries of other servers this server has not applied';
CREATE FUNCTION plinth.schema_skip(seq bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'plinth_schema_skip' LANGUAGE C STRICT VOLATILE;
REVOKE EXECUTE ON FUNCTION plinth.schema_skip(bigint) FROM PUBLIC;
COMMENT ON FUNCTION plinth.schema_skip(bigint) IS 'Pass over a schema log entry this server cannot apply';
