"""A throwaway PostgreSQL server for the end-to-end tests.

Debian's binaries (/usr/lib/postgresql/<version>/bin, the newest there; LAMBDA_WSGI_PG_BIN
overrides), a data directory under /tmp, a free port on 127.0.0.1, password (SCRAM)
authentication as on RDS, and its Unix socket in its own directory (not /var/run/postgresql).

PostgreSQL refuses to run as root, and CI runs as root: then the server commands run as the
`postgres` system user (Debian's package creates it), or `nobody` where there is none, with the
directory chowned to that user. Every wait is pg_ctl's own `-w` (until the server accepts
connections, or until it is down), bounded by `-t`.
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import urllib.parse
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
TIMEOUT = 60


def find_bindir():
    """The newest /usr/lib/postgresql/<version>/bin with initdb, or None."""
    override = os.environ.get("LAMBDA_WSGI_PG_BIN")
    if override:
        return Path(override)

    def version(initdb):
        name = initdb.parent.parent.name
        return tuple(int(part) for part in name.split(".")) if name.replace(".", "").isdigit() else (0,)

    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=version)
    return found[-1].parent if found else None


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    # Characters that must be percent-encoded in a connection URI, so the URI parsing is tested.
    USER = "lambda_wsgi"
    PASSWORD = "e2e p@ss/word:%"

    def __init__(self, bindir):
        self.bindir = Path(bindir)
        self.base = Path(tempfile.mkdtemp(prefix="lambda-wsgi-pg-"))
        self.data = self.base / "data"
        self.log_path = self.base / "server.log"
        self.commands_log = self.base / "commands.log"
        self.port = free_port()
        self.run_as = {}
        if os.geteuid() == 0:
            account = self._unprivileged_account()
            self.run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            os.chown(self.base, account.pw_uid, account.pw_gid)
        password_file = self.base / "password"
        password_file.write_text(self.PASSWORD + "\n")
        password_file.chmod(0o600)
        if self.run_as:
            os.chown(password_file, self.run_as["user"], self.run_as["group"])
        self._server_command(
            "initdb", "-D", self.data, "-U", self.USER, "--pwfile", password_file,
            "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync",
        )
        password_file.unlink()
        self.running = False
        self.start()

    @staticmethod
    def _unprivileged_account():
        for name in ("postgres", "nobody"):
            try:
                return pwd.getpwnam(name)
            except KeyError:
                continue
        raise AssertionError("running as root and neither a `postgres` nor a `nobody` user exists")

    def _options(self):
        # A test server: durability is not wanted, speed is.
        return (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off")

    def _server_command(self, program, *args):
        """initdb / pg_ctl as the unprivileged user, output appended to commands.log."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"}
        with open(self.commands_log, "ab") as log:
            done = subprocess.run(
                [str(self.bindir / program), *map(str, args)], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=self.base, timeout=TIMEOUT + 30, **self.run_as,
            )
        if done.returncode != 0:
            raise AssertionError(f"{program} {' '.join(map(str, args))} exited {done.returncode}:\n{self.logs()}")

    def _pg_ctl(self, action, *args):
        # -l again on every start: without it the server's output would go to pg_ctl's stdout.
        self._server_command("pg_ctl", action, "-D", self.data, "-l", self.log_path, "-w", "-t", TIMEOUT, *args)

    def start(self):
        self._pg_ctl("start", "-o", self._options())
        self.running = True

    def restart(self):
        """A fast restart (every session is disconnected, as when RDS reboots or fails over);
        returns when the new server accepts connections."""
        self._pg_ctl("restart", "-m", "fast", "-o", self._options())

    def stop(self):
        if self.running:
            self._pg_ctl("stop", "-m", "fast")
            self.running = False
        shutil.rmtree(self.base, ignore_errors=True)

    def logs(self):
        parts = []
        for path in (self.commands_log, self.log_path):
            if path.exists():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def url(self, database, **params):
        """A libpq connection URI with the password percent-encoded, as DATABASE_URL."""
        user = urllib.parse.quote(self.USER, safe="")
        password = urllib.parse.quote(self.PASSWORD, safe="")
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}{query}"

    def _client(self, program, *args):
        env = {**os.environ, "PGPASSWORD": self.PASSWORD, "PGCONNECT_TIMEOUT": "10"}
        done = subprocess.run(
            [str(self.bindir / program), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.USER, *args],
            capture_output=True, env=env, stdin=subprocess.DEVNULL, timeout=TIMEOUT,
        )
        if done.returncode != 0:
            raise AssertionError(f"{program} {' '.join(args)} exited {done.returncode}: {done.stderr.decode()}")
        return done.stdout.decode()

    def create_database(self, name):
        self._client("createdb", name)
        return name

    def query(self, database, sql):
        """Rows of a query through psql (not through the app), each a list of column strings."""
        out = self._client("psql", "-d", database, "-X", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", sql)
        return [line.split("\t") for line in out.splitlines() if line]
