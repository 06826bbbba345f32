-- Transactions larger than one store transaction (FoundationDB's 10 MB):
-- at READ COMMITTED and REPEATABLE READ every statement below works as on
-- heap, whole or not at all (run on heap and on Plinth against one
-- expected output; Plinth commits them in steps, docs/design.md).
CREATE FUNCTION noise(n int) RETURNS text LANGUAGE sql AS
  $$ SELECT string_agg(md5(g::text || 'salt'), '') FROM generate_series(1, n / 32) g $$;

-- INSERT ... SELECT of 50,000 rows (about 15 MB with its key).
CREATE TABLE big (id int PRIMARY KEY, g int, pad text);
INSERT INTO big SELECT i, i % 100, repeat(md5(i::text), 8) FROM generate_series(1, 50000) i;
SELECT count(*), sum(g), sum(length(pad)) FROM big;

-- UPDATE of every row of a table of 4,000 incompressible 3 kB rows.
CREATE TABLE wide (id int PRIMARY KEY, body text);
INSERT INTO wide SELECT i, noise(3000) || i FROM generate_series(1, 4000) i;
UPDATE wide SET body = upper(body);
SELECT count(*), sum(length(body)) FROM wide WHERE body = upper(body);

-- CREATE INDEX on a table over 10 MB.
CREATE INDEX big_g ON big (g, pad);
SET enable_seqscan = off;
SELECT count(*) FROM big WHERE g = 7;
RESET enable_seqscan;

-- Builds and rewrites that outlast a store snapshot (FoundationDB's live
-- 5 s; the embedded store's lifetime is set short here): the table is
-- locked against writers, so their scans read through snapshots renewed
-- as they go.
SET plinth.transaction_lifetime = 300;
CREATE UNIQUE INDEX big_pad ON big (pad, id);
VACUUM FULL big;
CLUSTER big USING big_pad;
RESET plinth.transaction_lifetime;
SELECT count(*), sum(id) FROM big WHERE pad > 'f';
DROP INDEX big_pad;

-- Rewrites: ALTER TABLE ... TYPE, VACUUM FULL, CLUSTER.
ALTER TABLE big ALTER COLUMN g TYPE bigint;
VACUUM FULL big;
CLUSTER big USING big_pkey;
SET enable_seqscan = off;
SELECT count(*), sum(id) FROM big WHERE g = 7;
SELECT count(*), sum(id) FROM big WHERE id > 49990;
RESET enable_seqscan;

-- CREATE TABLE AS.
CREATE TABLE big_copy AS SELECT * FROM big;
SELECT count(*), sum(g) FROM big_copy;

-- A rolled-back large transaction leaves nothing; a savepoint rolled back
-- inside one takes back only its part.
BEGIN;
INSERT INTO big SELECT i, 0, repeat(md5(i::text), 9) FROM generate_series(100001, 150000) i;
SELECT count(*) FROM big;
ROLLBACK;
SELECT count(*) FROM big;
BEGIN;
INSERT INTO big SELECT i, 1, repeat(md5(i::text), 9) FROM generate_series(100001, 150000) i;
SAVEPOINT s;
DELETE FROM big WHERE id <= 30000;
ROLLBACK TO s;
DELETE FROM big WHERE id > 140000;
COMMIT;
SELECT count(*), min(id), max(id) FROM big;

-- A duplicate key found after 10 MB: the statement fails, nothing of it stays.
INSERT INTO big SELECT i, 2, repeat(md5(i::text), 9) FROM generate_series(200001, 250000) i
UNION ALL SELECT 5, 2, 'dup';
SELECT count(*) FROM big WHERE g = 2;

-- REPEATABLE READ, a transaction of several statements.
BEGIN ISOLATION LEVEL REPEATABLE READ;
INSERT INTO big SELECT i, 4, repeat(md5(i::text), 9) FROM generate_series(300001, 330000) i;
INSERT INTO big_copy SELECT i, 4, repeat(md5(i::text), 9) FROM generate_series(300001, 330000) i;
COMMIT;
SELECT count(*) FROM big WHERE g = 4;
SELECT count(*) FROM big_copy WHERE g = 4;

-- A 20 MB value that does not compress, and a TRUNCATE and reload in one
-- transaction.
CREATE TABLE blob (id int PRIMARY KEY, v text);
INSERT INTO blob VALUES (1, noise(20000000));
SELECT length(v), md5(v) = md5(noise(20000000)) AS intact FROM blob;
BEGIN;
TRUNCATE big_copy;
INSERT INTO big_copy SELECT i, 3, repeat(md5(i::text), 8) FROM generate_series(1, 50000) i;
COMMIT;
SELECT count(*), sum(g) FROM big_copy;

-- READ COMMITTED transactions of any duration: each statement reads a
-- snapshot of its own, however long the transaction idled before it (here
-- past the embedded store's lifetime, set short), even when nothing was
-- committed meanwhile; a read-only or writing one idle at COMMIT commits.
SET plinth.transaction_lifetime = 300;
BEGIN;
SELECT count(*) FROM wide;
SELECT pg_sleep(0.5);
SELECT count(*) FROM wide WHERE id < 10;
SAVEPOINT s;
SELECT pg_sleep(0.5);
UPDATE wide SET body = 'short' WHERE id = 1;
ROLLBACK TO SAVEPOINT s;
SELECT pg_sleep(0.5);
DELETE FROM wide WHERE id = 2;
SELECT pg_sleep(0.5);
COMMIT;
BEGIN;
SELECT count(*) FROM wide;
SELECT pg_sleep(0.5);
COMMIT;
RESET plinth.transaction_lifetime;

-- DELETE of every row.
DELETE FROM wide;
SELECT count(*) FROM wide;
DROP TABLE big, big_copy, blob, wide;
DROP FUNCTION noise(int);
