"""``python -m sweep.cli``: the ``orgsweep`` command."""

from sweep.cli.main import run

run()
