"""Reachability on the write path (the side branch; the rest of the package is pure):
do-not-call lists and market connect rates by local hour.

- DNC lists are rows of `dnc_entries` (one per list and number), loaded into the
  in-memory DncIndex at start-up and changed only in writer transactions (Writer.run),
  which also re-evaluate the segments that read them.
- Market connect rates: each outbound call adds to its account's 168 local-hour-of-week
  cells (`reach_account_hours`, by increments in the ingest transaction; a replaced
  version is subtracted). A call's local hour is taken in the zone its own evidence
  names (who.time_zone, else its phone number when that has one zone). Markets
  (industry, region) sum their accounts' cells; contexts read a snapshot taken once per
  UTC day and when account attributes change, so a memoised context stays exact.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date

from sqlalchemy import Connection, bindparam, delete, func, select

from contextsvc.calls import Call
from contextsvc.ingest import Picklist
from contextsvc.insights import tables as insights
from contextsvc.pipeline import BatchChanges, BatchObserver, Writer
from contextsvc.reachability.best import HOURS_OF_WEEK, hour_of_week
from contextsvc.reachability.block import Inputs
from contextsvc.reachability.dnc import Listing
from contextsvc.reachability.tables import dnc_entries, reach_account_hours
from contextsvc.reachability.zones import zones_of_phone
from contextsvc.store import add_deltas, bulk_insert, chunks
from contextsvc.timeutil import micros, zone

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def to_day(value: date | None) -> int | None:
    return None if value is None else value.toordinal() - _EPOCH_ORDINAL


def from_day(day: int | None) -> date | None:
    return None if day is None else date.fromordinal(day + _EPOCH_ORDINAL)


def call_zone(call: Call) -> str | None:
    """The zone a call's own evidence names, if exactly one."""
    if call.who.time_zone and zone(call.who.time_zone):
        return call.who.time_zone
    if call.who.phone:
        zones = zones_of_phone(call.who.phone)[1]
        if len(zones) == 1:
            return zones[0]
    return None


