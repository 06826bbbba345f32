-- The schema servers sharing a store share (docs/design.md, "Several
-- servers, one store"), as one server sees it: each committed DDL
-- transaction advances this server's position in the database's schema
-- log; a rollback, a rolled-back savepoint and temporary objects do not.
CREATE EXTENSION plinth;
SET default_table_access_method = plinth;
-- A DDL commit returns once this server has applied the log through it, so
-- the position read next includes CREATE EXTENSION's own entry (applied by
-- the schema worker, perhaps a moment after that statement returned).
CREATE TABLE sync_point ();
DROP TABLE sync_point;
SELECT seq AS start FROM plinth.schema_applied \gset
CREATE TABLE items (id int PRIMARY KEY, tags text[], body text);
SELECT seq - :start AS after_create FROM plinth.schema_applied;
BEGIN;
CREATE INDEX items_body ON items (body);
COMMENT ON TABLE items IS 'things';
COMMIT;
SELECT seq - :start AS two_more_in_one_commit FROM plinth.schema_applied;
BEGIN;
CREATE TABLE never (x int);
ROLLBACK;
BEGIN;
CREATE TABLE kept (x int);
SAVEPOINT s;
CREATE TABLE lost (x int);
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT seq - :start AS rollbacks_log_nothing FROM plinth.schema_applied;
CREATE TEMP TABLE scratch (x int);
CREATE INDEX ON scratch (x);
DROP TABLE scratch;
SELECT seq - :start AS temporary_objects_stay_local FROM plinth.schema_applied;
-- Plain statements log nothing.
INSERT INTO items VALUES (1, '{a,b}', 'one');
VACUUM items;
ANALYZE items;
SELECT seq - :start AS data_and_maintenance_log_nothing FROM plinth.schema_applied;

-- Indexes Postgres keeps in local files would be this server's only: on
-- Plinth tables they are refused (plinth.single_server is off here).
CREATE INDEX items_tags ON items USING gin (tags);
CREATE INDEX items_hash ON items USING hash (body);
CREATE INDEX items_brin ON items USING brin (id);
CREATE INDEX items_gist ON items USING gist (point(id, id));
CREATE INDEX items_spgist ON items USING spgist (body);
-- A heap table may have them, as ever.
CREATE TABLE local_things (tags text[]) USING heap;
CREATE INDEX local_things_tags ON local_things USING gin (tags);
-- Refused statements logged nothing; the heap table and its index are logged.
SELECT seq - :start AS plus_heap_table_and_index FROM plinth.schema_applied;

-- Only a superuser may replay an entry, or look at what is pending.
CREATE ROLE schema_nobody;
SET ROLE schema_nobody;
SET plinth.replay = 1;
SELECT * FROM plinth.schema_pending(10);
RESET ROLE;
DROP ROLE schema_nobody;

-- Types and enum labels made by logged DDL take portable ids (portable.c):
-- a type, its array type, each label; those of temporary objects, and of a
-- rolled-back statement, none.
SELECT count(*) AS mapped FROM plinth.portable_oids \gset
CREATE TYPE tint AS ENUM ('red', 'blue');
ALTER TYPE tint ADD VALUE 'green';
CREATE TEMP TABLE local_rows (t tint);
BEGIN;
CREATE TYPE gone AS ENUM ('x');
ROLLBACK;
SELECT count(*) - :mapped AS new_ids,
       count(*) FILTER (WHERE catalog = 'pg_enum'::regclass AND local IN (SELECT oid FROM pg_enum WHERE enumtypid = 'tint'::regtype)) AS labels,
       count(*) FILTER (WHERE local IN ('tint'::regtype, 'tint[]'::regtype)) AS types
FROM plinth.portable_oids;
-- Stored values name them by portable id, read back as this server's.
CREATE TABLE tinted (t tint, ts tint[]);
INSERT INTO tinted VALUES ('green', '{blue,green}');
SELECT * FROM tinted;
DROP TABLE tinted, local_rows;
DROP TYPE tint;

DROP TABLE items, kept, local_things;
DROP EXTENSION plinth;
