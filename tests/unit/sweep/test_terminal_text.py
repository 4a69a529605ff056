"""Model-written text printed to a terminal cannot act on it (escape sequences, bidi overrides)."""

from __future__ import annotations

import polars as pl

from sweep.terminal import printable, printable_frame

HOSTILE = "ok\x1b[2J\x1b]0;pwned\x07 \u202eevil\u202c\r\nnext\tline\x9b"


def test_controls_and_bidi_overrides_are_escaped_visibly() -> None:
    out = printable(HOSTILE)
    assert out == "ok\\x1b[2J\\x1b]0;pwned\\x07 \\u202eevil\\u202c\\x0d\nnext\tline\\x9b"
    assert not any(ord(c) < 0x20 and c not in "\n\t" for c in out)
    assert "\u202e" not in out and "\x9b" not in out


def test_plain_text_and_other_scripts_are_unchanged() -> None:
    text = "Résumé: naïve café, 東京, مرحبا, emoji 🙂, tab\tand\nnewline"
    assert printable(text) == text


def test_frames_escape_string_columns_only() -> None:
    df = pl.DataFrame({"text": [HOSTILE, "fine"], "n": [1, 2]})
    out = printable_frame(df)
    assert out["text"].to_list() == [printable(HOSTILE), "fine"]
    assert out["n"].to_list() == [1, 2]
    assert df["text"][0] == HOSTILE  # the input frame is not changed


def test_failure_examples_are_escaped() -> None:
    from sweep.failures import FailureKind, failure_lines

    kind = FailureKind("server_error", 1, "e" * 16, "HTTP 500: \x1b[2Jboom \u202eevil")
    text = "\n".join(failure_lines([kind], "results/x", width=200))
    assert "\\x1b[2Jboom \\u202eevil" in text and "\x1b" not in text and "\u202e" not in text
