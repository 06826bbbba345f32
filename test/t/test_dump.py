"""pg_dump and pg_restore of a Plinth database while it is written: the
dump reads one snapshot for as long as it runs (a REPEATABLE READ, READ
ONLY transaction), however long that is on the embedded store — the
dump's `plinth.transaction_lifetime`, FoundationDB's 5 s, is set to its
least here, so that the dump outlasts it — and `pg_restore --single-transaction` brings
back exactly the rows of that snapshot."""
import os
import subprocess
import time

from pgserver import PG_BINDIR

# Transfers among ten accounts keep their sum at 0: a dump that mixed two
# snapshots would show another sum.
TRANSFER = """\\set a random(1, 10)
\\set b random(1, 10)
\\set d random(1, 100)
BEGIN;
UPDATE accounts SET balance = balance - :d WHERE id = :a;
UPDATE accounts SET balance = balance + :d WHERE id = :b;
INSERT INTO moves (a, b, amount) VALUES (:a, :b, :d);
COMMIT;
"""


def test_dump_outlasting_a_store_snapshot_restores_one_snapshot(ctx):
    s = ctx.server("dump", conf={"default_table_access_method": "plinth"}).start()
    s.psql("CREATE DATABASE src")
    s.psql("""CREATE EXTENSION plinth;
        CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL);
        INSERT INTO accounts SELECT g, 0 FROM generate_series(1, 10) g;
        CREATE TABLE moves (id bigserial PRIMARY KEY, a int, b int, amount int);
        CREATE TABLE bulk_a (id int PRIMARY KEY, pad text);
        CREATE TABLE bulk_b (id int PRIMARY KEY, pad text);
        INSERT INTO bulk_a SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 150000) g;
        INSERT INTO bulk_b SELECT g, repeat(md5(g::text), 3) FROM generate_series(1, 150000) g;""", db="src")
    script = os.path.join(ctx.directory("dump-files"), "transfer.sql")
    with open(script, "w") as f:
        f.write(TRANSFER)
    dump = os.path.join(os.path.dirname(script), "src.dump")
    writers = subprocess.Popen(s._as_user(s.pgbench_argv("-n", "-c", "2", "-T", "30", "-f", script, db="src")),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.5)
        t0 = time.monotonic()
        r = subprocess.run(s._as_user([f"{PG_BINDIR}/pg_dump", "-Fc", "-f", dump, "-h", s.dir, "-p", str(s.port),
                                       "-U", s.user, "src"]), capture_output=True, text=True,
                           env={**os.environ, "PGOPTIONS": "-c plinth.transaction_lifetime=100"})
        took = time.monotonic() - t0
        assert r.returncode == 0, f"pg_dump failed after {took:.2f} s: {r.stderr}"
    finally:
        writers.terminate()
        out, _ = writers.communicate(timeout=60)
    assert took > 0.1, f"the dump took {took:.2f} s, inside one store snapshot's lifetime: nothing tested"
    moved = s.query("SELECT count(*) FROM moves", db="src")
    assert int(moved) > 0, f"no transfer ran beside the dump: {out}"

    s.psql("CREATE DATABASE copy")
    r = subprocess.run(s._as_user([f"{PG_BINDIR}/pg_restore", "--single-transaction", "--exit-on-error", "-d", "copy",
                                   "-h", s.dir, "-p", str(s.port), "-U", s.user, dump]), capture_output=True, text=True)
    assert r.returncode == 0, f"pg_restore --single-transaction failed: {r.stderr}"
    # One snapshot: every transfer in moves is in the balances, and the sum is 0.
    check = """SELECT (SELECT sum(balance) FROM accounts),
                      (SELECT count(*) FROM accounts a WHERE balance <>
                         coalesce((SELECT sum(amount) FROM moves WHERE b = a.id), 0)
                         - coalesce((SELECT sum(amount) FROM moves WHERE a = a.id), 0)),
                      (SELECT count(*) FROM bulk_a), (SELECT count(*) FROM bulk_b)"""
    assert s.query(check, db="copy") == "0|0|150000|150000"
    assert s.query("SELECT am.amname FROM pg_class c JOIN pg_am am ON am.oid = c.relam WHERE c.relname = 'moves'",
                   db="copy") == "plinth"
    assert int(s.query("SELECT count(*) FROM moves", db="copy")) <= int(moved)
