"""``orgsweep config``: the resolved config as YAML (Hydra's ``--cfg job``), then its check."""

from __future__ import annotations

import argparse
import sys


def run(args: argparse.Namespace) -> int:
    from omegaconf import OmegaConf

    from sweep.config import build, compose

    cfg = compose(list(args.overrides))
    sys.stdout.write(OmegaConf.to_yaml(cfg, resolve=True))
    build(cfg)  # every problem at once, as `orgsweep validate`
    return 0
