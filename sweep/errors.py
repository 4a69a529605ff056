"""User-facing errors: printed as one clear message, without a traceback."""

from __future__ import annotations

from collections.abc import Sequence


class UserError(Exception):
    """Bad input (config, override, task file, results directory): say what and how to fix."""


class ConfigError(UserError):
    """Every problem found in a config at once."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the config:\n{lines}")
