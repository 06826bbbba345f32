-- What the store holds and what each statement costs it: store ids, row
-- counters, round trips, limits and their SQLSTATEs (Plinth only).
CREATE EXTENSION plinth;
SET default_table_access_method = plinth;
\set VERBOSITY default

CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric);
CREATE INDEX accounts_owner ON accounts (owner);
INSERT INTO accounts SELECT g, 'owner ' || (g % 100), g * 10 FROM generate_series(1, 1000) g;

-- 1. Store ids, never OIDs or relfilenodes: several servers share one store.
SELECT store_id > 0 AS has_id,
       store_id <> 'accounts'::regclass::oid AS not_oid,
       store_id <> pg_relation_filenode('accounts') AS not_filenode,
       live_rows, bytes > 0 AS has_bytes
  FROM plinth_relation_info('accounts');
SELECT (SELECT store_id FROM plinth_relation_info('accounts_pkey')) <>
       (SELECT store_id FROM plinth_relation_info('accounts_owner')) AS indexes_apart;
-- The counters follow commits and rollbacks.
DELETE FROM accounts WHERE id > 900;
SELECT live_rows FROM plinth_relation_info('accounts');
BEGIN;
DELETE FROM accounts;
SELECT live_rows FROM plinth_relation_info('accounts');
ROLLBACK;
SELECT live_rows FROM plinth_relation_info('accounts');
CREATE TABLE heap_t (a int) USING heap;
SELECT * FROM plinth_relation_info('heap_t');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE heap_t;

-- 2. Round trips. A primary-key lookup costs at most two store reads.
SELECT owner FROM accounts WHERE id = 42;   -- warms this session's caches
SELECT owner FROM accounts WHERE id = 43;
SELECT round_trips <= 2 AS pk_lookup_at_most_two, commits FROM plinth_stat_statement();
-- An index scan fetches its rows in batches, not one round trip per row;
-- rows whose ids lie close together (the key follows the order of
-- insertion) as one range read, not a store request per row.
SELECT count(*) FROM (SELECT * FROM accounts WHERE id BETWEEN 100 AND 400 ORDER BY id) s;
SELECT round_trips < 10 AS range_scan_batched, reads < 10 AS rows_read_as_spans FROM plinth_stat_statement();
SELECT count(*), sum(balance) FROM accounts WHERE owner = 'owner 7';
SELECT round_trips < 10 AS secondary_lookup_batched FROM plinth_stat_statement();
-- So does a sequential scan.
SELECT count(*), sum(balance) FROM accounts;
SELECT round_trips < 10 AS seq_scan_batched, bytes_read > 0 AS read_rows FROM plinth_stat_statement();
-- Writes are buffered and sent with the commit: one commit per transaction.
UPDATE accounts SET balance = balance + 1 WHERE id <= 100;
SELECT commits, bytes_written > 0 AS wrote FROM plinth_stat_statement();
-- An UPDATE reads each row once: the row it changes is the one its scan
-- just read, not fetched again. Its row locks: the first 64 one by one
-- (three round trips each: the lock's key, its commit, the row's newest
-- version), the rest 256 at a time, each batch's locks and rows read as
-- two spans of neighbouring keys, not one store request per row.
UPDATE accounts SET balance = balance + 1;
SELECT round_trips < 64 * 3 + 30 AS update_batched, commits,
       reads + range_reads < 64 * 2 + 40 AS batches_read_as_spans FROM plinth_stat_statement();
DELETE FROM accounts WHERE id > 850 AND balance::int % 7 = 0;
SELECT round_trips < 40 AS delete_batched FROM plinth_stat_statement();
-- A row lock on FoundationDB, whose locks are keys among the data: the
-- row's newest version is read beside the lock's keys, a range of the
-- lock's own store transaction, not a point read after it. And a commit
-- holding a lock releases it with its writes (one round trip); the
-- embedded store keeps its locks apart, released by a transaction of
-- their own (two), not counting the read a commit makes when it checks
-- that this server was not declared dead (its last heartbeat not recent).
BEGIN;
UPDATE accounts SET balance = balance + 1 WHERE id = 42;
SELECT reads <= CASE WHEN current_setting('plinth.cluster_file') = '' THEN 2 ELSE 1 END AS lock_reads_its_row
  FROM plinth_stat_statement();
