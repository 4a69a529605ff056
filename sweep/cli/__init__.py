"""The ``orgsweep`` command line (console script ``sweep.cli:run``)."""

from sweep.cli.main import main, run

__all__ = ["main", "run"]
