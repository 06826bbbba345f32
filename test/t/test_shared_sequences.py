"""Sequences are cluster-wide (docs/design.md, "Sequences"): serial,
identity columns and nextval hand out values unique across every server
sharing the store, in blocks leased from it (no store round trip per
value), and setval, ALTER SEQUENCE ... RESTART, TRUNCATE ... RESTART
IDENTITY, COPY and table rewrites made on one server are what the others
go on from. currval and lastval stay per session, as in Postgres.
"""
import re
import subprocess

from pgserver import PG_BINDIR
from test_shared_schema import _cluster


def _pgbench(servers, ctx, script_sql, clients=2, seconds=4):
    path = f"{ctx.directory('seq-scripts')}/script.sql"
    with open(path, "w") as f:
        f.write(script_sql)
    runs = [subprocess.Popen(s.pgbench_argv("-n", "-f", path, "-c", str(clients), "-T", str(seconds)),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for s in servers]
    done = 0
    for p in runs:
        out, err = p.communicate(timeout=120)
        m = re.search(r"number of transactions actually processed: (\d+)", out)
        failed = re.search(r"number of failed transactions: (\d+)", out)
        assert p.returncode == 0 and m and (not failed or failed.group(1) == "0"), out + err
        done += int(m.group(1))
    return done


def test_sequences_are_unique_across_servers(ctx):
    """Three servers insert into tables with serial and identity columns
    and call nextval at once: no value is handed out twice, and a session
    taking a thousand values makes a handful of store round trips."""
    _, _, servers = _cluster(ctx, "seq", ["a", "b", "c"])
    a, b, c = servers
    a.psql("CREATE TABLE s_rows (id bigserial, ident int GENERATED ALWAYS AS IDENTITY, small smallserial, who text);"
           "CREATE SEQUENCE s_free CACHE 5;"
           "CREATE TABLE s_free_log (v bigint);")
    done = _pgbench(servers, ctx, "INSERT INTO s_rows (who) VALUES ('x');\n"
                                  "INSERT INTO s_free_log VALUES (nextval('s_free'));\n")
    for column in ("id", "ident", "small"):
        assert a.query(f"SELECT count(*), count(DISTINCT {column}) FROM s_rows") == f"{done}|{done}", column
    assert b.query("SELECT count(*) = count(DISTINCT v) FROM s_free_log") == "t"
    # One session's values: a lease per block, the block doubling as it is used.
    rt = c.query("SELECT count(nextval('s_free')) FROM generate_series(1, 1000);"
                 "SELECT round_trips FROM plinth_stat_statement();").splitlines()
    assert rt[0] == "1000" and int(rt[1]) <= 30, rt
    # Values handed out while the server was killed stay handed out.
    killer = subprocess.Popen(a.pgbench_argv("-n", "-f", f"{ctx.directory('seq-scripts')}/script.sql", "-c", "2",
                                             "-T", "10"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    b.psql("SELECT pg_sleep(1.5);")
    a.kill9()
    killer.communicate(timeout=60)
    a.start()
    _pgbench([b, c, a], ctx, "INSERT INTO s_rows (who) VALUES ('after');\n", seconds=2)
    for column in ("id", "ident", "small"):
        assert b.query(f"SELECT count(*) = count(DISTINCT {column}) FROM s_rows") == "t", column


def test_sequence_changes_are_seen_on_every_server(ctx):
    """setval, RESTART, TRUNCATE ... RESTART IDENTITY, COPY, ADD COLUMN
    serial and DROP on one server; the others go on from there. Sessions
    one after another hand out values without gaps, as heap's."""
    _, _, (a, b, c) = _cluster(ctx, "seqddl", ["a", "b", "c"])
    a.psql("CREATE TABLE items (id serial PRIMARY KEY, name text); CREATE SEQUENCE counter;")
    for s in (a, b, c, a):
        s.psql("INSERT INTO items (name) VALUES ('one'), ('two');")
    assert c.query("SELECT string_agg(id::text, ',' ORDER BY id) FROM items") == "1,2,3,4,5,6,7,8"

    assert a.query("SELECT setval('counter', 41)") == "41"
    assert b.query("SELECT nextval('counter')") == "42"
    # currval and lastval belong to the session that called nextval.
    rc, _, err = c.psql("SELECT currval('counter')", check=False)
    assert rc != 0 and "not yet defined in this session" in err, err
    assert b.query("SELECT nextval('counter'), currval('counter'), lastval()") == "43|43|43"
    # Reading the sequence, as pg_dump does, shows where the store stands.
    assert c.query("SELECT last_value, is_called FROM counter") == "43|t"
    assert c.query("SELECT last_value FROM pg_sequences WHERE sequencename = 'counter'") == "43"
    dump = subprocess.run(c._as_user([f"{PG_BINDIR}/pg_dump", "-t", "counter", "-h", c.dir, "-p", str(c.port),
                                      "-U", c.user, "postgres"]), capture_output=True, text=True, check=True).stdout
    assert "setval('public.counter', 43, true)" in dump, dump

    a.psql("ALTER SEQUENCE counter RESTART WITH 7;")
    assert c.query("SELECT nextval('counter')") == "7"
    b.psql("TRUNCATE items RESTART IDENTITY;")
    assert c.query("INSERT INTO items (name) VALUES ('after truncate') RETURNING id") == "1"
    # COPY evaluates defaults itself, from a block leased from the store, whose
    # unused rest goes back after it.
    subprocess.run(a.psql_argv() + ["-c", "COPY items (name) FROM STDIN"], input="c1\nc2\nc3\n", text=True, check=True,
                   capture_output=True)
    assert b.query("INSERT INTO items (name) VALUES ('after copy') RETURNING id") == "5"
    # So does a table rewrite filling a new serial column.
    a.psql("ALTER TABLE items ADD COLUMN seq_no serial;")
    assert c.query("INSERT INTO items (name) VALUES ('after rewrite') RETURNING seq_no") == "6"
    assert a.query("SELECT count(*) = count(DISTINCT seq_no) FROM items") == "t"

    a.psql("DROP SEQUENCE counter;")
    rc, _, err = b.psql("SELECT nextval('counter')", check=False)
    assert rc != 0 and "does not exist" in err, err
    # A temporary sequence is the session's own, as in Postgres.
    assert b.query("CREATE TEMP SEQUENCE mine; SELECT nextval('mine'), nextval('mine'), lastval()") == "1|2|2"


def test_copy_beside_inserts_on_another_server(ctx):
    """COPY FROM fills columns from the server's own copy of a sequence
    (it evaluates defaults without the planner): serial and identity
    columns, and a default calling nextval of a sequence the table does not
    own. The copy hands out values from blocks leased from the store, so
    inserts on another server meanwhile never get the same values."""
    _, _, (a, b) = _cluster(ctx, "seqcopy", ["a", "b"])
    a.psql("CREATE SEQUENCE c_free;"
           "CREATE TABLE c_rows (id serial, ident bigint GENERATED BY DEFAULT AS IDENTITY, who text,"
           " n bigint DEFAULT nextval('c_free'));")
    # Several blocks of 8,192, while the rewrite below (these rows, the
    # other server's and their new column) stays within a transaction's
    # 10 MB on either engine (issue 12).
    rows = 20_000
    copy = subprocess.Popen(a.psql_argv() + ["-c", "COPY c_rows (who) FROM STDIN"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    inserted = _pgbench([b], ctx, "INSERT INTO c_rows (who) VALUES ('b');\n", clients=2, seconds=4)
    out, err = copy.communicate("a\n" * rows, timeout=300)
    assert copy.returncode == 0, out + err
    total = rows + inserted
    for column in ("id", "ident", "n"):
        assert a.query(f"SELECT count(*), count(DISTINCT {column}) FROM c_rows") == f"{total}|{total}", column
    # The copy's blocks are leased as it goes, not one per row: the store
    # ends up past every value handed out, with little left unused.
    nxt = int(b.query("SELECT nextval('c_rows_id_seq')"))
    top = int(a.query("SELECT max(id) FROM c_rows"))
    assert top < nxt <= top + 3 * 8192, (top, nxt)

    # A rewrite filling a new column from an existing sequence, beside
    # nextval on the other server.
    b.psql("CREATE TABLE c_log (v bigint);")
    alter = subprocess.Popen(a.psql_argv() + ["-c", "ALTER TABLE c_rows ADD COLUMN m bigint DEFAULT nextval('c_free')"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    logged = _pgbench([b], ctx, "INSERT INTO c_log VALUES (nextval('c_free'));\n", clients=2, seconds=3)
    out, err = alter.communicate(timeout=300)
    assert alter.returncode == 0, out + err
    values = 2 * total + logged
    assert a.query("SELECT count(*), count(DISTINCT v) FROM (SELECT n FROM c_rows UNION ALL SELECT m FROM c_rows"
                   " UNION ALL SELECT v FROM c_log) x(v)") == f"{values}|{values}"
