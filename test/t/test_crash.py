"""Crashes: kill -9 of the whole server during a write load, and of one
backend in the middle of a large transaction. An acknowledged commit must
survive, a transaction must be all or nothing, and the table must agree
with its indexes afterwards.
"""
import os
import signal
import threading
import time

from pgserver import SessionError

CONF = {"default_table_access_method": "plinth"}
ROWS_PER_TXN = 3
CLIENTS = 4


def _plinth_server(ctx, name):
    s = ctx.server(name, conf=CONF).start()
    s.psql("CREATE EXTENSION plinth;")
    return s


def _crash_log_shows_kill(s):
    return "was terminated by signal 9" in s.log_text()


# -- the load ---------------------------------------------------------------

class Client(threading.Thread):
    """Inserts ROWS_PER_TXN rows sharing one txn number per transaction, in
    one psql session, and appends each txn number whose COMMIT returned to
    its own acknowledgement file (flushed at once)."""

    def __init__(self, server, number, first_txn, ack_path):
        super().__init__(daemon=True)
        self.server = server
        self.number = number
        self.next_txn = first_txn
        self.ack_path = ack_path
        self.sent = set()        # txn numbers whose COMMIT was sent
        self.acked = set()       # ... and acknowledged
        self.error = None        # why the client stopped

    def run(self):
        session = self.server.session()
        try:
            with open(self.ack_path, "a") as acks:
                while True:
                    txn = self.next_txn
                    self.next_txn += 1
                    values = ",".join(f"({txn * ROWS_PER_TXN + k}, {txn}, {self.number}, 'client {self.number} txn {txn}')"
                                      for k in range(ROWS_PER_TXN))
                    self.sent.add(txn)
                    try:
                        session.run(f"BEGIN; INSERT INTO load VALUES {values}; COMMIT;", timeout=30)
                    except SessionError as e:
                        if "40001" in str(e) or "could not serialize" in str(e):
                            session.close()
                            session = self.server.session()   # a conflict: not acknowledged, go on
                            continue
                        self.error = str(e)
                        return
                    acks.write(f"{txn}\n")
                    acks.flush()
                    self.acked.add(txn)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = f"{type(e).__name__}: {e}"
        finally:
            session.close()


def _read_acks(path):
    with open(path) as f:
        return {int(line) for line in f if line.strip()}


def _check_table_against_indexes(s, table, key, other):
    """count(*), sum(key) and sum(other) through a seq scan, through the
    primary key index and through the index on `other` must agree (every
    row has its index entries, every index entry has its row); returns the
    count."""
    agg = f"SELECT count(*), coalesce(sum({key}), 0), coalesce(sum({other}), 0) FROM {table}"
    no_index = "SET enable_indexscan = off; SET enable_bitmapscan = off; SET enable_indexonlyscan = off;"
    index_only = "SET enable_seqscan = off; SET enable_bitmapscan = off;"
    plans = {}
    for name, where in (("pk", f"{key} >= 0"), ("other", f"{other} >= 0")):
        plans[name] = s.query(f"{index_only} EXPLAIN (COSTS OFF) {agg} WHERE {where}")
    assert "Seq Scan" not in plans["pk"] and f"{table}_pkey" in plans["pk"], \
        f"the primary key query must use {table}_pkey:\n{plans['pk']}"
    assert "Seq Scan" not in plans["other"] and f"{table}_{other}_idx" in plans["other"], \
        f"the secondary index query must use {table}_{other}_idx:\n{plans['other']}"
    seq = s.query(f"{no_index} {agg}")
    via_pk = s.query(f"{index_only} {agg} WHERE {key} >= 0")
    via_other = s.query(f"{index_only} {agg} WHERE {other} >= 0")
    assert seq == via_pk == via_other, (f"{table}: (count, sum {key}, sum {other}) through a seq scan = {seq}, "
                                        f"through {table}_pkey = {via_pk}, through {table}_{other}_idx = {via_other}")
    return int(seq.split("|")[0])


def _check_load(s, clients, round_no, acked, sent):
    """acked and sent: txn numbers of earlier rounds, updated with this one's."""
    round_acked = set()
    for c in clients:
        file_acks = _read_acks(c.ack_path)
        assert file_acks == c.acked, f"client {c.number}: ack file and memory disagree"
        round_acked |= file_acks
        sent |= c.sent
    acked |= round_acked
    rows = s.query(f"SELECT txn, count(*), bool_and(client = txn / 1000000 AND id / {ROWS_PER_TXN} = txn"
                   "  AND note = 'client ' || client || ' txn ' || txn) FROM load GROUP BY txn")
    present = {}
    for line in rows.splitlines():
        txn, n, intact = line.split("|")
        present[int(txn)] = int(n)
        assert intact == "t", f"txn {txn}: rows with wrong contents:\n" + s.query(f"SELECT * FROM load WHERE txn = {txn}")
    missing = sorted(acked - present.keys())
    partial = {t: n for t, n in present.items() if n != ROWS_PER_TXN}
    unknown = sorted(present.keys() - sent)
    in_doubt = set().union(*(c.sent - c.acked for c in clients))
    survived_rows = sum(present.values())
    print(f"    crash {round_no}: {len(round_acked)} transactions acknowledged in this load "
          f"({len(acked)} in all, {len(acked) * ROWS_PER_TXN} rows); {len(in_doubt)} in doubt "
          f"(COMMIT sent, no answer) of which {len(in_doubt & present.keys())} applied; "
          f"{survived_rows} rows in the table", flush=True)
    assert not missing, f"{len(missing)} acknowledged transactions lost after kill -9, e.g. txn {missing[:10]}"
    assert not partial, f"partially applied transactions (txn: rows): {dict(list(partial.items())[:10])}"
    assert not unknown, f"rows of transactions never sent: {unknown[:10]}"
    counted = _check_table_against_indexes(s, "load", "id", "txn")
    assert counted == survived_rows, f"count(*) {counted} != rows grouped by txn {survived_rows}"


