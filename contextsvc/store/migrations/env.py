"""Alembic's environment, run by contextsvc/store/migrate.py (and so by `contextsvc db`).

The caller hands over the connection and the complete metadata through the config's
attributes, so this file imports nothing of the service: every package's tables are
already registered on the metadata by the composition root that calls it.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=context.config.attributes["metadata"],
    # SQLite alters a table by copying it (batch mode); PostgreSQL alters in place.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
