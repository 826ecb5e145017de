"""Bounds of query parameters, checked before anything reaches the database: integers
within what a database column holds (declared in the OpenAPI document with ge/le), days
within the supported calendar."""

from __future__ import annotations

from datetime import date

from litestar.exceptions import ValidationException

from contextsvc.timeutil import EARLIEST, LATEST

# Ids and cursors: well within a BIGINT, and exact as a floating-point number, so the
# OpenAPI documents (which write bounds as JSON numbers) state the bound exactly.
MAX_ID = 2**62
FIRST_DAY, LAST_DAY = EARLIEST.date(), LATEST.date()


def supported_day(name: str, value: date | None, where: str) -> date | None:
    if value is not None and not FIRST_DAY <= value < LAST_DAY:
        raise ValidationException(
            f"Validation failed for {where}",
            extra=[{"key": name, "message": f"{name} must lie between {FIRST_DAY} and {LAST_DAY} (UTC days)"}],
        )
    return value
