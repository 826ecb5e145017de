"""Logs: stdlib logging, one JSON object per line on standard error (or readable lines
for a terminal), the same for our code, the servers (granian, uvicorn) and libraries.

Stdlib logging with python-json-logger rather than structlog: every module here and
every library we run already logs through `logging`, so one formatter on the root
handler covers them all without touching a call site; structlog would add a second
logging API and still need this bridge for everyone else's records. The formatter
encodes with msgspec, which the service already uses for every wire type.

No personal data: request lines carry the route template (never the raw path, which
can hold a phone number or an email), the status, the duration and the API key's
fingerprint; SQL errors carry no bound values (store/engine.py); and as a last guard
every other record's message and traceback has its phone numbers and email addresses
masked before it is written (`PersonalDataFilter`).
"""

from __future__ import annotations

import logging
import logging.config
import sys
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.msgspec import MsgspecFormatter

from contextsvc.privacy import mask_text

# The request being served, for every record logged while it is (api/observe.py sets it,
# as the header's bytes: decoded only for a record that is written).
REQUEST_ID: ContextVar[bytes | None] = ContextVar("contextsvc_request_id", default=None)
# Request lines: fixed fields only, so the personal-data filter leaves them alone.
REQUEST_LOGGER = "contextsvc.request"
FORMATS = ("json", "console")


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record is written, as logging's own
    last-resort handler does: a caller that swaps standard error (a test's capture, a
    daemon's redirect) never leaves the handler writing to a closed stream."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # noqa: ANN201 - the stream StreamHandler writes to
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = REQUEST_ID.get()
            if request_id is not None:
                record.request_id = request_id.decode("ascii")
        return True


class PersonalDataFilter(logging.Filter):
    """Masks phone numbers and email addresses in messages and tracebacks, whoever logs
    them (an exception message can quote a value): the last guard, not the first."""

    def __init__(self, region: str = "US") -> None:
        super().__init__()
        self.region = region
        self._format_exception = logging.Formatter().formatException

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == REQUEST_LOGGER:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: the formatter reports it as logging always does
            return True
        record.msg = mask_text(message, self.region)
        record.args = None
        if record.exc_info:
            # exc_text is what both formatters print when exc_info is gone.
            record.exc_text = mask_text(self._format_exception(record.exc_info), self.region)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text, self.region)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info, self.region)
        return True


class JsonFormatter(MsgspecFormatter):
    """{"time": …, "level": …, "logger": …, "message": …, and the record's extra fields}."""

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger", "exc_info": "exception"},
            timestamp="time",
            # uvicorn's records carry an ANSI-coloured copy of the message; taskName is 3.12's
            reserved_attrs=[*RESERVED_ATTRS, "color_message", "taskName"],
        )

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {"time": log_data.pop("time"), **log_data}


class ConsoleFormatter(logging.Formatter):
    """`12:00:01 INFO contextsvc.request: GET /v1/context/{lookup:str} 404 0.4 ms request_id=…`"""

    _EXTRA = ("request_id", "key", "trace_id")

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{name}={getattr(record, name)}" for name in self._EXTRA if getattr(record, name, None))
        return f"{line} {extra}" if extra else line


def logging_config(level: str = "INFO", fmt: str = "json", region: str = "US") -> dict[str, Any]:
    """A dictConfig for the process: also handed to granian (which configures its worker
    processes with it) and to uvicorn, so their records come out the same way."""
    if fmt not in FORMATS:
        raise SystemExit(f"CONTEXTSVC_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    level = level.upper()
    if level not in logging.getLevelNamesMapping():
        raise SystemExit(f"CONTEXTSVC_LOG_LEVEL: unknown level {level!r}")
    here = __name__
    through_root = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request_id": {"()": f"{here}.RequestIdFilter"},
            "personal_data": {"()": f"{here}.PersonalDataFilter", "region": region},
        },
        "formatters": {"json": {"()": f"{here}.JsonFormatter"}, "console": {"()": f"{here}.ConsoleFormatter"}},
        "handlers": {
            "stderr": {
                "()": f"{here}.StderrHandler",
                "formatter": fmt,
                "filters": ["request_id", "personal_data"],
            }
        },
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # The servers' own records go through the root handler. Their access logs stay
            # off: they print raw paths (a phone number in /v1/context/…); ours do not.
            "_granian": {**through_root, "level": level},
            "granian.access": {"handlers": [], "propagate": False},
            "uvicorn": through_root,
            "uvicorn.error": through_root,
            "uvicorn.access": {"handlers": [], "propagate": False},
            # Per-request chatter at INFO: httpx names every URL it calls, the MCP SDK
            # every message it handles.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            "mcp": {"level": "WARNING"},
        },
    }


def configure_logging(level: str = "INFO", fmt: str = "json", region: str = "US") -> None:
    logging.config.dictConfig(logging_config(level, fmt, region))
