"""Databases and the store: the store finds a database's keys by the
server's id and the database's OID, so renaming a database keeps its
tables, dropping it removes its keys from the store, and a database made
from a template gets a copy of the template's tables."""
import os
import re
import subprocess


def test_rename_database_keeps_plinth_tables(ctx):
    s = ctx.server("rename-db", conf={"default_table_access_method": "plinth"}).start()
    s.psql("CREATE DATABASE d1")
    s.psql("CREATE EXTENSION plinth; CREATE TABLE t (id int PRIMARY KEY, s text);"
           "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 10) g;", db="d1")
    rc, _, err = s.psql("ALTER DATABASE d1 RENAME TO d2", check=False)
    if rc != 0:
        # Refusing the rename is acceptable if it says why.
        assert "plinth" in err.lower(), f"rename refused without a reason: {err}"
        assert s.query("SELECT count(*) FROM t", db="d1") == "10"
        return
    rc, out, err = s.psql("SELECT count(*), min(s) FROM t", db="d2", check=False)
    assert rc == 0 and out == "10|row 1", f"after ALTER DATABASE d1 RENAME TO d2, t gives {out!r} {err}"
    # A new database under the old name starts empty, and does not disturb d2.
    s.psql("CREATE DATABASE d1")
    s.psql("CREATE EXTENSION plinth; CREATE TABLE t (id int PRIMARY KEY, s text); INSERT INTO t VALUES (1, 'new');",
           db="d1")
    assert s.query("SELECT count(*), min(s) FROM t", db="d1") == "1|new"
    assert s.query("SELECT count(*), min(s) FROM t", db="d2") == "10|row 1"


