"""Faults of the store's file system and of processes: a full disk under the
store directory, the directory made read-only or removed, the store file at
its map size, and kill -9 of backends and of the postmaster in a loop during
commits. Each must end in a clear error with the right SQLSTATE (or a
restart), lose nothing acknowledged, show nothing unacknowledged, leave the
server up and readable, and work again once the cause is gone.
"""
import os
import random
import subprocess
import threading
import time

from pgserver import SessionError

CONF = {"default_table_access_method": "plinth"}


def _mount_small_filesystem(ctx, name, megabytes):
    """A tmpfs of `megabytes` owned by the server user, unmounted at cleanup;
    the test is skipped where it cannot be mounted (not root)."""
    path = ctx.directory(name)
    if os.getuid() != 0:
        ctx.skip("mounting a small filesystem needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0700", "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode != 0:
        ctx.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    ctx.at_cleanup(lambda: subprocess.run(["umount", "-l", path], capture_output=True))
    subprocess.run(["chown", ctx.user, path], check=True)
    return path


def _fill(path, name, leave_kb):
    """Fills the filesystem of `path` with a file until `leave_kb` remain."""
    st = os.statvfs(path)
    free_kb = st.f_bavail * st.f_frsize // 1024
    filler = os.path.join(path, name)
    with open(filler, "wb") as f:
        chunk = b"\0" * (1 << 20)
        left = max(free_kb - leave_kb, 0) * 1024
        while left > 0:
            n = min(left, len(chunk))
            f.write(chunk[:n])
            left -= n
    return filler


def _no_crash_restart(s):
    log = s.log_text()
    assert "terminated by signal" not in log and "was terminated" not in log, \
        "a backend died (the server restarted every connection):\n" + s.tail_log(30)


# 100 rows of 2 kB that do not compress.
BATCH = ("INSERT INTO {t} SELECT g, (SELECT string_agg(md5(random()::text || g || i), '') FROM generate_series(1, 64) i) "
         "FROM generate_series({lo}, {lo} + 99) g;")


def _write_until_error(sess, table, max_rounds=1000):
    """Inserts 200 kB batches until one fails; returns the error text."""
    for i in range(max_rounds):
        try:
            sess.run(BATCH.format(t=table, lo=1_000_000 + i * 100))
        except SessionError as e:
            return str(e)
    raise AssertionError(f"{max_rounds} batches written without an error")


def test_full_disk_under_the_store(ctx):
    ctx.embedded_only("the store directory's file system")
    mount = _mount_small_filesystem(ctx, "full-disk-fs", 48)
    store = os.path.join(mount, "store")
    s = ctx.server("full-disk", conf=dict(CONF, **{"plinth.data_directory": f"'{store}'"})).start()
    s.psql("CREATE EXTENSION plinth; CREATE TABLE t (id int PRIMARY KEY, v text);"
           "INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g;")
    filler = _fill(mount, "filler", leave_kb=2048)
    sess = s.session()
    pid = sess.backend_pid()
    err = _write_until_error(sess, "t")
    assert "53100" in err or "No space left" in err or "disk" in err, f"a full disk gave: {err}"
    sess.close()
    _no_crash_restart(s)
    # The same backend answers: reads work, and the error names the cause.
    sess = s.session(verbose=True)
    try:
        sess.run(BATCH.format(t="t", lo=-1000))
        raise AssertionError("a write succeeded on a full disk")
    except SessionError as e:
        assert "53100" in str(e), f"a write on a full disk: {e}"
        assert "HINT" in str(e), f"no hint: {e}"
    sess.close()
    for sql in ("INSERT INTO t VALUES (-1, 'one row')", "DELETE FROM t WHERE id = 1"):
        rc, _, err = s.psql(sql, check=False)
        assert rc != 0 and "53100" in s.psql("\\set VERBOSITY verbose\n" + sql, check=False)[2] or rc == 0, err
        _no_crash_restart(s)
    before = int(s.query("SELECT count(*) FROM t"))
    assert before >= 100
    assert s.query("SELECT v FROM t WHERE id = 50") == "before"
    # Space freed: writes work again.
    os.unlink(filler)
    s.psql("INSERT INTO t VALUES (-2, 'after'); DELETE FROM t WHERE id = 2;")
    assert s.query("SELECT v FROM t WHERE id = -2") == "after"
    _no_crash_restart(s)
    s.stop()
    s.start()
    assert s.query("SELECT v FROM t WHERE id = -2") == "after"
    assert int(s.query("SELECT count(*) FROM t")) == before


def test_full_disk_under_the_spill_area(ctx):
    """A transaction whose buffered writes spill (plinth.write_buffer_memory)
    to a full file system fails with 53100; nothing of it is stored, its
    spill files are gone, and the next transaction spills again."""
    mount = _mount_small_filesystem(ctx, "spill-fs", 16)
    s = ctx.server("spill-full", conf=CONF)
    tmp = os.path.join(s.data, "base", "pgsql_tmp")
    subprocess.run(["rm", "-rf", tmp], check=True)
    os.symlink(mount, tmp)
    s.start()
    s.psql("CREATE EXTENSION plinth; CREATE TABLE t (id int PRIMARY KEY, pad text);")
    load = ("SET plinth.write_buffer_memory = '1MB'; BEGIN; "
            "INSERT INTO t SELECT g, md5(g::text) || md5((-g)::text) FROM generate_series({lo}, {hi}) g; COMMIT;")
    sess = s.session(verbose=True)
    try:
        sess.run(load.format(lo=1, hi=400_000), timeout=300)
        raise AssertionError("a transaction spilling 400,000 rows to a 16 MB file system succeeded")
    except SessionError as e:
        assert "53100" in str(e) and "spill" in str(e), f"spilling to a full file system gave: {e}"
    sess.close()
    _no_crash_restart(s)
    assert s.query("SELECT count(*) FROM t") == "0"
    assert [f for f in os.listdir(mount) if "plinth" in f] == [], f"spill files left: {os.listdir(mount)}"
    # The space came back with the failed transaction's files: a smaller
    # load still spills there, and commits.
    s.psql(load.format(lo=1, hi=30_000))
    assert s.query("SELECT count(*), count(DISTINCT pad) FROM t") == "30000|30000"
    _no_crash_restart(s)


def test_store_directory_made_read_only(ctx):
    ctx.embedded_only("the store directory's file system")
    mount = _mount_small_filesystem(ctx, "read-only-fs", 64)
    store = os.path.join(mount, "store")
    s = ctx.server("read-only", conf=dict(CONF, **{"plinth.data_directory": f"'{store}'"})).start()
    s.psql("CREATE EXTENSION plinth; CREATE TABLE t (id int PRIMARY KEY, v text);"
           "INSERT INTO t SELECT g, 'before' FROM generate_series(1, 100) g;")
    # 1. Its files made read-only (chmod): a backend that opens the store
    # now is told why it cannot; the server stays up.
    subprocess.run(["chmod", "-R", "a-w", store], check=True)
    try:
        rc, _, err = s.psql("\\set VERBOSITY verbose\nSELECT count(*) FROM t", check=False)
        assert rc != 0 and "58000" in err and "Permission denied" in err, f"opening a read-only store: {err}"
        _no_crash_restart(s)
    finally:
        subprocess.run(["chmod", "-R", "u+w", store], check=True)
    assert s.query("SELECT count(*) FROM t") == "100"
    # 2. Its file system mounted read-only (as ext4 does after an I/O error):
    # the same, and once writable again, everything works.
    s.stop()
    subprocess.run(["mount", "-o", "remount,ro", mount], check=True)
    try:
        s.start()
        rc, _, err = s.psql("\\set VERBOSITY verbose\nSELECT count(*) FROM t", check=False)
        assert rc != 0 and "58000" in err and "Read-only file system" in err, f"opening a read-only store: {err}"
        _no_crash_restart(s)
        s.stop()
    finally:
        subprocess.run(["mount", "-o", "remount,rw", mount], check=True)
    s.start()
    s.psql("INSERT INTO t VALUES (101, 'after')")
    assert s.query("SELECT count(*) FROM t") == "101"
    _no_crash_restart(s)


def test_store_directory_removed_or_replaced(ctx):
    """The embedded store's directory removed (or plinth.data_directory
    pointed elsewhere): the server must not make an empty store and find
    its tables without rows, nor collide with what it recorded; every
    statement that reaches the store says which store it expected (55000),
    the server stays up, and the store put back works again."""
    ctx.embedded_only("the store directory")
    store = os.path.join(ctx.directory("moved-store"), "store")
    s = ctx.server("moved-store", conf=dict(CONF, **{"plinth.data_directory": f"'{store}'"})).start()
    s.psql("CREATE EXTENSION plinth; CREATE TYPE mood AS ENUM ('calm', 'cross');"
           "CREATE TABLE t (id int PRIMARY KEY, m mood);"
           "INSERT INTO t SELECT g, 'calm' FROM generate_series(1, 100) g;")
    s.stop()
    os.rename(store, store + ".away")
    s.start()
    for sql in ("SELECT count(*) FROM t", "INSERT INTO t VALUES (101, 'cross')",
                "CREATE TABLE t2 (id int)", "CREATE TYPE mood2 AS ENUM ('x')"):
        rc, _, err = s.psql("\\set VERBOSITY verbose\n" + sql, check=False)
        assert rc != 0 and "55000" in err and "this server's Plinth tables are in another store" in err \
            and "s ago (a store found missing is made empty)" in err, f"{sql} on a store made in place of the removed one: {err}"
    _no_crash_restart(s)
    s.stop()
    subprocess.run(["rm", "-rf", store], check=True)
    os.rename(store + ".away", store)
    s.start()
    s.psql("INSERT INTO t VALUES (101, 'cross'); CREATE TABLE t2 (id int); INSERT INTO t2 VALUES (1);")
    assert s.query("SELECT count(*), count(*) FILTER (WHERE m = 'cross') FROM t") == "101|1"
    _no_crash_restart(s)


def test_store_at_its_map_size(ctx):
    ctx.embedded_only("the embedded store's map size")
    s = ctx.server("map-full", conf=dict(CONF, **{"plinth.map_size": "'64MB'"})).start()
    s.psql("CREATE EXTENSION plinth; CREATE TABLE t (id int PRIMARY KEY, v text);")
    sess = s.session()
    err = _write_until_error(sess, "t", max_rounds=1000)
    sess.close()
    assert "53100" in err or "full" in err, f"a full map gave: {err}"
    _no_crash_restart(s)
    rc, _, err = s.psql("\\set VERBOSITY verbose\n" + BATCH.format(t="t", lo=-1000), check=False)
    assert rc != 0 and "53100" in err and "plinth.map_size" in err, err
    n = int(s.query("SELECT count(*) FROM t"))
    assert n > 0 and s.query("SELECT count(*) FROM t WHERE id = 1000001") == "1"
    # As the hint says: a larger map, a restart, and writes work again.
    s.stop()
    s.configure({"plinth.map_size": "'128MB'"})
    s.start()
    s.psql(BATCH.format(t="t", lo=-1000))
    assert int(s.query("SELECT count(*) FROM t")) == n + 100
    _no_crash_restart(s)


class Transfers(threading.Thread):
    """Moves money between rows of `acct` and logs each transfer in
    `ledger`, one transaction each, until stopped or its server dies;
    records the transfers whose COMMIT returned."""

    def __init__(self, server, client, first, seed):
        super().__init__(daemon=True)
        self.server, self.client, self.n = server, client, first
        self.rng = random.Random(seed)
        self.acked = set()
        self.stop = False

    def run(self):
        sess = None
        while not self.stop:
            try:
                if sess is None:
                    sess = self.server.session()
                self.n += 1
                a, b = self.rng.sample(range(1, 21), 2)
                sess.run(f"BEGIN; UPDATE acct SET balance = balance - 1 WHERE id = {a};"
                         f"UPDATE acct SET balance = balance + 1 WHERE id = {b};"
                         f"INSERT INTO ledger VALUES ({self.n}, {self.client}, 1); COMMIT;", timeout=30)
                self.acked.add(self.n)
            except (SessionError, TimeoutError, OSError):
                # A conflict (40001) or the server went away: a new session.
                if sess is not None:
                    sess.close()
                sess = None
                time.sleep(0.05)
        if sess is not None:
            sess.close()


def test_kill9_loop_during_commits(ctx):
    """Backends and the postmaster killed again and again while clients
    commit: every acknowledged commit is there, no unacknowledged one is
    half there, and the store never hangs afterwards (a writer killed
    between the conflict history and the data must not leave a conflict
    that no retry can pass)."""
    s = ctx.server("kill-loop", conf=CONF).start()
    s.psql("CREATE EXTENSION plinth;"
           "CREATE TABLE acct (id int PRIMARY KEY, balance bigint NOT NULL);"
           "INSERT INTO acct SELECT g, 1000 FROM generate_series(1, 20) g;"
           "CREATE TABLE ledger (id bigint PRIMARY KEY, client int, n int);")
    rng = random.Random(13)
    acked = set()
    kills = []
    for round_no in range(8):
        clients = [Transfers(s, c, round_no * 1_000_000 + c * 100_000, rng.random()) for c in range(4)]
        for c in clients:
            c.start()
        time.sleep(0.5 + rng.random())
        victim = "postmaster" if round_no % 2 else "backend"
        if victim == "postmaster":
            s.kill9()
        else:
            ready = s.log_text().count(s.READY)
            # A client's backend may end between the listing and the kill
            # (its client reconnects): pick another.
            for _ in range(50):
                pids = s.query("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
                               "AND pid <> pg_backend_pid()").split()
                try:
                    os.kill(int(rng.choice(pids)), 9)
                    break
                except (ProcessLookupError, IndexError):
                    time.sleep(0.05)
            else:
                raise AssertionError("no client backend to kill")
            s.wait_crash_restart(ready)
        for c in clients:
            c.stop = True
        for c in clients:
            c.join(timeout=60)
            assert not c.is_alive(), "a client still runs 60 s after the crash (hang?)"
            acked |= c.acked
        if victim == "postmaster":
            s.start()
        kills.append(victim)
        # No hang: a write to every row commits within seconds.
        t0 = time.time()
        s.psql("UPDATE acct SET balance = balance + 0")
        assert time.time() - t0 < 20, "the first write after the crash took too long (hang?)"
        present = {int(x) for x in s.query("SELECT id FROM ledger").split()}
        missing = acked - present
        assert not missing, f"round {round_no}: acknowledged transfers lost: {sorted(missing)[:10]}"
        moved = int(s.query("SELECT count(*) FROM ledger"))
        assert s.query("SELECT sum(balance) FROM acct") == "20000", "money appeared or vanished (a partial commit)"
    print(f"    kills: {', '.join(kills)}; {len(acked)} acknowledged transfers, all present "
          f"({moved} in the ledger); balances sum to 20000", flush=True)


def test_cancel_and_terminate_a_store_retry_loop(ctx):
    """A backend in one of Plinth's retry loops (a store that refuses its
    transaction at every attempt) answers query cancel and termination, as
    any other backend."""
    s = ctx.server("retry-cancel", conf=CONF).start()
    s.psql("CREATE EXTENSION plinth; CREATE EXTENSION plinth_test;")
    for how, expect in (("pg_cancel_backend", "canceling statement due to user request"),
                        ("pg_terminate_backend", "terminating connection due to administrator command")):
        sess = s.session(verbose=True)
        pid = sess.backend_pid()
        sess.send("SELECT plinth_test_retry_forever(600000);")
        deadline = time.time() + 10
        while s.query(f"SELECT wait_event IS NULL OR state = 'active' FROM pg_stat_activity WHERE pid = {pid}") != "t":
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        t0 = time.time()
        assert s.query(f"SELECT {how}({pid})") == "t"
        try:
            sess.wait(timeout=10)
            raise AssertionError(f"{how}: the retry loop did not stop")
        except SessionError as e:
            assert expect in str(e), f"{how}: {e}"
        assert time.time() - t0 < 5, f"{how} took {time.time() - t0:.1f} s"
        sess.close()
        _no_crash_restart(s)
    assert s.query("SELECT 1") == "1"


def test_orphans_of_a_crash_between_the_two_commits_are_swept(ctx):
    """A backend killed after the store committed its transaction and before
    Postgres did. The store is the truth: its schema log has the
    transaction's DDL, so the restarted server replays it (as every other
    server sharing the store does) and the table is back with its rows;
    dropped, it leaves nothing. Storage no catalog will ever name (a
    relation of no logged statement) is an orphan that the sweep (and a
    database-wide VACUUM) removes — and nothing else."""
    s = ctx.server("orphans", conf=CONF).start()
    s.psql("CREATE EXTENSION plinth; CREATE EXTENSION plinth_test;"
           "CREATE TABLE kept (id int PRIMARY KEY, v text);"
           "INSERT INTO kept SELECT g, 'kept' FROM generate_series(1, 500) g;")
    baseline = int(s.query("SELECT plinth_test_database_keys()"))
    for round_no in range(2):
        sess = s.session()
        sess.run("SET plinth.fault_crash_after_store_commit = on;")
        ready = s.log_text().count(s.READY)
        sess.send("BEGIN; CREATE TABLE lost (id int PRIMARY KEY, v text);"
                  "INSERT INTO lost SELECT g, 'lost' FROM generate_series(1, 1000) g; COMMIT;")
        s.wait_crash_restart(ready)
        sess.close()
        end = time.time() + 30
        while s.query("SELECT count(*) FROM pg_class WHERE relname = 'lost'") != "1":
            assert time.time() < end, "the store committed the table; the server did not replay its DDL"
            time.sleep(0.1)
        assert s.query("SELECT count(*), min(v) FROM lost") == "1000|lost"
        # The crashed run's mappings name the replayed table's storage: kept.
        assert s.query("SELECT plinth_sweep_orphans()") == "0", "the sweep took the replayed table's storage"
        assert s.query("SELECT count(*) FROM lost") == "1000"
        s.psql("DROP TABLE lost;")
        if round_no == 0:
            assert s.query("SELECT plinth_sweep_orphans()") == "2", "the crashed run's mappings, once unshared"
        else:
            s.psql("VACUUM")
        assert int(s.query("SELECT plinth_test_database_keys()")) == baseline, "keys left after DROP"
    assert s.query("SELECT count(*), min(v), max(v) FROM kept") == "500|kept|kept"
    assert s.query("SELECT plinth_sweep_orphans()") == "0"
