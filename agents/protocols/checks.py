"""Checks of protocol parameters (the ``Params`` dataclasses' ``__post_init__``)."""

from __future__ import annotations


def require_whole(
    protocol: str, key: str, value: object, low: int, *, optional: bool = False
) -> None:
    """Raise ``ValueError`` naming ``protocol.key`` unless ``value`` is a whole number >= ``low``
    (or None, when ``optional``)."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        tail = " or null" if optional else ""
        raise ValueError(f"{protocol}: {key}={value!r} must be a whole number >= {low}{tail}")
