"""A throwaway PostgreSQL server in a temporary directory, for tests and benchmarks.

It runs the machine's own PostgreSQL binaries (``initdb``, ``pg_ctl``), listens on loopback
only (a free port, and a socket directory inside the temporary directory), protects its
superuser with a random password, and leaves nothing behind when stopped. The server
refuses to run as root, so when the caller is root it runs as the ``postgres`` system user.

Example::

    with TemporaryPostgres() as pg:
        dsn = pg.create_database("job1")   # postgresql://postgres:...@127.0.0.1:PORT/job1
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = ["TemporaryPostgres", "find_postgres_bin"]

# Settings for a disposable server: durability across an OS crash is not needed (the
# tests kill workers and stop the server, never the machine), so no fsync; commits still
# reach the OS before they are acknowledged (synchronous_commit stays on), so stopping the
# server abruptly loses nothing acknowledged. A small footprint suits a shared machine.
_SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "32MB",
    "log_min_messages": "warning",
}


def find_postgres_bin() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``.

    ``$PHYGITALS_PG_BIN`` first, then ``initdb`` on ``PATH``, then Debian's versioned
    directories (``/usr/lib/postgresql/N/bin``, newest first).

    Raises:
        FileNotFoundError: no PostgreSQL server is installed.
    """
    configured = os.environ.get("PHYGITALS_PG_BIN")
    if configured:
        return Path(configured)
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent  # Debian links only a few tools into PATH
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    if not found:
        msg = (
            "no PostgreSQL server found: install it (Debian: apt-get install postgresql-15)"
            " or set PHYGITALS_PG_BIN to the directory holding initdb and pg_ctl"
        )
        raise FileNotFoundError(msg)
    return found[-1].parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TemporaryPostgres:
    """A PostgreSQL server of its own, started in a temporary directory.

    Args:
        bin_dir: where ``initdb`` and ``pg_ctl`` live; found by :func:`find_postgres_bin`
            when not given.
    """

    def __init__(self, bin_dir: Path | None = None) -> None:
        self.bin_dir: Path = bin_dir or find_postgres_bin()
        self.password: str = secrets.token_hex(16)
        self.port: int = 0
        self.root: Path | None = None
        self._run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            self._run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        if self.root is None:
            msg = "the server was never started"
            raise RuntimeError(msg)
        return self.root / "data"

    def dsn(self, database: str = "postgres") -> str:
        """A ``postgresql://`` URL for ``database`` as the superuser, over loopback TCP."""
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str | Path) -> None:
        subprocess.run(  # noqa: S603  our own binaries, arguments built here
            [str(a) for a in args],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PGPASSWORD": self.password},
            **self._run_as,
        )

    def start(self) -> None:
        """Create the cluster (first time only) and start the server."""
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="phygitals-pg-"))
            if self._run_as:
                os.chown(self.root, self._run_as["user"], self._run_as["group"])
            password_file = self.root / "pw"
            password_file.write_text(self.password)
            if self._run_as:
                os.chown(password_file, self._run_as["user"], self._run_as["group"])
            self._run(
                self.bin_dir / "initdb",
                "-D",
                self.data_dir,
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
                "--encoding=UTF8",
                "--no-sync",
            )
            password_file.unlink()
            self.port = _free_port()
        options = " ".join(f"-c {k}={v}" for k, v in _SETTINGS.items())
        options += f" -p {self.port} -c unix_socket_directories={self.root}"
        self._run(
            self.bin_dir / "pg_ctl",
            "-D",
            self.data_dir,
            "-l",
            self.root / "server.log",
            "-w",
            "-t",
            "30",
            "-o",
            options,
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``mode`` as ``pg_ctl -m``: smart, fast or immediate); keep the data."""
        if self.root is not None and (self.data_dir / "postmaster.pid").exists():
            self._run(self.bin_dir / "pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Stop the server and delete every file it had."""
        if self.root is None:
            return
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def create_database(self, name: str) -> str:
        """Create an empty database and return its ``postgresql://`` URL."""
        self._run(
            self.bin_dir / "psql",
            "-h",
            str(self.root),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            f'CREATE DATABASE "{name}"',
        )
        return self.dsn(name)

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()
