"""Token counting without a downloaded tokenizer.

tiktoken fetches its BPE files at run time, and this service runs without internet. We
split text the way GPT-style tokenizers pre-split it (letter runs, 1–3 digit groups,
punctuation runs, each optionally led by a space) and charge every piece an upper bound
of what BPE spends on it: one token per started 4 letters, one per digit group, one per
punctuation character. Real tokenizers merge more than that, so the estimate errs high
and a block estimated within `max_tokens` fits the real budget.
"""

from __future__ import annotations

import re
from functools import lru_cache

# Each estimated token is exactly one match: up to 4 letters of a word, up to 3 digits,
# one punctuation character, or a newline. Counting matches runs in C.
_TOKEN = re.compile(r"[^\W\d_]{1,4}|\d{1,3}|[^\w\s]|_|\n")


def count_tokens(text: str) -> int:
    return len(_TOKEN.findall(text))


@lru_cache(maxsize=262_144)
def line_tokens(line: str) -> int:
    """count_tokens for one line, memoised: a person's lines repeat from read to read
    until a call lands or a day passes, and the regex is most of a render's cost."""
    return count_tokens(line)
