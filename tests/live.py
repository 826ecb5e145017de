"""A real `contextsvc serve` process, for tests that need true concurrency or a crash."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def live_server(
    database_url: str | Path,
    api_keys: str,
    *,
    server: str | None = None,
    cpus: str | None = None,
    log_level: str = "warning",
    output: Path | None = None,
    wait_for: str = "/health",
    workers: int | str = 1,  # str too: callers pass the rest as **dict[str, str]
    **env: str,
):
    """`database_url`: a URL, or a path for an SQLite file (the benchmarks' and the load
    test's databases). `cpus` pins the server to those cores (taskset list, e.g. "0"):
    benchmarks keep the load generator off the server's core. `output`: a file for the server's standard
    output and error (its logs), instead of a pipe nobody reads while it serves — one that
    logs every request would fill the pipe and stall."""
    port = free_port()
    environ = {
        **os.environ,
        "CONTEXTSVC_DATABASE_URL": f"sqlite+aiosqlite:///{database_url}"
        if isinstance(database_url, Path)
        else database_url,
        "CONTEXTSVC_API_KEYS": api_keys,
        **{f"CONTEXTSVC_{k.upper()}": v for k, v in env.items()},
    }
    command = [sys.executable, "-m", "contextsvc.cli", "serve", "--port", str(port), "--log-level", log_level]
    if server is not None:  # default: whatever `contextsvc serve` serves with
        command += ["--server", server]
    if int(workers) > 1:
        command += ["--workers", str(workers)]
    if cpus is not None and shutil.which("taskset"):
        command = ["taskset", "-c", cpus, *command]
    # A file, never a pipe: a server that logs (request lines of failed requests, say,
    # while a database restarts) blocks on a full pipe nobody reads, and stops answering.
    sink = open(output, "ab") if output is not None else tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        command,
        env=environ,
        stdout=sink,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: granian serves from a child process
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}{wait_for}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                sink.flush()
                sink.seek(0)
                said = sink.read().decode(errors="replace") if output is None else output.read_text()
                raise RuntimeError(f"server did not start: {said if proc.poll() is not None else 'timeout'}")
            time.sleep(0.1)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        kill_group(proc)  # whatever the server left behind
        sink.close()


def kill_group(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Signal the server and every process it started, as a crash or power loss would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def pid_listening_on(port: int) -> int:
    """The process with a TCP socket listening on 127.0.0.1:`port` (Linux /proc): which of a
    server's worker processes that is, when they share one listening port besides."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(FileNotFoundError), open(table) as rows:
            for row in list(rows)[1:]:
                fields = row.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                    inodes.add(f"socket:[{fields[9]}]")
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                    return int(proc.name)
    raise LookupError(f"nothing listens on port {port}")
