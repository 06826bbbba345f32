"""Several Postgres servers on one store (plinth.data_directory).

What the design promises (docs/design.md "Several servers, one store"):
table and index ids are assigned by the store, never raw relfilenodes; each
server maps its own relfilenodes to them, and the schema is shared (DDL on
one server is replayed by the others, test_shared_schema.py). So: servers
write the same tables at once, with row locks that wait across servers at
READ COMMITTED and conflicts retried under SERIALIZABLE, money is conserved,
and everything survives restarts and a crash of one of them.
"""
import os
import re
import shutil
import subprocess
import time

from pgserver import Server

ACCOUNTS = 20
# Rows are updated in id order: two transfers never wait for each other in
# a cycle (a deadlock across servers is broken only by lock_timeout).
TRANSFER = """\\set a random(1, {n})
\\set b random(1, {n})
\\set x random(1, 100)
\\set lo least(:a, :b)
\\set hi greatest(:a, :b)
\\set dlo case when :lo = :a then -:x else :x end
BEGIN;
UPDATE accounts SET balance = balance + :dlo WHERE id = :lo;
UPDATE accounts SET balance = balance - :dlo WHERE id = :hi;
INSERT INTO ledger (src, dst, amount) VALUES (:a, :b, :x);
COMMIT;
""".format(n=ACCOUNTS)


def _shared_servers(ctx, prefix, names):
    store = ctx.directory(f"{prefix}-store")
    conf = {"default_table_access_method": "plinth", "plinth.data_directory": f"'{store}'",
            "plinth.server_timeout": "'2s'"}
    servers = [ctx.server(f"{prefix}-{n}", conf=conf).start() for n in names]
    servers[0].psql("CREATE EXTENSION plinth;")
    for s in servers:
        s.wait_for_extension()
        assert s.query("SHOW plinth.data_directory") == store
    return store, servers


def _create_bank(s, opening):
    s.psql("CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, opening bigint NOT NULL);"
           "CREATE TABLE ledger (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
           "  src int NOT NULL, dst int NOT NULL, amount int NOT NULL);"
           "CREATE INDEX ledger_src_idx ON ledger (src);"
           f"INSERT INTO accounts SELECT g, {opening}, {opening} FROM generate_series(1, {ACCOUNTS}) g;")


def _store_ids(s, rels=("accounts", "accounts_pkey", "ledger", "ledger_pkey", "ledger_src_idx")):
    ids = {}
    for r in rels:
        ids[r] = int(s.query(f"SELECT store_id FROM plinth_relation_info('{r}')"))
    return ids


def _check_bank(s, opening, committed=None):
    """Money is conserved, each balance is its opening plus its ledger, the
    ledger has one row per committed transfer, and seq scans agree with
    index scans. Returns the ledger's row count."""
    name = os.path.basename(s.dir)
    total = s.query("SELECT count(*), sum(balance), bool_and(opening = %d) FROM accounts" % opening)
    assert total == f"{ACCOUNTS}|{ACCOUNTS * opening}|t", \
        f"{name}: accounts (count, sum, openings) = {total}, expected {ACCOUNTS}|{ACCOUNTS * opening}|t"
    wrong = s.query("""
        SELECT a.id, a.balance, a.opening + coalesce(i.s, 0) - coalesce(o.s, 0)
        FROM accounts a
        LEFT JOIN (SELECT dst, sum(amount) s FROM ledger GROUP BY dst) i ON i.dst = a.id
        LEFT JOIN (SELECT src, sum(amount) s FROM ledger GROUP BY src) o ON o.src = a.id
        WHERE a.balance <> a.opening + coalesce(i.s, 0) - coalesce(o.s, 0)""")
    assert not wrong, f"{name}: balances that disagree with the ledger (id|balance|expected):\n{wrong}"
    n = int(s.query("SELECT count(*) FROM ledger"))
    if committed is not None:
        assert n == committed, f"{name}: {n} ledger rows for {committed} committed transfers"
    dup = s.query("SELECT count(*) - count(DISTINCT ctid) FROM ledger")
    assert dup == "0", f"{name}: {dup} ledger rows share a row id (ctid)"
    seq = s.query("SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;"
                  "SELECT count(*), coalesce(sum(id), 0), coalesce(sum(src), 0) FROM ledger")
    pk = s.query("SET enable_seqscan = off; SET enable_bitmapscan = off;"
                 "SELECT count(*), coalesce(sum(id), 0), coalesce(sum(src), 0) FROM ledger WHERE id > 0")
    src = s.query("SET enable_seqscan = off; SET enable_bitmapscan = off;"
                  "SELECT count(*), coalesce(sum(id), 0), coalesce(sum(src), 0) FROM ledger WHERE src > 0")
    assert seq == pk == src, f"{name}: ledger through seq scan {seq}, ledger_pkey {pk}, ledger_src_idx {src}"
    acc_pk = s.query("SET enable_seqscan = off; SET enable_bitmapscan = off;"
                     "SELECT count(*), sum(balance) FROM accounts WHERE id > 0")
    assert acc_pk == f"{ACCOUNTS}|{ACCOUNTS * opening}", f"{name}: accounts through accounts_pkey: {acc_pk}"
    return n


