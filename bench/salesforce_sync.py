"""Salesforce sync benchmark: records/s of a first full sync against the fake org.

    .venv/bin/python -m bench.salesforce_sync [--days 30]

The simulator writes a Salesforce-shaped org (default scenario, N days); the fake
Salesforce (tests/fake_salesforce.py, real TLS, 2,000 records a page) serves it in a
thread of this process; the connector reads every sObject through simple-salesforce,
files it, derives the calls and commits them through the Writer. Client, fake and
SQLite share the 2 cores, so this is a floor for a real org, where the network dominates.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from rich.console import Console

from contextsvc.salesforce import SalesforceApi
from contextsvc.service import open_service
from simulator.cli import main as simulator
from tests.fake_salesforce import RunningFake
from tests.salesforce_org import load_org, settings


async def run(days: int, tmp: Path) -> None:
    console = Console()
    assert simulator(["generate", "--out", str(tmp / "org"), "--salesforce", "--set", f"days={days}"]) == 0
    fake = RunningFake(tmp)
    try:
        # Full pages, as before the fake learnt to answer short ones: figures stay comparable
        # (records this small fill Salesforce's pages; the tests cover short ones).
        fake.org.short_pages = False
        org = load_org(fake, tmp / "org")
        records = sum(len(r) for r in org.values())
        config = settings(tmp / "sf.db", fake, salesforce_page_size=2000)
        async with open_service(config) as service:
            sync = service.salesforce_sync(SalesforceApi(config, fake.session()))
            started = time.perf_counter()
            report = await sync.run_once()
            elapsed = time.perf_counter() - started
    finally:
        fake.close()
    console.print(
        f"first sync: {records:,} records ({len(org['Task']):,} Task, {len(org['VoiceCall']):,} VoiceCall) "
        f"-> {report.calls} in {elapsed:.1f}s over {report.pages:,} pages"
    )
    console.print(f"sync throughput: {records / elapsed:,.0f} records/s ({len(org['Task']) / elapsed:,.0f} calls/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=30, help="simulated days in the org")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args.days, Path(tmp)))


if __name__ == "__main__":
    main()
