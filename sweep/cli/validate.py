"""``orgsweep validate``: check a config and report every problem at once."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sweep.config import build, compose
    from sweep.plan import plan

    typed, warns = build(compose(list(args.overrides)))
    p = plan(typed)
    for w in warns:
        print(f"warning: {w}")
    print(f"ok: sweep {typed.name!r} is valid ({len(p.specs)} episodes)")
    return 0
