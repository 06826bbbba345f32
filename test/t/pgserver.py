"""A throwaway Postgres server for end-to-end tests (crash tests, several
servers, configurations pg_regress cannot express).

Servers run as the unprivileged server user (Postgres refuses root); psql
runs as the calling user and connects over the server's Unix socket.
"""
import os
import shutil
import signal
import socket
import subprocess
import time

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
    def psql_argv(self, db="postgres"):
        return [f"{PG_BINDIR}/psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                "-h", self.dir, "-p", str(self.port), "-U", self.user, "-d", db]

    def psql(self, sql, db="postgres", check=True):
        """Runs sql; returns (returncode, stdout, stderr)."""
        r = subprocess.run(self.psql_argv(db), input=sql, capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed ({r.returncode}): {r.stderr.strip()}\nSQL: {sql[:500]}")
        return r.returncode, r.stdout.strip(), r.stderr.strip()

    def query(self, sql, db="postgres"):
        return self.psql(sql, db)[1]
