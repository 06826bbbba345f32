"""One database, many servers: DDL on any server is in effect on every
server sharing the store (docs/design.md, "Several servers, one store").

Each server's catalog is a cache of the store's schema log: the server that
runs a DDL statement logs it with its commit, and waits until every live
server has replayed it, so a statement that starts on any server after the
DDL returned sees the new schema. Checked here, with three servers on one
store: each kind of DDL made on one server and used on the others, a
rollback applied nowhere, two servers' DDL at once (one fails, 40001), a
server killed and restarted (the others go on after plinth.server_timeout;
it catches up), a server joining an existing store, and pg_dump
--schema-only identical from every server.
"""
import difflib
import os
import re
import subprocess
import time

from pgserver import PG_BINDIR
from test_shared_store import TRANSFER  # bank transfers in id order, 20 accounts

TIMEOUT_S = 2


def _cluster(ctx, prefix, names):
    store = ctx.directory(f"{prefix}-store")
    conf = {"default_table_access_method": "plinth", "plinth.data_directory": f"'{store}'",
            "plinth.server_timeout": f"'{TIMEOUT_S}s'"}
    servers = [ctx.server(f"{prefix}-{n}", conf=conf).start() for n in names]
    # Created on one server, the extension reaches the others through
    # their schema workers.
    servers[0].psql("CREATE EXTENSION plinth;")
    for s in servers[1:]:
        s.wait_for_extension()
    return store, conf, servers


def _schema(s, db="postgres"):
    """The server's schema of a database as pg_dump prints it."""
    r = subprocess.run(s._as_user([f"{PG_BINDIR}/pg_dump", "--schema-only", "-h", s.dir, "-p", str(s.port), "-U", s.user, db]),
                       capture_output=True, text=True, check=True)
    return "\n".join(l for l in r.stdout.splitlines()
                     if not l.startswith("--") and not l.startswith("\\restrict") and not l.startswith("\\unrestrict"))


def _wait_for(what, fn, timeout=30):
    """Polls fn until it is true; a restarted server's first statements may
    fail (40001) while it catches up."""
    end = time.time() + timeout
    while True:
        try:
            value = fn()
        except RuntimeError as e:
            assert "catching up" in str(e), e
            value = None
        if value:
            return value
        if time.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


DDL = [
    # (statement on the first server, check on the others: query, expected)
    ("CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL DEFAULT 'nobody',"
     " balance bigint NOT NULL CHECK (balance >= 0), doubled bigint GENERATED ALWAYS AS (balance * 2) STORED)",
     "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attnum > 0",
     "id,owner,balance,doubled"),
    ("CREATE INDEX accounts_owner ON accounts (owner)",
     "SELECT count(*) FROM pg_indexes WHERE tablename = 'accounts'", "2"),
    ("CREATE SCHEMA app", "SELECT count(*) FROM pg_namespace WHERE nspname = 'app'", "1"),
    ("CREATE TYPE app.mood AS ENUM ('sad', 'ok', 'happy')", "SELECT enum_range(NULL::app.mood)::text", "{sad,ok,happy}"),
    ("CREATE DOMAIN app.positive AS int CHECK (VALUE > 0)", "SELECT 5::app.positive", "5"),
    ("CREATE TABLE app.events (id int PRIMARY KEY, mood app.mood, n app.positive) PARTITION BY RANGE (id)",
     "SELECT relkind FROM pg_class WHERE oid = 'app.events'::regclass", "p"),
    ("CREATE TABLE app.events_1 PARTITION OF app.events FOR VALUES FROM (0) TO (1000)",
     "SELECT count(*) FROM pg_inherits WHERE inhparent = 'app.events'::regclass", "1"),
    ("CREATE VIEW rich AS SELECT id, owner FROM accounts WHERE balance > 100",
     "SELECT count(*) FROM pg_views WHERE viewname = 'rich'", "1"),
    ("CREATE FUNCTION app.add_one(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1'", "SELECT app.add_one(41)", "42"),
    ("CREATE FUNCTION app.audit() RETURNS trigger LANGUAGE plpgsql AS "
     "$$BEGIN NEW.owner := upper(NEW.owner); RETURN NEW; END$$",
     "SELECT count(*) FROM pg_proc WHERE proname = 'audit'", "1"),
    ("CREATE TRIGGER accounts_audit BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION app.audit()",
     "SELECT count(*) FROM pg_trigger WHERE tgname = 'accounts_audit'", "1"),
    ("ALTER TABLE accounts ADD COLUMN note text", "SELECT count(*) FROM pg_attribute WHERE attrelid = 'accounts'::regclass AND attname = 'note'", "1"),
    ("COMMENT ON TABLE accounts IS 'money'", "SELECT obj_description('accounts'::regclass)", "money"),
    ("CREATE ROLE clerk", "SELECT count(*) FROM pg_roles WHERE rolname = 'clerk'", "1"),
    ("GRANT SELECT ON accounts TO clerk", "SELECT has_table_privilege('clerk', 'accounts', 'SELECT')", "t"),
    ("ALTER TABLE accounts ENABLE ROW LEVEL SECURITY", "SELECT relrowsecurity FROM pg_class WHERE relname = 'accounts'", "t"),
    ("CREATE POLICY own_rows ON accounts USING (owner = current_user)",
     "SELECT count(*) FROM pg_policies WHERE policyname = 'own_rows'", "1"),
    ("CREATE MATERIALIZED VIEW totals AS SELECT count(*) AS n FROM accounts",
     "SELECT count(*) FROM pg_matviews WHERE matviewname = 'totals'", "1"),
    ("ALTER TABLE rich RENAME TO wealthy", "SELECT count(*) FROM pg_views WHERE viewname = 'wealthy'", "1"),
]


