"""One colour per protocol, the same in every figure and in the viewer (colour-blind safe).

Okabe & Ito's eight colours (distinguishable under the common colour-vision deficiencies), one
per protocol in the order of ``conf/sweep/protocols.yaml``; a protocol outside that list gets a
stable grey. Roles in the role heatmap use Paul Tol's "muted" scheme (also colour-blind safe).
"""

from __future__ import annotations

import zlib

PROTOCOLS = (
    "coordinator",
    "sequential",
    "broadcast",
    "shared",
    "ripple",
    "stigmergic",
    "morphogenetic",
    "clonal",
)
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
)
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
ROLE_COLOURS = (
    "#CC6677",
    "#332288",
    "#DDCC77",
    "#117733",
    "#88CCEE",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
)
OTHER = "#BBBBBB"


def protocol_of(arm: str) -> str:
    """The protocol of an arm label (``ripple(fanout:3)`` -> ``ripple``)."""
    return arm.split("(", 1)[0]


def colour(protocol_or_arm: str) -> str:
    name = protocol_of(protocol_or_arm)
    if name in PROTOCOLS:
        return OKABE_ITO[PROTOCOLS.index(name)]
    grey = 0x40 + zlib.crc32(name.encode()) % 0x60
    return f"#{grey:02x}{grey:02x}{grey:02x}"


def marker(protocol_or_arm: str) -> str:
    name = protocol_of(protocol_or_arm)
    i = PROTOCOLS.index(name) if name in PROTOCOLS else zlib.crc32(name.encode())
    return MARKERS[i % len(MARKERS)]


def order(arms: list[str]) -> list[str]:
    """Arms in the fixed protocol order (unknown protocols last, by name)."""

    def key(arm: str) -> tuple[int, str]:
        p = protocol_of(arm)
        return (PROTOCOLS.index(p) if p in PROTOCOLS else len(PROTOCOLS), arm)

    return sorted(arms, key=key)
