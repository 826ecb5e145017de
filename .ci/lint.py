"""`make lint`: ruff (lint and format) and mypy, held to a ratchet until the tree is clean.

The tree predates the checks: ruff and mypy still report findings in files written before
them. Rather than wait for all of them to be fixed, CI fails on any file that gets worse:
every file's count of ruff findings and mypy errors may only fall below what
`.ci/lint-baseline.json` records (a file not listed there must be clean), and a file that
ruff format leaves alone must stay so. When counts fall, `--update` writes the lower
baseline; it never needs to be raised.

    .venv/bin/python .ci/lint.py            # the check CI runs
    .venv/bin/python .ci/lint.py --update   # after fixing findings: record the new floor
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PATHS = ["contextsvc", "simulator", "loadtests", "bench", "tests"]
BASELINE = ROOT / ".ci" / "lint-baseline.json"
MYPY_ERROR = re.compile(r"^(?P<path>[^:\s]+\.py):\d+: error:")


def _run(*command: str) -> str:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True).stdout


def ruff(*command: str) -> Counter[str]:
    """Findings per file (ruff's JSON output: one item per finding, or per unformatted file)."""
    found = json.loads(_run(str(BIN / "ruff"), *command, "--output-format", "json", *PATHS) or "[]")
    return Counter(str(Path(item["filename"]).resolve().relative_to(ROOT)) for item in found)


def mypy_errors() -> Counter[str]:
    output = _run(str(BIN / "mypy"))  # files and options: [tool.mypy] in pyproject.toml
    return Counter(match["path"] for line in output.splitlines() if (match := MYPY_ERROR.match(line)))


def main() -> int:
    measured = {"ruff": ruff("check"), "ruff format": ruff("format", "--check"), "mypy": mypy_errors()}
    if "--update" in sys.argv[1:]:
        BASELINE.write_text(
            json.dumps({tool: dict(sorted(counts.items())) for tool, counts in measured.items()}, indent=1) + "\n"
        )
        print(f"baseline written: {', '.join(f'{t} {sum(c.values())}' for t, c in measured.items())}")
        return 0
    baseline = json.loads(BASELINE.read_text())
    worse = []
    for tool, counts in measured.items():
        allowed = baseline.get(tool, {})
        worse += [
            f"{tool}: {path}: {count} (baseline {allowed.get(path, 0)})"
            for path, count in sorted(counts.items())
            if count > allowed.get(path, 0)
        ]
        print(f"{tool}: {sum(counts.values())} findings (baseline {sum(allowed.values())})")
    if worse:
        print("worse than the baseline (fix these; details: ruff check / ruff format --diff / mypy):")
        print("\n".join(f"  {line}" for line in worse))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