def test_ddl_on_any_server_is_in_effect_on_every_server(ctx):
    _, _, (a, b, c) = _cluster(ctx, "schema", ["a", "b", "c"])
    servers = [a, b, c]
    # Each statement on a server in turn; the others see it as soon as it returned.
    for i, (ddl, check, expected) in enumerate(DDL):
        origin = servers[i % 3]
        origin.psql(ddl + ";")
        for s in servers:
            got = s.query(check + ";")
            assert got == expected, f"after {ddl!r} on {os.path.basename(origin.dir)}: " \
                                    f"{os.path.basename(s.dir)} answers {got!r} to {check!r}, expected {expected!r}"

    # The data is one: written on one server, read on another, through the
    # trigger, the index, the view and a partition that another server made.
    b.psql("INSERT INTO accounts (id, owner, balance) VALUES (1, 'ann', 500), (2, 'bob', 50);"
           "INSERT INTO app.events VALUES (1, 'happy', 3);")
    assert c.query("SELECT string_agg(owner || ':' || doubled, ',' ORDER BY id) FROM accounts") == "ANN:1000,BOB:100"
    assert a.query("SET enable_seqscan = off; SELECT id FROM accounts WHERE owner = 'BOB'") == "2"
    assert a.query("SELECT owner FROM wealthy") == "ANN"
    assert c.query("SELECT mood, app.add_one(n) FROM app.events") == "happy|4"
    rc, _, err = a.psql("INSERT INTO accounts (id, owner, balance) VALUES (3, 'eve', -1);", check=False)
    assert rc != 0 and "accounts_balance_check" in err, err
    c.psql("REFRESH MATERIALIZED VIEW totals;")
    assert b.query("SELECT n FROM totals") == "2", "REFRESH on one server: the others read its new contents"

    # TRUNCATE and a rewrite give the table new storage on every server.
    a.psql("TRUNCATE accounts;")
    assert b.query("SELECT count(*) FROM accounts") == "0"
    b.psql("INSERT INTO accounts (id, owner, balance) VALUES (7, 'cy', 700);")
    c.psql("ALTER TABLE accounts ALTER COLUMN note TYPE int USING length(note);")
    assert a.query("SELECT id, balance, note FROM accounts") == "7|700|"
    assert a.query("SET enable_seqscan = off; SELECT balance FROM accounts WHERE id = 7") == "700"
    assert a.query("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                   "WHERE attrelid = 'accounts'::regclass AND attname = 'note'") == "integer"

    # DDL in a transaction that rolls back is applied nowhere; in one that
    # commits, all of it at once.
    a.psql("BEGIN; CREATE TABLE never (x int); CREATE INDEX ON accounts (note); ROLLBACK;")
    a.psql("BEGIN; CREATE TABLE t1 (x int); SAVEPOINT s; CREATE TABLE lost (x int); ROLLBACK TO s;"
           " CREATE TABLE t2 (x int); COMMIT;")
    for s in servers:
        assert s.query("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class "
                       "WHERE relname IN ('never', 'lost', 't1', 't2')") == "t1,t2"
        assert s.query("SELECT count(*) FROM pg_indexes WHERE tablename = 'accounts'") == "2"

    # DROP on one server: gone everywhere, with its data.
    b.psql("DROP TABLE t1; DROP MATERIALIZED VIEW totals; DROP SCHEMA app CASCADE;")
    for s in servers:
        assert s.query("SELECT count(*) FROM pg_class WHERE relname IN ('t1', 'totals', 'events')") == "0"

    # Temporary tables stay in their session.
    rc, out, _ = a.psql("CREATE TEMP TABLE scratch (x int); INSERT INTO scratch VALUES (1); SELECT count(*) FROM scratch;")
    assert out == "1"
    # (On a, the session's end drops it as its backend exits, not before psql returns.)
    for s in (b, c):
        assert s.query("SELECT count(*) FROM pg_class WHERE relname = 'scratch'") == "0"

    # Every server dumps one schema, and no replay failed on the way.
    dumps = [_schema(s) for s in servers]
    assert dumps[0] == dumps[1] == dumps[2], "pg_dump --schema-only differs between servers"
    for s in servers:
        problems = [l for l in s.log_text().splitlines() if "plinth schema:" in l or "WARNING:  you don't own" in l]
        assert not problems, "\n".join(problems)


def test_concurrent_ddl_on_two_servers(ctx):
    """Two servers change the schema at once: one of them fails with a
    retryable error, and the catalogs never diverge."""
    _, _, (a, b, c) = _cluster(ctx, "race", ["a", "b", "c"])
    # Statements that do not conflict both commit, in the order they did.
    sa = a.session(verbose=True)
    sa.run("BEGIN; CREATE TABLE from_a (x int);")
    b.psql("CREATE TABLE from_b (x int);")
    sa.run("COMMIT;")
    for s in (a, b, c):
        assert s.query("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class "
                       "WHERE relname LIKE 'from\\_%'") == "from_a,from_b"
    # Statements that do: a's transaction holds its new table "same" while
    # b creates one of that name. b's commits first; a cannot apply it
    # before its own transaction ends, and its commit fails (retryable).
    sa.run("BEGIN; CREATE TABLE same (mine_is_a int);")
    b.psql("CREATE TABLE same (mine_is_b int);", check=False)
    sa.send("COMMIT;")
    try:
        sa.wait()
        failed = False
    except Exception:
        failed = True
    # 40001, or 40P01 when a's commit meets the replay of b's statement.
    assert failed and ("40001" in sa.stderr() or "40P01" in sa.stderr()), \
        f"a's DDL should fail with a retryable error: {sa.stderr()}"
    sa.close()
    for s in (a, b, c):
        _wait_for(f"{os.path.basename(s.dir)} to apply b's table",
                  lambda: s.query("SELECT string_agg(attname, ',') FROM pg_attribute "
                                  "WHERE attrelid = to_regclass('same') AND attnum > 0") == "mine_is_b")

    # DDL on all three at once, many times: every statement that returned
    # success is on every server, and the catalogs agree.
    procs = []
    for s, who in ((a, "a"), (b, "b"), (c, "c")):
        sql = "".join(f"CREATE TABLE churn_{who}_{i} (x int);\n" for i in range(15))
        procs.append((who, subprocess.Popen(s.psql_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)))
        procs[-1][1].stdin.write(sql.replace("CREATE", "\\set ON_ERROR_STOP 0\nCREATE", 1))
        procs[-1][1].stdin.close()
    errors = 0
    for who, p in procs:
        p.wait(timeout=120)
        err = p.stderr.read()
        # 40001 either way: met at commit, or seen before (not applied here yet).
        retryable = ("could not serialize", "has not applied the change yet")
        errors += sum(err.count(r) for r in retryable)
        assert all(any(r in l for r in retryable) or "DETAIL" in l or "HINT" in l or not l.strip()
                   for l in err.splitlines()), err
    names = [s.query("SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class WHERE relname LIKE 'churn%'")
             for s in (a, b, c)]
    assert names[0] == names[1] == names[2], f"catalogs diverged: {names}"
    made = len(names[0].split(",")) if names[0] else 0
    assert made + errors == 45, f"{made} tables made, {errors} refused, of 45"
    print(f"    concurrent DDL on three servers: {made} of 45 committed, {errors} failed with 40001", flush=True)


def test_a_writer_spanning_another_servers_ddl_fails(ctx):
    """On one server a writer's table lock holds TRUNCATE, ALTER TABLE and
    CREATE INDEX off until it ends. A writer on another server whose
    transaction spans such DDL fails at its commit (40001) instead: its rows
    never land in storage the DDL dropped, past a constraint it added, or
    outside an index it built. Writers of other tables, and writers that
    begin after the DDL returned, are not held up."""
    _, _, (a, b) = _cluster(ctx, "spanning", ["a", "b"])
    a.psql("CREATE TABLE t (x int); CREATE TABLE other (x int); INSERT INTO t VALUES (1);")
    cases = [
        # (the writer's value, DDL on a, what must hold afterwards on both servers: query, expected)
        (-5, "TRUNCATE t", "SELECT count(*) FROM t", "0"),
        (-5, "ALTER TABLE t ADD CONSTRAINT t_positive CHECK (x > 0)", "SELECT count(*) FROM t WHERE x <= 0", "0"),
        (5, "CREATE INDEX t_x ON t (x)", "SET enable_seqscan = off; SELECT count(*) FROM t WHERE x = 5", "0"),
        (5, "ALTER TABLE t ALTER COLUMN x TYPE bigint", "SELECT count(*) FROM t WHERE x = 5", "0"),
    ]
    for value, ddl, check, expected in cases:
        before = a.query("SELECT seq FROM plinth.schema_applied")
        writer = b.session(verbose=True)
        writer.run(f"BEGIN; INSERT INTO t VALUES ({value}); INSERT INTO other VALUES (1);")
        # a's DDL commits, then waits for b, whose replay waits for the writer's lock.
        p = subprocess.Popen(a.psql_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        p.stdin.write(ddl + ";")
        p.stdin.close()
        _wait_for(f"{ddl!r} to commit on a", lambda: a.query("SELECT seq FROM plinth.schema_applied") != before)
        writer.send("COMMIT;")
        try:
            writer.wait()
            committed = True
        except Exception:
            committed = False
        assert not committed and "40001" in writer.stderr() and "concurrent schema change" in writer.stderr(), \
            f"a writer spanning {ddl!r} on another server: {writer.stderr() or 'committed'}"
        writer.close()
        assert p.wait(timeout=60) == 0, p.stderr.read()
        for s in (a, b):
            got = s.query(check)
            assert got == expected, f"after {ddl!r}: {os.path.basename(s.dir)} answers {got!r} to {check!r}"
        assert a.query("SELECT count(*) FROM other") == b.query("SELECT count(*) FROM other") == "0"

    # A writer of another table commits across DDL on t.
    writer = b.session(verbose=True)
    writer.run("BEGIN; INSERT INTO other VALUES (2);")
    a.psql("ALTER TABLE t ADD COLUMN y int;")
    writer.run("COMMIT;")
    writer.close()
    assert a.query("SELECT count(*) FROM other") == "1"

    # Writers that begin once the DDL returned commit, on either server, at once.
    for i in range(10):
        (a if i % 2 else b).psql(f"ALTER TABLE t ADD COLUMN c{i} int;")
        b.psql(f"INSERT INTO t (x, c{i}) VALUES ({i + 10}, {i});")
        a.psql(f"UPDATE t SET c{i} = c{i} + 1 WHERE x = {i + 10};")
    assert b.query("SELECT count(*), sum(c9) FROM t") == "10|10"


def test_writers_of_another_server_during_a_build_or_rewrite(ctx):
    """A build or rewrite on one server holds that server's writers off its
    table; writers on another server that commit while it runs fail (40001,
    retried here) instead of landing between its scan and its commit: no row
    is missing from the index built, or lost with the storage a rewrite
    replaced, or past a constraint validated meanwhile."""
    _, _, (a, b) = _cluster(ctx, "fence", ["a", "b"])
    a.psql("CREATE TABLE t (id bigserial, x int, pad text);"
           "INSERT INTO t (x, pad) SELECT g % 1000, repeat('p', 60) FROM generate_series(1, 150000) g;")
    _wait_for("t on b", lambda: b.query("SELECT count(*) FROM t") == "150000")
    script = os.path.join(ctx.directory("fence-scripts"), "insert.sql")
    with open(script, "w") as f:
        f.write("INSERT INTO t (x, pad) VALUES (:client_id + 1, 'from b');\n")
    by_x = "SELECT count(*) FROM t WHERE x >= 0"
    for ddl, indexed in (("CREATE INDEX t_x ON t (x)", by_x),
                         ("ALTER TABLE t ALTER COLUMN x TYPE bigint", by_x),
                         ("ALTER TABLE t ADD CONSTRAINT t_x_small CHECK (x < 1000)", by_x),
                         ("CLUSTER t USING t_x", by_x),
                         # Rebuilds that commit a transaction per table, each
                         # logged with its own commit (schema.c, rebuild_kind).
                         ("VACUUM FULL t", by_x),
                         ("CLUSTER", by_x),
                         ("REINDEX SCHEMA public", by_x),
                         # Concurrent builds: the other server's writers are
                         # fenced off until it replays them.
                         ("CREATE INDEX CONCURRENTLY t_minus_x ON t ((-x))", "SELECT count(*) FROM t WHERE -x <= 0"),
                         ("REINDEX INDEX CONCURRENTLY t_x", by_x)):
        before = int(a.query("SELECT count(*) FROM t"))
        load = subprocess.Popen(b.pgbench_argv("-n", "-f", script, "-c", "2", "-T", "4", "--max-tries=1000"),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        a.psql(ddl + ";")
        out, err = load.communicate(timeout=120)
        m = re.search(r"number of transactions actually processed: (\d+)", out)
        assert load.returncode == 0 and m, out + err
        inserted = int(m.group(1))
        assert inserted > 0, out
        for s in (a, b):
            seq = s.query("SET enable_indexscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM t")
            assert seq == str(before + inserted), \
                f"after {ddl!r}: {os.path.basename(s.dir)} has {seq} rows, {before} + {inserted} committed"
            by_index = s.query(f"SET enable_seqscan = off; SET enable_bitmapscan = off; {indexed}")
            assert by_index == seq, f"after {ddl!r}: the index on {os.path.basename(s.dir)} has {by_index} of {seq} rows"
    # The rebuilds logged in parts left both catalogs alike (CLUSTER's mark included).
    assert _schema(a) == _schema(b)


def test_a_rebuild_failing_halfway(ctx):
    """VACUUM FULL of two tables commits the first table's rebuild before it
    starts the second. When the second fails (here: its lock times out),
    the first table's new storage is still what every server reads: each
    table's rebuild is logged with its own commit."""
    _, _, (a, b) = _cluster(ctx, "halfway", ["a", "b"])
    a.psql("CREATE TABLE first (x int PRIMARY KEY); CREATE TABLE second (x int);"
           "INSERT INTO first SELECT generate_series(1, 1000); INSERT INTO second VALUES (1);")
    holder = a.session()
    holder.run("BEGIN; LOCK TABLE second IN ACCESS SHARE MODE;")
    rc, _, err = a.psql("SET lock_timeout = '200ms'; VACUUM FULL first, second;", check=False)
    assert rc != 0 and "lock timeout" in err, err
    holder.run("COMMIT;")
    holder.close()
    for s in (a, b):
        assert s.query("SELECT count(*), sum(x) FROM first") == "1000|500500", os.path.basename(s.dir)
        assert s.query("SET enable_seqscan = off; SELECT count(*) FROM first WHERE x > 500") == "500"
    # Both servers write it on.
    b.psql("INSERT INTO first VALUES (1001);")
    a.psql("INSERT INTO first VALUES (1002);")
    assert b.query("SELECT count(*) FROM first") == a.query("SELECT count(*) FROM first") == "1002"
    assert _schema(a) == _schema(b)


def test_drop_extension_on_one_server_drops_it_on_every_server(ctx):
    """DROP EXTENSION plinth CASCADE drops the Plinth tables, whose data
    every server shares: it is applied everywhere, so no server keeps a
    table whose data is gone. Created again on one server, the extension
    is on every server when that returns, and works as before."""
    _, _, (a, b, c) = _cluster(ctx, "dropext", ["a", "b", "c"])
    a.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); CREATE VIEW v AS SELECT id FROM t;"
           "CREATE TABLE kept (x int) USING heap; INSERT INTO kept VALUES (7);")
    rc, _, err = b.psql("DROP EXTENSION plinth;", check=False)
    assert rc != 0 and "depend" in err, f"DROP EXTENSION without CASCADE should be refused: {err}"
    b.psql("DROP EXTENSION plinth CASCADE;")
    for s in (a, b, c):
        assert s.query("SELECT count(*) FROM pg_extension WHERE extname = 'plinth'") == "0"
        assert s.query("SELECT count(*) FROM pg_class WHERE relname IN ('t', 'v')") == "0", \
            f"{os.path.basename(s.dir)} kept a table whose data was dropped"
        assert s.query("SELECT count(*) FROM pg_class WHERE relname = 'kept'") == "1"
    assert a.query("SELECT x FROM kept") == "7", "a heap table is no extension's"
    c.psql("CREATE EXTENSION plinth;")
    for s in (a, b):
        assert s.query("SELECT count(*) FROM pg_extension WHERE extname = 'plinth'") == "1", s.dir
    c.psql("CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (2);")
    for s in (a, b, c):
        assert s.query("SELECT id FROM t") == "2"


def test_create_extension_on_one_server_is_on_every_server(ctx):
    """A database created on one server is on every server (the database
    log); its template lacks the extension here. CREATE EXTENSION plinth on
    one server is then in effect on every server when it returns (their
    workers create it and replay the database's schema), and no worker
    pass fails or logs a FATAL meanwhile."""
    _, _, (a, b) = _cluster(ctx, "onlyone", ["a", "b"])
    a.psql("CREATE DATABASE only_a")
    assert b.query("SELECT count(*) FROM pg_database WHERE datname = 'only_a'") == "1"
    a.psql("CREATE EXTENSION plinth;", db="only_a")
    assert b.query("SELECT count(*) FROM pg_extension WHERE extname = 'plinth'", db="only_a") == "1"
    a.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (1);", db="only_a")
    assert b.query("SELECT x FROM t", db="only_a") == "1"
    a.psql("CREATE TABLE shared_after (x int);")
    assert b.query("SELECT count(*) FROM pg_class WHERE relname = 'shared_after'") == "1"
    time.sleep(1)
    for s in (a, b):
        log = s.log_text()
        assert "FATAL" not in log, f"{s.dir}: a connection failed"
        assert "plinth schema: reading what" not in log, f"{s.dir}: a worker pass failed"
        assert 'background worker "plinth schema"' not in log, f"the schema worker of {s.dir} exited"


def test_server_down_then_back_and_a_new_server(ctx):
    store, conf, (a, b, c) = _cluster(ctx, "down", ["a", "b", "c"])
    a.psql("CREATE TABLE before (id int PRIMARY KEY, v text); INSERT INTO before VALUES (1, 'one');")
    c.kill9()
    # The first DDL waits for c at most plinth.server_timeout, then goes on.
    t0 = time.time()
    rc, _, err = a.psql("CREATE TABLE while_down (id int PRIMARY KEY);", check=False)
    first = time.time() - t0
    assert rc == 0, err
    assert first < TIMEOUT_S + 5, f"DDL with a server down took {first:.1f} s"
    # c is declared dead: the next ones do not wait.
    t0 = time.time()
    a.psql("ALTER TABLE before ADD COLUMN w int;")
    b.psql("INSERT INTO while_down VALUES (1);")
    later = time.time() - t0
    assert later < 2, f"DDL after the dead server was declared took {later:.1f} s"
    # c restarts and catches up: from its first statement on, a statement
    # either sees the schema c missed or fails (40001) while c catches up.
    c.start()
    rc, out, err = c.psql("SELECT count(*) FROM pg_class WHERE relname = 'while_down';", check=False)
    assert (rc == 0 and out == "1") or "catching up" in err, f"a restarted server served a stale schema: {out!r} {err}"
    _wait_for("c to apply what it missed",
              lambda: c.query("SELECT count(*) FROM pg_class WHERE relname = 'while_down'") == "1"
              and c.query("SELECT count(*) FROM pg_attribute WHERE attrelid = 'before'::regclass AND attname = 'w'") == "1")
    assert c.query("SELECT count(*) FROM while_down") == "1"
    # And it takes part again: DDL made on c reaches a and b.
    c.psql("CREATE TABLE from_c (x int);")
    for s in (a, b):
        assert s.query("SELECT count(*) FROM pg_class WHERE relname = 'from_c'") == "1"

    # A new server with an empty data directory joins the store and gets
    # the whole schema, then the data.
    d = ctx.server("down-d", conf=conf).start()
    d.wait_for_extension()
    _wait_for("d to apply the schema log",
              lambda: d.query("SELECT count(*) FROM pg_class WHERE relname IN ('before', 'while_down', 'from_c')") == "3")
    assert d.query("SELECT id, v FROM before") == "1|one"
    sd, sa = _schema(d), _schema(a)
    assert sd == sa, "the new server's schema differs:\n" + "\n".join(
        difflib.unified_diff(sa.splitlines(), sd.splitlines(), "a", "d", lineterm=""))


def test_local_indexes_with_a_single_server(ctx):
    """plinth.single_server = on says no other server uses the store: GIN,
    GiST and the other kinds Postgres keeps in local files may then index
    Plinth tables, and work as on heap."""
    store = ctx.directory("single-store")
    s = ctx.server("single", conf={"default_table_access_method": "plinth", "plinth.data_directory": f"'{store}'",
                                   "plinth.single_server": "on"}).start()
    s.psql("CREATE EXTENSION plinth;"
           "CREATE TABLE docs (id int PRIMARY KEY, tags text[], body text);"
           "INSERT INTO docs SELECT g, ARRAY['t' || g % 10], 'doc ' || g FROM generate_series(1, 1000) g;"
           "CREATE INDEX docs_tags ON docs USING gin (tags);"
           "CREATE INDEX docs_body ON docs USING hash (body);"
           "INSERT INTO docs VALUES (1001, '{t3}', 'late');")
    q = "SET enable_seqscan = off; SELECT count(*) FROM docs WHERE tags @> '{t3}'"
    assert "docs_tags" in s.query("SET enable_seqscan = off; EXPLAIN SELECT count(*) FROM docs WHERE tags @> '{t3}'")
    assert s.query(q) == "101"
    assert s.query("SET enable_seqscan = off; SELECT id FROM docs WHERE body = 'late'") == "1001"




def test_schema_churn_beside_a_dml_load(ctx):
    """DDL on all three servers (tables made, altered, indexed, dropped)
    while two of them move money between the same rows: the money is
    conserved, every transfer is in the ledger, and the catalogs agree."""
    _, _, servers = _cluster(ctx, "churn", ["a", "b", "c"])
    a, b, c = servers
    a.psql("CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL);"
           "CREATE TABLE ledger (src int NOT NULL, dst int NOT NULL, amount int NOT NULL);"
           "CREATE INDEX ledger_src ON ledger (src);"
           "INSERT INTO accounts SELECT g, 1000 FROM generate_series(1, 20) g;")
    script = os.path.join(ctx.directory("churn-scripts"), "transfer.sql")
    with open(script, "w") as f:
        f.write(TRANSFER)
    load = [subprocess.Popen(s.pgbench_argv("-n", "-f", script, "-c", "2", "-T", "6"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in (a, b)]
    churn = []
    for s, who in ((a, "a"), (b, "b"), (c, "c")):
        sql = "\\set ON_ERROR_STOP 0\n" + "".join(
            f"CREATE TABLE churn_{who}_{i} (id int PRIMARY KEY, v text);\n"
            f"CREATE INDEX churn_{who}_{i}_v ON churn_{who}_{i} (v);\n"
            f"ALTER TABLE churn_{who}_{i} ADD COLUMN w int;\n"
            + (f"DROP TABLE churn_{who}_{i - 1};\n" if i % 2 else "")
            for i in range(12))
        p = subprocess.Popen(s.psql_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        p.stdin.write(sql)
        p.stdin.close()
        churn.append(p)
    done = 0
    for p in load:
        out, err = p.communicate(timeout=120)
        m = re.search(r"number of transactions actually processed: (\d+)", out)
        failed = re.search(r"number of failed transactions: (\d+)", out)
        assert p.returncode == 0 and m and (not failed or failed.group(1) == "0"), out + err
        done += int(m.group(1))
    for p in churn:
        p.wait(timeout=120)
        for line in p.stderr.read().splitlines():
            # DDL meeting another server's fails retryably, or finds its table gone with it.
            assert any(w in line for w in ("could not serialize", "has not applied the change yet", "deadlock",
                                           "does not exist", "DETAIL", "HINT", "CONTEXT")) or not line.strip(), line
    assert done > 0
    for s in servers:
        assert s.query("SELECT count(*), sum(balance) FROM accounts") == "20|20000"
        assert s.query("SELECT count(*) FROM ledger") == str(done)
        wrong = s.query("SELECT a.id FROM accounts a LEFT JOIN (SELECT dst, sum(amount) s FROM ledger GROUP BY dst) i "
                        "ON i.dst = a.id LEFT JOIN (SELECT src, sum(amount) s FROM ledger GROUP BY src) o ON o.src = a.id "
                        "WHERE a.balance <> 1000 + coalesce(i.s, 0) - coalesce(o.s, 0)")
        assert not wrong, f"balances that disagree with the ledger: {wrong}"
    dumps = [_schema(s) for s in servers]
    assert dumps[0] == dumps[1] == dumps[2], "catalogs diverged under churn"
    left = a.query("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'churn%'")
    print(f"    {done} transfers beside the churn ({left} of its 36 tables left)", flush=True)


def test_kill9_during_replay(ctx):
    """A server killed while its worker replays another's DDL: the others
    go on (after plinth.server_timeout at most), and once restarted it
    applies what it missed, half-applied entries included, to the same
    schema as theirs."""
    _, _, (a, b, c) = _cluster(ctx, "replaykill", ["a", "b", "c"])
    tables = 40
    ddl = "BEGIN;" + "".join(f"CREATE TABLE k_{i} (id int PRIMARY KEY, v text); CREATE INDEX k_{i}_v ON k_{i} (v);"
                              for i in range(tables)) + "COMMIT;"
    p = subprocess.Popen(a.psql_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    p.stdin.write(ddl)
    p.stdin.close()
    # The commit lands in the store, then the others replay its 80 entries.
    _wait_for("c to start replaying",
              lambda: c.query("SELECT count(*) > 0 FROM pg_class WHERE relname LIKE 'k\\_%'") == "t", timeout=30)
    c.kill9()
    assert p.wait(timeout=60) == 0, p.stderr.read()
    assert b.query("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'k\\_%'") == str(tables)
    b.psql("INSERT INTO k_7 VALUES (1, 'written while c was down');")
    c.start()
    _wait_for("c to catch up",
              lambda: c.query("SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relname LIKE 'k\\_%'") == str(tables))
    assert c.query("SET enable_seqscan = off; SELECT v FROM k_7 WHERE v LIKE 'written%'") == "written while c was down"
    assert _schema(c) == _schema(a) == _schema(b), "the schema differs after the replay was killed"


# Values that name types and enum labels by OID, written on one server and
# read on the others, whose OIDs for the same objects differ (portable.c).
VALUES_DDL = [
    "CREATE TYPE color AS ENUM ('red', 'green', 'blue')",
    "ALTER TYPE color ADD VALUE 'yellow' BEFORE 'green'",
    "CREATE TYPE swatch AS (c color, shades color[])",
    "CREATE TYPE colorrange AS RANGE (subtype = color)",
    "CREATE TABLE palette (id int PRIMARY KEY, c color, cs color[], s swatch, ss swatch[],"
    " r colorrange, mr colormultirange)",
    "CREATE INDEX palette_c ON palette (c) INCLUDE (cs)",
    "CREATE UNIQUE INDEX palette_s ON palette (s)",
]
PALETTE = ("SELECT string_agg(concat_ws(' ', id, c, cs, s, coalesce(ss::text, '<NULL>'), r, coalesce(mr::text, '<NULL>')),"
           " '; ' ORDER BY id) FROM palette")


def test_values_naming_types_read_the_same_on_every_server(ctx):
    _, conf, (a, b, c) = _cluster(ctx, "oids", ["a", "b", "c"])
    # Each server's OID counter moves on its own: b and c make temporary
    # objects first, so the replays give the same types other OIDs.
    b.psql("CREATE TEMP TABLE skew1 (x int, y text); CREATE TEMP TABLE skew2 AS SELECT 1 AS z;")
    c.psql("CREATE TEMP TABLE skew3 (x int);")
    for stmt in VALUES_DDL:
        a.psql(stmt + ";")
    oids = {s.query("SELECT string_agg(oid::text, ',' ORDER BY enumsortorder) FROM pg_enum") for s in (a, b, c)}
    assert len(oids) == 3, f"the servers' enum labels have the same OIDs, nothing is checked: {oids}"
    a.psql("INSERT INTO palette VALUES (1, 'red', '{red,yellow}', '(green,{blue})', ARRAY['(yellow,{})'::swatch],"
           " '[red,blue)', '{[red,yellow],[green,blue]}');")
    b.psql("INSERT INTO palette VALUES (2, 'yellow', '{}', '(red,\"{red,green}\")', '{}', '(,green]', '{}');")
    c.psql("INSERT INTO palette SELECT 3, 'blue', ARRAY['blue'::color], ROW('blue', '{}')::swatch, NULL, 'empty', NULL;")
    expected = ("1 red {red,yellow} (green,{blue}) {\"(yellow,{})\"} [red,blue) {[red,yellow],[green,blue]}; "
                "2 yellow {} (red,\"{red,green}\") {} (,green] {}; "
                "3 blue {blue} (blue,{}) <NULL> empty <NULL>")
    for s in (a, b, c):
        got = s.query(PALETTE)
        assert got == expected, f"{s.dir}: {got}"
        # Index-only scans return the stored index tuples, sorted by label.
        assert s.query("SET enable_seqscan = off; SET enable_bitmapscan = off; "
                       "SELECT string_agg(concat_ws(' ', c, cs), ',' ORDER BY c) FROM palette WHERE c >= 'red'") \
            == "red {red,yellow},yellow {},blue {blue}", s.dir
    # A unique violation on b names the key a wrote.
    rc, _, err = b.psql("INSERT INTO palette (id, s) VALUES (4, '(green,{blue})');", check=False)
    assert rc != 0 and 'Key (s)=((green,{blue})) already exists' in err, err
    # A label added and one renamed on b, used on c, read on a.
    b.psql("ALTER TYPE color ADD VALUE 'orange' AFTER 'red';")
    b.psql("ALTER TYPE color RENAME VALUE 'blue' TO 'navy';")
    c.psql("UPDATE palette SET c = 'orange', cs = cs || 'orange'::color WHERE id = 3;")
    assert a.query("SELECT concat_ws(' ', c, cs, s) FROM palette WHERE id = 3") == "orange {navy,orange} (navy,{})"
    # A server that joins later replays the whole log: the same values.
    d = ctx.server("oids-d", conf=conf).start()
    d.wait_for_extension()
    _wait_for("d to apply the schema log", lambda: d.query("SELECT count(*) FROM pg_class WHERE relname = 'palette'") == "1")
    assert d.query("SELECT string_agg(concat_ws(' ', id, c, s), ', ' ORDER BY id) FROM palette") == \
        "1 red (green,{navy}), 2 yellow (red,\"{red,green}\"), 3 orange (navy,{})"
