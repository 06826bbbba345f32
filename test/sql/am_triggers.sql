-- Triggers of every kind, transition tables. Same output with heap and plinth.
CREATE TABLE tg (id int, v text);
CREATE TABLE tg_log (ord serial, what text);
CREATE FUNCTION tg_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO tg_log (what) VALUES (format('%s %s %s old=%s new=%s', TG_WHEN, TG_LEVEL, TG_OP,
    CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN OLD::text END,
    CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN NEW::text END));
  IF TG_WHEN = 'BEFORE' AND TG_OP = 'INSERT' THEN NEW.v := upper(NEW.v); END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  RETURN NEW;
END $$;
CREATE FUNCTION tg_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO tg_log (what) VALUES (format('%s %s %s', TG_WHEN, TG_LEVEL, TG_OP)); RETURN NULL; END $$;
CREATE FUNCTION tg_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO tg_log (what) SELECT 'new table: ' || string_agg(id::text || '=' || v, ',' ORDER BY id) FROM newtab;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO tg_log (what) SELECT 'old/new: ' || string_agg(o.v || '->' || n.v, ',' ORDER BY o.id) FROM oldtab o JOIN newtab n USING (id);
  ELSE
    INSERT INTO tg_log (what) SELECT 'old table: ' || string_agg(id::text, ',' ORDER BY id) FROM oldtab;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER b_row BEFORE INSERT OR UPDATE OR DELETE ON tg FOR EACH ROW EXECUTE FUNCTION tg_row();
CREATE TRIGGER a_row AFTER INSERT OR UPDATE OR DELETE ON tg FOR EACH ROW EXECUTE FUNCTION tg_row();
CREATE TRIGGER b_stmt BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON tg FOR EACH STATEMENT EXECUTE FUNCTION tg_stmt();
CREATE TRIGGER a_stmt AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tg FOR EACH STATEMENT EXECUTE FUNCTION tg_stmt();
CREATE TRIGGER t_ins AFTER INSERT ON tg REFERENCING NEW TABLE AS newtab FOR EACH STATEMENT EXECUTE FUNCTION tg_transition();
CREATE TRIGGER t_upd AFTER UPDATE ON tg REFERENCING OLD TABLE AS oldtab NEW TABLE AS newtab FOR EACH STATEMENT EXECUTE FUNCTION tg_transition();
CREATE TRIGGER t_del AFTER DELETE ON tg REFERENCING OLD TABLE AS oldtab FOR EACH STATEMENT EXECUTE FUNCTION tg_transition();
CREATE TRIGGER w_row AFTER UPDATE ON tg FOR EACH ROW WHEN (OLD.v IS DISTINCT FROM NEW.v) EXECUTE FUNCTION tg_row();

INSERT INTO tg VALUES (1, 'a'), (2, 'b');
UPDATE tg SET v = v || '!' WHERE id = 1;
UPDATE tg SET v = v WHERE id = 2;
DELETE FROM tg WHERE id = 2;
TRUNCATE tg;
SELECT what FROM tg_log ORDER BY ord;

-- A BEFORE trigger that cancels, and one that changes the row.
TRUNCATE tg_log;
CREATE FUNCTION tg_skip() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.id < 0 THEN RETURN NULL; END IF; NEW.v := NEW.v || ' (seen)'; RETURN NEW; END $$;
CREATE TRIGGER c_skip BEFORE INSERT ON tg FOR EACH ROW EXECUTE FUNCTION tg_skip();
INSERT INTO tg VALUES (-1, 'skipped'), (5, 'kept');
SELECT * FROM tg ORDER BY id;

-- INSTEAD OF triggers on a view.
CREATE VIEW tg_view AS SELECT id, v FROM tg;
CREATE FUNCTION tg_instead() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO tg VALUES (NEW.id * 100, 'via view'); RETURN NEW; END $$;
CREATE TRIGGER i_view INSTEAD OF INSERT ON tg_view FOR EACH ROW EXECUTE FUNCTION tg_instead();
INSERT INTO tg_view VALUES (7, 'ignored');
SELECT * FROM tg ORDER BY id;

DROP VIEW tg_view;
DROP TABLE tg, tg_log;
DROP FUNCTION tg_row(), tg_stmt(), tg_transition(), tg_skip(), tg_instead();

-- Transition tables of a partitioned table see each row's old version,
-- also when ON CONFLICT DO UPDATE changes no indexed column.
CREATE TABLE tt_parted (a int PRIMARY KEY, b text) PARTITION BY RANGE (a);
CREATE TABLE tt_parted_1 PARTITION OF tt_parted FOR VALUES FROM (0) TO (100);
CREATE FUNCTION tt_show() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE NOTICE 'old: %, new: %', (SELECT string_agg(o::text, ' ' ORDER BY o.a) FROM old_t o),
                                 (SELECT string_agg(n::text, ' ' ORDER BY n.a) FROM new_t n);
  RETURN NULL;
END $$;
CREATE TRIGGER tt_parted_upd AFTER UPDATE ON tt_parted REFERENCING OLD TABLE AS old_t NEW TABLE AS new_t
  FOR EACH STATEMENT EXECUTE FUNCTION tt_show();
INSERT INTO tt_parted VALUES (1, 'one'), (2, 'two');
INSERT INTO tt_parted VALUES (1, 'x'), (2, 'y') ON CONFLICT (a) DO UPDATE SET b = tt_parted.b || '+' || excluded.b;
UPDATE tt_parted SET b = upper(b);
SELECT * FROM tt_parted ORDER BY a;
DROP TABLE tt_parted;
DROP FUNCTION tt_show();
