"""A server that has Plinth tables, restarted without
shared_preload_libraries: Plinth tables are refused with a clear error
(the local files look like empty heaps and btrees, so answering from them
would be wrong results), nothing crashes, nothing is lost; with the preload
back, every row is there."""

NEEDS_PRELOAD = "plinth must be loaded via shared_preload_libraries"
HINT = "shared_preload_libraries = 'plinth'"

# Statements that touch Plinth tables, each of which must fail.
REFUSED = [
    "SELECT count(*) FROM t",
    "SELECT * FROM t WHERE id = 5",
    "SET enable_seqscan = off; SELECT id FROM t WHERE id < 10",
    "SET enable_seqscan = off; SELECT count(*) FROM t WHERE grp = 3",
    "SELECT count(*) FROM t JOIN h ON h.a = t.id",
    "INSERT INTO t VALUES (100000, 1, 'new')",
    "UPDATE t SET note = 'changed'",
    "DELETE FROM t",
    "TRUNCATE t",
    "COPY t TO STDOUT",
    "COPY t FROM STDIN",
    "VACUUM t",
    "VACUUM",
    "ANALYZE",
    "VACUUM FULL t",
    "ANALYZE t",
    "CLUSTER t USING t_pkey",
    "REINDEX TABLE t",
    "REINDEX INDEX t_grp_idx",
    "CREATE INDEX t_note_idx ON t (note)",
    "ALTER TABLE t ADD COLUMN extra int DEFAULT 7",
    "ALTER TABLE t ALTER COLUMN note TYPE varchar(100)",
    "DROP TABLE t CASCADE",
    "DROP EXTENSION plinth CASCADE",
    "DROP TABLE child",
    "DROP INDEX t_grp_idx",
    "CREATE TABLE again (a int)",
    "CREATE TABLE again (a int) USING plinth",
    "SELECT * FROM plinth_relation_info('t')",
    "INSERT INTO child VALUES (1, 1)",
    "SELECT count(*) FROM mv",
    "REFRESH MATERIALIZED VIEW mv",
]


def _fingerprint(s):
    return s.query("SELECT count(*), sum(id), sum(grp), md5(string_agg(note, ',' ORDER BY id)) FROM t;"
                   "SELECT count(*), sum(id) FROM child;"
                   "SELECT * FROM mv;")


def _index_fingerprint(s):
    return s.query("SET enable_seqscan = off; SET enable_bitmapscan = off;"
                   "SELECT count(*), sum(id) FROM t WHERE id > 0;"
                   "SELECT count(*), sum(id) FROM t WHERE grp >= 0;")


def test_plinth_tables_without_preload(ctx):
    s = ctx.server("nopreload-data", conf={"default_table_access_method": "plinth"}).start()
    s.psql("CREATE EXTENSION plinth;"
           "CREATE TABLE t (id bigint PRIMARY KEY, grp int NOT NULL, note text);"
           "CREATE INDEX t_grp_idx ON t (grp);"
           "INSERT INTO t SELECT g, g % 10, 'note ' || g FROM generate_series(1, 5000) g;"
           "CREATE TABLE child (id int PRIMARY KEY, t_id bigint REFERENCES t);"
           "INSERT INTO child SELECT g, g FROM generate_series(1, 100) g;"
           "CREATE MATERIALIZED VIEW mv AS SELECT grp, count(*) FROM t GROUP BY grp ORDER BY grp;"
           "CREATE TABLE h (a int) USING heap;"
           "INSERT INTO h SELECT generate_series(1, 10);")
    before = _fingerprint(s)
    before_idx = _index_fingerprint(s)
    s.stop()

    s.configure({"shared_preload_libraries": "''"})
    s.start()
    assert s.query("SHOW shared_preload_libraries") == ""
    postmaster = s.postmaster_pid()
    for sql in REFUSED:
        rc, out, err = s.psql(sql, check=False)
        assert rc != 0, f"without the preload, `{sql}` succeeded: {out!r}"
        assert NEEDS_PRELOAD in err and HINT in err, f"`{sql}` failed without the clear error:\n{err}"
    # The server itself is fine: heap tables, catalogs, and the session.
    assert s.query("SELECT count(*) FROM h") == "10"
    assert s.query("SELECT count(*) FROM pg_class WHERE relname IN ('t', 't_pkey', 't_grp_idx')") == "3"
    assert s.query("SELECT plinth_version() IS NOT NULL") == "t"
    assert s.postmaster_pid() == postmaster, "the postmaster restarted"
    log = s.log_text()
    assert "terminated by signal" not in log and "PANIC" not in log, f"crash without the preload:\n{s.tail_log()}"

    s.configure({"shared_preload_libraries": "'plinth'"})
    s.stop()
    s.start()
    assert _fingerprint(s) == before, "data changed while the server ran without the preload"
    assert _index_fingerprint(s) == before_idx, "index contents changed while the server ran without the preload"
    # And it all still works.
    s.psql("INSERT INTO t VALUES (5001, 1, 'after'); UPDATE t SET note = 'x' WHERE id = 1; DELETE FROM t WHERE id = 4000;")
    rc, _, err = s.psql("INSERT INTO t VALUES (3, 0, 'dup')", check=False)
    assert rc != 0 and "duplicate key value" in err, err
    rc, _, err = s.psql("INSERT INTO child VALUES (1000, 999999)", check=False)
    assert rc != 0 and "violates foreign key constraint" in err, err
    assert s.query("SELECT count(*) FROM t") == "5000"
    assert s.query("SET enable_seqscan = off; SELECT count(*) FROM t WHERE grp >= 0") == "5000"
