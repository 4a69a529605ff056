"""``python -m sweep.cli``: the same as the ``orgsweep`` console script."""

from sweep.cli.main import run

run()
