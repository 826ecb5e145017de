"""Bounds of query parameters, checked before anything reaches the database: integers
within what a database column holds (declared in the OpenAPI document with ge/le), days
within the supported calendar."""

from __future__ import annotations

from datetime import date

from litestar.exceptions import ValidationException

from contextsvc.timeutil import EARLIEST, LATEST

MAX_ID = 2**63 - 1  # the largest value a BIGINT column holds: ids and cursors
FIRST_DAY, LAST_DAY = EARLIEST.date(), LATEST.date()


def supported_day(name: str, value: date | None, where: str) -> date | None:
    if value is not None and not FIRST_DAY <= value < LAST_DAY:
        raise ValidationException(
            f"Validation failed for {where}",
            extra=[{"key": name, "message": f"{name} must lie between {FIRST_DAY} and {LAST_DAY} (UTC days)"}],
        )
    return value
