-- INSERT, UPDATE, DELETE, MERGE, COPY and friends. Same output with heap and plinth.
CREATE TABLE items (id int, name text, qty int DEFAULT 1, note text);
INSERT INTO items VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'plum', DEFAULT);
INSERT INTO items (id, name) VALUES (4, 'fig') RETURNING *;
INSERT INTO items SELECT g, 'item' || g, g % 7 FROM generate_series(5, 20) g RETURNING id, qty;
SELECT * FROM items ORDER BY id;
UPDATE items SET qty = qty * 10 WHERE id % 3 = 0 RETURNING id, qty;
UPDATE items SET note = 'x' || id FROM (SELECT 2 AS k) s WHERE items.id = s.k RETURNING items.*;
DELETE FROM items WHERE qty = 0 RETURNING id;
SELECT count(*), sum(qty) FROM items;

-- COPY in and out.
COPY items FROM stdin;
100	copied	9	\N
101	copied too	8	with note
\.
COPY (SELECT * FROM items WHERE id >= 100 ORDER BY id) TO stdout;
COPY items (id, name) FROM stdin WITH (FORMAT csv);
102,"quoted, name"
\.
SELECT * FROM items WHERE id >= 100 ORDER BY id;

-- MERGE.
CREATE TABLE stock (id int, qty int);
INSERT INTO stock VALUES (1, 100), (2, 200), (999, 1);
MERGE INTO stock s USING items i ON s.id = i.id
WHEN MATCHED AND i.qty > 4 THEN UPDATE SET qty = s.qty + i.qty
WHEN MATCHED THEN DELETE
WHEN NOT MATCHED AND i.id < 6 THEN INSERT VALUES (i.id, i.qty);
SELECT * FROM stock ORDER BY id;

-- CREATE TABLE AS, SELECT INTO, materialized views.
CREATE TABLE items_copy AS SELECT * FROM items WHERE id < 10;
SELECT id, name INTO items_into FROM items WHERE id BETWEEN 5 AND 8;
CREATE MATERIALIZED VIEW item_totals AS SELECT qty, count(*) AS n FROM items GROUP BY qty;
SELECT * FROM items_copy ORDER BY id;
SELECT * FROM items_into ORDER BY id;
SELECT * FROM item_totals ORDER BY qty;
INSERT INTO items VALUES (200, 'late', 1);
REFRESH MATERIALIZED VIEW item_totals;
SELECT * FROM item_totals WHERE qty = 1;

-- Statement visibility: a statement never sees its own changes.
CREATE TABLE doubling (n int);
INSERT INTO doubling SELECT generate_series(1, 100);
INSERT INTO doubling SELECT * FROM doubling;
SELECT count(*) FROM doubling;
UPDATE doubling SET n = n + 1;
SELECT count(*), min(n), max(n) FROM doubling;
-- A writable CTE's changes are invisible to its own query.
WITH moved AS (DELETE FROM doubling WHERE n > 100 RETURNING n)
SELECT (SELECT count(*) FROM moved) AS deleted, (SELECT count(*) FROM doubling) AS still_seen;
SELECT count(*) FROM doubling;
WITH ins AS (INSERT INTO doubling VALUES (-1) RETURNING n)
SELECT count(*) FILTER (WHERE n = -1) AS sees_own_insert FROM doubling;

-- Generated columns, CHECK and NOT NULL.
CREATE TABLE gen (a int NOT NULL, b int GENERATED ALWAYS AS (a * 2) STORED, CHECK (a < 1000));
INSERT INTO gen (a) VALUES (1), (2);
INSERT INTO gen (a) VALUES (NULL);
INSERT INTO gen (a) VALUES (5000);
UPDATE gen SET a = a + 10;
SELECT * FROM gen ORDER BY a;

-- TRUNCATE is transactional.
BEGIN;
TRUNCATE items_copy;
SELECT count(*) FROM items_copy;
ROLLBACK;
SELECT count(*) FROM items_copy;
BEGIN;
TRUNCATE items_copy;
INSERT INTO items_copy VALUES (1, 'after truncate');
COMMIT;
SELECT id, name FROM items_copy;

-- DROP TABLE removes the data with its transaction.
BEGIN;
DROP TABLE items_into;
ROLLBACK;
SELECT count(*) FROM items_into;
DROP TABLE items_into;

-- ALTER TABLE with and without rewrite.
ALTER TABLE items RENAME COLUMN note TO remark;
ALTER TABLE items ALTER COLUMN qty TYPE bigint;
ALTER TABLE items ADD COLUMN added timestamptz DEFAULT '2020-01-01';
ALTER TABLE items ALTER COLUMN name TYPE varchar(40);
ALTER TABLE items DROP COLUMN remark;
SELECT * FROM items WHERE id IN (1, 2, 100) ORDER BY id;

