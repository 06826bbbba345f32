"""Databases are shared by name by every server of a store, and CREATE,
DROP, RENAME and ALTER DATABASE made on one server are in effect on every
server when they return (docs/design.md, "Databases"): the store-wide
database log, applied by each server's "plinth schema" worker.

Checked here with three servers on one store (template1 of each has the
extension, as `make cluster` makes it): each statement made on one server
and seen on the others, a copy of a template with its data and schema on
every server, a rollback applied nowhere, two servers creating one name at
once, sessions of a database dropped elsewhere ended, a server that was
down, and one that is new, catching up, and one killed while it applies
database statements.
"""
import subprocess
import threading
import time

from pgserver import SessionError
from test_shared_schema import TIMEOUT_S, _schema, _wait_for


def _servers(ctx, prefix, names):
    store = ctx.directory(f"{prefix}-store")
    conf = {"default_table_access_method": "plinth", "plinth.data_directory": f"'{store}'",
            "plinth.server_timeout": f"'{TIMEOUT_S}s'"}
    servers = [ctx.server(f"{prefix}-{n}", conf=conf).start() for n in names]
    for db in ("template1", "postgres"):
        servers[0].psql("CREATE EXTENSION plinth;", db=db)
        for s in servers[1:]:
            s.wait_for_extension(db)
    return conf, servers


def _has(s, name):
    return s.query(f"SELECT count(*) FROM pg_database WHERE datname = '{name}'") == "1"


def test_database_statements_on_one_server_are_on_every_server(ctx):
    _, (a, b, c) = _servers(ctx, "dbs", ["a", "b", "c"])

    # CREATE DATABASE: every server has it when it returns, and its tables
    # (made on any server) are every server's.
    a.psql("CREATE DATABASE app")
    for s in (b, c):
        assert _has(s, "app"), f"{s.dir} does not have the database created on a"
    b.psql("CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one'), (2, 'two');", db="app")
    for s in (a, c):
        assert s.query("SELECT string_agg(v, ',' ORDER BY id) FROM t", db="app") == "one,two"

    # A copy of a template: its data, and its schema on every server
    # (each server copies its own catalog of the template at the entry
    # the first server copied it at).
    c.psql("CREATE DATABASE app_copy TEMPLATE app")
    for s in (a, b, c):
        assert s.query("SELECT string_agg(v, ',' ORDER BY id) FROM t", db="app_copy") == "one,two", s.dir
    a.psql("INSERT INTO t VALUES (3, 'three');", db="app_copy")
    assert b.query("SELECT count(*) FROM t", db="app_copy") == "3"
    assert c.query("SELECT count(*) FROM t", db="app") == "2", "the copy is not independent of its template"
    b.psql("ALTER TABLE t ADD COLUMN w int;", db="app_copy")
    assert c.query("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'w'", db="app_copy") == "1"
    assert c.query("SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'w'", db="app") == "0"

    # RENAME: the database keeps its tables under its new name everywhere.
    b.psql("ALTER DATABASE app_copy RENAME TO app_renamed")
    for s in (a, b, c):
        assert not _has(s, "app_copy") and _has(s, "app_renamed"), s.dir
    assert a.query("SELECT count(*) FROM t", db="app_renamed") == "3"

    # ALTER DATABASE: settings and owner.
    a.psql("CREATE ROLE app_owner; ALTER DATABASE app_renamed OWNER TO app_owner;"
           "ALTER DATABASE app_renamed SET work_mem = '7MB';")
    for s in (b, c):
        assert s.query("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app_renamed'") == "app_owner"
        assert s.query("SELECT current_setting('work_mem')", db="app_renamed") == "7MB"

    # A rollback is applied nowhere.
    rc, _, err = c.psql("BEGIN; ALTER DATABASE app RENAME TO never; ROLLBACK;", check=False)
    assert rc == 0, err
    for s in (a, b, c):
        assert _has(s, "app") and not _has(s, "never"), s.dir

    # DROP: gone everywhere; a session another server had there is ended,
    # and a new database of that name is another one.
    held = a.session(db="app_renamed")
    held.query("SELECT 1")
    c.psql("DROP DATABASE app_renamed")
    for s in (a, b, c):
        assert not _has(s, "app_renamed"), s.dir
    try:
        held.run("SELECT 1;", timeout=10)
        ended = False
    except SessionError:
        ended = True
    held.close()
    assert ended, "a session of a database dropped on another server went on"
    b.psql("CREATE DATABASE app_renamed")
    b.psql("CREATE TABLE t (id int);", db="app_renamed")
    assert a.query("SELECT count(*) FROM t", db="app_renamed") == "0"

    # Every server's catalog of every database is the same.
    for db in ("app", "app_renamed"):
        schemas = {s.dir: _schema(s, db) for s in (a, b, c)}
        assert len(set(schemas.values())) == 1, f"the schema of {db} differs between servers"


