"""Databases and the store: the store finds a database's keys by the
server's id and the database's OID, so renaming a database keeps its
tables, and dropping it removes its keys from the store."""
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
