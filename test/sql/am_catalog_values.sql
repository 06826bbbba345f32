--
-- Values that name catalog rows by OID: enum labels, and the types of
-- arrays, composite values, ranges and multiranges. Plinth stores them by
-- the portable ids its schema log gives those rows, the same on every
-- server, and reads them back as this server's OIDs (portable.c); heap
-- stores the OIDs. Every path that writes or reads a row must show the
-- same values: INSERT, COPY, UPDATE, DELETE ... RETURNING, index and
-- index-only scans, unique violations, ON CONFLICT, partition routing,
-- foreign keys, rewrites and copies.
--
CREATE TYPE color AS ENUM ('red', 'green', 'blue');
-- Labels added between others get odd OIDs, compared through pg_enum.
ALTER TYPE color ADD VALUE 'yellow' BEFORE 'green';
ALTER TYPE color ADD VALUE 'purple';
CREATE DOMAIN warm AS color CHECK (VALUE IN ('red', 'yellow'));
CREATE TYPE swatch AS (c color, shades color[], w warm);
CREATE TYPE colorrange AS RANGE (subtype = color);
CREATE TYPE intpair AS (a int, b int);
CREATE TYPE pairrange AS RANGE (subtype = intpair);
CREATE TABLE palette (
    id int PRIMARY KEY,
    c color NOT NULL,
    cs color[],
    w warm,
    ws warm[],
    s swatch,
    ss swatch[],
    r colorrange,
    mr colormultirange,
    ip intpair[],
    pr pairrange
);
CREATE INDEX palette_c ON palette (c) INCLUDE (cs);
CREATE UNIQUE INDEX palette_s ON palette (s);
INSERT INTO palette VALUES
    (1, 'red', '{red,blue}', 'red', '{red,yellow}', '(green,"{red,purple}",yellow)',
     ARRAY['(blue,{},red)'::swatch, NULL], '[red,blue)', '{[red,yellow], [green,purple]}', '{"(1,2)"}',
     '["(1,2)","(3,4)")'),
    (2, 'yellow', '{}', NULL, NULL, NULL, NULL, 'empty', '{}', NULL),
    (3, 'purple', '{purple,NULL,yellow}', 'yellow', '{}', '(purple,{},red)', '{}', '(,green]',
     '{(,red], [blue,)}', '{"(3,4)","(5,6)"}', '(,"(0,0)"]');
COPY palette FROM stdin;
4	blue	{green}	\N	\N	(blue,{blue},red)	{"(red,{},yellow)"}	[yellow,yellow]	{[yellow,purple)}	\N	empty
\.
SELECT * FROM palette ORDER BY id;
SELECT id, c, c < 'green' AS before_green, cs[1], (s).shades, (ss[1]).c, upper(r),
       r @> 'yellow'::color AS r_yellow, mr @> 'purple'::color AS mr_purple, ip[1].b, upper(pr)
FROM palette ORDER BY 2, 1;

-- Ranges and multiranges of a composite type: bounds that are composite values.
CREATE TABLE pair_spans (r pairrange, m pairmultirange);
INSERT INTO pair_spans VALUES ('["(1,2)","(3,4)")', '{["(1,2)","(3,4)"), ["(5,6)",)}'),
    (NULL, '{}'), ('empty', '{["(0,0)","(0,1)"]}');
SELECT r, m, m @> '(2,0)'::intpair AS has_2_0, upper(r) FROM pair_spans ORDER BY r;

-- Index and index-only scans.
SET enable_seqscan = off;
SET enable_bitmapscan = off;
EXPLAIN (COSTS OFF) SELECT c, cs FROM palette WHERE c >= 'yellow';
SELECT c, cs FROM palette WHERE c >= 'yellow' ORDER BY c;
SELECT id, s FROM palette WHERE s = '(purple,{},red)'::swatch;
RESET enable_seqscan;
RESET enable_bitmapscan;

-- A unique violation names the stored key; ON CONFLICT takes its other branch.
INSERT INTO palette (id, c, s) VALUES (5, 'red', '(purple,{},red)');
INSERT INTO palette (id, c, s) VALUES (5, 'red', '(purple,{},red)')
    ON CONFLICT (s) DO UPDATE SET c = excluded.c RETURNING id, c, s;
UPDATE palette SET c = 'blue', cs = cs || 'green'::color, ss = '{"(red,{red},red)"}'
    WHERE id = 2 RETURNING *;
DELETE FROM palette WHERE id = 4 RETURNING *;

-- Rewrites and copies keep the values.
ALTER TABLE palette ALTER COLUMN ws TYPE text[] USING ws::text[];
ALTER TABLE palette ADD COLUMN extra color DEFAULT 'green';
SELECT id, ws, extra FROM palette ORDER BY id;
CREATE TABLE palette_copy AS SELECT * FROM palette;
INSERT INTO palette_copy SELECT * FROM palette WHERE id = 1;
SELECT count(*), count(DISTINCT s), string_agg(c::text, ',' ORDER BY id) FROM palette_copy;
VACUUM FULL palette;
CLUSTER palette USING palette_pkey;
SELECT * FROM palette ORDER BY id;

-- A label renamed or added later reads as such.
ALTER TYPE color RENAME VALUE 'purple' TO 'violet';
ALTER TYPE color ADD VALUE 'orange' AFTER 'red';
INSERT INTO palette (id, c, cs) VALUES (6, 'orange', '{orange,violet}');
SELECT id, c, cs, s, mr FROM palette ORDER BY c, id;

-- Partitioned by an enum: routing, and an UPDATE that moves a row.
CREATE TABLE byc (c color, n int) PARTITION BY LIST (c);
CREATE TABLE byc_warm PARTITION OF byc FOR VALUES IN ('red', 'orange', 'yellow');
CREATE TABLE byc_cold PARTITION OF byc FOR VALUES IN ('green', 'blue', 'violet');
INSERT INTO byc SELECT c, id FROM palette;
UPDATE byc SET c = 'blue' WHERE c = 'red';
SELECT tableoid::regclass, * FROM byc ORDER BY c, n;

-- Foreign keys on an enum key.
CREATE TABLE color_names (c color PRIMARY KEY, name text);
INSERT INTO color_names SELECT unnest(enum_range(NULL::color)), 'x';
CREATE TABLE uses (c color REFERENCES color_names);
INSERT INTO uses VALUES ('violet');
DELETE FROM color_names WHERE c = 'violet';
SELECT * FROM color_names JOIN uses USING (c);

DROP TABLE uses, color_names, byc, palette_copy, pair_spans, palette;
DROP TYPE swatch, colorrange, pairrange, intpair;
DROP DOMAIN warm;
DROP TYPE color;
