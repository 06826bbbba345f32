-- Plinth 0.4: values that name types and enum labels (enum values, arrays
-- and composite values of types made by DDL) name them in the store by
-- portable ids, the same on every server (docs/design.md, "Portable
-- OIDs"). Each server records here which of its catalog rows each id is.
-- Types made before keep their OIDs in the store, as before.
\echo Use "ALTER EXTENSION plinth UPDATE" to load this file. \quit

CREATE TABLE plinth.portable_oids (
    portable bigint PRIMARY KEY,
    catalog oid NOT NULL,
    local oid NOT NULL,
    UNIQUE (catalog, local)
) USING heap;
REVOKE ALL ON plinth.portable_oids FROM PUBLIC;
COMMENT ON TABLE plinth.portable_oids IS 'The pg_type and pg_enum rows of this server that values in the store name by portable id (the schema log gives the ids)';
