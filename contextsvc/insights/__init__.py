"""Calculated insights: connect rates, contact-centre metrics, first connect, velocity
and stage progression, from counters kept on ingest and per-person digests."""

from __future__ import annotations

from contextsvc.insights import people, tables
from contextsvc.insights.counters import HOUR_US, InsightCounters, hour_rows

__all__ = ["tables", "hour_rows", "HOUR_US", "InsightCounters", "people"]