def store_entries(s):
    """Entries in the embedded store's data (mdb_stat, sub-database "data")."""
    path = os.path.join(s.data, "plinth")
    out = subprocess.run(["mdb_stat", "-s", "data", path], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Entries: (\d+)", out).group(1))


def test_drop_database_frees_its_keys(ctx):
    ctx.embedded_only("counts the entries of the store file")
    s = ctx.server("drop-db", conf={"default_table_access_method": "plinth"}).start()
    s.psql("CREATE DATABASE gone")
    s.psql("CREATE EXTENSION plinth; CREATE TABLE t (id int PRIMARY KEY, s text);"
           "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 20000) g;", db="gone")
    s.psql("CREATE EXTENSION plinth; CREATE TABLE kept (id int PRIMARY KEY); INSERT INTO kept VALUES (1), (2);")
    before = store_entries(s)
    # Refused while someone is connected: nothing may be lost then.
    other = s.session(db="gone")
    try:
        other.query("SELECT 1")
        rc, _, err = s.psql("DROP DATABASE gone", check=False)
        assert rc != 0 and "being accessed by other users" in err, err
        assert other.query("SELECT count(*) FROM t") == "20000"
    finally:
        other.close()
    assert store_entries(s) >= before
    s.psql("DROP DATABASE gone")
    after = store_entries(s)
    # 20,000 rows and 20,000 index entries, at least.
    assert before - after >= 40000, f"store entries {before} -> {after}: DROP DATABASE left its keys"
    assert s.query("SELECT count(*) FROM kept") == "2"


def test_create_database_from_a_template_copies_plinth_tables(ctx):
    """CREATE DATABASE ... TEMPLATE copies the template's Plinth tables as
    Postgres copies its heap tables (test runners clone their test database
    this way): rows, indexes, row ids and statistics, more than one store
    transaction's worth, and the copy is independent of its template."""
    s = ctx.server("template-db", conf={"default_table_access_method": "plinth"}).start()
    s.psql("CREATE DATABASE src")
    s.psql("CREATE EXTENSION plinth;"
           "CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL);"
           "CREATE INDEX t_v ON t (v);"
           "CREATE TABLE big (id int, payload text);", db="src")
    # About 24 MB in all: the copy takes several store transactions.
    for i in range(4):
        s.psql("INSERT INTO big SELECT g, (SELECT string_agg(md5(g::text || ':' || i), '') FROM generate_series(1, 47) i)"
               f" FROM generate_series({i * 4000 + 1}, {(i + 1) * 4000}) g;", db="src")
    s.psql("INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 1000) g;", db="src")
    expect = {"t": "1000|500500", "big": "16000|24064000"}
    s.psql("CREATE DATABASE clone TEMPLATE src")
    for table, counts in expect.items():
        for db in ("src", "clone"):
            got = s.query(f"SELECT count(*), sum(length(payload)) FROM {table}" if table == "big"
                          else f"SELECT count(*), sum(id) FROM {table}", db=db)
            assert got == counts, f"{table} in {db}: {got!r}, expected {counts!r}"
    assert s.query("SET enable_seqscan = off; SELECT id FROM t WHERE v = 'v777'", db="clone") == "777"
    # The planner's numbers came along: the row and byte counters.
    info = "SELECT live_rows, bytes > 20000000 FROM plinth_relation_info('big')"
    assert s.query(info, db="clone") == s.query(info, db="src") == "16000|t"
    # Independent: each database's changes are its own, and new rows take new row ids.
    s.psql("DELETE FROM t WHERE id <= 10; INSERT INTO t VALUES (1001, 'new'); UPDATE t SET v = 'changed' WHERE id = 500;",
           db="clone")
    s.psql("INSERT INTO t VALUES (2001, 'src only');", db="src")
    assert s.query("SELECT count(*), count(*) FILTER (WHERE v = 'changed') FROM t", db="clone") == "991|1"
    assert s.query("SELECT count(*), count(*) FILTER (WHERE v = 'changed') FROM t", db="src") == "1001|0"
    assert s.query("SELECT count(DISTINCT ctid) FROM t", db="clone") == "991"
    rc, _, err = s.psql("INSERT INTO t VALUES (1001, 'dup');", db="clone", check=False)
    assert rc != 0 and "duplicate key" in err, err
    # A clone of the clone, and dropping one leaves the others whole.
    s.psql("CREATE DATABASE clone2 TEMPLATE clone")
    s.psql("DROP DATABASE clone")
    assert s.query("SELECT count(*) FROM t", db="clone2") == "991"
    assert s.query("SELECT count(*) FROM t", db="src") == "1001"
    # A template without Plinth tables, and the default template, copy nothing and work as before.
    s.psql("CREATE DATABASE plain")
    s.psql("CREATE EXTENSION plinth; CREATE TABLE t (x int); INSERT INTO t VALUES (1);", db="plain")
    assert s.query("SELECT count(*) FROM t", db="plain") == "1"


def test_ddl_beside_database_statements_on_one_server_never_fails(ctx):
    """On one server, sessions running DDL beside a session that creates
    and drops databases and roles, at READ COMMITTED and REPEATABLE READ,
    never fail: a database log entry this server made a moment ago, or is
    about to apply, is waited for, not reported as 40001, and recording a
    DDL's position is not a concurrent update for REPEATABLE READ."""
    import threading
    s = ctx.server("db-ddl-mix", conf={"default_table_access_method": "plinth"}).start()
    s.psql("CREATE EXTENSION IF NOT EXISTS plinth")
    errors = []
    stop = threading.Event()

    def databases():
        for i in range(8):
            for sql in (f"CREATE DATABASE mix{i}", f"CREATE ROLE mix_role{i}", f"DROP DATABASE mix{i}",
                        f"DROP ROLE mix_role{i}"):
                rc, _, err = s.psql(sql, check=False)
                if rc != 0:
                    errors.append(f"{sql}: {err.strip()}")
        stop.set()

    def ddl(name, isolation):
        n = 0
        while not stop.is_set() or n < 5:
            sql = (f"BEGIN ISOLATION LEVEL {isolation}; CREATE TABLE {name}{n} (id int PRIMARY KEY); "
                   f"INSERT INTO {name}{n} VALUES (1); COMMIT; DROP TABLE {name}{n};")
            rc, _, err = s.psql(sql, check=False)
            if rc != 0 or "ERROR" in err:
                errors.append(f"{isolation} DDL {n}: {err.strip()}")
            n += 1

    threads = [threading.Thread(target=databases),
               threading.Thread(target=ddl, args=("rc", "READ COMMITTED")),
               threading.Thread(target=ddl, args=("rr", "REPEATABLE READ"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, "\n".join(errors[:10])
