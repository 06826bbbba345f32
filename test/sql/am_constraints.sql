-- Keys, unique constraints, foreign keys, ON CONFLICT, and the index
-- maintenance behind them. Same output with heap and plinth.
CREATE TABLE parent (id int PRIMARY KEY, code text UNIQUE, grp int);
CREATE TABLE child (id serial PRIMARY KEY, parent_id int REFERENCES parent ON DELETE CASCADE,
                    parent_code text REFERENCES parent (code) ON UPDATE CASCADE ON DELETE SET NULL, note text);
INSERT INTO parent SELECT g, 'p' || g, g % 3 FROM generate_series(1, 10) g;
INSERT INTO child (parent_id, parent_code) VALUES (1, 'p1'), (2, 'p2'), (2, 'p3');

-- Violations, with Postgres's own messages and SQLSTATEs.
\set VERBOSITY default
INSERT INTO parent VALUES (1, 'dup id', 0);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO parent VALUES (11, 'p5', 0);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO child (parent_id) VALUES (99);
\echo :LAST_ERROR_SQLSTATE
UPDATE parent SET id = 3 WHERE id = 4;
INSERT INTO parent VALUES (NULL, 'no id', 0);
\echo :LAST_ERROR_SQLSTATE
-- A duplicate inside one statement, from a query, from COPY, from a
-- function: the statement fails as with heap, and nothing it wrote stays.
INSERT INTO parent VALUES (40, 'p40', 0), (41, 'p41', 0), (40, 'p40b', 0);
\echo :LAST_ERROR_SQLSTATE
INSERT INTO parent SELECT 50 + g % 3, 'q' || g, 0 FROM generate_series(1, 5) g;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
COPY parent FROM stdin;
60	p60	0
61	p60	0
\.
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
CREATE FUNCTION add_parent(i int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO parent VALUES (i, 'f' || i, 0);
  RETURN 'added';
EXCEPTION WHEN unique_violation THEN
  RETURN 'duplicate: ' || SQLERRM;
END $$;
SELECT g, add_parent(g) FROM generate_series(9, 12) g ORDER BY g;
-- The function's own statement is checked on its own: the duplicate the
-- outer statement makes is the outer statement's error.
INSERT INTO parent SELECT 70, add_parent(71), 0 FROM generate_series(1, 2);
\echo :LAST_ERROR_SQLSTATE
-- A duplicate a later part of the same statement removes is no duplicate.
WITH gone AS (DELETE FROM parent WHERE id = 12 RETURNING id)
INSERT INTO parent SELECT id, 'p12 again', 0 FROM gone;
SELECT id, code FROM parent WHERE id IN (9, 10, 11, 12, 40, 41, 50, 51, 52, 60, 61, 70, 71) ORDER BY id;
-- An UPDATE that moves a key onto one a later row moves away fails at
-- once, as with heap.
CREATE TABLE shift (n int PRIMARY KEY);
INSERT INTO shift VALUES (1), (2), (3);
UPDATE shift SET n = n + 1;
\echo :LAST_ERROR_SQLSTATE
SELECT n FROM shift ORDER BY n;
DROP TABLE shift;
DROP FUNCTION add_parent(int);
DELETE FROM parent WHERE id IN (11, 12);
-- Foreign keys over several columns in another order than the parent's
-- key, and across types: checked row by row as with heap.
CREATE TABLE region (country text, code int, PRIMARY KEY (country, code));
CREATE TABLE office (id int PRIMARY KEY, code smallint, country text,
                     FOREIGN KEY (code, country) REFERENCES region (code, country));
CREATE TABLE desk (id bigint PRIMARY KEY, office bigint REFERENCES office);
INSERT INTO region SELECT c, g FROM unnest(ARRAY['fr', 'de']) c, generate_series(1, 50) g;
INSERT INTO office SELECT g, g % 50 + 1, CASE WHEN g % 2 = 0 THEN 'fr' ELSE 'de' END FROM generate_series(1, 300) g;
INSERT INTO desk SELECT g, g % 300 + 1 FROM generate_series(1, 1000) g;
INSERT INTO office VALUES (1000, 51, 'fr');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO desk SELECT g, CASE WHEN g = 1500 THEN 301 ELSE 1 END FROM generate_series(1001, 2000) g;
\echo :LAST_ERROR_SQLSTATE
COPY desk FROM stdin;
5000	7
5001	999
\.
\echo :LAST_ERROR_SQLSTATE
BEGIN;
DELETE FROM desk WHERE office = 7;
DELETE FROM office WHERE id = 7;
INSERT INTO desk VALUES (6000, 7);
ROLLBACK;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*), count(DISTINCT office) FROM desk;
DROP TABLE desk, office, region;
-- NULLs are distinct in a unique index, unless asked otherwise.
INSERT INTO parent VALUES (20, NULL, 0), (21, NULL, 0);
CREATE TABLE nnd (a int, UNIQUE NULLS NOT DISTINCT (a));
INSERT INTO nnd VALUES (NULL);
INSERT INTO nnd VALUES (NULL);
\echo :LAST_ERROR_SQLSTATE

