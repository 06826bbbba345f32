-- Every kind of value round-trips exactly. Run with heap and with plinth as
-- the default table access method: the output must be the same.
SET extra_float_digits = 3;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE DOMAIN posint AS int CHECK (VALUE > 0);

CREATE TABLE all_types (
  id serial,
  b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric, m money,
  c char(5), vc varchar(10), t text, nm name, by bytea, bits bit(4), vbits varbit,
  d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval,
  u uuid, j json, jb jsonb, x xml, inet_ inet, cidr_ cidr, mac macaddr, mac8 macaddr8,
  pt point, ln line, lseg_ lseg, bx box, pth path, pg polygon, cr circle,
  ia int[], ta text[], ma int[][], e mood, p pair, dm posint,
  r int4range, tr tstzrange, mr int4multirange, tsv tsvector, tsq tsquery,
  o oid, xid8_ xid8, lsn pg_lsn, tid_ tid, rv regclass
);
INSERT INTO all_types (b, i2, i4, i8, f4, f8, n, m, c, vc, t, nm, by, bits, vbits, d, tm, ttz, ts, tstz, iv,
  u, j, jb, x, inet_, cidr_, mac, mac8, pt, ln, lseg_, bx, pth, pg, cr, ia, ta, ma, e, p, dm, r, tr, mr, tsv, tsq,
  o, xid8_, lsn, tid_, rv)
VALUES
 (true, -32768, -2147483648, -9223372036854775808, '-Infinity', 'NaN', '-12345678901234567890.123456789', '-92233720368547758.08',
  'ab', 'hello', E'multi\nline \u00e9', 'a_name', '\x00ff10', B'1010', B'1', '4713-01-01 BC', '00:00', '23:59:59.999999+14', '-infinity', 'infinity',
  '-178000000 years', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50, null]}', '{"b": {"c": true}, "a": 1}', '<a>x</a>',
  '192.168.1.1/24', '10.0.0.0/8', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05', '(1.5,-2)', '{1,-1,0}', '[(0,0),(1,1)]', '(1,1),(0,0)',
  '[(0,0),(1,1),(2,0)]', '((0,0),(1,1),(1,0))', '<(0,0),2>', '{1,NULL,3}', '{"a b", "", NULL}', '{{1,2},{3,4}}', 'happy', ROW(1, 'x'), 7,
  '[1,10)', '[2020-01-01,2021-01-01)', '{[1,3),[5,7)}', 'the quick brown fox', 'quick & fox', 4294967295, '18446744073709551615', 'FFFFFFFF/FFFFFFFF', '(4294967295,65535)', 'pg_class'),
 (false, 32767, 2147483647, 9223372036854775807, 3.40282e+38, -0.0, 'NaN', '0', '', NULL, '', '', '', B'0000', B'', '5874897-12-31', '24:00', '00:00-15:59',
  '294276-12-31 23:59:59.999999', '2000-02-29 12:00+01', '1 year 2 mons 3 days 04:05:06.789', '00000000-0000-0000-0000-000000000000', 'null', '[]', '<b/>',
  '::1', '2001:db8::/32', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00:00:00', '(0,0)', '{0,1,0}', '[(1,2),(3,4)]', '(0,0),(0,0)', '((0,0))', '((0,0))', '<(0,0),0>',
  '{}', '{}', '{{NULL}}', 'sad', ROW(NULL, NULL), 1, 'empty', '(,)', '{}', '', 'a', 0, '0', '0/0', '(0,1)', 'pg_type'),
 (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM all_types ORDER BY id;
-- Values compare equal to what was inserted, type by type.
SELECT count(*) FILTER (WHERE i8 = 9223372036854775807) AS i8_max,
       count(*) FILTER (WHERE n = 'NaN') AS numeric_nan,
       count(*) FILTER (WHERE f8 = 0 AND 1 / f8 < 0) AS negative_zero,
       count(*) FILTER (WHERE jb @> '{"b": {"c": true}}') AS jsonb_contains,
       count(*) FILTER (WHERE tsv @@ tsq) AS text_search,
       count(*) FILTER (WHERE 5 <@ r) AS range_contains,
       count(*) FILTER (WHERE p = ROW(1, 'x')::pair) AS composite_eq
FROM all_types;

-- Large values: stored over several store keys and put back together.
CREATE TABLE big_values (id int, t text, b bytea);
-- About 10 MB of text (compressed as heap compresses wide values; the
-- store's 10 MB transaction limit applies to what is stored).
INSERT INTO big_values
SELECT 1, string_agg(md5((g % 97)::text), ''), NULL FROM generate_series(1, 330000) g;
INSERT INTO big_values SELECT 2, repeat('x', 3000000), decode(repeat('ab', 200000), 'hex');
INSERT INTO big_values SELECT 3, string_agg(chr(32 + (g * 7919) % 90), ''), NULL FROM generate_series(1, 150000) g;
SELECT id, length(t), md5(t), length(b), md5(b) FROM big_values ORDER BY id;
UPDATE big_values SET t = t || 'tail' WHERE id = 2;
SELECT id, length(t), right(t, 6) FROM big_values WHERE id = 2;
DELETE FROM big_values WHERE id = 1;
SELECT id, length(t) FROM big_values ORDER BY id;

-- Dropped and added columns, fast defaults, volatile defaults.
CREATE TABLE evolving (a int, b text, c int);
INSERT INTO evolving VALUES (1, 'one', 10), (2, 'two', 20);
ALTER TABLE evolving DROP COLUMN b;
ALTER TABLE evolving ADD COLUMN d text DEFAULT 'fast';
ALTER TABLE evolving ADD COLUMN e int DEFAULT 42;
INSERT INTO evolving (a, c) VALUES (3, 30);
ALTER TABLE evolving ADD COLUMN f float8 DEFAULT random();   -- rewrites the table
SELECT a, c, d, e, f IS NOT NULL AS f_set FROM evolving ORDER BY a;
ALTER TABLE evolving DROP COLUMN c, DROP COLUMN f, ADD COLUMN g bool;
SELECT * FROM evolving ORDER BY a;

DROP TABLE all_types, big_values, evolving;
DROP TYPE mood, pair;
DROP DOMAIN posint;
