"""A throwaway PostgreSQL server from the installed binaries: `initdb` into a directory of
its own, a free port on 127.0.0.1, trust authentication, torn down with the directory.

Used by the test suite (its PostgreSQL tier), the benchmarks and the local cluster demo;
never a system service and never shared state. The binaries are Debian's (`apt-get
install postgresql`: /usr/lib/postgresql/<version>/bin) or whatever `initdb` is on PATH.

    python -m devservers.postgres --available   # exit 0 when the binaries are here
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUPERUSER = "postgres"
START_ATTEMPTS = 4
# What the server log says when the port was taken (the only failure worth a retry).
_PORT_TAKEN = ("could not bind", "Address already in use", "could not create any TCP/IP sockets")


def binaries() -> Path | None:
    """The directory holding initdb, pg_ctl and postgres, newest version first."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]), reverse=True)
    return versions[0].parent if versions else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    """One server in `root`. As root (CI, containers) it runs as the `postgres` user that
    Debian's package creates, because PostgreSQL refuses to run as root."""

    def __init__(self, root: Path | None = None, *, durable: bool = False) -> None:
        found = binaries()
        if found is None:
            raise RuntimeError("PostgreSQL binaries not found: apt-get install postgresql")
        self.bin = found
        # Its own directory under the system temp dir by default: PostgreSQL runs as another
        # user there (see below), who cannot enter a test's private temp directories.
        self.root = root or Path(tempfile.mkdtemp(prefix="contextsvc-pg-"))
        self.data = self.root / "data"
        # Chosen when first started, then kept (restart() comes back on it): a port chosen
        # before initdb could be taken by someone else's socket during those seconds.
        self.port = 0
        # Tests need crash safety of the service, not of the machine: without fsync a test
        # database is several times faster. Benchmarks and demos keep PostgreSQL's defaults.
        self.durable = durable
        self._user = SUPERUSER if os.geteuid() == 0 else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(args, capture_output=True, text=True, user=self._user)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed ({done.returncode}): {done.stderr or done.stdout}")
        return done

    def start(self) -> ThrowawayPostgres:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._user is not None:
            self.root.chmod(0o755)
            shutil.chown(self.root, self._user)
        if not self.data.exists():
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            )
        if self.port:
            self._pg_ctl_start()
            return self
        for attempt in range(1, START_ATTEMPTS + 1):
            self.port = free_port()
            try:
                self._pg_ctl_start()
                return self
            except RuntimeError as failed:
                # Another process may have bound the port between free_port() and the
                # postmaster's bind (the test tiers start one server per xdist worker at
                # once): a fresh port is the cure for that, and only for that.
                print(f"PostgreSQL did not start on port {self.port} (attempt {attempt}): {failed}", file=sys.stderr)
                self.stop("immediate")
                if attempt == START_ATTEMPTS or not any(sign in str(failed) for sign in _PORT_TAKEN):
                    self.port = 0
                    raise
        raise AssertionError("unreachable")

    def _pg_ctl_start(self) -> None:
        options = [
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"port={self.port}",
            "-c",
            f"unix_socket_directories={self.root}",
            "-c",
            "max_connections=300",
            "-c",
            "shared_buffers=128MB",
        ]
        if not self.durable:
            options += ["-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=on"]
        log = self.root / "server.log"
        done = self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(log),
            "-o",
            " ".join(options),
            "-w",
            "-t",
            "60",
            "start",
            check=False,
        )
        if done.returncode != 0:
            try:
                tail = log.read_text(errors="replace")[-2000:]
            except OSError as unreadable:
                tail = f"(server log unreadable: {unreadable})"
            raise RuntimeError(f"pg_ctl start failed ({done.returncode}): {done.stderr or done.stdout}\n{tail}")

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def restart(self) -> None:
        """Stop (dropping every connection) and start again on the same port and data."""
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [
                str(self.bin / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atqc",
                sql,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def create_database(self, name: str, template: str | None = None) -> str:
        self.psql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self.psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


def wait_for_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--available", action="store_true", help="exit 0 if the PostgreSQL binaries are installed")
    args = parser.parse_args()
    if args.available:
        return 0 if binaries() is not None else 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