def test_two_servers_create_one_database_at_once(ctx):
    """Two servers creating a database of one name at once: one fails
    cleanly (40001 or 42P04), and every server ends with one database."""
    _, (a, b) = _servers(ctx, "dbrace", ["a", "b"])
    for round in range(5):
        name = f"race{round}"
        results = {}

        def create(s, key):
            results[key] = s.psql(f"CREATE DATABASE {name}", check=False)

        threads = [threading.Thread(target=create, args=(s, k)) for k, s in (("a", a), ("b", b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [k for k, (rc, _, _) in results.items() if rc == 0]
        assert len(ok) >= 1, results
        for k, (rc, _, err) in results.items():
            assert rc == 0 or "could not serialize" in err or "already exists" in err \
                or "not applied" in err, f"{k}: {err}"
        _wait_for(f"both servers to have {name}", lambda: _has(a, name) and _has(b, name))
        # The loser has the database a moment before its worker records
        # that it applied the winner's entry: DDL fails (40001) until then.
        _wait_for(f"a to take DDL in {name}",
                  lambda: a.psql("BEGIN; CREATE TABLE t (x int); INSERT INTO t VALUES (1); COMMIT;", db=name,
                                 check=False)[0] == 0)
        assert b.query("SELECT x FROM t", db=name) == "1"


def test_a_server_down_then_back_and_a_new_server_get_the_databases(ctx):
    conf, (a, b, c) = _servers(ctx, "dbdown", ["a", "b", "c"])
    a.psql("CREATE DATABASE before_down")
    a.psql("CREATE TABLE t (id int); INSERT INTO t VALUES (1);", db="before_down")
    c.kill9()
    # The first statement waits for c at most plinth.server_timeout.
    t0 = time.time()
    b.psql("CREATE DATABASE while_down TEMPLATE before_down")
    assert time.time() - t0 < TIMEOUT_S + 5
    b.psql("DROP DATABASE before_down")
    a.psql("INSERT INTO t VALUES (2);", db="while_down")
    c.start()
    _wait_for("c to apply the database log",
              lambda: _has(c, "while_down") and not _has(c, "before_down"))
    assert _wait_for("c to serve while_down", lambda: c.query("SELECT count(*) FROM t", db="while_down")) == "2"

    # A new server with an empty data directory gets every database.
    d = ctx.server("dbdown-d", conf=conf).start()
    for db in ("template1", "postgres"):
        d.wait_for_extension(db)
    _wait_for("d to apply the database log", lambda: _has(d, "while_down") and not _has(d, "before_down"))
    assert _wait_for("d to serve while_down", lambda: d.query("SELECT count(*) FROM t", db="while_down")) == "2"
    assert _schema(d, "while_down") == _schema(a, "while_down")


def test_kill9_while_applying_database_statements(ctx):
    """A server killed while its worker applies a run of database
    statements (each a database created from a template with a table, or
    dropped): the others go on, and once restarted it has exactly their
    databases, with their tables, whatever the kill cut short."""
    _, (a, b, c) = _servers(ctx, "dbkill", ["a", "b", "c"])
    a.psql("CREATE DATABASE src")
    a.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2);", db="src")
    statements = []
    for i in range(8):
        statements.append(f"CREATE DATABASE k{i} TEMPLATE src")
        if i % 3 == 2:
            statements.append(f"DROP DATABASE k{i - 1}")
    p = subprocess.Popen(a.psql_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    p.stdin.write("".join(s + ";\n" for s in statements))
    p.stdin.close()
    _wait_for("c to start applying them", lambda: _has(c, "k0"), timeout=60)
    c.kill9()
    assert p.wait(timeout=120) == 0, p.stderr.read()
    names = "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'k%'"
    want = a.query(names)
    assert b.query(names) == want
    c.start()
    _wait_for("c to catch up", lambda: c.query(names) == want, timeout=60)
    for db in want.split(","):
        assert _wait_for(f"c to serve {db}", lambda: c.query("SELECT count(*) FROM t", db=db)) == "2", db
        assert _schema(c, db) == _schema(a, db), f"the schema of {db} differs on the restarted server"