COMMIT;
SELECT commits, round_trips - reads <= CASE WHEN current_setting('plinth.cluster_file') = '' THEN 2 ELSE 1 END AS commit_releases_locks
  FROM plinth_stat_statement();
-- Uniqueness checks of a statement's inserted rows are read together when
-- it ends: one round trip, not one per row (heap checks each row as it is
-- inserted; on FoundationDB that would be a network latency per row). Each
-- check reads its key's newest entries (a range each) and its key's lock;
-- the locks of neighbouring keys are read as one span (a range in all).
INSERT INTO accounts SELECT g, 'new', 0 FROM generate_series(2001, 3000) g;
SELECT range_reads AS checks, round_trips < 20 AS checks_batched FROM plinth_stat_statement();
INSERT INTO accounts SELECT g, 'dup', 0 FROM generate_series(2990, 3010) g;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM accounts WHERE id > 2000;
DELETE FROM accounts WHERE id > 2000;
-- Each check holds a read conflict on its key, and conflict ranges count
-- against the 10 MB a transaction may send: past 20,000, each batch of
-- checks holds one range per index, so large inserts still fit.
CREATE TABLE wide_load (id int PRIMARY KEY, v text);
INSERT INTO wide_load SELECT g, 'x' FROM generate_series(1, 25000) g;
SELECT count(*) FROM wide_load;
INSERT INTO wide_load VALUES (25000, 'dup');
\echo :LAST_ERROR_SQLSTATE
DROP TABLE wide_load;
-- A statement's count includes the statements it runs inside: foreign key
-- checks, functions, triggers.
CREATE TABLE holders (id int PRIMARY KEY, account int REFERENCES accounts);
INSERT INTO holders SELECT g, g FROM generate_series(1, 100) g;
SELECT reads + range_reads >= 100 AS fk_checks_counted FROM plinth_stat_statement();
-- ...and reads the parent rows those checks look up ahead of them, together:
-- not two round trips per row. The parents found are locked (FOR KEY SHARE,
-- the checks' lock) and kept for the checks, which are statements of their
-- own with snapshots of their own (always new ones on FoundationDB): the
-- same few round trips on either engine.
INSERT INTO holders SELECT g, g FROM generate_series(101, 800) g;
SELECT round_trips < 30 AS fk_checks_read_ahead FROM plinth_stat_statement();
DROP TABLE holders;
-- The session total grows.
SELECT round_trips > 0 AS session_counted, commits > 0 AS session_commits FROM plinth_stat_session();

-- 3. Limits. Rows past the store's value limit are split; values compress.
CREATE TABLE docs (id int PRIMARY KEY, body text);
CREATE FUNCTION noise(n int) RETURNS text LANGUAGE sql AS
  $$ SELECT string_agg(md5(g::text || 'salt'), '') FROM generate_series(1, n / 32) g $$;
INSERT INTO docs VALUES (1, noise(3000000)), (2, repeat('z', 5000000));
SELECT id, length(body), md5(body) = md5(CASE id WHEN 1 THEN noise(3000000) ELSE repeat('z', 5000000) END) AS intact
  FROM docs ORDER BY id;
-- A READ COMMITTED transaction of any size commits whole, in steps
-- (docs/design.md, "Commits larger than one store transaction").
INSERT INTO docs SELECT g, noise(1000000) || g FROM generate_series(10, 25) g;
SELECT count(*), sum(length(body)) FROM docs;
-- ...and a failed one leaves nothing: a duplicate key after 10 MB.
INSERT INTO docs SELECT CASE WHEN g = 31 THEN 10 ELSE g END, noise(1000000) || g FROM generate_series(30, 45) g;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FILTER (WHERE id = 10) AS tens, count(*) FILTER (WHERE id >= 30) AS sent FROM docs;
-- Such a statement reads only rows from before it: no Halloween problem.
INSERT INTO docs SELECT id + 100, body FROM docs WHERE id >= 10;
SELECT count(*) FROM docs;
DELETE FROM docs WHERE id >= 10;
-- SERIALIZABLE checks its reads and writes in one store transaction: past
-- 10 MB of writes, 54000 with a hint. Caught in a savepoint, the rest of
-- the transaction goes on.
SET default_transaction_isolation = serializable;
BEGIN;
INSERT INTO docs VALUES (3, 'kept');
DO $$
DECLARE hint text;
BEGIN
  INSERT INTO docs SELECT g, noise(1000000) || g FROM generate_series(10, 25) g;
EXCEPTION WHEN program_limit_exceeded THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RAISE NOTICE '% %: %', SQLSTATE, SQLERRM, hint;
END $$;
INSERT INTO docs VALUES (4, 'kept too');
COMMIT;
SELECT id, body FROM docs WHERE id IN (3, 4) ORDER BY id;
DELETE FROM docs WHERE id IN (3, 4);
-- Without a savepoint, the transaction aborts and nothing is written.
\set VERBOSITY terse
INSERT INTO docs SELECT g, noise(1000000) || g FROM generate_series(10, 25) g;
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM docs;
RESET default_transaction_isolation;
-- An index key past Postgres's index tuple limit: 54000, nothing written.
CREATE INDEX docs_body ON docs (body);
\echo :LAST_ERROR_SQLSTATE
CREATE INDEX docs_prefix ON docs (left(body, 100));
INSERT INTO docs VALUES (100, noise(20000));
INSERT INTO docs VALUES (101, 'short');
SELECT id FROM docs WHERE left(body, 100) = 'short';

-- A key longer than the store holds (10,000 bytes): which index, which
-- column, how long. Searching for such a value finds nothing, as on heap.
CREATE TABLE longkeys (id int, t text COLLATE "C");
CREATE INDEX longkeys_t ON longkeys (t);
INSERT INTO longkeys VALUES (1, repeat('x', 2000));
-- (The whole key's length depends on the store ids in its prefix: shown as N.)
DO $$
DECLARE msg text; detail text; hint text;
BEGIN
  INSERT INTO longkeys VALUES (2, repeat('x', 12000));
EXCEPTION WHEN program_limit_exceeded THEN
  GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
  RAISE NOTICE '%: % / % / %', SQLSTATE, regexp_replace(msg, '[0-9]+ bytes', 'N bytes'),
    regexp_replace(detail, 'entry is [0-9]+ bytes', 'entry is N bytes'), hint;
END $$;
SET enable_seqscan = off;
SELECT count(*) FROM longkeys WHERE t = repeat('x', 20000);
SELECT count(*) FROM longkeys WHERE t > repeat('x', 20000);
SELECT count(*) FROM longkeys WHERE t < repeat('x', 20000);
SELECT count(*) FROM longkeys WHERE t IN (repeat('y', 20000), repeat('x', 2000));
RESET enable_seqscan;
DROP TABLE longkeys;
-- Text under a collation other than C is keyed by its sort key and then
-- its bytes, 2 to 4 bytes per character: the hint says so (the sizes
-- depend on the collation library, so only the hint is shown).
CREATE TABLE longkeys_icu (t text COLLATE "und-x-icu");
CREATE INDEX longkeys_icu_t ON longkeys_icu (t);
DO $$
DECLARE hint text;
BEGIN
  INSERT INTO longkeys_icu VALUES (repeat('x', 6000));
  RAISE NOTICE 'inserted';
EXCEPTION WHEN program_limit_exceeded THEN
  GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
  RAISE NOTICE 'hint: %', hint;
END $$;
DROP TABLE longkeys_icu;

-- 4. PREPARE TRANSACTION cannot hold a store transaction.
BEGIN;
INSERT INTO docs VALUES (200, 'prepared?');
PREPARE TRANSACTION 'p1';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM docs WHERE id = 200;
-- A transaction that never touched a Plinth table still may.
BEGIN;
SELECT 1;
PREPARE TRANSACTION 'p2';
COMMIT PREPARED 'p2';

-- 5. A relation's store data goes when the relation goes, however it goes.
CREATE EXTENSION plinth_test;
SELECT plinth_test_database_keys() AS baseline \gset
-- Dropped at commit, rows and index entries included.
BEGIN;
CREATE TEMP TABLE tdrop (id int PRIMARY KEY, v text) ON COMMIT DROP;
INSERT INTO tdrop SELECT g, 'x' FROM generate_series(1, 20000) g;
COMMIT;
SELECT plinth_test_database_keys() - :baseline AS left_by_on_commit_drop;
-- Emptied at each commit: the table's keys stay (its row id allocator:
-- ids are never reused), its rows do not.
CREATE TEMP TABLE tdel (id int PRIMARY KEY) ON COMMIT DELETE ROWS;
INSERT INTO tdel VALUES (1);
SELECT plinth_test_database_keys() AS with_tdel \gset
BEGIN;
INSERT INTO tdel SELECT generate_series(1, 5000);
COMMIT;
SELECT plinth_test_database_keys() - :with_tdel AS left_by_on_commit_delete_rows;
DROP TABLE tdel;
-- Created and filled by a transaction that rolls back (the row id
-- allocator of a table created in the transaction included).
BEGIN;
CREATE TABLE gone (id int PRIMARY KEY, v text);
INSERT INTO gone SELECT g, 'x' FROM generate_series(1, 1000) g;
ROLLBACK;
-- A rewrite that fails half-way (the new rows are written before the
-- value that does not convert).
CREATE TABLE conv (id int PRIMARY KEY, v text);
INSERT INTO conv SELECT g, g::text FROM generate_series(1, 1000) g;
INSERT INTO conv VALUES (1001, 'not a number');
SELECT plinth_test_database_keys() AS with_conv \gset
ALTER TABLE conv ALTER COLUMN v TYPE int USING v::int;
\echo :LAST_ERROR_SQLSTATE
SELECT plinth_test_database_keys() - :with_conv AS left_by_failed_rewrite;
DROP TABLE conv;
-- An index build writes its entries straight to the store, a megabyte at
-- a time (60,000 entries here: several); rolled back, failed on a
-- duplicate, or in a savepoint rolled back, it leaves nothing.
CREATE TABLE tbuild (id int, g int);
INSERT INTO tbuild SELECT g, g % 10 FROM generate_series(1, 60000) g;
SELECT plinth_test_database_keys() AS with_tbuild \gset
BEGIN;
CREATE INDEX tbuild_g ON tbuild (g, id);
ROLLBACK;
CREATE UNIQUE INDEX tbuild_u ON tbuild (g);
BEGIN;
SAVEPOINT s;
CREATE INDEX tbuild_g ON tbuild (g, id);
ROLLBACK TO s;
COMMIT;
SELECT plinth_test_database_keys() - :with_tbuild AS left_by_failed_builds;
-- Read in the transaction that built it (its snapshot is older than the
-- entries), REPEATABLE READ included, with later changes on top.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM tbuild;
CREATE INDEX tbuild_g ON tbuild (g, id);
SET LOCAL enable_seqscan = off;
SET LOCAL enable_bitmapscan = off;
SELECT count(*) FROM tbuild WHERE g = 3;
DELETE FROM tbuild WHERE id = 3;
INSERT INTO tbuild VALUES (60003, 3);
SELECT count(*), max(id) FROM tbuild WHERE g = 3;
COMMIT;
SELECT plinth_test_database_keys() - :with_tbuild AS entries_built;
DROP TABLE tbuild;
SELECT plinth_test_database_keys() - :baseline AS left_in_all;
-- An UPDATE that gives rows new row ids (a table without indexes moves
-- every row it updates) leaves a mark at each old key for a transaction
-- waiting to change the row; VACUUM removes those no running transaction
-- can follow (the table's mark counter stays).
CREATE TABLE movers (n int);
INSERT INTO movers SELECT generate_series(1, 100);
SELECT plinth_test_database_keys() AS with_movers \gset
UPDATE movers SET n = n + 1;
SELECT plinth_test_database_keys() - :with_movers AS marks_and_counter;
VACUUM movers;
SELECT plinth_test_database_keys() - :with_movers AS counter_after_vacuum;
SELECT count(*), sum(n) FROM movers;
DROP TABLE movers;
-- An UPDATE that moves its rows (no index: each row takes a new row id)
-- notes where each went with its batch of row locks, not with a round
-- trip or two per row: the first 64 rows one by one, then per batch.
CREATE TABLE movers (n int);
INSERT INTO movers SELECT generate_series(1, 1000);
UPDATE movers SET n = n + 1;
SELECT round_trips < 64 * 5 + 40 AS moving_update_batched FROM plinth_stat_statement();
DROP TABLE movers;
DROP EXTENSION plinth_test;

DROP TABLE docs, accounts;
DROP FUNCTION noise(int);
DROP EXTENSION plinth;
