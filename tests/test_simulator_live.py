"""`simulator stream` and `simulator verify` against a live service, end to end.

A short scenario: the whole default scenario's completeness and identity F1 are gated by
the load test (`make loadtest PROFILE=smoke` in CI, `standard` at full size), which streams
and verifies the same generator; this test covers the commands themselves."""

from __future__ import annotations

import pytest

from simulator.cli import main as simulator
from tests.helpers import url_for
from tests.live import live_server

pytestmark = pytest.mark.live  # starts a server process, a TLS fake or the simulator


def test_stream_and_verify_work_end_to_end_against_a_live_service(tmp_path):
    with live_server(url_for(tmp_path / "db.sqlite"), "sim-key") as (base, _):
        # --freshness: after each acknowledged batch, one of its calls must show in its
        # person's context. The bound is loose on purpose: with 2,000-call batches a read can
        # wait while the writer works through the next batch on the same event loop (p99
        # measured ~120 ms; single POSTs: 3 ms). The 50 ms load-test target is issue 5's.
        scenario = ["--set", "days=14", "--set", "population.accounts=120"]
        assert (
            simulator(
                [
                    "stream",
                    "--url",
                    base,
                    "--key",
                    "sim-key",
                    "--batch",
                    "2000",
                    "--freshness",
                    "--freshness-p99-ms",
                    "300",
                    *scenario,
                ]
            )
            == 0
        )
        assert (
            simulator(
                [
                    "verify",
                    "--url",
                    base,
                    "--key",
                    "sim-key",
                    "--min-completeness",
                    "1.0",
                    "--min-f1",
                    "0.99",
                    *scenario,
                ]
            )
            == 0
        )
