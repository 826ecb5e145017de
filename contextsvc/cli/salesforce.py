"""`contextsvc salesforce sync [--once|--watch]` and `contextsvc salesforce writeback [--dry-run]`."""

from __future__ import annotations

import argparse
import asyncio
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from contextsvc.cli.writing import HELD, Held, run_writing
from contextsvc.salesforce import SalesforceProblem
from contextsvc.settings import Settings

console = Console()
errors = Console(stderr=True)


def _print_sync(report) -> None:
    table = Table(title="salesforce sync")
    for column in ("sObject", "read", "new or changed"):
        table.add_column(column)
    for sobject, count in report.read.items():
        table.add_row(sobject, f"{count:,}", f"{report.changed.get(sobject, 0):,}")
    console.print(table)
    calls = ", ".join(f"{n:,} {status}" for status, n in sorted(report.calls.items())) or "none"
    console.print(f"calls: {calls}; {report.unchanged_calls:,} re-read unchanged; {report.pages:,} pages")
    if report.unmapped_dispositions:
        console.print(
            "Call Result values no alias matched (kept verbatim, flagged disposition_unmapped): "
            + ", ".join(f"{text!r} ×{n}" for text, n in sorted(report.unmapped_dispositions.items()))
        )
    if report.inferred_directions:
        console.print(
            f"{report.inferred_directions:,} calls with no CallType on their Task or VoiceCall "
            "(logged by hand) counted as outbound, flagged direction_inferred"
        )
    for item in report.quarantined:
        errors.print(f"quarantined: {item}")


async def _sync(settings: Settings, watch: bool) -> int:
    from contextsvc.salesforce import SalesforceApi, auth_mode, sync_with_backoff
    from contextsvc.service import open_service

    auth_mode(settings)  # no credentials: say so before touching the database
    async with open_service(settings) as service:
        api = await asyncio.to_thread(SalesforceApi, settings)
        sync = service.salesforce_sync(api)
        while True:
            report = await sync_with_backoff(
                sync,
                first_wait_s=max(60.0, settings.salesforce_sync_interval_s),
                max_wait_s=settings.salesforce_max_backoff_s,
            )
            _print_sync(report)
            if not watch:
                return 1 if report.quarantined else 0
            await asyncio.sleep(settings.salesforce_sync_interval_s)


def _print_diff(changes, considered: int) -> None:
    table = Table(title=f"write-back diff: {len(changes):,} of {considered:,} Contacts/Leads change")
    for column in ("record", "object", "field", "last written", "new value"):
        table.add_column(column)
    for change in changes:
        for field, value in change.fields.items():
            table.add_row(change.record_id, change.sobject, field, repr(change.before.get(field, "—")), repr(value))
    console.print(table)


async def _writeback(settings: Settings, dry_run: bool, resend_all: bool) -> int:
    from contextsvc.salesforce import SalesforceApi, parse_field_map, plan_writeback, push
    from contextsvc.service import open_database

    field_map = parse_field_map(settings.salesforce_writeback_fields)
    now = datetime.now(UTC)
    async with open_database(settings) as engine:
        considered, changes = await plan_writeback(engine, field_map, now, resend_all)
        if dry_run:
            _print_diff(changes, considered)
            return 0
        api = await asyncio.to_thread(SalesforceApi, settings)
        report = await push(engine, api, changes, now)
    console.print(
        f"write-back: {report.written:,} of {report.changed:,} changed records written "
        f"in {report.requests:,} requests ({considered:,} considered)"
    )
    for failure in report.failures:
        errors.print(
            f"FAILED {failure.sobject} {failure.record_id}: {failure.status_code}: {failure.message}"
            + (f" (fields: {', '.join(failure.fields)})" if failure.fields else "")
        )
    return 1 if report.failures else 0


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        if args.action == "sync":
            return run_writing("salesforce sync", "/v1/admin/salesforce/sync", _sync(settings, args.watch))
        return asyncio.run(_writeback(settings, args.dry_run, args.all))
    except Held:
        return HELD
    except (SalesforceProblem, ValueError) as exc:
        errors.print(f"salesforce {args.action}: {exc}")
        return 2


def add_commands(commands) -> None:
    salesforce = commands.add_parser("salesforce", help="pull calls from Salesforce; write insights back")
    actions = salesforce.add_subparsers(dest="action", required=True)
    sync = actions.add_parser(
        "sync", help="pull Task/VoiceCall calls and their people (a running server: POST /v1/admin/salesforce/sync)"
    )
    mode = sync.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true", help="one incremental pass (the default)")
    mode.add_argument("--watch", action="store_true", help="a pass every CONTEXTSVC_SALESFORCE_SYNC_INTERVAL_S seconds")
    writeback = actions.add_parser("writeback", help="write changed insight fields to Contacts and Leads")
    writeback.add_argument("--dry-run", action="store_true", help="print the diff; send nothing")
    writeback.add_argument("--all", action="store_true", help="send every value, changed or not")
    salesforce.set_defaults(handler=_run)
