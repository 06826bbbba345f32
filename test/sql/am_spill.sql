-- A transaction's writes past plinth.write_buffer_memory spill to a file
-- of the backend's and are read back from there: every statement below must
-- print what heap prints (run on heap and on Plinth against one expected
-- output; on heap the setting changes nothing).
SET plinth.write_buffer_memory = '64kB';
CREATE TABLE parent (id int PRIMARY KEY, name text UNIQUE);
CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent, note text);

-- A load, then reads, updates and deletes of what it wrote, in one transaction.
BEGIN;
INSERT INTO parent SELECT i, 'p' || i FROM generate_series(1, 5000) i;
INSERT INTO child SELECT i, 1 + i % 5000, md5(i::text) FROM generate_series(1, 20000) i;
SELECT count(*), sum(parent_id), count(DISTINCT note) FROM child;
SELECT name FROM parent WHERE id = 4321;
UPDATE child SET note = upper(note) WHERE id % 4 = 0;
DELETE FROM child WHERE id % 10 = 0;
SELECT count(*), count(*) FILTER (WHERE note = upper(note)) FROM child;
-- A statement reading the rows it inserts into: it sees none of its own.
INSERT INTO child SELECT id + 100000, parent_id, note FROM child WHERE id <= 3000;
SELECT count(*) FROM child;
-- Uniqueness and foreign keys against spilled rows.
INSERT INTO parent VALUES (17, 'again');
COMMIT;
SELECT count(*) FROM child;

BEGIN;
INSERT INTO parent SELECT i, 'p' || i FROM generate_series(1, 5000) i;
INSERT INTO child SELECT i, 1 + i % 5000, md5(i::text) FROM generate_series(1, 20000) i;
INSERT INTO child VALUES (20001, 999999, 'orphan');
COMMIT;

BEGIN;
INSERT INTO parent SELECT i, 'p' || i FROM generate_series(1, 5000) i;
INSERT INTO child SELECT i, 1 + i % 5000, md5(i::text) FROM generate_series(1, 20000) i;
UPDATE child SET note = upper(note) WHERE id % 4 = 0;
DELETE FROM child WHERE id % 10 = 0;
INSERT INTO child SELECT id + 100000, parent_id, note FROM child WHERE id <= 3000;
-- Savepoints: what a rolled-back subtransaction wrote goes, spilled or not;
-- what a released one wrote stays.
SAVEPOINT s1;
INSERT INTO child SELECT i, 1, 'in s1' FROM generate_series(200001, 210000) i;
DELETE FROM child WHERE id <= 5000;
UPDATE parent SET name = name || '!' WHERE id <= 2500;
SELECT count(*), count(*) FILTER (WHERE note = 'in s1') FROM child;
ROLLBACK TO SAVEPOINT s1;
SELECT count(*), count(*) FILTER (WHERE note = 'in s1') FROM child;
SELECT count(*) FROM parent WHERE name LIKE '%!';
SAVEPOINT s2;
INSERT INTO child SELECT i, 2, 'in s2' FROM generate_series(300001, 306000) i;
RELEASE SAVEPOINT s2;
-- An error inside a PL/pgSQL block: its writes go back, the rest stays.
DO $$
BEGIN
  INSERT INTO child SELECT i, 3, 'in block' FROM generate_series(400001, 404000) i;
  INSERT INTO child VALUES (1, 1, 'duplicate');
EXCEPTION WHEN unique_violation THEN
  RAISE NOTICE 'block rolled back';
END $$;
SELECT note, count(*) FROM child WHERE note IN ('in s1', 'in s2', 'in block') GROUP BY note ORDER BY note;
-- A cursor opened before more writes keeps its statement's view.
DECLARE c CURSOR FOR SELECT id, note FROM child WHERE id BETWEEN 300001 AND 300005 ORDER BY id;
UPDATE child SET note = 'after cursor' WHERE id BETWEEN 300001 AND 300005;
INSERT INTO child SELECT i, 4, 'late' FROM generate_series(500001, 505000) i;
FETCH ALL FROM c;
CLOSE c;
-- Reads in key order, both ways, through the primary key.
SELECT id, note FROM child WHERE id BETWEEN 299998 AND 300003 ORDER BY id;
SELECT id, note FROM child WHERE id BETWEEN 299998 AND 300003 ORDER BY id DESC;
COMMIT;
SELECT count(*), sum(id::bigint), count(DISTINCT note), sum(parent_id) FROM child;
SELECT count(*), sum(length(name)) FROM parent;

-- Rolled back: nothing stays.
BEGIN;
INSERT INTO parent SELECT i, 'q' || i FROM generate_series(10001, 30000) i;
SELECT count(*) FROM parent;
ROLLBACK;
SELECT count(*) FROM parent;

-- TRUNCATE of a table loaded in the same transaction, then a new load.
BEGIN;
DELETE FROM child;
TRUNCATE child;
INSERT INTO child SELECT i, 1 + i % 5000, 'reloaded' FROM generate_series(1, 15000) i;
SELECT count(*), min(note), max(note) FROM child;
COMMIT;
SELECT count(*), min(id), max(id) FROM child;

-- REPEATABLE READ spills too.
BEGIN ISOLATION LEVEL REPEATABLE READ;
UPDATE child SET note = 'rr' WHERE id % 2 = 0;
SELECT note, count(*) FROM child GROUP BY note ORDER BY note;
COMMIT;
SELECT note, count(*) FROM child GROUP BY note ORDER BY note;

DROP TABLE child, parent;
RESET plinth.write_buffer_memory;
