#!/usr/bin/env python3
"""The cost of a shared schema (docs/design.md, "Several servers, one store").

    python3 bench/schema.py [--statements N] [--transactions N] [--runs N]

Run by `make bench-schema`, as root or the server user. Two set-ups, each
with its own servers:

- one server alone on its store;
- three servers on one store (the first server's peers replay its DDL).

On the embedded engine each set-up has its own store and both run at
once. With PLINTH_FDB_CLUSTER_FILE both are on that FoundationDB cluster,
one after the other, the cluster cleared before each (with
PLINTH_STORE_TOOL, else a plinth-store-tool built here): a cluster is one
store, and the lone server would otherwise be a fourth server of the three.

DDL propagation: the same DDL statements (CREATE TABLE, CREATE INDEX, ALTER
TABLE, DROP TABLE, in turn; then CREATE and DROP DATABASE), each timed from
the client until the server answered, on the lone server and round-robin
on the three. On three
servers a statement returns once the other two applied it: the difference
of the medians is what propagation costs. Right after each statement, the
next server is asked whether it has the change (it must).

Per-transaction cost (embedded engine only: it needs both set-ups at once):
`pgbench -S` (select-only, 1 client, fixed number of transactions) on the
first of the three servers beside the lone server, paired A B A B by
farm-bench (the machine's drift cancels). A read-only
transaction makes no schema check (a writing one compares the store's
metadata version at its commit, on a lone server too); the servers'
"plinth schema" workers poll the store, and this shows whether that costs
anything measurable.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "t"))
from pgserver import Server, PG_BINDIR  # noqa: E402

FDB_CLUSTER_FILE = os.environ.get("PLINTH_FDB_CLUSTER_FILE")


def clear_foundationdb():
    """Empties the cluster (a cluster is one store)."""
    tool = os.environ.get("PLINTH_STORE_TOOL")
    if not tool:
        root = os.path.join(HERE, "..")
        subprocess.run(["swift", "build", "--product", "plinth-store-tool"], cwd=root, check=True,
                       capture_output=True)
        tool = os.path.join(root, ".build", "debug", "plinth-store-tool")
    subprocess.run([tool, "clear", f"fdb:{FDB_CLUSTER_FILE}"], check=True, capture_output=True)


def server_user():
    if os.getuid() != 0:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_name
    return "postgres"


def ddl_statements(n):
    out = []
    for i in range(n // 4):
        out += [f"CREATE TABLE bench_t{i} (id int PRIMARY KEY, v text)",
                f"CREATE INDEX bench_t{i}_v ON bench_t{i} (v)",
                f"ALTER TABLE bench_t{i} ADD COLUMN w int",
                f"DROP TABLE bench_t{i}"]
    return out


def database_statements(n):
    out = []
    for i in range(n // 2):
        out += [f"CREATE DATABASE bench_db{i}", f"DROP DATABASE bench_db{i}"]
    return out


def time_ddl(servers, statements):
    """Milliseconds per statement, round-robin over `servers`; and how many
    times the next server did not have the change yet."""
    sessions = [s.session() for s in servers]
    times, missing = [], 0
    try:
        for i, sql in enumerate(statements):
            sess = sessions[i % len(sessions)]
            t0 = time.perf_counter()
            sess.run(sql + ";")
            times.append((time.perf_counter() - t0) * 1000)
            if len(servers) > 1:
                other = sessions[(i + 1) % len(sessions)]
                name = re.search(r"bench_(t|db)\d+", sql).group(0)
                want = "0" if sql.startswith("DROP") else "1"
                catalog = "pg_database WHERE datname" if "DATABASE" in sql else "pg_class WHERE relname"
                if other.query(f"SELECT count(*) FROM {catalog} = '{name}';") != want:
                    missing += 1
    finally:
        for s in sessions:
            s.close()
    return times, missing


def summary(ms):
    return f"{statistics.median(ms):.1f} ms median, {max(ms):.1f} ms worst"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--statements", type=int, default=200)
    ap.add_argument("--transactions", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    root = tempfile.mkdtemp(prefix="plinth-bench-schema-")
    user = server_user()
    if os.getuid() == 0:
        shutil.chown(root, user, None)
    servers = []
    try:
        def store(name):
            d = os.path.join(root, name)
            os.makedirs(d)
            if os.getuid() == 0:
                shutil.chown(d, user, None)
            return d

        conf = {"default_table_access_method": "plinth", "shared_buffers": "'256MB'"}
        lone = Server(root, user, "lone", conf=dict(conf, **{"plinth.data_directory": f"'{store('lone-store')}'"}))
        shared = store("shared-store")
        trio = [Server(root, user, f"s{i}", conf=dict(conf, **{"plinth.data_directory": f"'{shared}'"}))
                for i in (1, 2, 3)]

        def start(group):
            if FDB_CLUSTER_FILE:
                clear_foundationdb()
            for s in group:
                servers.append(s.init().start())
            # Created on one server, the extension reaches the others
            # through their schema workers.
            group[0].psql("CREATE EXTENSION plinth;")
            for s in group[1:]:
                s.wait_for_extension()

        def stop(group):
            if FDB_CLUSTER_FILE:
                for s in group:
                    s.stop()
                    servers.remove(s)

        print(f"engine: {'FoundationDB (' + FDB_CLUSTER_FILE + '), one set-up at a time' if FDB_CLUSTER_FILE else 'embedded'}")
        statements = ddl_statements(args.statements)
        databases = database_statements(max(args.statements // 10, 2))
        start([lone])
        alone, _ = time_ddl([lone], statements)
        db_alone, _ = time_ddl([lone], databases)
        stop([lone])
        start(trio)
        three, missing = time_ddl(trio, statements)
        db_three, missed = time_ddl(trio, databases)
        print(f"DDL, {len(statements)} statements (CREATE TABLE / CREATE INDEX / ALTER TABLE / DROP TABLE):")
        print(f"  one server alone:          {summary(alone)}")
        print(f"  three servers, round-robin: {summary(three)}")
        print(f"  propagation (median difference): {statistics.median(three) - statistics.median(alone):.1f} ms")
        print(f"  statements the next server did not have when asked right after: {missing}")

        # Database statements: the database log (each server creates or
        # drops its own copy of the database).
        missing += missed
        print(f"\nDatabases, {len(databases)} statements (CREATE DATABASE / DROP DATABASE):")
        print(f"  one server alone:          {summary(db_alone)}")
        print(f"  three servers, round-robin: {summary(db_three)}")
        print(f"  propagation (median difference): {statistics.median(db_three) - statistics.median(db_alone):.1f} ms")
        print(f"  statements the next server did not have when asked right after: {missed}")
        if FDB_CLUSTER_FILE:
            print("\nselect-only beside a lone server: not run on FoundationDB (it needs both set-ups at once)")
            return 0 if missing == 0 else 1

        for s in (lone, trio[0]):
            subprocess.run(s.pgbench_argv("-i", "-s", "1", "-q"), check=True, capture_output=True)
        a = " ".join(trio[0].pgbench_argv("-n", "-S", "-c", "1", "-t", str(args.transactions)))
        b = " ".join(lone.pgbench_argv("-n", "-S", "-c", "1", "-t", str(args.transactions)))
        r = subprocess.run(["farm-bench", "-n", str(args.runs), "--timeout", "1200", "--vs", b, "--", *a.split()],
                           capture_output=True, text=True)
        print(f"\nselect-only, {args.transactions} transactions, 1 client: A = first of three servers, "
              f"B = a server alone (farm-bench, paired):")
        print(r.stdout.strip() or r.stderr.strip())
        return 0 if missing == 0 else 1
    finally:
        for s in servers:
            try:
                s.stop()
            except Exception:
                pass
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
