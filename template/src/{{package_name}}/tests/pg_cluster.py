"""Throw-away PostgreSQL clusters on 127.0.0.1 for the failover tests: a primary and its streaming standby.

The server's own binaries (initdb, pg_ctl, pg_basebackup), found in /usr/lib/postgresql/<version>/bin
or on PATH; each cluster lives in a temporary folder and listens on a free port. PostgreSQL refuses to
run as root, so under root (CI) every server command runs as the `postgres` user through runuser.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, create_engine, text

SERVER_TOOLS = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
SERVER_USER = "postgres"
DATABASE = "nation"
STARTUP_SECONDS = 60


def server_binaries() -> Path | None:
    """The folder holding PostgreSQL's server tools (newest version first), or None when absent."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version, reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in SERVER_TOOLS):
            return folder
    return None


def _version(folder: Path) -> int:
    name = folder.parent.name
    return int(name) if name.isdigit() else 0


def missing_reason() -> str | None:
    """Why the failover tests cannot run here, or None when they can."""
    if server_binaries() is None:
        return "the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not installed"
    if os.geteuid() == 0 and (shutil.which("runuser") is None or not _user_exists(SERVER_USER)):
        return "running as root without runuser or a postgres user to run the servers as"
    return None


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Cluster:
    """One PostgreSQL server: its data folder, port and the binaries it runs."""

    binaries: Path
    data: Path
    port: int

    def run(self, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.binaries / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)  # noqa: S603
        if result.returncode != 0:
            raise RuntimeError(f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout}")
        return result

    def configure(self, **settings: str | int) -> None:
        """Append settings to postgresql.conf (a later line wins over an earlier one)."""
        lines = [f"{name} = '{value}'" for name, value in settings.items()]
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n" + "\n".join(lines) + "\n")

    def start(self) -> None:
        log = self.data.parent / f"{self.data.name}.log"
        self.run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", str(STARTUP_SECONDS), "start")

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def promote(self) -> None:
        self.run("pg_ctl", "-D", str(self.data), "-w", "-t", str(STARTUP_SECONDS), "promote")

    def kill(self) -> None:
        """SIGKILL the postmaster and every server process it started, at once: the machine is gone."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        for pid in [postmaster, *_children(postmaster)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def url(self, database: str = DATABASE) -> URL:
        return URL.create(
            "postgresql+psycopg", username=SERVER_USER, host="127.0.0.1", port=self.port, database=database
        )

    def scalar(self, statement: str, database: str = "postgres") -> object:
        """The first value of a query's first row, or None when it returns no rows (CREATE, ALTER)."""
        engine = create_engine(self.url(database), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                result = connection.execute(text(statement))
                return result.scalar() if result.returns_rows else None
        finally:
            engine.dispose()


def _children(parent: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # /proc/<pid>/stat: pid (comm) state ppid ...; comm may hold spaces, so split after its ")".
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == parent:
                found.append(int(stat.parent.name))
    return found


@dataclass
class Pair:
    primary: Cluster
    standby: Cluster

    def multi_host_url(self) -> str:
        """One DATABASE_URL naming both servers: libpq connects to whichever accepts writes."""
        hosts = "127.0.0.1,127.0.0.1"
        ports = f"{self.primary.port},{self.standby.port}"
        return (
            f"postgresql+psycopg://{SERVER_USER}@/{DATABASE}"
            f"?host={hosts}&port={ports}&target_session_attrs=read-write&connect_timeout=2"
        )


@contextlib.contextmanager
def synchronous_pair() -> Iterator[Pair]:
    """A primary and a synchronous streaming standby (every commit acknowledged only once the standby
    has it), with database `nation` on the primary; both stopped and removed afterwards."""
    binaries = server_binaries()
    assert binaries is not None, missing_reason()
    if os.geteuid() == 0:  # in /tmp, whatever TMPDIR says: the postgres user must reach the folder
        folder = Path(tempfile.mkdtemp(prefix="nation-failover-", dir="/tmp"))
        shutil.chown(folder, SERVER_USER, SERVER_USER)
    else:
        folder = Path(tempfile.mkdtemp(prefix="nation-failover-"))
    primary = Cluster(binaries, folder / "primary", free_port())
    standby = Cluster(binaries, folder / "standby", free_port())
    try:
        primary.run("initdb", "-D", str(primary.data), "-U", SERVER_USER, "-A", "trust", "--no-sync", "-E", "UTF8")
        primary.configure(
            listen_addresses="127.0.0.1",
            port=primary.port,
            unix_socket_directories=str(folder),
            wal_level="replica",
            max_wal_senders=4,
            synchronous_commit="on",
        )
        primary.start()
        primary.scalar(f'CREATE DATABASE "{DATABASE}"')
        standby.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", SERVER_USER,
            "-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast",
        )  # fmt: skip
        # The standby's configuration is the primary's before synchronous replication is switched on
        # (ALTER SYSTEM below, on the primary only): once promoted, it runs alone without waiting.
        standby.configure(port=standby.port)
        standby.start()
        # From now on a commit is acknowledged only once the standby has it (any standby: there is one).
        primary.scalar("ALTER SYSTEM SET synchronous_standby_names = '*'")
        primary.scalar("SELECT pg_reload_conf()")
        _wait_until_synchronous(primary)
        yield Pair(primary, standby)
    finally:
        standby.stop()
        primary.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_synchronous(primary: Cluster) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while primary.scalar("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") != 1:
        if time.monotonic() > deadline:
            raise RuntimeError("the standby did not become synchronous")
        time.sleep(0.1)
