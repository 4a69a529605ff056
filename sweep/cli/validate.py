"""``orgsweep validate``: check a config and report every problem at once."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from sweep.config import build, compose
    from sweep.plan import plan
    from sweep.provenance import allow_unpinned, check_revisions, served_models

    cfg = compose(list(args.overrides))
    typed, warns = build(cfg)
    p = plan(typed)
    check_revisions(typed.backend.name, served_models(p), allow_unpinned(cfg))
    for w in warns:
        print(f"warning: {w}")
    print(f"ok: sweep {typed.name!r} is valid ({len(p.specs)} episodes)")
    return 0
