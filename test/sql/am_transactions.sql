-- Postgres's transaction semantics. Same output with heap and plinth.
CREATE TABLE acct (id int, balance int);
INSERT INTO acct VALUES (1, 100), (2, 100);

BEGIN;
UPDATE acct SET balance = 0;
SELECT * FROM acct ORDER BY id;
ROLLBACK;
SELECT * FROM acct ORDER BY id;

-- Savepoints undo exactly the work since the savepoint.
BEGIN;
INSERT INTO acct VALUES (3, 300);
SAVEPOINT a;
UPDATE acct SET balance = balance - 50 WHERE id = 1;
DELETE FROM acct WHERE id = 2;
SAVEPOINT b;
INSERT INTO acct VALUES (4, 400);
SELECT * FROM acct ORDER BY id;
ROLLBACK TO SAVEPOINT b;
SELECT * FROM acct ORDER BY id;
ROLLBACK TO SAVEPOINT a;
SELECT * FROM acct ORDER BY id;
SAVEPOINT c;
UPDATE acct SET balance = balance + 1;
RELEASE SAVEPOINT c;
COMMIT;
SELECT * FROM acct ORDER BY id;

-- PL/pgSQL exception blocks are subtransactions.
CREATE FUNCTION transfer(src int, dst int, amount int) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  UPDATE acct SET balance = balance - amount WHERE id = src;
  BEGIN
    UPDATE acct SET balance = balance + amount WHERE id = dst;
    IF (SELECT balance FROM acct WHERE id = src) < 0 THEN
      RAISE EXCEPTION 'insufficient funds';
    END IF;
  EXCEPTION WHEN raise_exception THEN
    RETURN 'inner rolled back: ' || SQLERRM;
  END;
  RETURN 'done';
END $$;
SELECT transfer(1, 2, 10);
SELECT transfer(1, 3, 1000);
SELECT * FROM acct ORDER BY id;

-- Errors abort the transaction; nothing of it remains.
BEGIN;
INSERT INTO acct VALUES (9, 9);
SELECT 1 / 0;
COMMIT;
SELECT count(*) FROM acct WHERE id = 9;

-- Cursors keep their snapshot.
BEGIN;
DECLARE cur CURSOR FOR SELECT id, balance FROM acct ORDER BY id;
FETCH 1 FROM cur;
UPDATE acct SET balance = -1;
FETCH ALL FROM cur;
FETCH BACKWARD 2 FROM cur;
CLOSE cur;
ROLLBACK;
-- A scrollable cursor over a table scan, back and forth (rows in the order
-- they were inserted: no AM promises an order after updates).
CREATE TABLE scroll_t (id int);
INSERT INTO scroll_t VALUES (3), (2), (1);
BEGIN;
DECLARE sc SCROLL CURSOR FOR SELECT id FROM scroll_t;
FETCH 2 FROM sc;
FETCH BACKWARD 1 FROM sc;
FETCH LAST FROM sc;
FETCH ABSOLUTE 1 FROM sc;
COMMIT;
DROP TABLE scroll_t;
-- WITH HOLD cursors outlive their transaction.
DECLARE held CURSOR WITH HOLD FOR SELECT id FROM acct ORDER BY id;
FETCH 1 FROM held;
CLOSE held;

-- Deferred work at commit: triggers fire before the store commit.
CREATE TABLE audit (msg text);
CREATE FUNCTION log_it() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit VALUES (TG_OP || ' ' || NEW.id); RETURN NEW; END $$;
CREATE CONSTRAINT TRIGGER deferred_log AFTER INSERT ON acct DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION log_it();
BEGIN;
INSERT INTO acct VALUES (10, 10);
SELECT count(*) FROM audit;
COMMIT;
SELECT * FROM audit;

DROP TABLE acct, audit;
DROP FUNCTION transfer(int, int, int), log_it();
