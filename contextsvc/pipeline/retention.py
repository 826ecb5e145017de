"""Retention policy: how many days a call is kept, by default, per source or per region
(of the caller's phone number). Pure. Where several rules match, the shortest wins: a
retention limit is a privacy promise."""

from __future__ import annotations

import msgspec
import phonenumbers

from contextsvc.calls import Call


class RetentionPolicy(msgspec.Struct, frozen=True):
    default_days: int = 0  # 0: keep forever
    by_source: dict[str, int] = {}
    by_region: dict[str, int] = {}  # ISO country of the caller's phone, e.g. DE

    @property
    def active(self) -> bool:
        return bool(self.default_days or self.by_source or self.by_region)

    @property
    def shortest_days(self) -> int:
        """No call younger than this is ever purged (0: nothing is)."""
        days = [d for d in (self.default_days, *self.by_source.values(), *self.by_region.values()) if d]
        return min(days, default=0)

    def days_for(self, call: Call) -> int | None:
        """Days to keep this call; None: forever."""
        limits = [self.default_days] if self.default_days else []
        if call.source and call.source in self.by_source:
            limits.append(self.by_source[call.source])
        if self.by_region and call.who.phone:
            region = phonenumbers.region_code_for_number(phonenumbers.parse(call.who.phone))
            if region in self.by_region:
                limits.append(self.by_region[region])
        return min(limits) if limits else None

    @classmethod
    def parse(cls, default_days: int, rules: str) -> RetentionPolicy:
        """rules: 'source:dialer=90, region:DE=30' (comma-separated)."""
        by: dict[str, dict[str, int]] = {"source": {}, "region": {}}
        for rule in filter(None, (r.strip() for r in rules.split(","))):
            target, _, days = rule.partition("=")
            kind, _, name = target.partition(":")
            if kind not in by or not name or not days.strip().isdigit() or int(days) < 1:
                raise ValueError(f"retention rule {rule!r}: expected source:NAME=DAYS or region:CC=DAYS")
            by[kind][name.strip() if kind == "source" else name.strip().upper()] = int(days)
        if default_days < 0:
            raise ValueError("retention days must be 0 (keep forever) or more")
        return cls(default_days, by["source"], by["region"])
