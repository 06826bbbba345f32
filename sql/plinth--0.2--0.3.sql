-- Plinth 0.3: sequences shared by the servers of a store (docs/design.md,
-- "Sequences"). The planner hook turns calls of Postgres's sequence
-- functions into these; sequences created from now on take values leased
-- from the store. Sequences made before stay this server's own.
\echo Use "ALTER EXTENSION plinth UPDATE" to load this file. \quit

CREATE FUNCTION plinth.nextval(regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'plinth_nextval' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION plinth.currval(regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'plinth_currval' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION plinth.lastval() RETURNS bigint
    AS 'MODULE_PATHNAME', 'plinth_lastval' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION plinth.setval(regclass, bigint) RETURNS bigint
    AS 'MODULE_PATHNAME', 'plinth_setval' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION plinth.setval(regclass, bigint, boolean) RETURNS bigint
    AS 'MODULE_PATHNAME', 'plinth_setval' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION plinth.sequence_last_value(regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'plinth_sequence_last_value' LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;
-- An identity column's next value (NextValueExpr), in the column's type.
CREATE FUNCTION plinth.identity_nextval_int2(regclass) RETURNS smallint
    AS 'MODULE_PATHNAME', 'plinth_identity_nextval' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION plinth.identity_nextval_int4(regclass) RETURNS integer
    AS 'MODULE_PATHNAME', 'plinth_identity_nextval' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
CREATE FUNCTION plinth.identity_nextval_int8(regclass) RETURNS bigint
    AS 'MODULE_PATHNAME', 'plinth_identity_nextval' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION plinth.nextval(regclass) IS 'nextval of a sequence shared by the servers of the store: queries calling nextval call this';
