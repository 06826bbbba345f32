-- Indexes: ordering identical to heap's btree for every supported type and
-- collation, scans of every kind, and the constraints indexes enforce.
SET extra_float_digits = 3;
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SET enable_sort = off;

-- check_order(type, generator, extras, collation): the same values — those of
-- the generator query and the extra literals — in a heap table with a btree
-- and in a plinth table with its index come back in the same order:
-- ascending, descending, NULLS FIRST, and under range and IN predicates.
CREATE FUNCTION check_order(typ text, gen text, extras text[], coll text DEFAULT NULL) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  c text := CASE WHEN coll IS NULL THEN '' ELSE ' COLLATE ' || quote_ident(coll) END;
  q text;
  h text; p text;
  bad text := '';
BEGIN
  EXECUTE format('CREATE TEMP TABLE o_heap (k serial, v %s%s) USING heap', typ, c);
  EXECUTE format('CREATE TABLE o_plinth (k serial, v %s%s) USING plinth', typ, c);
  FOREACH q IN ARRAY ARRAY['o_heap', 'o_plinth'] LOOP
    EXECUTE format('INSERT INTO %s (v) SELECT x::%s FROM (%s) s(x)', q, typ, gen);
    EXECUTE format('INSERT INTO %s (v) SELECT x::%s FROM unnest($1) x', q, typ) USING extras;
  END LOOP;
  CREATE INDEX ON o_heap (v);
  CREATE INDEX ON o_plinth (v);
  CREATE INDEX o_plinth_desc ON o_plinth (v DESC NULLS FIRST);
  ANALYZE o_heap; ANALYZE o_plinth;
  -- Ties (equal values that print differently: -0 and 0, 1.5 and 1.50,
  -- 'abc' and 'ABC' under a case-insensitive collation) are ordered by k.
  FOREACH q IN ARRAY ARRAY[
    'SELECT string_agg(v::text || ''/'' || k, '','') FROM (SELECT v, k FROM %s ORDER BY v, k) s',
    'SELECT string_agg(v::text || ''/'' || k, '','') FROM (SELECT v, k FROM %s ORDER BY v DESC NULLS FIRST, k) s',
    'SELECT string_agg(v::text || ''/'' || k, '','') FROM (SELECT v, k FROM %s ORDER BY v NULLS FIRST, k DESC) s',
    'SELECT count(*)::text FROM %s WHERE v IS NULL',
    'SELECT string_agg(k::text, '','') FROM (SELECT k FROM %1$s WHERE v > (SELECT v FROM %1$s WHERE v IS NOT NULL ORDER BY v, k OFFSET 2 LIMIT 1) ORDER BY v, k) s',
    'SELECT string_agg(k::text, '','') FROM (SELECT k FROM %1$s WHERE v <= (SELECT v FROM %1$s WHERE v IS NOT NULL ORDER BY v DESC, k OFFSET 3 LIMIT 1) ORDER BY v DESC, k) s',
    'SELECT string_agg(k::text, '','') FROM (SELECT k FROM %1$s WHERE v = ANY (ARRAY(SELECT v FROM %1$s WHERE mod(k, 3) = 0)) ORDER BY v, k) s',
    'SELECT count(*)::text FROM %1$s WHERE v = (SELECT v FROM %1$s WHERE v IS NOT NULL ORDER BY v, k OFFSET 1 LIMIT 1)'
  ] LOOP
    CONTINUE WHEN q LIKE '%= ANY%' AND typ LIKE '%[]';   -- an array of arrays is not = ANY's shape
    EXECUTE format(q, 'o_heap') INTO h;
    EXECUTE format(q, 'o_plinth') INTO p;
    IF h IS DISTINCT FROM p THEN
      bad := bad || E'\n  ' || format(q, '<t>') || E'\n    heap:   ' || coalesce(left(h, 300), 'NULL') || E'\n    plinth: ' || coalesce(left(p, 300), 'NULL');
    END IF;
  END LOOP;
  DROP TABLE o_heap, o_plinth;
  RETURN CASE WHEN bad = '' THEN 'ok' ELSE 'MISMATCH' || bad END;
END $$;

