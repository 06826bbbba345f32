"""Several Postgres servers on one embedded store (plinth.data_directory).

What the design promises (DESIGN.md "Keyspace", Sources/PlinthGlue/
Relations.swift): table and index ids are assigned by the store, never raw
relfilenodes, because several servers share one store; a relation's data is
found through (database, server, relfilenode), so each server's tables are
its own, and the catalogs stay in each server's data directory. So: servers
run concurrently on one store without disturbing each other, each sees its
own committed data (a same-named table on another server is another table),
ids never collide, serializable write load on both keeps its invariants,
and everything survives restarts and a crash of one of them.
"""
import os
import re
import shutil
import subprocess
import time

from pgserver import Server

ACCOUNTS = 20
TRANSFER = """\\set a random(1, {n})
\\set b random(1, {n})
\\set x random(1, 100)
BEGIN;
UPDATE accounts SET balance = balance - :x WHERE id = :a;
UPDATE accounts SET balance = balance + :x WHERE id = :b;
INSERT INTO ledger (src, dst, amount) VALUES (:a, :b, :x);
COMMIT;
""".format(n=ACCOUNTS)


def _shared_servers(ctx, prefix, names):
    store = ctx.directory(f"{prefix}-store")
    conf = {"default_table_access_method": "plinth", "plinth.data_directory": f"'{store}'"}
    servers = [ctx.server(f"{prefix}-{n}", conf=conf).start() for n in names]
    for s in servers:
        s.psql("CREATE EXTENSION plinth;")
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


def test_two_servers_share_one_store(ctx):
    store, (a, b) = _shared_servers(ctx, "shared", ["a", "b"])
    # The same schema on both: separate tables with separate store ids.
    _create_bank(a, opening=1000)
    _create_bank(b, opening=5000)
    # One store (opened at first use): on the embedded engine both servers'
    # data is in the shared directory, none in their own data directories
    # (on FoundationDB, in the cluster).
    if not os.environ.get("PLINTH_FDB_CLUSTER_FILE"):
        assert os.path.exists(os.path.join(store, "data.mdb")), os.listdir(store)
    for s in (a, b):
        assert not os.path.exists(os.path.join(s.data, "plinth")), f"{s.data}/plinth exists: store not shared"
    ids_a, ids_b = _store_ids(a), _store_ids(b)
    assert not set(ids_a.values()) & set(ids_b.values()), f"store ids shared between servers: {ids_a} {ids_b}"
    assert a.query("SELECT pg_relation_filenode('accounts')") == b.query("SELECT pg_relation_filenode('accounts')"), \
        "the test wants equal relfilenodes on both servers (fresh clusters, same DDL)"
    _check_bank(a, 1000, committed=0)
    _check_bank(b, 5000, committed=0)

    script = os.path.join(ctx.directory("shared-scripts"), "transfer.sql")
    with open(script, "w") as f:
        f.write(TRANSFER)

    # One client per server at the same time: the servers share no key, so
    # not one transaction may meet a conflict.
    runs = {s: _start_transfers(s, script, clients=1, seconds=2) for s in (a, b)}
    results = {s: _pgbench_result(p) for s, p in runs.items()}
    for s, (rc, done, failed, retried, out) in results.items():
        assert rc == 0 and done and failed == 0 and retried == 0, \
            f"{s.dir}: one client per server: pgbench rc={rc}, {done} done, {failed} failed, {retried} retried:\n{out}"
    committed = {s: results[s][1] for s in (a, b)}
    _check_bank(a, 1000, committed[a])
    _check_bank(b, 5000, committed[b])

    # Concurrent serializable transfers on both servers, conflicts retried.
    runs = {s: _start_transfers(s, script, clients=3, seconds=4) for s in (a, b)}
    results = {s: _pgbench_result(p) for s, p in runs.items()}
    for s, (rc, done, failed, retried, out) in results.items():
        assert rc == 0 and done and failed == 0, f"{s.dir}: pgbench rc={rc}, {done} done, {failed} failed:\n{out}"
        committed[s] += done
    _check_bank(a, 1000, committed[a])
    _check_bank(b, 5000, committed[b])

    # Both restart, the data is still each one's own.
    for s in (a, b):
        s.stop()
    for s in (a, b):
        s.start()
    _check_bank(a, 1000, committed[a])
    _check_bank(b, 5000, committed[b])
    assert _store_ids(a) == ids_a and _store_ids(b) == ids_b, "store ids changed across a restart"

    # DDL on one server leaves the other's same-named tables alone.
    b.psql("TRUNCATE ledger; DROP TABLE accounts;")
    _check_bank(a, 1000, committed[a])
    b.psql("CREATE TABLE accounts (id int PRIMARY KEY, balance bigint NOT NULL, opening bigint NOT NULL);"
           f"INSERT INTO accounts SELECT g, 7, 7 FROM generate_series(1, {ACCOUNTS}) g;")
    _check_bank(b, 7, committed=0)
    _check_bank(a, 1000, committed[a])
    # DDL at the same time on both servers: every table and index gets a
    # store id of its own, and holds its own row.
    tables = 25
    ddl = "".join(f"CREATE TABLE ddl_{i} (id int PRIMARY KEY, who text); INSERT INTO ddl_{i} VALUES ({i}, '%s');"
                  for i in range(tables))
    procs = [subprocess.Popen(s.psql_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for s in (a, b)]
    for p, who in zip(procs, ("a", "b")):
        p.stdin.write(ddl.replace("%s", who))
        p.stdin.close()
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read()
    all_ids = []
    for s, who in ((a, "a"), (b, "b")):
        for i in range(tables):
            assert s.query(f"SELECT id, who FROM ddl_{i}") == f"{i}|{who}", f"ddl_{i} on {who}"
            all_ids += [int(x) for x in s.query(
                f"SELECT store_id FROM plinth_relation_info('ddl_{i}');"
                f"SELECT store_id FROM plinth_relation_info('ddl_{i}_pkey')").split()]
    assert len(all_ids) == len(set(all_ids)) == 4 * tables, f"store ids of concurrent DDL collide: {sorted(all_ids)}"
    _check_bank(a, 1000, committed[a])

    print(f"    transfers committed: a {committed[a]} ({results[a][3]} retried), "
          f"b {committed[b]} ({results[b][3]} retried)", flush=True)


def test_one_server_killed_while_both_write(ctx):
    store, (a, b) = _shared_servers(ctx, "sharedcrash", ["a", "b"])
    _create_bank(a, opening=1000)
    _create_bank(b, opening=5000)
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
    # The other server did not notice: no error, no hang, every transfer counted.
    assert rc_b == 0 and done_b and failed_b == 0, f"b: pgbench rc={rc_b}, {done_b} done, {failed_b} failed:\n{out_b}"
    _check_bank(b, 5000, done_b)
    a.start()
    n_a = _check_bank(a, 1000)
    assert n_a > 0, "no transfer of the killed server survived"
    # Both keep working on the store.
    for s in (a, b):
        s.psql("INSERT INTO ledger (src, dst, amount) VALUES (1, 1, 0);")
    _check_bank(b, 5000, done_b + 1)
    _check_bank(a, 1000, n_a + 1)


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
        assert c.query("SELECT count(*) FROM t") == "10"
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
