"""Commands that write run through a writer of their own, which only one process per
database may have: where a server holds the database, they say which admin endpoint to
ask instead (the server runs the same operation through its writer)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

from contextsvc.store import DatabaseHeld

T = TypeVar("T")
HELD = 3  # exit status: the database is held by a server


class Held(Exception):
    pass


def run_writing(command: str, endpoint: str, work: Coroutine[Any, Any, T]) -> T:
    """asyncio.run(work), or Held (after one line on stderr) when a server holds the database."""
    try:
        return asyncio.run(work)
    except DatabaseHeld:
        print(
            f"contextsvc {command}: a contextsvc server is running on this database and owns its writer. "
            f"Ask it instead: POST {endpoint} with an admin key, e.g.\n"
            f"  curl -X POST -H 'Authorization: Bearer $ADMIN_KEY' http://HOST:PORT{endpoint}",
            file=sys.stderr,
        )
        raise Held from None
