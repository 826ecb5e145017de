"""A throwaway Redis server from the installed binary: its own directory, a free port on
127.0.0.1, no persistence, torn down with the directory.

Used by the cluster tests, the cluster benchmark and the local cluster demo; never a system
service and never shared state. The binary is Debian's (`apt-get install redis-server`) or
whatever `redis-server` is on PATH.

    python -m devservers.redis --available   # exit 0 when the binary is here
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from devservers.postgres import free_port, wait_for_port


def binary() -> str | None:
    return shutil.which("redis-server") or next(
        (str(p) for p in (Path("/usr/bin/redis-server"), Path("/usr/local/bin/redis-server")) if p.exists()), None
    )


class ThrowawayRedis:
    """One server in `root`, in the foreground of a child process so a test can kill it
    (a crash) or stop and start it again on the same port (a restart)."""

    def __init__(self, root: Path | None = None) -> None:
        found = binary()
        if found is None:
            raise RuntimeError("redis-server not found: apt-get install redis-server")
        self.binary = found
        self.root = root or Path(tempfile.mkdtemp(prefix="contextsvc-redis-"))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> ThrowawayRedis:
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(self.root / "server.log", "ab")  # noqa: SIM115 - the child process holds it
        # Pub/sub and counters only: nothing here needs to survive a restart, and a restart
        # that forgets everything is the harder case for the service.
        self._process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--protected-mode",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        wait_for_port(self.port, 15.0)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)
            self._process = None

    def kill(self) -> None:
        """kill -9: every connection drops at once, nothing is flushed."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(10)
            self._process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayRedis:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--available", action="store_true", help="exit 0 if redis-server is installed")
    args = parser.parse_args()
    if args.available:
        return 0 if binary() is not None else 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