def _start_transfers(s, script, clients, seconds):
    return subprocess.Popen(s.pgbench_argv("-n", "-f", script, "-c", str(clients), "-T", str(seconds),
                                           "--max-tries=1000"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _pgbench_result(p):
    out, err = p.communicate(timeout=120)
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    retried = re.search(r"number of transactions retried: (\d+)", out)
    return (p.returncode, int(m.group(1)) if m else None, int(failed.group(1)) if failed else None,
            int(retried.group(1)) if retried else 0, out + err)


def _separate_ledger_ids(b):
    """Sequences are still each server's own: b's ledger ids start far from a's."""
    b.psql("SELECT setval(pg_get_serial_sequence('ledger', 'id'), 1000000000);")


def test_two_servers_share_one_store(ctx):
    store, (a, b) = _shared_servers(ctx, "shared", ["a", "b"])
    # Made on a, the tables are b's too: one store id each.
    _create_bank(a, opening=1000)
    _separate_ledger_ids(b)
    # One store (opened at first use): on the embedded engine both servers'
    # data is in the shared directory, none in their own data directories
    # (on FoundationDB, in the cluster).
    if not os.environ.get("PLINTH_FDB_CLUSTER_FILE"):
        assert os.path.exists(os.path.join(store, "data.mdb")), os.listdir(store)
    for s in (a, b):
        assert not os.path.exists(os.path.join(s.data, "plinth")), f"{s.data}/plinth exists: store not shared"
    ids_a, ids_b = _store_ids(a), _store_ids(b)
    assert ids_a == ids_b, f"one table, two store ids: {ids_a} {ids_b}"
    _check_bank(a, 1000, committed=0)
    _check_bank(b, 1000, committed=0)

    script = os.path.join(ctx.directory("shared-scripts"), "transfer.sql")
    with open(script, "w") as f:
        f.write(TRANSFER)

    # READ COMMITTED (the default) on both servers at once, on the same
    # rows: a writer waits for the other server's row lock; nothing fails.
    committed = 0
    runs = {s: _start_transfers(s, script, clients=2, seconds=3) for s in (a, b)}
    results = {s: _pgbench_result(p) for s, p in runs.items()}
    for s, (rc, done, failed, retried, out) in results.items():
        assert rc == 0 and done and failed == 0 and retried == 0, \
            f"{s.dir}: READ COMMITTED: pgbench rc={rc}, {done} done, {failed} failed, {retried} retried:\n{out}"
        committed += done
    _check_bank(a, 1000, committed)
    _check_bank(b, 1000, committed)

    # SERIALIZABLE on both servers, conflicts retried.
    serializable = script + ".ser"
    with open(serializable, "w") as f:
        f.write(TRANSFER.replace("BEGIN;", "BEGIN ISOLATION LEVEL SERIALIZABLE;"))
    runs = {s: _start_transfers(s, serializable, clients=2, seconds=3) for s in (a, b)}
    results = {s: _pgbench_result(p) for s, p in runs.items()}
    for s, (rc, done, failed, retried, out) in results.items():
        assert rc == 0 and done and failed == 0, f"{s.dir}: pgbench rc={rc}, {done} done, {failed} failed:\n{out}"
        committed += done
    _check_bank(a, 1000, committed)
    _check_bank(b, 1000, committed)

    # Both restart: the data and the store ids are as they were.
    for s in (a, b):
        s.stop()
    for s in (a, b):
        s.start()
    _check_bank(a, 1000, committed)
    _check_bank(b, 1000, committed)
    assert _store_ids(a) == ids_a and _store_ids(b) == ids_b, "store ids changed across a restart"

    # DDL at the same time on both servers: every table and index gets a
    # store id of its own, and holds its own row; both servers have all.
    tables = 10
    procs = [subprocess.Popen(s.psql_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for s in (a, b)]
    for p, who in zip(procs, ("a", "b")):
        # A DDL that meets the other server's fails (40001) and is retried.
        create = "CREATE TABLE IF NOT EXISTS ddl_{w}_{i} (id int PRIMARY KEY, who text);\n"
        retry = "\\if :ERROR\n" + create + "\\endif\n"
        p.stdin.write("\\set ON_ERROR_STOP 0\n" + "".join(
            (create + retry * 5).format(w=who, i=i) + f"INSERT INTO ddl_{who}_{i} VALUES ({i}, '{who}');\n"
            for i in range(tables)))
        p.stdin.close()
    for p in procs:
        p.wait(timeout=120)
    all_ids = []
    for who in ("a", "b"):
        for i in range(tables):
            for s in (a, b):
                assert s.query(f"SELECT id, who FROM ddl_{who}_{i}") == f"{i}|{who}", f"ddl_{who}_{i} on {s.dir}"
            all_ids += [int(x) for x in a.query(
                f"SELECT store_id FROM plinth_relation_info('ddl_{who}_{i}');"
                f"SELECT store_id FROM plinth_relation_info('ddl_{who}_{i}_pkey')").split()]
    assert len(all_ids) == len(set(all_ids)) == 4 * tables, f"store ids of concurrent DDL collide: {sorted(all_ids)}"
    _check_bank(a, 1000, committed)
    print(f"    transfers committed on two servers: {committed}", flush=True)


def test_one_server_killed_while_both_write(ctx):
    store, (a, b) = _shared_servers(ctx, "sharedcrash", ["a", "b"])
    _create_bank(a, opening=1000)
    _separate_ledger_ids(b)
    script = os.path.join(ctx.directory("sharedcrash-scripts"), "transfer.sql")
    with open(script, "w") as f:
        f.write(TRANSFER)
    run_a = _start_transfers(a, script, clients=3, seconds=6)
    run_b = _start_transfers(b, script, clients=3, seconds=4)
    time.sleep(2)
    a.kill9()
    rc_a, _, _, _, _ = _pgbench_result(run_a)
    rc_b, done_b, failed_b, _, out_b = _pgbench_result(run_b)
    assert rc_a != 0, "pgbench on the killed server should have lost its connections"
    # The other server went on: a row lock of the killed server is free
    # once its heartbeat stopped for plinth.server_timeout.
    assert rc_b == 0 and done_b and failed_b == 0, f"b: pgbench rc={rc_b}, {done_b} done, {failed_b} failed:\n{out_b}"
    n = _check_bank(b, 1000)
    assert n >= done_b, f"{n} ledger rows, b alone committed {done_b}"
    a.start()
    assert _check_bank(a, 1000) == n
    # Both keep working on the store.
    b.psql("INSERT INTO ledger (src, dst, amount) VALUES (1, 1, 0);")
    a.psql("INSERT INTO ledger (src, dst, amount) VALUES (1, 1, 0);")
    _check_bank(b, 1000, n + 2)
    _check_bank(a, 1000, n + 2)


def test_cloned_data_directory_on_shared_store(ctx):
    """A second server made by copying a stopped server's data directory
    (cp -a, or pg_basebackup) and pointed at the same store. Its catalog
    names the same relfilenodes, and it holds the same plinth_server_id, so
    the store cannot tell the two servers apart. Whatever Plinth makes of
    that (refuse, or share), one server's new table must never show rows
    written to another table by the other server."""
    store, (a,) = _shared_servers(ctx, "clone", ["a"])
    a.psql("CREATE TABLE t (x int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 10);")
    a.stop()
    c = Server(ctx.root, a.user, "clone-c", conf=a.conf)
    ctx.servers.append(c)
    shutil.rmtree(c.dir, ignore_errors=True)
    subprocess.run(["cp", "-a", a.dir, c.dir], check=True)
    for f in ("server.log", "data/postmaster.pid"):
        if os.path.exists(os.path.join(c.dir, f)):
            os.remove(os.path.join(c.dir, f))
    c.configure({"port": c.port, "unix_socket_directories": f"'{c.dir}'"})
    a.start()
    c.start()

    # Each creates a table of its own (the same OID counter gives it the
    # same relfilenode on both) and fills it.
    a.psql("CREATE TABLE only_a (n int); INSERT INTO only_a SELECT generate_series(1, 5);")
    rc, _, err = c.psql("CREATE TABLE only_c (s text); INSERT INTO only_c VALUES ('written by c');", check=False)
    if rc != 0:
        # Refused, saying why and what to do; server a is untouched.
        assert "identity belongs to the server at" in err and "plinth_claim_server_identity" in err, err
        assert a.query("SELECT string_agg(n::text, ',' ORDER BY n) FROM only_a") == "1,2,3,4,5"
        # The clone takes over once the original is gone for good (a moved
        # data directory, a replacement server): it then has a's tables.
        a.stop()
        c.psql("SELECT plinth_claim_server_identity()")
        # It first catches up on what a logged since the copy (only_a): a
        # statement fails meanwhile (40001), as on any restarted server.
        for _ in range(100):
            rc, out, err = c.psql("SELECT count(*) FROM t", check=False)
            if rc == 0 or "catching up" not in err:
                break
        assert (rc, out) == (0, "10"), err
        assert c.query("SELECT count(*) FROM only_a") == "5"
        rc, _, err = a.start().psql("SELECT count(*) FROM t", check=False)
        assert rc != 0 and "identity belongs to the server at" in err, err
        return
    same_node = a.query("SELECT pg_relation_filenode('only_a')") == c.query("SELECT pg_relation_filenode('only_c')")
    rc, out, err = a.psql("SELECT coalesce(string_agg(n::text, ',' ORDER BY n), '') FROM only_a", check=False)
    assert rc == 0 and out == "1,2,3,4,5", (
        f"server a's table only_a shows {out!r} {err} instead of its rows 1..5 after the clone c created "
        f"only_c (same relfilenode: {same_node}; store ids a: {a.query('SELECT store_id FROM plinth_relation_info(%s)' % repr('only_a'))}, "
        f"c: {c.query('SELECT store_id FROM plinth_relation_info(%s)' % repr('only_c'))})")
    assert c.query("SELECT string_agg(s, ',') FROM only_c") == "written by c"
