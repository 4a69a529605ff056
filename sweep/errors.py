"""User-facing errors: printed as one clear message, without a traceback."""

from __future__ import annotations

import errno
from collections.abc import Sequence


class UserError(Exception):
    """Bad input (config, override, task file, results directory): say what and how to fix."""


class ConfigError(UserError):
    """Every problem found in a config at once."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in the config:\n{lines}")


def os_error_message(e: OSError) -> str:
    """One line for an error of the machine (disk full, read-only, permissions) and what to do.

    Commits are atomic (a part appears whole or not at all), so what was committed before the
    error is intact and the same command resumes once the cause is fixed."""
    text = str(e)
    where = f" ({e.filename})" if e.filename else ""
    if e.errno == errno.ENOSPC or "No space left on device" in text:
        return (
            f"no space left on device{where}; everything committed before is intact: free "
            "space (or choose another results_dir=PATH) and run the same command to resume"
        )
    if e.errno in (errno.EROFS, errno.EACCES, errno.EPERM) or "Read-only file system" in text:
        return f"cannot write{where}: {e.strerror or text}; choose a writable results_dir=PATH"
    return (
        f"{e.strerror or text}{where}; nothing committed was lost: fix the cause and run the "
        "same command again"
    )
