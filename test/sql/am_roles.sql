-- An application's role, not a superuser: what it may do on heap it may do
-- on Plinth, and what heap refuses it Plinth refuses with the same error.
-- Plinth's hooks run around every statement of every role; none of them may
-- need a privilege the role lacks (the plinth schema is not granted to
-- PUBLIC).
CREATE ROLE regress_app LOGIN;
CREATE ROLE regress_other;
CREATE SCHEMA app_schema AUTHORIZATION regress_app;
SELECT current_user AS superuser \gset
-- A new session of the role: its first statements run Plinth's hooks as it.
\c - regress_app
SET search_path = app_schema;
SELECT current_user;
-- DDL of the kinds an application's migrations run.
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE TABLE accounts (
  id serial PRIMARY KEY,
  code int GENERATED ALWAYS AS IDENTITY,
  name text NOT NULL UNIQUE,
  m mood DEFAULT 'ok',
  p pair,
  r int4range,
  tags text[]
);
CREATE INDEX accounts_m ON accounts (m);
CREATE SEQUENCE app_seq START 10;
CREATE VIEW happy AS SELECT name FROM accounts WHERE m = 'happy';
CREATE FUNCTION bump(i int) RETURNS int LANGUAGE sql AS 'SELECT i + 1';
ALTER TABLE accounts ADD COLUMN note text DEFAULT 'none';
COMMENT ON TABLE accounts IS 'an application table';
-- DML, sequences, the new types' values.
INSERT INTO accounts (name, m, p, r, tags)
  VALUES ('ann', 'happy', ROW(1, 'x'), '[1,5)', ARRAY['a', 'b']),
         ('bob', 'sad', NULL, NULL, NULL);
INSERT INTO accounts (name) VALUES ('cy');
UPDATE accounts SET m = 'happy', note = 'moved' WHERE name = 'cy';
DELETE FROM accounts WHERE name = 'bob';
SELECT id, code, name, m, p, r, tags, note FROM accounts ORDER BY id;
SELECT * FROM happy ORDER BY name;
SELECT nextval('app_seq'), nextval('app_seq'), currval('app_seq'), lastval();
SELECT setval('app_seq', 100), nextval('app_seq');
SELECT bump(code) FROM accounts ORDER BY id;
INSERT INTO accounts (name) VALUES ('ann');
-- A transaction, a savepoint, a rollback.
BEGIN;
INSERT INTO accounts (name) VALUES ('dee');
SAVEPOINT s;
INSERT INTO accounts (name) VALUES ('eve');
ROLLBACK TO s;
COMMIT;
SELECT name FROM accounts ORDER BY id;
-- SET ROLE and RESET ROLE around a failed statement leave the session usable.
CREATE TABLE accounts (id int);
SELECT count(*) FROM accounts;
SET ROLE regress_app;
RESET ROLE;
-- What the role may not do: the same errors as heap.
\c - :superuser
SET search_path = app_schema;
CREATE TABLE public.not_yours (a int);
SET ROLE regress_app;
INSERT INTO public.not_yours VALUES (1);
SELECT * FROM public.not_yours;
SET ROLE regress_other;
SELECT * FROM app_schema.accounts;
RESET ROLE;
GRANT USAGE ON SCHEMA app_schema TO regress_other;
GRANT SELECT ON app_schema.accounts TO regress_other;
SET ROLE regress_other;
SELECT name FROM app_schema.accounts ORDER BY id;
UPDATE app_schema.accounts SET note = 'no';
RESET ROLE;
-- The owner drops what it made.
SET ROLE regress_app;
DROP VIEW happy;
DROP TABLE accounts;
DROP SEQUENCE app_seq;
DROP FUNCTION bump(int);
DROP TYPE mood;
DROP TYPE pair;
RESET ROLE;
RESET search_path;
DROP TABLE public.not_yours;
DROP SCHEMA app_schema;
DROP ROLE regress_app;
DROP ROLE regress_other;
