"""The sim's vocabulary: what a synthetic model "knows" about naming roles and phrasing work.

World knowledge, like a real model's: it comes from nowhere near the task object. Written as
text tables (one word list, one domain or one sentence a line) and read once at import.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in text.strip().splitlines())


def _by_domain(text: str) -> dict[str, tuple[str, ...]]:
    """``domain: word, word, ...`` lines."""
    rows = (line.split(":", 1) for line in _lines(text))
    return {domain: tuple(w.strip() for w in words.split(",")) for domain, words in rows}


QUALIFIERS = _words(
    """
    Lead Senior Principal Staff Chief Associate Strategic Applied Embedded Field Regional
    Interim
    """
)
NOUNS = _words(
    """
    Architect Analyst Engineer Strategist Planner Reviewer Specialist Advisor Coordinator
    Auditor Designer Steward
    """
)
CORES: dict[str, tuple[str, ...]] = _by_domain(
    """
    security: Security, Threat, Identity, AppSec, Zero-Trust, Incident
    infrastructure: Platform, Reliability, Network, Cloud, Capacity, Release
    data: Data, Pipeline, Analytics, Lineage, ML, Warehouse
    compliance: Compliance, Legal, Privacy, Audit, Regulatory, Policy
    finance: Finance, Budget, Treasury, Cost, FP&A, Investment
    operations: Operations, Process, Supply Chain, Quality, Logistics, Service
    product: Product, UX, Growth, Roadmap, Experience, Launch
    hr: People, Talent, Learning, Compensation, Workforce, Culture
    procurement: Procurement, Vendor, Contract, Sourcing, Supplier, Category
    customer: Customer, Support, Retention, Account, Community, Loyalty
    strategy: Strategy, Market, Corporate, Portfolio, Competitive, Economic
    sustainability: Sustainability, Carbon, ESG, Energy, Circularity, Climate
    """
)
GENERIC = _words("Programme Delivery Risk Change Transformation Governance")

VERBS = _words("Assessed Mapped Drafted Quantified Reviewed Specified Outlined")
FILLER = _lines(
    """
    The approach follows established practice in comparable organisations.
    Dependencies on other teams are listed so owners can be assigned.
    Risks are ranked by likelihood and impact.
    Timelines are realistic given the stated constraints.
    Open questions are flagged for the steering group.
    Metrics are defined so progress can be tracked.
    """
)
