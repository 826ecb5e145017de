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

_PIECES = re.compile(r" ?[^\W\d_]+| ?\d{1,3}| ?[^\w\s]+|\s+|_+")


def count_tokens(text: str) -> int:
    tokens = 0
    for piece in _PIECES.findall(text):
        core = piece.strip()
        if not core:
            tokens += piece.count("\n")  # newlines are tokens; other whitespace rides along
        elif core[0].isalpha():
            tokens += -(-len(core) // 4)
        elif core[0].isdigit():
            tokens += 1
        else:
            tokens += len(core)
    return tokens
