"""Looking at request bytes before (or instead of) decoding them, for bodies a decoder
cannot take: nesting deeper than the service accepts, bytes that are not UTF-8, and a
batch whose items must be told apart although one of them cannot be decoded. Pure.

The scans walk tokens (strings whole, runs of brackets as one token) with `re`, so they
cost a Python step per token, not per byte; each is bounded (MAX_TOKENS) so a hostile
body cannot make one run long.
"""

from __future__ import annotations

import codecs
import re
from typing import Any

import msgspec

MAX_DEPTH = 64  # a CallEvent is 3 deep; a segment condition a few dozen at most
MAX_TOKENS = 4_000_000
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[{]+|[\]}]+|[,:]')
_UTF8_MARK = "\U0010fffe"  # a noncharacter: never in a valid body's text


def _mark(exc: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: each undecodable byte sequence becomes the mark."""
    assert isinstance(exc, UnicodeDecodeError)
    return _UTF8_MARK, exc.end


codecs.register_error("contextsvc-mark", _mark)


class TooComplex(Exception):
    """The body has more tokens than a scan will walk."""


def deeper_than(raw: bytes, limit: int = MAX_DEPTH) -> str | None:
    """None if the JSON nests at most `limit` levels; else the top-level key under which it
    went deeper ("body" when it is the top level itself)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:  # cannot be deeper: the common case
        return None
    depth, key, last_string = 0, "body", None
    for tokens, match in enumerate(_TOKEN.finditer(raw)):
        if tokens > MAX_TOKENS:
            return key
        begin, end = match.span()
        first = raw[begin]
        if first == 0x22:  # '"'
            last_string = (begin, end)
        elif first in (0x5B, 0x7B):  # a run of '[' and '{' (not copied: it may be millions long)
            depth += end - begin
            if depth > limit:
                return key
        elif first in (0x5D, 0x7D):  # ']' '}'
            depth -= end - begin
        elif first == 0x3A and depth == 1 and last_string is not None:  # ':' after a top-level key
            key = raw[last_string[0] + 1 : last_string[1] - 1].decode("utf-8", "replace")
    return None


def split_array(raw: bytes, key: str) -> list[memoryview] | None:
    """The items of the array at top-level `key` of a JSON object, as views of the raw
    bytes (not copies: one item may be most of a 32 MB body), without decoding them (one
    may be too deep for any decoder). None if the body is not an object with that key
    holding an array. Raises TooComplex past MAX_TOKENS."""
    wanted = b'"' + key.encode() + b'"'
    view = memoryview(raw)
    depth = 0
    in_array, start = False, -1
    spans: list[tuple[int, int]] = []
    pending_key: bytes | None = None
    for tokens, match in enumerate(_TOKEN.finditer(raw)):
        if tokens > MAX_TOKENS:
            raise TooComplex
        begin, end = match.span()
        first = raw[begin]
        if first in (0x5B, 0x7B):  # a run of '[' and '{' (not copied: it may be millions long)
            if depth == 1 and pending_key == wanted and first == 0x5B and not in_array:
                in_array, start = True, begin + 1
            depth += end - begin
            continue
        if first in (0x5D, 0x7D):
            if in_array and depth - (end - begin) < 2:  # the run closes the array
                spans.append((start, begin + depth - 2))
                in_array, pending_key = False, None
            depth -= end - begin
            continue
        if first == 0x22:
            if depth == 1:
                pending_key = match.group()
        elif first == 0x2C and in_array and depth == 2:  # ',' between items
            spans.append((start, begin))
            start = end
    if not spans and start == -1:
        return None
    items = [_stripped(view, a, b) for a, b in spans]
    return [] if len(items) == 1 and not len(items[0]) else items


def _stripped(view: memoryview, start: int, end: int) -> memoryview:
    while start < end and view[start] in b" \t\r\n":
        start += 1
    while end > start and view[end - 1] in b" \t\r\n":
        end -= 1
    return view[start:end]


def utf8_problem(raw: bytes) -> tuple[str, int] | None:
    """(field path, byte offset) of the first bytes that are not UTF-8, or None."""
    try:
        raw.decode("utf-8")
        return None
    except UnicodeDecodeError as exc:
        offset = exc.start
    text = raw.decode("utf-8", "contextsvc-mark")
    try:
        value = msgspec.json.decode(text.encode("utf-8", "surrogatepass"))
    except (msgspec.MsgspecError, RecursionError, UnicodeError):
        return "body", offset
    return _marked_path(value, "") or "body", offset


def _marked_path(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path.replace(_UTF8_MARK, "\ufffd") if _UTF8_MARK in value else None
    if isinstance(value, dict):
        for name, item in value.items():
            here = f"{path}.{name}" if path else str(name)
            if _UTF8_MARK in str(name):
                return here.replace(_UTF8_MARK, "\ufffd")
            found = _marked_path(item, here)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _marked_path(item, f"{path}[{index}]")
            if found:
                return found
    return None
