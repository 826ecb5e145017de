"""wrk (C, Debian package `wrk`) as the load generator for raw ceilings.

Paths cycle through a list; `rate` paces each connection with wrk's delay() hook so the
offered load is about `rate` requests/s (open enough for a latency-versus-throughput
curve: the achieved rate is what is reported)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

SCRIPT = r"""
local paths = {}
for line in io.lines("PATHS") do paths[#paths + 1] = line end
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], {["Authorization"] = "Bearer KEY"})
end
DELAY
done = function(summary, latency, requests)
  io.write(string.format("non2xx=%d p50us=%d p99us=%d\n", summary.errors.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def ensure_wrk() -> str:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], capture_output=True)
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed and could not be installed (apt-get install wrk)")
    return found


def wrk(
    base: str,
    paths: list[str],
    connections: int,
    seconds: int,
    key: str,
    *,
    rate: float | None = None,
    cpus: str | None = None,
) -> dict:
    """{'rps', 'non2xx', 'p50_ms', 'p99_ms'}; `cpus` pins wrk (taskset list)."""
    delay = f"delay = function() return {connections * 1000 / rate:.3f} end" if rate else ""
    with tempfile.TemporaryDirectory() as tmp:
        path_file = Path(tmp) / "paths.txt"
        path_file.write_text("\n".join(paths) + "\n")
        script = Path(tmp) / "paths.lua"
        script.write_text(SCRIPT.replace("PATHS", str(path_file)).replace("KEY", key).replace("DELAY", delay))
        command = [ensure_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(script), base]
        if cpus is not None and shutil.which("taskset"):
            command = ["taskset", "-c", cpus, *command]
        out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    stats = dict(re.findall(r"(\w+)=(\d+)", out))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"wrk printed no Requests/sec line:\n{out}")
    return {
        "rps": float(rps.group(1)),
        "non2xx": int(stats["non2xx"]),
        "p50_ms": int(stats["p50us"]) / 1000,
        "p99_ms": int(stats["p99us"]) / 1000,
    }