-- VACUUM, ANALYZE, CLUSTER and VACUUM FULL are harmless.
VACUUM items;
VACUUM ANALYZE items;
ANALYZE stock;
VACUUM FULL stock;
SELECT * FROM stock ORDER BY id;

-- Updates: xmin is the writer's, a row version ORMs compare; an update
-- that changes no indexed column keeps indexes right; the same row matched
-- twice by a join is updated once; rows shrink and grow past the store's
-- value size.
CREATE TABLE versions (id int PRIMARY KEY, k int UNIQUE, v int, body text);
INSERT INTO versions SELECT g, g, 0, 'x' FROM generate_series(1, 20) g;
SELECT xmin AS before FROM versions WHERE id = 1 \gset
UPDATE versions SET v = v + 1 WHERE id = 1;
SELECT xmin <> :'before' AS new_version, v FROM versions WHERE id = 1;
BEGIN;
INSERT INTO versions VALUES (21, 21, 0, 'a');
SAVEPOINT s;
INSERT INTO versions VALUES (22, 22, 0, 'b');
RELEASE SAVEPOINT s;
COMMIT;
SELECT count(DISTINCT xmin::text) AS writers FROM versions WHERE id IN (21, 22);
UPDATE versions SET v = v + 10;
UPDATE versions SET k = k + 100 WHERE id % 2 = 0;
SELECT id, k, v FROM versions WHERE k > 100 ORDER BY k LIMIT 3;
SELECT count(*) FROM versions WHERE k < 100;
CREATE TABLE matches (id int);
INSERT INTO matches VALUES (3), (3), (4);
UPDATE versions SET v = v + 100 FROM matches WHERE versions.id = matches.id;
SELECT id, v FROM versions WHERE id IN (3, 4) ORDER BY id;
UPDATE versions SET body = (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 5000) g) WHERE id = 5;
SELECT length(body), md5(body) = (SELECT md5(string_agg(md5(g::text), '')) FROM generate_series(1, 5000) g) AS intact
  FROM versions WHERE id = 5;
UPDATE versions SET body = 'small again' WHERE id = 5;
SELECT id, body FROM versions WHERE id = 5;
SET enable_seqscan = off;
SELECT id FROM versions WHERE k = 5;
RESET enable_seqscan;
-- The old row of an AFTER ROW trigger is the old row.
CREATE TABLE version_log (id int, old_v int, new_v int);
CREATE FUNCTION log_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO version_log VALUES (NEW.id, OLD.v, NEW.v); RETURN NULL; END $$;
CREATE TRIGGER versions_log AFTER UPDATE ON versions FOR EACH ROW EXECUTE FUNCTION log_version();
UPDATE versions SET v = 7 WHERE id IN (1, 2);
SELECT * FROM version_log ORDER BY id;
DROP TABLE versions, matches, version_log;
DROP FUNCTION log_version();

DROP TABLE items, stock, items_copy, doubling, gen CASCADE;
-- WHERE CURRENT OF after the cursor's row was updated (Postgres's
-- portals.sql): the TID follows the row to its newest version, twice, and
-- a delete of it; once deleted, the cursor's row is gone.
CREATE TABLE uctest (f1 int, f2 text);
INSERT INTO uctest VALUES (3, 'three'), (8, 'one');
BEGIN;
DECLARE c1 CURSOR FOR SELECT * FROM uctest WHERE f1 = 3;
FETCH c1;
UPDATE uctest SET f1 = f1 + 10 WHERE CURRENT OF c1;
UPDATE uctest SET f1 = f1 + 10 WHERE CURRENT OF c1;
SELECT * FROM uctest ORDER BY f1;
FETCH RELATIVE 0 FROM c1;
DELETE FROM uctest WHERE CURRENT OF c1;
SELECT * FROM uctest ORDER BY f1;
DELETE FROM uctest WHERE CURRENT OF c1;
UPDATE uctest SET f1 = f1 + 10 WHERE CURRENT OF c1;
SELECT * FROM uctest ORDER BY f1;
COMMIT;
DROP TABLE uctest;

-- TIDs past the end of a table are not valid: currtid2 says so, as heap
-- does past its last block; a row's own TID is, in the transaction that
-- created the table too.
CREATE TABLE tids (a int);
SELECT currtid2('tids'::text, '(0,1)'::tid);
INSERT INTO tids VALUES (1);
SELECT currtid2('tids'::text, ctid) = ctid AS own FROM tids;
SELECT a FROM tids WHERE ctid = '(5,1)';
DROP TABLE tids;
BEGIN;
CREATE TABLE tids (a int);
SELECT currtid2('tids'::text, '(0,1)'::tid);
ROLLBACK;
BEGIN;
CREATE TABLE tids (a int);
INSERT INTO tids VALUES (1), (2);
SELECT count(*) FROM tids WHERE currtid2('tids'::text, ctid) = ctid;
ROLLBACK;
