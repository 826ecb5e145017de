"""Token counting without a downloaded tokenizer.

tiktoken fetches its BPE ranks at run time, and this service runs without internet. The
estimate splits text the way GPT-style tokenizers (cl100k_base, o200k_base) pre-split it
and charges each piece at least what BPE spends on it:

- a word costs one token per started 4 lowercase letters, and one per capital letter
  (all-caps runs and ids such as 0035e00000BBBBB split much finer than words do);
- digits cost one per group of up to 3 (those tokenizers never merge more);
- each punctuation character, underscore and newline costs one;
- a space costs nothing where the next word absorbs it, and one before a digit, before
  another space and at the end (digits and space runs are pieces of their own);
- a non-ASCII character costs its UTF-8 byte count (byte-level BPE never spends more).

tests/test_prompt.py holds the reference: prompt lines, names, ids and numbers counted
with both real tokenizers, each of which the estimate must reach; over them it errs high
by about a quarter, so a block estimated within `max_tokens` fits the real budget.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Each match is one estimated token; non-ASCII characters add their extra UTF-8 bytes.
# Counting matches runs in C.
_TOKEN = re.compile(r"[A-Z][a-z]{0,3}|[a-z]{1,4}|\d{1,3}|[^\x00-\x7f]|[^\w\s]|_|\n|[^\S\n](?![^\s\d])")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text)) + len(text.encode()) - len(text)


@lru_cache(maxsize=262_144)
def line_tokens(line: str) -> int:
    """count_tokens for one line, memoised: a person's lines repeat from read to read
    until a call lands or a day passes, and the regex is most of a render's cost."""
    return count_tokens(line)