CREATE EXTENSION IF NOT EXISTS citext;
CREATE TYPE color AS ENUM ('red', 'green', 'blue');
ALTER TYPE color ADD VALUE 'orange' BEFORE 'green';
CREATE TYPE cpx AS (re float8, im text);
CREATE COLLATION case_insensitive (provider = icu, locale = 'und-u-ks-level2', deterministic = false);

CREATE TABLE order_cases (n serial, typ text, gen text, extras text[], coll text);
INSERT INTO order_cases (typ, gen, extras, coll) VALUES
  ('int2', 'SELECT g * 7919 % 600 - 300 FROM generate_series(1, 300) g', '{32767,-32768,NULL}', NULL),
  ('int4', 'SELECT g * 104729 % 20011 - 10000 FROM generate_series(1, 500) g', '{-2147483648,2147483647,NULL,0}', NULL),
  ('int8', 'SELECT (g::int8 * 9223372036854775 % 1000000007) * (1 - 2 * (g % 2)) FROM generate_series(1, 500) g', '{9223372036854775807,-9223372036854775808}', NULL),
  ('float4', 'SELECT (g * 37 % 101 - 50) / 7.0 FROM generate_series(1, 200) g', '{NaN,Infinity,-Infinity,-0,0,NULL}', NULL),
  ('float8', 'SELECT (g * 37 % 1013 - 500) / 3.0 FROM generate_series(1, 300) g', '{NaN,Infinity,-Infinity,-0,1e-300,-1e300}', NULL),
  ('numeric', 'SELECT round((g * 7919 % 100003 - 50000)::numeric / (10::numeric ^ (g % 6)), g % 7) FROM generate_series(1, 400) g', '{NaN,Infinity,-Infinity,0.000,1e-20,123456789012345678901234567890,-0.5,-0.50}', NULL),
  ('bool', 'SELECT g % 2 = 0 FROM generate_series(1, 9) g', '{NULL}', NULL),
  ('text', 'SELECT md5(g::text) FROM generate_series(1, 300) g', '{"",a,A,"a b",ä,z,Z,NULL}', 'C'),
  ('text', 'SELECT md5(g::text) FROM generate_series(1, 300) g', '{"",a,A,"a b",ä,ab,aB,Ab,z,Z,é,e,f,"a-b",ab-}', 'en-US-x-icu'),
  ('text', 'SELECT ''x'' || g FROM generate_series(1, 10) g', '{résumé,resume,Resume,RÉSUMÉ,rèsumé,resumes,résume}', 'fr-FR-x-icu'),
  ('text', 'SELECT ''x'' || g FROM generate_series(1, 10) g', '{abc,ABC,Abc,abd,ABD,ab}', 'case_insensitive'),
  ('text', 'SELECT md5(g::text) FROM generate_series(1, 100) g', '{a,B,b,é,E}', 'C.utf8'),
  ('varchar(20)', 'SELECT left(md5(g::text), g % 20) FROM generate_series(1, 200) g', '{}', 'C'),
  ('char(6)', 'SELECT left(md5(g::text), g % 6) FROM generate_series(1, 200) g', '{"ab ",ab}', 'C'),
  ('name', 'SELECT md5(g::text) FROM generate_series(1, 100) g', '{}', NULL),
  ('bytea', 'SELECT decode(left(md5(g::text), g % 12 * 2), ''hex'') FROM generate_series(1, 200) g', '{"\\x00","\\x0000","\\xff","\\x"}', NULL),
  ('date', 'SELECT ''2000-01-01''::date + (g * 7919 % 20000 - 10000) FROM generate_series(1, 300) g', '{infinity,-infinity,"4713-01-01 BC"}', NULL),
  ('timestamp', 'SELECT ''2000-01-01''::timestamp + (g * 7919 % 2000000 - 1000000) * interval ''1 minute'' FROM generate_series(1, 300) g', '{infinity,-infinity}', NULL),
  ('timestamptz', 'SELECT ''2000-01-01 00:00+00''::timestamptz + (g * 7919 % 2000000 - 1000000) * interval ''1 second'' FROM generate_series(1, 300) g', '{infinity,-infinity}', NULL),
  ('time', 'SELECT ''00:00''::time + g * interval ''7 minutes'' FROM generate_series(1, 300) g', '{24:00}', NULL),
  ('timetz', 'SELECT ((''00:00''::time + g * interval ''7 minutes'')::text || (g % 24 - 12)::text)::timetz FROM generate_series(1, 200) g', '{}', NULL),
  ('interval', 'SELECT make_interval(0, g % 14, 0, g % 40, 0, g % 61) * (1 - 2 * (g % 3 / 2)) FROM generate_series(1, 300) g', '{"1 mon","30 days","720 hours"}', NULL),
  ('uuid', 'SELECT md5(g::text)::uuid FROM generate_series(1, 200) g', '{}', NULL),
  ('oid', 'SELECT g * 7919 % 4294967295 FROM generate_series(1, 200) g', '{4294967295,0}', NULL),
  ('color', 'SELECT (ARRAY[''red'', ''green'', ''blue'', ''orange''])[g % 4 + 1] FROM generate_series(1, 50) g', '{}', NULL),
  ('inet', 'SELECT ''10.'' || g % 256 || ''.'' || g % 7 || ''.0/'' || (8 + g % 25) FROM generate_series(1, 200) g', '{::1,10.0.0.0/8,10.0.0.1,2001:db8::/32,10.0.0.0/16}', NULL),
  ('cidr', 'SELECT set_masklen((''10.'' || g % 256 || ''.0.0'')::inet, 8 + g % 9)::cidr FROM generate_series(1, 100) g', '{}', NULL),
  ('macaddr', 'SELECT ''08:00:2b:'' || lpad(to_hex(g % 256), 2, ''0'') || '':'' || lpad(to_hex(g * 7 % 256), 2, ''0'') || '':00'' FROM generate_series(1, 100) g', '{}', NULL),
  ('money', 'SELECT (g * 7919 % 100000 - 50000)::numeric FROM generate_series(1, 200) g', '{}', NULL),
  ('int4[]', 'SELECT ARRAY[g % 5, g % 3] FROM generate_series(1, 60) g', '{"{}","{1}","{1,NULL}","{{1,2},{3,4}}","[0:1]={1,2}","{1,2}"}', NULL),
  ('text[]', 'SELECT ARRAY[md5(g::text), left(md5(g::text), 2)] FROM generate_series(1, 50) g', '{"{}","{a}","{a,b}"}', 'C'),
  ('cpx', 'SELECT ROW(g % 5, md5(g::text))::cpx FROM generate_series(1, 60) g', '{"(,x)","(1,)"}', NULL),
  ('varbit', 'SELECT substring(B''1011010011100101'' FROM g % 9 + 1 FOR g % 7) FROM generate_series(1, 60) g', '{}', NULL),
  ('pg_lsn', 'SELECT to_hex(g * 7919 % 1000) || ''/'' || to_hex(g * 104729) FROM generate_series(1, 100) g', '{}', NULL),
  ('jsonb', 'SELECT (ARRAY[''null'', ''true'', ''false'', ''0'', ''1.5'', ''-2'', ''1e3'', ''"a"'', ''"B"'', ''"ab"'', ''[]'', ''[1]'', ''[1, 2]'', ''[[1]]'', ''{}'', ''{"a": 1}'', ''{"b": 1}'', ''{"a": 1, "b": 2}'', ''{"a": [1, 2]}'', ''{"aa": 1}'', ''"é"'', ''[null]'', ''["a"]'', ''[true]'', ''{"a": {"b": null}}'', ''[1.0]'', ''1.00''])[g % 27 + 1] FROM generate_series(1, 60) g', '{NULL,"{\"b\": [{}]}","[1, [2]]","[[], 1]"}', NULL),
  ('int4range', 'SELECT int4range(g % 10 - 5, g % 10 - 5 + g % 7, (ARRAY[''[)'', ''[]'', ''(]'', ''()''])[g % 4 + 1]) FROM generate_series(1, 100) g', '{empty,"(,5)","[3,)","(,)"}', NULL),
  ('numrange', 'SELECT numrange((g % 10)::numeric / 2, (g % 10 + g % 3)::numeric / 2, (ARRAY[''[)'', ''[]'', ''(]'', ''()''])[g % 4 + 1]) FROM generate_series(1, 100) g', '{empty,"(,1)","[1,)","(,)","[1.0,2.00]"}', NULL),
  ('daterange', 'SELECT daterange(''2000-01-01''::date + g % 30, ''2000-01-01''::date + g % 30 + g % 5) FROM generate_series(1, 60) g', '{"(,)","[2000-01-05,infinity]"}', NULL),
  ('int4multirange', 'SELECT int4multirange(int4range(g % 5, g % 5 + 2), int4range(g % 5 + 3 + g % 3, 20)) FROM generate_series(1, 60) g', '{"{}","{[1,2)}","{[1,2),[5,6)}"}', NULL),
  ('tsvector', 'SELECT (ARRAY[''a'', ''b'', ''a b'', ''a:1'', ''a:2'', ''a:1,2'', ''a:1A'', ''a:1B'', ''a:1 b'', ''ab'', ''a:3 b:1'', ''b:1 c:2A'', '''', ''a:1,3 b''])[g % 14 + 1] FROM generate_series(1, 60) g', '{"a:1D","a:2A b:2","zz:1","a b c"}', NULL),
  ('tsquery', 'SELECT (ARRAY[''a'', ''b'', ''a & b'', ''a | b'', ''!a'', ''a <-> b'', ''a <2> b'', ''ab:*'', ''a:A'', ''c & (a | b)''])[g % 10 + 1] FROM generate_series(1, 40) g', '{}', NULL),
  ('citext', 'SELECT md5(g::text) FROM generate_series(1, 100) g', '{a,A,B,b,é,É,"a b","",Ab,aB}', NULL)
;
-- One statement (one transaction) per type.
SELECT format('SELECT %L AS typ, %L AS coll, check_order(%L, %L, %L, %L)', typ, coll, typ, gen, extras, coll)
FROM order_cases ORDER BY n \gexec
DROP TABLE order_cases;

-- Types without a btree ordering Plinth can encode are refused at CREATE INDEX.
CREATE TABLE unsupported (t tsvector, j jsonb, r cpx) USING plinth;
CREATE INDEX ON unsupported (r record_image_ops);
CREATE INDEX ON unsupported (((r).im));
CREATE INDEX ON unsupported (t);
CREATE INDEX ON unsupported ((j ->> 'key'));
DROP TABLE unsupported;

-- Indexes and tables moved to another tablespace keep their entries.
SET allow_in_place_tablespaces = true;
CREATE TABLESPACE regress_moved LOCATION '';
CREATE TABLE moving (id int PRIMARY KEY, v text);
INSERT INTO moving SELECT g, 'v' || g FROM generate_series(1, 50) g;
BEGIN;
ALTER INDEX moving_pkey SET TABLESPACE regress_moved;
INSERT INTO moving VALUES (1, 'duplicate');
ROLLBACK;
ALTER INDEX moving_pkey SET TABLESPACE regress_moved;
INSERT INTO moving VALUES (51, 'after the move');
INSERT INTO moving VALUES (1, 'duplicate');
SELECT id, v FROM moving WHERE id IN (1, 51) ORDER BY id;
ALTER TABLE moving SET TABLESPACE regress_moved;
SELECT count(*), max(id) FROM moving WHERE id > 10;
ALTER TABLE moving SET TABLESPACE pg_default;
ALTER INDEX moving_pkey SET TABLESPACE pg_default;
SELECT v FROM moving WHERE id = 51;
DROP TABLE moving;
DROP TABLESPACE regress_moved;
RESET allow_in_place_tablespaces;
-- A unique index a failed CREATE UNIQUE INDEX CONCURRENTLY left invalid:
-- VACUUM FULL rebuilds it without checking it, REINDEX checks it (as
-- Postgres's create_index.sql).
CREATE TABLE concur_heap (f1 text, f2 text);
INSERT INTO concur_heap VALUES ('a', 'b'), ('b', 'b');
CREATE UNIQUE INDEX CONCURRENTLY concur_index3 ON concur_heap (f2);
VACUUM FULL concur_heap;
REINDEX TABLE concur_heap;
DELETE FROM concur_heap WHERE f1 = 'b';
VACUUM FULL concur_heap;
\d concur_heap
REINDEX TABLE concur_heap;
\d concur_heap
INSERT INTO concur_heap VALUES ('c', 'b');
DROP TABLE concur_heap;