def _run_load_and_kill(s, ctx_dir, round_no, seconds):
    clients = [Client(s, n, n * 1_000_000 + round_no * 100_000, os.path.join(ctx_dir, f"acks-{round_no}-{n}"))
               for n in range(1, CLIENTS + 1)]
    for c in clients:
        c.start()
    deadline = time.time() + 30
    while time.time() < deadline and not all(len(c.acked) >= 20 for c in clients):
        assert not any(c.error for c in clients if not c.is_alive()), [c.error for c in clients]
        time.sleep(0.05)
    assert all(len(c.acked) >= 20 for c in clients), \
        f"clients too slow before the crash: {[len(c.acked) for c in clients]} {[c.error for c in clients]}"
    time.sleep(seconds)
    s.kill9()
    for c in clients:
        c.join(timeout=60)
        assert not c.is_alive(), f"client {c.number} still running 60 s after the crash (hang?)"
        assert c.error is not None, f"client {c.number} stopped without an error"
    return clients


def test_kill9_server_during_concurrent_load(ctx):
    s = _plinth_server(ctx, "crash-load")
    s.psql("CREATE TABLE load (id bigint PRIMARY KEY, txn bigint NOT NULL, client int NOT NULL, note text);"
           "CREATE INDEX load_txn_idx ON load (txn);")
    assert s.query("SELECT amname FROM pg_class c JOIN pg_am a ON a.oid = c.relam WHERE relname = 'load'") == "plinth"
    acks_dir = ctx.directory("crash-load-acks")
    all_acked, all_sent = set(), set()
    for round_no in (1, 2):
        clients = _run_load_and_kill(s, acks_dir, round_no, seconds=2.0)
        s.start()
        _check_load(s, clients, round_no, all_acked, all_sent)

    # The table still takes writes, and the primary key is still enforced
    # (through the index, for keys written before the crash).
    some_id = min(all_acked) * ROWS_PER_TXN
    rc, _, err = s.psql(f"INSERT INTO load VALUES ({some_id}, 1, 0, 'duplicate')", check=False)
    assert rc != 0 and "duplicate key value violates unique constraint \"load_pkey\"" in err, \
        f"duplicate of acknowledged id {some_id} was not refused: rc={rc} {err}"
    s.psql("INSERT INTO load SELECT 900000000 + g, 900000000 + g / 3, 0, 'after' FROM generate_series(0, 2999) g")
    assert s.query("SELECT count(*) FROM load WHERE id >= 900000000") == "3000"
    _check_table_against_indexes(s, "load", "id", "txn")
    s.stop()
    s.start()
    _check_table_against_indexes(s, "load", "id", "txn")


# -- one backend killed in a large transaction ----------------------------------

# Rows per large transaction: past 10 MB as FoundationDB counts (about 500
# bytes a row with its two index entries), so its commit goes in steps. On
# FoundationDB fewer, so that the checks' scans of the whole table end
# within its 5 s.
BATCH = 25_000 if os.environ.get("PLINTH_FDB_CLUSTER_FILE") else 200_000


def _kill_backend(s, pid):
    """SIGKILL one backend; the postmaster then restarts every backend."""
    ready = s.log_text().count(s.READY)
    os.kill(pid, signal.SIGKILL)
    s.wait_crash_restart(ready)


def _wait_active(s, pid, what):
    """Waits until backend pid runs a statement containing `what`."""
    deadline = time.time() + 30
    while time.time() < deadline:
        if s.query(f"SELECT state = 'active' AND query LIKE '%{what}%' FROM pg_stat_activity WHERE pid = {pid}") == "t":
            return
        time.sleep(0.02)
    raise AssertionError(f"backend {pid} never ran {what}")


def _batch_count(s, batch):
    return int(s.query(f"SELECT count(*) FROM big WHERE batch = {batch}"))


