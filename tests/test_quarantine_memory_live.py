"""The 32 MB case: bodies at the request limit that all end in quarantine raise the
server's memory by a bounded multiple of one body, not by what the quarantine holds, and
a listing stays small (bench/quarantine_memory.py prints the figures)."""

from __future__ import annotations

import pytest

from bench.quarantine_memory import run

pytestmark = pytest.mark.live  # starts a server process


def test_bodies_at_the_limit_do_not_grow_memory_past_the_bound():
    assert run(bodies=4, megabytes=31) == 0
