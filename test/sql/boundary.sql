-- The error boundary between Postgres and Swift (docs/design.md).
CREATE EXTENSION plinth;
CREATE EXTENSION plinth_test;

-- 1. An error raised by Swift code is an ordinary ERROR with its SQLSTATE;
--    the transaction aborts and the session goes on.
SELECT plinth_test_raise('40001', 'a conflict reported by Swift');
\echo :LAST_ERROR_SQLSTATE
SELECT plinth_test_raise('22023', 'another error');
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT 1 AS before_error;
SELECT plinth_test_raise('23505', 'inside a transaction');
SELECT 1 AS after_error;   -- refused: the transaction is aborted
ROLLBACK;
SELECT 'session goes on' AS status;

-- Caught by PL/pgSQL like any other error, by its SQLSTATE.
DO $$
BEGIN
  PERFORM plinth_test_raise('40001', 'retry me');
EXCEPTION WHEN serialization_failure THEN
  RAISE NOTICE 'caught %: %', SQLSTATE, SQLERRM;
END $$;

-- 2. A Postgres error raised inside a Postgres function that Swift called is
--    caught by the shim and re-raised, unchanged, after Swift has unwound.
SELECT plinth_test_parse_int4('42');
SELECT plinth_test_unwound() AS unwound_before \gset
SELECT plinth_test_parse_int4('forty-two');
\echo :LAST_ERROR_SQLSTATE
SELECT plinth_test_parse_int4('99999999999');
\echo :LAST_ERROR_SQLSTATE
-- Both failing calls ran their Swift `defer`: the frames were unwound, not
-- jumped over.
SELECT plinth_test_unwound() - :unwound_before AS frames_unwound;
SELECT plinth_test_parse_int4('7') AS still_works;

-- 3. Plinth's retry loops answer statement_timeout and query cancel (the
--    interrupt is Postgres's own error, raised after Swift unwound), and
--    give up after a bounded time with the last error.
SET statement_timeout = '300ms';
SELECT plinth_test_retry_forever(600000);
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
DO $$
DECLARE detail text;
BEGIN
  PERFORM plinth_test_retry_forever(300);
EXCEPTION WHEN serialization_failure THEN
  GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
  RAISE NOTICE 'gave up: %', detail ~ 'gave up after [0-9]+ attempts in [0-9]+ ms';
END $$;
SELECT 'session goes on' AS status;
DROP EXTENSION plinth_test;
DROP EXTENSION plinth;