class ReachabilityObserver(BatchObserver):
    """Owns the reachability Inputs every context read and segment evaluation uses."""

    def __init__(self, inputs: Inputs, picklist: Picklist, writer: Writer) -> None:
        self.inputs = inputs
        self.picklist = picklist
        self.writer = writer
        self.account_cells: dict[str, list[int]] = {}  # account id -> 336 ints
        self._pending: dict[tuple[str, int], list[int]] = {}
        self.snapshot_day: int | None = None
        # Run inside DNC and account-attribute transactions, with the changed Inputs
        # (segments re-evaluate what reads them), and after they commit (segments publish).
        self.on_inputs_changed: list[Callable[[Connection, int], None]] = []
        self.after_inputs_changed: list[Callable[[], None]] = []

    # --- observer --------------------------------------------------------------------

    def load(self, conn: Connection) -> None:
        dnc = self.inputs.dnc
        dnc.clear()
        groups: dict[tuple, list[int]] = {}
        for list_name, number, source, expires_on in conn.execute(
            select(dnc_entries.c.list_name, dnc_entries.c.number, dnc_entries.c.source, dnc_entries.c.expires_on)
        ):
            groups.setdefault((list_name, source, expires_on), []).append(number)
        for (list_name, source, expires_on), numbers in groups.items():
            dnc.add(numbers, Listing(list_name, source, from_day(expires_on)))
        self.account_cells = {}
        for account_id, how, calls, connects in conn.execute(select(reach_account_hours)):
            cells = self.account_cells.setdefault(account_id, [0] * (2 * HOURS_OF_WEEK))
            cells[2 * how] += calls
            cells[2 * how + 1] += connects
        self._pending = {}
        self.load_markets(conn)

    def load_markets(self, conn: Connection) -> None:
        rows = conn.execute(
            select(
                insights.account_attributes.c.account_id,
                insights.account_attributes.c.industry,
                insights.account_attributes.c.region,
            )
        ).all()
        self.inputs.regions = {a: region for a, _, region in rows}
        self.inputs.markets = {a: (industry, region) for a, industry, region in rows}
        self.snapshot(self.snapshot_day)

    def in_transaction(self, conn: Connection, changes: BatchChanges) -> None:
        deltas: dict[tuple[str, int], list[int]] = {}
        for calls, sign in ((changes.calls.values(), 1), ([r.call for r in changes.replaced.values()], -1)):
            for call in calls:
                if call.direction != "outbound":
                    continue
                zone_name = call_zone(call)
                if zone_name is None:
                    continue
                key = (call.related.account_id or "", hour_of_week(micros(call.started_at), zone_name))
                delta = deltas.setdefault(key, [0, 0])
                delta[0] += sign
                delta[1] += sign * self._connect(call)
        deltas = {k: v for k, v in deltas.items() if v != [0, 0]}
        add_deltas(
            conn,
            reach_account_hours,
            ("account_id", "hour_of_week"),
            {k: {"calls": v[0], "connects": v[1]} for k, v in deltas.items()},
        )
        self._pending = deltas

    def reset_call_counts(self, conn: Connection) -> None:
        conn.execute(reach_account_hours.delete())

    def count_stored_calls(self, conn: Connection, changes: BatchChanges) -> None:
        self.in_transaction(conn, changes)

    def after_commit(self, changes: BatchChanges) -> None:
        for (account_id, how), (calls, connects) in self._pending.items():
            cells = self.account_cells.setdefault(account_id, [0] * (2 * HOURS_OF_WEEK))
            cells[2 * how] += calls
            cells[2 * how + 1] += connects
        self._pending = {}

    def _connect(self, call: Call) -> bool:
        return self.picklist.meaning(call.disposition).connect

    # --- snapshots ---------------------------------------------------------------------

    def snapshot(self, day: int | None) -> None:
        """Market cells as committed now: what contexts read until the next snapshot."""
        markets: dict[tuple, list[int]] = {(): [0] * (2 * HOURS_OF_WEEK)}
        for account_id, cells in self.account_cells.items():
            targets = [markets[()]]
            market = self.inputs.markets.get(account_id)
            if market is not None:
                targets.append(markets.setdefault(market, [0] * (2 * HOURS_OF_WEEK)))
            for total in targets:
                for i, value in enumerate(cells):
                    total[i] += value
        self.inputs.market_cells = markets
        self.inputs.market_serial += 1
        self.snapshot_day = day

    def for_day(self, day: int) -> Inputs:
        """The Inputs for a read on that UTC day: a new day takes a new market snapshot."""
        if self.snapshot_day != day:
            self.snapshot(day)
        return self.inputs

    # --- DNC lists (Writer.run functions) ----------------------------------------------

    def add_numbers(
        self,
        conn: Connection,
        list_name: str,
        source: str | None,
        expires_on: date | None,
        numbers: Iterable[int],
        now_us: int,
    ) -> tuple[int, int, int]:
        """Idempotent: (numbers newly listed, numbers already on the list, whose source
        and expiry this load sets; numbers now on the list)."""
        wanted = set(numbers)
        expires = to_day(expires_on)
        existing, changed = set(), []
        c = dnc_entries.c
        for number, old_source, old_expires in conn.execute(
            select(c.number, c.source, c.expires_on).where(c.list_name == list_name)
        ):
            if number in wanted:
                existing.add(number)
                if (old_source, old_expires) != (source, expires):
                    changed.append({"n": number})
        if changed:  # a reload with the same source and expiry writes nothing
            conn.execute(
                dnc_entries.update()
                .where(c.list_name == list_name, c.number == bindparam("n"))
                .values(source=source, expires_on=expires, loaded_at=now_us),
                changed,
            )
        new = wanted - existing
        bulk_insert(
            conn,
            dnc_entries,
            [
                {"list_name": list_name, "number": n, "source": source, "expires_on": expires, "loaded_at": now_us}
                for n in new
            ],
        )
        self.inputs.dnc.add(wanted, Listing(list_name, source, expires_on))
        self._changed(conn, now_us)
        on_list = conn.execute(select(func.count()).where(dnc_entries.c.list_name == list_name)).scalar_one()
        return len(new), len(existing), on_list

    def remove_numbers(self, conn: Connection, list_name: str, numbers: Iterable[int] | None, now_us: int) -> int:
        """Remove these numbers from the list (None: the whole list); how many were on it."""
        if numbers is None:
            removed = conn.execute(delete(dnc_entries).where(dnc_entries.c.list_name == list_name)).rowcount
            self.inputs.dnc.remove(None, list_name)
        else:
            keys = list(set(numbers))
            c = dnc_entries.c
            removed = sum(
                conn.execute(delete(dnc_entries).where(c.list_name == list_name, c.number.in_(part))).rowcount
                for part in chunks(keys)
            )
            self.inputs.dnc.remove(keys, list_name)
        self._changed(conn, now_us)
        return removed

    def markets_changed(self, conn: Connection, now_us: int) -> None:
        """After account attributes change (a region can name a person's zone)."""
        self.load_markets(conn)
        self._changed(conn, now_us)

    def _changed(self, conn: Connection, now_us: int) -> None:
        for callback in self.on_inputs_changed:
            callback(conn, now_us)

    # --- use cases -------------------------------------------------------------------

    async def list_numbers(
        self, list_name: str, source: str | None, expires_on: date | None, numbers: Iterable[int], now_us: int
    ) -> tuple[int, int, int]:
        """add_numbers in a writer transaction, then the changed inputs are published."""
        done: tuple[int, int, int] = await self.writer.run(
            lambda conn: self.add_numbers(conn, list_name, source, expires_on, numbers, now_us)
        )
        self._published()
        return done

    async def unlist_numbers(self, list_name: str, numbers: Iterable[int] | None, now_us: int) -> int:
        removed: int = await self.writer.run(lambda conn: self.remove_numbers(conn, list_name, numbers, now_us))
        self._published()
        return removed

    def _published(self) -> None:
        for callback in self.after_inputs_changed:
            callback()


def list_summaries(conn: Connection, today: int) -> list[dict]:
    c = dnc_entries.c
    rows = conn.execute(
        select(c.list_name, c.source, c.expires_on, func.count(), func.max(c.loaded_at))
        .group_by(c.list_name, c.source, c.expires_on)
        .order_by(c.list_name)
    ).all()
    out: dict[str, dict] = {}
    for list_name, source, expires_on, count, loaded_at in rows:
        entry = out.setdefault(
            list_name,
            {"name": list_name, "numbers": 0, "in_force": 0, "sources": [], "expires_on": [], "last_loaded_at": 0},
        )
        entry["numbers"] += count
        entry["in_force"] += count if expires_on is None or expires_on > today else 0
        if source not in entry["sources"]:
            entry["sources"].append(source)
        day = from_day(expires_on)
        if day not in entry["expires_on"]:
            entry["expires_on"].append(day)
        entry["last_loaded_at"] = max(entry["last_loaded_at"], loaded_at)
    return list(out.values())