-- Foreign key actions.
UPDATE parent SET code = 'p2-renamed' WHERE id = 2;
SELECT id, parent_id, parent_code FROM child ORDER BY id;
DELETE FROM parent WHERE id = 3;
SELECT id, parent_id, parent_code FROM child ORDER BY id;
DELETE FROM parent WHERE id = 2;
SELECT id, parent_id, parent_code FROM child ORDER BY id;

-- ON CONFLICT.
INSERT INTO parent VALUES (1, 'p1', 9) ON CONFLICT DO NOTHING;
INSERT INTO parent VALUES (1, 'other', 9) ON CONFLICT (id) DO UPDATE SET grp = EXCLUDED.grp + parent.grp RETURNING *;
INSERT INTO parent VALUES (30, 'p1', 0) ON CONFLICT (code) DO UPDATE SET grp = -1 WHERE parent.grp > 100 RETURNING *;
INSERT INTO parent VALUES (31, 'p31', 0), (31, 'p31b', 0) ON CONFLICT (id) DO UPDATE SET code = EXCLUDED.code;
INSERT INTO parent SELECT g, 'p' || g, 0 FROM generate_series(8, 13) g ON CONFLICT (id) DO UPDATE SET grp = 100 RETURNING id, grp;
SELECT * FROM parent ORDER BY id;

-- Deferrable unique constraints: checked at commit.
CREATE TABLE seats (n int UNIQUE DEFERRABLE INITIALLY DEFERRED);
INSERT INTO seats VALUES (1), (2), (3);
UPDATE seats SET n = n + 1;
SELECT n FROM seats ORDER BY n;
BEGIN;
INSERT INTO seats VALUES (2);
SELECT count(*) FROM seats;
COMMIT;
\echo :LAST_ERROR_SQLSTATE
SELECT n FROM seats ORDER BY n;

-- Every index holds exactly one entry per row after any mix of writes.
CREATE TABLE churn (id int PRIMARY KEY, a int, b text);
CREATE INDEX churn_a ON churn (a);
CREATE INDEX churn_b_partial ON churn (b) WHERE a % 2 = 0;
CREATE INDEX churn_expr ON churn (lower(b), a DESC);
INSERT INTO churn SELECT g, g % 10, 'B' || g FROM generate_series(1, 500) g;
UPDATE churn SET a = a + 1 WHERE id % 3 = 0;
UPDATE churn SET b = b || 'x' WHERE id % 5 = 0;
DELETE FROM churn WHERE id % 7 = 0;
BEGIN;
UPDATE churn SET a = -1 WHERE id < 50;
SAVEPOINT s;
DELETE FROM churn WHERE id < 100;
ROLLBACK TO SAVEPOINT s;
UPDATE churn SET id = id + 1000 WHERE id BETWEEN 100 AND 110;
COMMIT;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) AS rows, (SELECT count(*) FROM churn WHERE a >= -1) AS via_a,
       (SELECT count(*) FROM churn WHERE lower(b) >= '') AS via_expr,
       (SELECT count(*) FROM churn WHERE b > '' AND a % 2 = 0) AS via_partial,
       (SELECT count(*) FROM churn WHERE a % 2 = 0) AS expected_partial
FROM churn;
SELECT id, a, b FROM churn WHERE a = -1 ORDER BY id LIMIT 5;
SELECT id FROM churn WHERE id > 1100 ORDER BY id DESC;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- REINDEX and CREATE INDEX on a populated table.
REINDEX TABLE churn;
CREATE UNIQUE INDEX churn_b_unique ON churn (b);
UPDATE churn SET a = id WHERE id <> 400;
UPDATE churn SET a = 1 WHERE id = 400;
CREATE UNIQUE INDEX churn_a_unique ON churn (a);
\echo :LAST_ERROR_SQLSTATE
DROP INDEX churn_a;
SELECT count(*) FROM churn WHERE a = 5;
UPDATE churn SET a = id % 10;

-- INCLUDE columns and index-only scans.
CREATE INDEX churn_cover ON churn (a) INCLUDE (b);
SET enable_seqscan = off;
SELECT a, b FROM churn WHERE a = 4 ORDER BY b LIMIT 3;
RESET enable_seqscan;

DROP TABLE child, parent, nnd, seats, churn;
