"""A throwaway Postgres server for end-to-end tests (crash tests, several
servers, configurations pg_regress cannot express).

Servers run as the unprivileged server user (Postgres refuses root); psql
runs as the calling user and connects over the server's Unix socket.
"""
import os
import queue
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

FDB_CLUSTER_FILE = os.environ.get("PLINTH_FDB_CLUSTER_FILE", "")
PG_BINDIR = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, root, user, name, conf=None, preload=True):
        self.user = user
        self.dir = os.path.join(root, name)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.port = free_port()
        self.conf = dict(conf or {})
        if preload:
            self.conf.setdefault("shared_preload_libraries", "'plinth'")
        # PLINTH_FDB_CLUSTER_FILE: every server keeps its tables on that
        # FoundationDB cluster (scripts/test.sh).
        if FDB_CLUSTER_FILE:
            self.conf.setdefault("plinth.cluster_file", f"'{FDB_CLUSTER_FILE}'")
            if os.environ.get("PLINTH_FDB_LIBRARY"):
                self.conf.setdefault("plinth.fdb_library", f"'{os.environ['PLINTH_FDB_LIBRARY']}'")

    # -- running things as the server user -------------------------------
    def _as_user(self, argv):
        if os.getuid() == 0:
            return ["runuser", "-u", self.user, "--"] + argv
        return argv

    def _run(self, argv, check=True):
        return subprocess.run(self._as_user(argv), capture_output=True, text=True, check=check)

    # -- lifecycle ----------------------------------------------------------
    def init(self):
        if os.path.exists(self.dir):
            shutil.rmtree(self.dir)
        os.makedirs(self.dir)
        if os.getuid() == 0:
            shutil.chown(self.dir, self.user, None)
        self._run([f"{PG_BINDIR}/initdb", "-D", self.data, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"])
        lines = [f"port = {self.port}", "listen_addresses = ''", f"unix_socket_directories = '{self.dir}'",
                 "fsync = on"]
        lines += [f"{k} = {v}" for k, v in self.conf.items()]
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# e2e test settings\n" + "\n".join(lines) + "\n")
        return self

    def start(self):
        r = self._run([f"{PG_BINDIR}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "start"], check=False)
        if r.returncode != 0:
            raise RuntimeError(f"server did not start:\n{self.tail_log()}")
        return self

    def configure(self, settings):
        """Appends settings (a dict) to postgresql.conf, where the last
        occurrence wins; takes effect at the next start."""
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("".join(f"{k} = {v}\n" for k, v in settings.items()))
        self.conf.update(settings)

    def wait_ready(self, timeout=60):
        """Waits until the server accepts connections (after a crash restart)."""
        deadline = time.time() + timeout
        while True:
            r = subprocess.run(self.psql_argv(), input="SELECT 1", capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip() == "1":
                return self
            if time.time() > deadline:
                raise RuntimeError(f"server not ready after {timeout} s: {r.stderr.strip()}\n{self.tail_log()}")
            time.sleep(0.2)

    READY = "database system is ready to accept connections"

    def wait_crash_restart(self, ready_before, timeout=60):
        """After a backend crashed: waits until the postmaster has restarted
        every backend (the log says ready once more than `ready_before`
        times) and accepts connections."""
        deadline = time.time() + timeout
        while self.log_text().count(self.READY) <= ready_before:
            if time.time() > deadline:
                raise RuntimeError(f"no crash restart within {timeout} s:\n{self.tail_log()}")
            time.sleep(0.1)
        return self.wait_ready(max(deadline - time.time(), 1))

    def stop(self, mode="fast"):
        self._run([f"{PG_BINDIR}/pg_ctl", "-D", self.data, "-w", "-m", mode, "stop"], check=False)

    def postmaster_pid(self):
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            return int(f.readline())

    def kill9(self):
        """SIGKILL the postmaster and every backend: a crash, not a shutdown."""
        pid = self.postmaster_pid()
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        os.kill(pid, signal.SIGKILL)
        for c in children:
            try:
                os.kill(int(c), signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.time() + 30
        while time.time() < deadline:
            alive = [p for p in [pid] + [int(c) for c in children] if os.path.exists(f"/proc/{p}")]
            if not alive:
                return
            time.sleep(0.1)
        raise RuntimeError("processes survived SIGKILL")

    def log_text(self):
        try:
            with open(self.log) as f:
                return f.read()
        except OSError:
            return ""

    def tail_log(self, n=40):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def destroy(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- SQL ------------------------------------------------------------------
    def psql_argv(self, db="postgres", verbose=False):
        """psql's command line; `verbose`: errors with their SQLSTATE."""
        return [f"{PG_BINDIR}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"] + \
            (["-v", "VERBOSITY=verbose"] if verbose else []) + \
            ["-h", self.dir, "-p", str(self.port), "-U", self.user, "-d", db]

    def pgbench_argv(self, *options, db="postgres"):
        return [f"{PG_BINDIR}/pgbench", "-h", self.dir, "-p", str(self.port), "-U", self.user, *options, db]

    def psql(self, sql, db="postgres", check=True):
        """Runs sql; returns (returncode, stdout, stderr)."""
        r = subprocess.run(self.psql_argv(db), input=sql, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()}\nSQL: {sql[:500]}")
        return r.returncode, r.stdout.strip(), r.stderr.strip()

    def query(self, sql, db="postgres"):
        return self.psql(sql, db)[1]

    def wait_for_extension(self, db="postgres", timeout=30):
        """On a server sharing a store: its schema worker creates the
        extension where another server did; waits until it has."""
        deadline = time.time() + timeout
        while True:
            rc, out, err = self.psql("SELECT count(*) FROM pg_extension WHERE extname = 'plinth'", db=db, check=False)
            if rc == 0 and out == "1":
                return
            # A server that joined catches up first (its statements fail meanwhile).
            if rc != 0 and "catching up" not in err:
                raise RuntimeError(err)
            if time.time() > deadline:
                raise RuntimeError(f"the extension did not reach database {db} of {self.dir}")
            time.sleep(0.05)

    def session(self, db="postgres", verbose=False):
        return Session(self, db, verbose)


class SessionError(Exception):
    """psql stopped: an error under ON_ERROR_STOP, or the connection was lost."""


class Session:
    """One psql process kept open: one backend, one connection, statements
    sent one after the other. `run` returns when the server has answered
    every statement sent (psql echoes a marker after them), so a COMMIT that
    returned was acknowledged by the server."""

    def __init__(self, server, db="postgres", verbose=False):
        self.server = server
        self.errors = tempfile.TemporaryFile(mode="a+")
        self.proc = subprocess.Popen(server.psql_argv(db, verbose), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errors, text=True, bufsize=1)
        self.lines = queue.Queue()
        self.serial = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def send(self, sql):
        """Sends sql without waiting for it; `wait` collects the answer."""
        self.serial += 1
        sql = sql.strip()
        if not sql.endswith(";"):
            sql += ";"   # else psql would run \echo before the statement
        try:
            self.proc.stdin.write(f"{sql}\n\\echo __plinth_e2e_{self.serial}__\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # psql is gone; wait() reports why
        return self.serial

    def wait(self, timeout=60):
        """Output lines of what was sent last; SessionError if psql stopped."""
        marker = f"__plinth_e2e_{self.serial}__"
        out = []
        deadline = time.time() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.time(), 0.001))
            except queue.Empty:
                raise TimeoutError(f"no answer from the server in {timeout} s (hang?)") from None
            if line is None:
                self.proc.wait()
                raise SessionError(self.stderr() or f"psql exited with {self.proc.returncode}")
            if line == marker:
                return out
            out.append(line)

    def run(self, sql, timeout=60):
        self.send(sql)
        return self.wait(timeout)

    def query(self, sql, timeout=60):
        return "\n".join(self.run(sql, timeout))

    def stderr(self):
        self.errors.seek(0)
        return self.errors.read().strip()

    def backend_pid(self):
        return int(self.query("SELECT pg_backend_pid();"))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.errors.close()


def rss_kb(pid, field="VmRSS"):
    """Resident set size of a process, in kB (VmRSS; RssAnon: its private
    memory)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")
