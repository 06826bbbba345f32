"""Runs every end-to-end test (test/t/test_*.py) and prints a summary.

Each test module defines functions named test_*; each takes a `ctx` with
`ctx.server(name, conf=None, preload=True)` giving a fresh, initialised
server (destroyed afterwards) and `ctx.directory(name)` giving an empty
directory owned by the server user (removed afterwards). A test that
cannot run here calls `ctx.skip(reason)`: it is reported as skipped, never
as passed.
"""
import argparse
import importlib.util
import os
import subprocess
import shutil
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pgserver import Server  # noqa: E402


class Skip(Exception):
    pass


class Context:
    def __init__(self, root, user):
        self.root = root
        self.user = user
        self.servers = []
        self.directories = []
        self.cleanups = []

    def directory(self, name):
        path = os.path.join(self.root, name)
        shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path)
        if os.getuid() == 0:
            shutil.chown(path, self.user, None)
        self.directories.append(path)
        return path

    def server(self, name, conf=None, preload=True):
        s = Server(self.root, self.user, name, conf, preload).init()
        self.servers.append(s)
        return s

    def at_cleanup(self, fn):
        """Runs fn when the test ends, after its servers are stopped."""
        self.cleanups.append(fn)

    def skip(self, reason):
        raise Skip(reason)

    def embedded_only(self, why):
        """Skips a test of the embedded engine itself when the suite runs on FoundationDB."""
        if os.environ.get("PLINTH_FDB_CLUSTER_FILE"):
            raise Skip(f"embedded engine only ({why}); this run is on FoundationDB")

    def cleanup(self):
        for s in self.servers:
            s.destroy()
        self.servers = []
        for fn in reversed(self.cleanups):
            fn()
        self.cleanups = []
        for d in self.directories:
            shutil.rmtree(d, ignore_errors=True)
        self.directories = []


def clear_foundationdb():
    """On a FoundationDB cluster each test begins on an empty Plinth
    keyspace, as on its own embedded store: servers sharing a store share
    databases of one name (scripts/test.sh builds the tool)."""
    cluster, tool = os.environ.get("PLINTH_FDB_CLUSTER_FILE"), os.environ.get("PLINTH_STORE_TOOL")
    if cluster and tool:
        subprocess.run([tool, "clear", f"fdb:{cluster}"], check=True)
    elif cluster:
        print("    (PLINTH_STORE_TOOL is not set: the cluster keeps what earlier tests wrote; "
              "run the tests through scripts/test.sh)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("only", nargs="*", help="test names (substring match)")
    args = ap.parse_args()

    root = os.path.join(args.state, "e2e")
    os.makedirs(root, exist_ok=True)
    if os.getuid() == 0:
        shutil.chown(root, args.user, None)

    here = os.path.dirname(os.path.abspath(__file__))
    results = []
    for fname in sorted(os.listdir(here)):
        if not (fname.startswith("test_") and fname.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fname[:-3], os.path.join(here, fname))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            full = f"{fname[:-3]}.{name}"
            if args.only and not any(o in full for o in args.only):
                continue
            clear_foundationdb()
            ctx = Context(root, args.user)
            t0 = time.time()
            try:
                getattr(mod, name)(ctx)
                status, detail = "ok", ""
            except Skip as e:
                status, detail = "SKIPPED", str(e)
            except Exception:
                status, detail = "FAILED", traceback.format_exc()
                for s in ctx.servers:
                    detail += f"\n--- log of {s.dir}:\n{s.tail_log()}"
            finally:
                ctx.cleanup()
            print(f"{full:60s} {status} ({time.time() - t0:.1f} s)", flush=True)
            if detail and status != "ok":
                print("    " + detail.replace("\n", "\n    "), flush=True)
            results.append(status)

    failed = results.count("FAILED")
    print(f"e2e: {results.count('ok')} passed, {failed} failed, {results.count('SKIPPED')} skipped")
    sys.exit(1 if failed or not results else 0)


if __name__ == "__main__":
    main()
