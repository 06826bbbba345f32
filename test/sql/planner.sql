-- The planner sees the store: size estimates from the store's counters,
-- ANALYZE samples from the store, and indexes chosen on cost alone
-- (no enable_seqscan = off anywhere in this file).
CREATE EXTENSION plinth;
SET default_table_access_method = plinth;

CREATE FUNCTION estimated_rows(query text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
  EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
  RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::bigint;
END $$;
CREATE FUNCTION within_2x(estimate bigint, actual bigint) RETURNS boolean LANGUAGE sql AS
  $$ SELECT estimate BETWEEN actual / 2 AND actual * 2 $$;

CREATE TABLE orders (id bigint PRIMARY KEY, customer int NOT NULL, status text NOT NULL,
                     total numeric(10,2), placed date);
CREATE INDEX orders_customer ON orders (customer);
CREATE INDEX orders_status ON orders (status);
-- In two transactions: 20,000 rows with three indexes are more than a
-- store transaction may hold (FoundationDB's 10 MB).
INSERT INTO orders
  SELECT g, g % 2000, CASE WHEN g % 10 = 0 THEN 'open' ELSE 'closed' END,
         (g % 997) * 1.5, date '2024-01-01' + (g % 365)
  FROM generate_series(1, 10000) g;
INSERT INTO orders
  SELECT g, g % 2000, CASE WHEN g % 10 = 0 THEN 'open' ELSE 'closed' END,
         (g % 997) * 1.5, date '2024-01-01' + (g % 365)
  FROM generate_series(10001, 20000) g;

-- Before ANALYZE the table's size comes from the store's row counters.
SELECT within_2x(estimated_rows('SELECT * FROM orders'), 20000) AS size_estimate_ok;
ANALYZE orders;
SELECT reltuples BETWEEN 10000 AND 40000 AS reltuples_ok, relpages > 0 AS has_pages
  FROM pg_class WHERE relname = 'orders';
-- After ANALYZE, estimates for plain scans are within 2x.
SELECT within_2x(estimated_rows('SELECT * FROM orders'), 20000) AS all_rows,
       within_2x(estimated_rows('SELECT * FROM orders WHERE status = ''open'''), 2000) AS status_open,
       within_2x(estimated_rows('SELECT * FROM orders WHERE customer = 7'), 10) AS one_customer,
       within_2x(estimated_rows('SELECT * FROM orders WHERE placed < ''2024-02-01'''), 1699) AS january;
-- Growth shows without another ANALYZE.
INSERT INTO orders SELECT g, g % 2000, 'closed', 1, date '2025-01-01' FROM generate_series(20001, 30000) g;
INSERT INTO orders SELECT g, g % 2000, 'closed', 1, date '2025-01-01' FROM generate_series(30001, 40000) g;
SELECT within_2x(estimated_rows('SELECT * FROM orders'), 40000) AS grown;
ANALYZE orders;

-- Selective predicates use an index, non-selective ones scan the table.
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE id = 123;
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE customer = 7;
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE id BETWEEN 100 AND 120;
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE status = 'closed';
EXPLAIN (COSTS OFF) SELECT count(*) FROM orders WHERE total > 10;
EXPLAIN (COSTS OFF) SELECT * FROM orders ORDER BY id DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT max(id), min(id) FROM orders;
EXPLAIN (COSTS OFF) SELECT * FROM orders WHERE customer IN (1, 2, 3);
-- And the answers are right.
SELECT id, customer, status FROM orders WHERE id = 123;
SELECT count(*) FROM orders WHERE customer = 7;
SELECT id FROM orders ORDER BY id DESC LIMIT 5;
SELECT max(id), min(id) FROM orders;
SELECT count(*) FROM orders WHERE customer IN (1, 2, 3);

-- Index-only scans are index-only: every entry a scan returns is visible
-- to it, so no row is fetched (no point reads at all).
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT count(*) FROM orders WHERE customer BETWEEN 10 AND 400;
SELECT count(*) FROM orders WHERE customer BETWEEN 10 AND 400;
SELECT reads AS row_reads FROM plinth_stat_statement();
-- An index-only scan sees its transaction's earlier writes and not the
-- rows its own statement inserts.
BEGIN;
SET LOCAL enable_bitmapscan = off;
INSERT INTO orders (id, customer, status) SELECT 1000000 + row_number() OVER (), customer, 'copy' FROM orders WHERE customer BETWEEN 10 AND 400;
SELECT count(*) FROM orders WHERE customer BETWEEN 10 AND 400;
DELETE FROM orders WHERE id >= 1000000;
SELECT count(*) FROM orders WHERE customer BETWEEN 10 AND 400;
ROLLBACK;

-- A join on the key.
CREATE TABLE customers (id int PRIMARY KEY, name text);
INSERT INTO customers SELECT g, 'customer ' || g FROM generate_series(0, 1999) g;
ANALYZE customers;
EXPLAIN (COSTS OFF)
  SELECT c.name, o.total FROM customers c JOIN orders o ON o.customer = c.id WHERE c.id = 42;
SELECT c.name, count(*) FROM customers c JOIN orders o ON o.customer = c.id WHERE c.id = 42 GROUP BY c.name;

DROP TABLE orders, customers;
DROP FUNCTION estimated_rows(text), within_2x(bigint, bigint);
DROP EXTENSION plinth;
