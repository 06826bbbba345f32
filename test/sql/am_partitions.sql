-- Partitioned tables with partitions of the default access method; rows
-- move between partitions. Same output with heap and plinth.
CREATE TABLE measurements (city int, logdate date, peak int) PARTITION BY RANGE (logdate);
CREATE TABLE m_2020 PARTITION OF measurements FOR VALUES FROM ('2020-01-01') TO ('2021-01-01');
CREATE TABLE m_2021 PARTITION OF measurements FOR VALUES FROM ('2021-01-01') TO ('2022-01-01');
CREATE TABLE m_rest PARTITION OF measurements DEFAULT;
INSERT INTO measurements VALUES (1, '2020-03-01', 10), (2, '2021-05-05', 20), (3, '2030-01-01', 30);
SELECT tableoid::regclass, * FROM measurements ORDER BY city;
-- Row movement across partitions.
UPDATE measurements SET logdate = '2021-06-01' WHERE city = 1;
UPDATE measurements SET logdate = '2019-01-01' WHERE city = 2;
SELECT tableoid::regclass, * FROM measurements ORDER BY city;
DELETE FROM measurements WHERE city = 3;
SELECT count(*) FROM measurements;
SELECT count(*) FROM ONLY m_rest;
-- Hash and list partitioning, sub-partitions.
CREATE TABLE hp (k int, v text) PARTITION BY HASH (k);
CREATE TABLE hp0 PARTITION OF hp FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE hp1 PARTITION OF hp FOR VALUES WITH (MODULUS 2, REMAINDER 1) PARTITION BY LIST (v);
CREATE TABLE hp1a PARTITION OF hp1 FOR VALUES IN ('a');
CREATE TABLE hp1b PARTITION OF hp1 DEFAULT;
INSERT INTO hp SELECT g, CASE WHEN g % 3 = 0 THEN 'a' ELSE 'b' END FROM generate_series(1, 20) g;
SELECT tableoid::regclass AS part, count(*) FROM hp GROUP BY 1 ORDER BY 1;
UPDATE hp SET v = 'a' WHERE k = 2;
SELECT tableoid::regclass AS part, count(*) FROM hp GROUP BY 1 ORDER BY 1;
-- Attach and detach.
CREATE TABLE m_2022 (city int, logdate date, peak int);
INSERT INTO m_2022 VALUES (9, '2022-02-02', 90);
ALTER TABLE measurements DETACH PARTITION m_rest;
ALTER TABLE measurements ATTACH PARTITION m_2022 FOR VALUES FROM ('2022-01-01') TO ('2023-01-01');
SELECT tableoid::regclass, * FROM measurements ORDER BY city;
DROP TABLE measurements, hp, m_rest;