def test_kill9_backend_in_large_transaction(ctx):
    s = _plinth_server(ctx, "crash-backend")
    s.psql("CREATE TABLE big (id bigint PRIMARY KEY, batch int NOT NULL, pad text);"
           "CREATE INDEX big_batch_idx ON big (batch);"
           "INSERT INTO big SELECT g, 0, 'committed before' FROM generate_series(1, 1000) g;")
    committed = _check_table_against_indexes(s, "big", "id", "batch")
    assert committed == 1000
    insert = "INSERT INTO big SELECT {b} * 1000000 + g, {b}, repeat('x', 20) FROM generate_series(1, {n}) g"
    outcomes = []

    # 1. Killed while idle in a transaction holding BATCH buffered rows.
    sess = s.session()
    pid = sess.backend_pid()
    sess.run("SET plinth.write_buffer_memory = '4MB'; BEGIN; " + insert.format(b=1, n=BATCH) + ";", timeout=120)
    tmp = os.path.join(s.data, "base", "pgsql_tmp")
    assert any(f.startswith(f"pgsql_tmp{pid}.plinth") for f in os.listdir(tmp)), \
        f"the transaction's writes did not spill: {os.listdir(tmp)}"
    _kill_backend(s, pid)
    sess.close()
    assert _batch_count(s, 1) == 0, "rows of an uncommitted transaction are visible after its backend was killed"
    outcomes.append("idle in transaction: none")

    # 2. Killed during a 200,000-row INSERT statement.
    sess = s.session()
    pid = sess.backend_pid()
    sess.send("BEGIN; " + insert.format(b=2, n=200_000) + "; COMMIT;")
    _wait_active(s, pid, "INSERT INTO big")
    time.sleep(0.1)
    _kill_backend(s, pid)
    sess.close()
    assert _batch_count(s, 2) == 0, "rows of a killed 200,000-row INSERT are visible"
    outcomes.append("in INSERT: none")

    # 3. Killed during COMMIT of BATCH rows, at several points of the
    # store commit (timed first): while it is staged (none of it), or
    # after its commit point while it is applied (all of it: the first
    # reader after the restart finds the barrier unmoved and applies the
    # rest). Never a part.
    sess = s.session()
    sess.run("BEGIN; " + insert.format(b=9, n=BATCH) + ";", timeout=120)
    t0 = time.time()
    sess.run("COMMIT;", timeout=120)
    commit_time = time.time() - t0
    sess.close()
    assert _batch_count(s, 9) == BATCH
    for i, delay in enumerate(commit_time * f for f in (0.1, 0.4, 0.7, 0.95)):
        b = 10 + i
        sess = s.session()
        pid = sess.backend_pid()
        sess.run("BEGIN; " + insert.format(b=b, n=BATCH) + ";", timeout=120)
        sess.send("COMMIT;")
        time.sleep(delay)
        ready = s.log_text().count(s.READY)
        os.kill(pid, signal.SIGKILL)
        s.wait_crash_restart(ready)
        try:
            sess.wait(timeout=30)
            acknowledged = True
        except SessionError:
            acknowledged = False
        sess.close()
        t_read = time.time()
        n = _batch_count(s, b)
        read_time = time.time() - t_read
        assert n in (0, BATCH), f"kill {delay * 1000:.0f} ms into COMMIT: {n} of {BATCH} rows visible (partial commit)"
        assert not acknowledged or n == BATCH, f"COMMIT acknowledged but {n} rows visible"
        # A commit past its commit point whose committer died is finished
        # by the first reader at once (its server run is gone), not after
        # plinth.server_timeout (10 s) of waiting.
        assert read_time < 8, f"the first read after the restart took {read_time:.1f} s"
        outcomes.append(f"{delay * 1000:.0f} ms into COMMIT: {'all' if n else 'none'} (first read {read_time:.1f} s)")

    assert _crash_log_shows_kill(s), "the server log does not show the backend crash"
    # What a kill while staging left (a stage no one will publish) is swept
    # by the restarted server's liveness worker at its first beat.
    s.psql("CREATE EXTENSION IF NOT EXISTS plinth_test")
    for _ in range(100):
        stages = s.query("SELECT plinth_test_staged_commits()")
        if stages == "0":
            break
        time.sleep(0.2)
    assert stages == "0", f"{stages} staged commits left in the store after the crashes"
    # Transactions this large spill their buffered writes to files under
    # base/pgsql_tmp (plinth.write_buffer_memory); the killed backends'
    # are removed when Postgres restarts after the crash.
    left = [f for f in os.listdir(tmp) if "plinth" in f]
    assert left == [], f"spill files of killed backends left after the restart: {left}"
    print(f"    COMMIT of {BATCH} rows takes {commit_time * 1000:.0f} ms; killed: " + "; ".join(outcomes), flush=True)
    total = _check_table_against_indexes(s, "big", "id", "batch")
    assert _batch_count(s, 0) == 1000, "rows committed before the crashes were lost"

    # The store is not stuck (a writer killed inside its commit must not
    # leave the store locked): a new large transaction commits.
    s.psql("BEGIN; " + insert.format(b=30, n=BATCH) + "; COMMIT;")
    assert _batch_count(s, 30) == BATCH
    rc, _, err = s.psql("INSERT INTO big VALUES (1, 0, 'dup')", check=False)
    assert rc != 0 and "duplicate key value" in err, f"primary key not enforced after the crashes: {err}"
    assert _check_table_against_indexes(s, "big", "id", "batch") == total + BATCH
