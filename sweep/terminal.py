"""Model-written text made safe for a terminal: control characters and bidi overrides escaped.

Deliverables, contributions and server messages are untrusted: an ESC sequence (``\\x1b[2J``
clears the screen) or a right-to-left override (U+202E) would act on the reader's terminal.
``printable`` shows each such character as a visible escape (``\\x1b``, ``\\u202e``); newlines
and tabs stay. Only what is printed changes: stored data is never rewritten.
"""

from __future__ import annotations

import polars as pl

_KEEP = {"\n", "\t"}
# C0 and C1 controls, DEL, and the Unicode bidi embedding/override/isolate/mark characters.
_UNSAFE = [
    chr(c)
    for c in (*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F)
    if chr(c) not in _KEEP
] + [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
_ESCAPES = [f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in _UNSAFE]
_TABLE = str.maketrans(dict(zip(_UNSAFE, _ESCAPES, strict=True)))


def printable(text: str) -> str:
    """``text`` with every unsafe character replaced by its visible escape."""
    return text.translate(_TABLE)


def printable_frame(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with every string column passed through ``printable`` (for table output)."""
    strings = [c for c, t in df.schema.items() if t == pl.String]
    if not strings:
        return df
    return df.with_columns(pl.col(strings).str.replace_many(_UNSAFE, _ESCAPES))
