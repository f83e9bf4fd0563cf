"""A throwaway PostgreSQL cluster for tests, CI and benchmarks (standard library only).

``initdb`` in a temporary folder, a server on a free port of 127.0.0.1 (and a Unix socket in
the same folder), trust authentication for the superuser ``postgres``, stopped and removed at
the end. initdb refuses to run as root, so as root the cluster is made and run by the
``postgres`` user that Debian's package creates (through ``runuser``).

Used three ways:

- by ``.ci/run``, before ``make test``::

      eval "$(python3.11 tests/pgcluster.py start --dir /tmp/hallwatch-pg)"   # exports the URL
      python3.11 tests/pgcluster.py stop --dir /tmp/hallwatch-pg

- by the ``pg_server`` fixture in tests/conftest.py, when ``HALLWATCH_TEST_PG_URL`` is unset;
- by the fault tests and the benchmarks, which need a cluster of their own to restart.

Example::

    with Cluster.create() as cluster:
        print(cluster.url)     # postgresql://postgres@127.0.0.1:54321/postgres
        cluster.restart()
"""

from __future__ import annotations

import argparse
import glob
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

SUPERUSER = "postgres"
# Tests want speed, not durability; the fault tests and benchmarks pass durable=True.
FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
PORT_ATTEMPTS = 3
# For runs whose server log is read afterwards (bench_hub_province --server-log): lock waits
# past deadlock_timeout (PostgreSQL's default, 1 s: the run is not changed) and each deadlock
# with both processes' statements, every line naming its backend's pid and application name.
LOCK_LOG_SETTINGS = ("log_lock_waits=on", "deadlock_timeout='1s'",
                     "log_line_prefix='%m [%p] %a '")
# Test databases are t_<process id>_<random>, so a pytest process (an xdist worker, or another
# run on the same server) that finishes first drops only its own (tests/conftest.py).
TEST_DATABASE_PREFIX = f"t_{os.getpid()}_"


def new_database_name() -> str:
    return f"{TEST_DATABASE_PREFIX}{uuid.uuid4().hex[:16]}"


class ClusterError(RuntimeError):
    """The PostgreSQL server binaries are missing, or initdb / pg_ctl failed."""


def server_bin_dir() -> Path | None:
    """Debian's newest /usr/lib/postgresql/*/bin that has initdb, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(Path(p).parent.parent.name)
                   if Path(p).parent.parent.name.isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A cluster in ``folder`` (data in ``folder/data``, socket and log beside it)."""

    def __init__(self, folder: Path, port: int, bin_dir: Path):
        self.folder = Path(folder)
        self.port = port
        self.bin_dir = bin_dir

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    @classmethod
    def create(cls, folder: Path | None = None, *, durable: bool = False,
               settings: tuple[str, ...] = ()) -> Cluster:
        """initdb a new cluster and start it; raises ClusterError. ``settings``: more lines
        for postgresql.conf (e.g. ``LOCK_LOG_SETTINGS``)."""
        bin_dir = server_bin_dir()
        if bin_dir is None:
            raise ClusterError("PostgreSQL server binaries not found (apt-get install postgresql)")
        folder = Path(folder or tempfile.mkdtemp(prefix="hallwatch-pg-"))
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
        if os.geteuid() == 0:
            shutil.chown(folder, SUPERUSER, SUPERUSER)
        cluster = cls(folder, 0, bin_dir)
        cluster._run("initdb", "-D", str(cluster.data), "-U", SUPERUSER, "--auth=trust",
                     "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync")
        extra, settings = settings, ["listen_addresses='127.0.0.1'",
                    f"unix_socket_directories='{folder}'", "max_connections=300",
                    "shared_buffers=128MB", "log_min_messages=warning"]
        if not durable:
            settings += FAST_SETTINGS
        settings += extra
        with open(cluster.data / "postgresql.conf", "a", encoding="utf-8") as conf:
            conf.write("\n# hallwatch throwaway cluster\n" + "\n".join(settings) + "\n")
        # The port is found free just before the server binds it (initdb takes seconds on a
        # busy machine), and found again if another process took it in that moment.
        attempts = 1
        while True:
            cluster.port = free_port()
            try:
                cluster.start()
                return cluster
            except ClusterError:
                if attempts == PORT_ATTEMPTS or not cluster._port_was_taken():
                    raise
                attempts += 1

    def _run(self, program: str, *args: str) -> str:
        command = [str(self.bin_dir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SUPERUSER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.folder)
        if done.returncode != 0:
            raise ClusterError(f"{program} failed ({done.returncode}): "
                               f"{(done.stderr or done.stdout).strip()[-2000:]}")
        return done.stdout

    @property
    def log(self) -> Path:
        """The server's log (``server.log`` beside the data)."""
        return self.folder / "server.log"

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", f"-p {self.port}", "-w", "-t", "60", "start")

    def _port_was_taken(self) -> bool:
        """The server's log says its last start could not bind the port."""
        log = self.folder / "server.log"
        return log.exists() and "could not bind" in log.read_text(errors="replace")[-4000:]

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def destroy(self) -> None:
        """Stop the server (if running) and remove the folder."""
        try:
            self.stop("immediate")
        except ClusterError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc) -> None:
        self.destroy()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", required=True, type=Path, help="the cluster's folder")
    args = parser.parse_args(argv)
    if args.action == "start":
        try:
            cluster = Cluster.create(args.dir)
        except ClusterError as exc:
            print(f"pgcluster: {exc}", file=sys.stderr)
            return 1
        (args.dir / "port").write_text(str(cluster.port))
        print(f"export HALLWATCH_TEST_PG_URL={shlex.quote(cluster.url)}")
        return 0
    port_file = args.dir / "port"
    if not port_file.exists():
        return 0
    bin_dir = server_bin_dir()
    if bin_dir is not None:
        Cluster(args.dir, int(port_file.read_text()), bin_dir).destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
