"""Persistence only: the core tables and the shared metadata, engines, and the SQL
helpers every package uses (bulk insert, counter upserts, long IN lists)."""

from __future__ import annotations

from contextsvc.store.tables import JsonText, Micros, metadata
from contextsvc.store import tables
from contextsvc.store.engine import create_engine, create_read_engine, create_schema, pause_for_readers, ping, schema_drift
from contextsvc.store.sql import add_counts, add_deltas, bulk_insert, chunks, delete_in, select_in
from contextsvc.store.codec import from_json_text, json_text

__all__ = ["add_counts", "add_deltas", "bulk_insert", "chunks", "create_engine", "create_read_engine", "create_schema", "delete_in", "from_json_text", "json_text", "JsonText", "metadata", "Micros", "pause_for_readers", "ping", "schema_drift", "select_in", "tables"]
