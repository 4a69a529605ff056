"""The retry rule of an episode that failed on infrastructure (``InfraError``, a lost runner).

Attempt ``k`` failed: attempt ``k + 1`` runs after the server's ``Retry-After`` if it sent one,
else after ``backoff_s * 2 ** (k - 1)``; after ``max_attempts`` the episode is recorded as
``failed`` (a poison episode never stops a sweep). Used by the executor and by ``bench/``.
"""

from __future__ import annotations


def retry_delay(
    attempt: int, max_attempts: int, backoff_s: float, retry_after_s: float | None = None
) -> float | None:
    """Seconds before the next attempt after ``attempt`` failed; None when it was the last."""
    if attempt >= max_attempts:
        return None
    return retry_after_s or backoff_s * 2 ** (attempt - 1)
