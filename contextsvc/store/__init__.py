"""Persistence only: the core tables and the shared metadata, engines, and the SQL
helpers every package uses (bulk insert, counter upserts, long IN lists)."""

from __future__ import annotations

from contextsvc.store import tables
from contextsvc.store.codec import from_json_text, json_text
from contextsvc.store.engine import create_engine, create_read_engine, create_schema, pause_for_readers, ping
from contextsvc.store.leader import leader_address, register_leader, replica_salt
from contextsvc.store.lease import DatabaseHeld, WriterLease
from contextsvc.store.migrate import UPGRADE_COMMAND, SchemaOutdated, ensure_schema, head_revision, history, revision_of
from contextsvc.store.sql import add_counts, add_deltas, bulk_insert, chunks, delete_in, select_in
from contextsvc.store.tables import JsonText, Micros, metadata
from contextsvc.store.writer_connection import WriterConnection, connect_writer

__all__ = [
    "DatabaseHeld",
    "WriterLease",
    "leader_address",
    "register_leader",
    "replica_salt",
    "WriterConnection",
    "connect_writer",
    "UPGRADE_COMMAND",
    "SchemaOutdated",
    "ensure_schema",
    "head_revision",
    "history",
    "revision_of",
    "add_counts",
    "add_deltas",
    "bulk_insert",
    "chunks",
    "create_engine",
    "create_read_engine",
    "create_schema",
    "delete_in",
    "from_json_text",
    "json_text",
    "JsonText",
    "metadata",
    "Micros",
    "pause_for_readers",
    "ping",
    "select_in",
    "tables",
]
