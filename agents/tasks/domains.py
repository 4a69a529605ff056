"""Domain vocabularies for the task generator: data, not logic.

Each domain lists its subjects, goals, requirement facets (``{subject}`` and ``{n}`` are filled
in), the roles of its fixed-role catalogue, and information that L4 tasks declare missing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Domain:
    roles: tuple[str, ...]
    subjects: tuple[str, ...]
    goals: tuple[str, ...]
    analyses: tuple[str, ...]
    actions: tuple[str, ...]
    unknowns: tuple[str, ...]


def _d(**kw: tuple[str, ...]) -> Domain:
    return Domain(**kw)


DOMAIN_CATALOGUE: dict[str, Domain] = {
    "security": _d(
        roles=("Security Architect", "Threat Modeler", "Penetration Tester",
               "Identity Engineer", "SOC Analyst", "AppSec Reviewer"),
        subjects=("the public payments API", "the partner SSO gateway",
                  "the customer data lake", "the mobile banking backend"),
        goals=("security review", "zero-trust migration plan", "incident readiness assessment"),
        analyses=("Identify the top {n} threats to {subject} with likelihood and impact",
                  "Assess authentication and authorization weaknesses of {subject}",
                  "Map attack surface of {subject} including third-party dependencies",
                  "Evaluate secrets handling and key rotation for {subject}"),
        actions=("Define a remediation plan for {subject} with owners and {n}-day deadlines",
                 "Specify monitoring and alerting rules for {subject}",
                 "Write an incident response runbook for a breach of {subject}"),
        unknowns=("current penetration test results", "inventory of service accounts"),
    ),
    "infrastructure": _d(
        roles=("Platform Engineer", "Site Reliability Engineer", "Network Architect",
               "Cloud Cost Analyst", "Capacity Planner", "Release Manager"),
        subjects=("the Kubernetes platform", "the on-premise data centre",
                  "the multi-region CDN", "the legacy batch cluster"),
        goals=("migration plan", "resilience review", "capacity plan"),
        analyses=("Assess single points of failure in {subject}",
                  "Estimate capacity headroom of {subject} for {n} months of growth",
                  "Compare hosting options for {subject} on cost and risk",
                  "Review change-management practices around {subject}"),
        actions=("Define a phased cut-over plan for {subject} with rollback steps",
                 "Set service-level objectives for {subject} and the error budget policy",
                 "Plan a disaster-recovery test of {subject} within {n} days"),
        unknowns=("current utilisation metrics", "vendor contract end dates"),
    ),
    "data": _d(
        roles=("Data Engineer", "Data Architect", "Analytics Lead",
               "Data Quality Steward", "ML Engineer", "Data Governance Officer"),
        subjects=("the customer 360 warehouse", "the event streaming pipeline",
                  "the churn prediction model", "the finance reporting mart"),
        goals=("data platform redesign", "data quality programme", "pipeline modernisation"),
        analyses=("Profile data quality issues in {subject} and their business impact",
                  "Assess lineage and ownership gaps in {subject}",
                  "Evaluate latency and freshness requirements of {subject}",
                  "Identify personal data flowing through {subject}"),
        actions=("Define data contracts for {subject} with {n} quality checks",
                 "Plan the migration of {subject} with a parallel-run period",
                 "Specify retention and deletion rules for {subject}"),
        unknowns=("row counts per source system", "downstream consumer list"),
    ),
    "compliance": _d(
        roles=("Compliance Officer", "Legal Counsel", "Privacy Officer",
               "Internal Auditor", "Regulatory Analyst", "Policy Writer"),
        subjects=("the GDPR programme", "the SOC 2 audit", "the AI Act readiness effort",
                  "the cross-border data transfer process"),
        goals=("compliance gap analysis", "audit preparation plan", "regulatory response"),
        analyses=("Identify regulatory obligations that apply to {subject}",
                  "Assess evidence gaps for {subject} against {n} control objectives",
                  "Evaluate contractual exposure created by {subject}",
                  "Analyse enforcement precedents relevant to {subject}"),
        actions=("Draft a control remediation schedule for {subject} over {n} weeks",
                 "Define the evidence collection process for {subject}",
                 "Prepare a regulator communication plan for {subject}"),
        unknowns=("the regulator's latest guidance", "outcome of the pending legal review"),
    ),
    "finance": _d(
        roles=("Financial Analyst", "Controller", "FP&A Lead", "Treasury Manager",
               "Cost Accountant", "Investment Analyst"),
        subjects=("the annual budget", "the cloud spend", "the new product line",
                  "the vendor consolidation programme"),
        goals=("business case", "budget reallocation", "cost reduction plan"),
        analyses=("Model the {n}-quarter cash impact of {subject}",
                  "Estimate total cost of ownership of {subject}",
                  "Analyse sensitivity of {subject} to a {n}% demand shock",
                  "Benchmark {subject} costs against peers"),
        actions=("Propose budget guardrails for {subject} with monthly reviews",
                 "Define KPIs and a reporting cadence for {subject}",
                 "Recommend a funding decision on {subject} with conditions"),
        unknowns=("final headcount plan", "FX rate assumptions for next year"),
    ),
    "operations": _d(
        roles=("Operations Manager", "Process Engineer", "Supply Chain Planner",
               "Quality Manager", "Logistics Coordinator", "Continuous Improvement Lead"),
        subjects=("the order fulfilment process", "the customer support centre",
                  "the warehouse network", "the field service operation"),
        goals=("process redesign", "operational resilience plan", "throughput improvement"),
        analyses=("Map bottlenecks in {subject} and their root causes",
                  "Assess service levels of {subject} over the last {n} weeks",
                  "Evaluate automation opportunities in {subject}",
                  "Analyse failure modes of {subject}"),
        actions=("Design a pilot for {subject} with success criteria and {n}-day review",
                 "Define standard operating procedures for {subject}",
                 "Plan staffing changes for {subject} with a transition schedule"),
        unknowns=("seasonal demand forecast", "union agreement constraints"),
    ),
    "product": _d(
        roles=("Product Manager", "UX Researcher", "Product Designer",
               "Growth Analyst", "Technical Product Owner", "Customer Success Lead"),
        subjects=("the self-service onboarding flow", "the enterprise admin console",
                  "the pricing page", "the mobile app"),
        goals=("product strategy", "launch plan", "roadmap review"),
        analyses=("Identify the top {n} user pain points in {subject}",
                  "Assess competitive positioning of {subject}",
                  "Analyse adoption funnel metrics of {subject}",
                  "Evaluate accessibility of {subject}"),
        actions=("Prioritise a roadmap for {subject} for the next {n} weeks",
                 "Define launch criteria and rollback triggers for {subject}",
                 "Design an experiment to validate changes to {subject}"),
        unknowns=("results of the last user survey", "engineering capacity next quarter"),
    ),
    "hr": _d(
        roles=("HR Business Partner", "Talent Acquisition Lead", "Learning Designer",
               "Compensation Analyst", "Employee Relations Specialist", "Org Designer"),
        subjects=("the engineering hiring plan", "the hybrid work policy",
                  "the leadership development programme", "the reorganisation of sales"),
        goals=("workforce plan", "policy redesign", "change management plan"),
        analyses=("Assess skill gaps affected by {subject}",
                  "Analyse attrition risk related to {subject} over {n} months",
                  "Evaluate fairness and legal risks of {subject}",
                  "Review employee sentiment about {subject}"),
        actions=("Draft the communication plan for {subject}",
                 "Define a training curriculum supporting {subject} within {n} weeks",
                 "Set hiring and retention targets for {subject}"),
        unknowns=("works council position", "budget for new hires"),
    ),
    "procurement": _d(
        roles=("Procurement Lead", "Vendor Manager", "Contract Specialist",
               "Sourcing Analyst", "Supplier Risk Analyst", "Category Manager"),
        subjects=("the SaaS vendor portfolio", "the hardware refresh tender",
                  "the outsourced support contract", "the logistics carrier panel"),
        goals=("sourcing strategy", "vendor consolidation plan", "contract renegotiation"),
        analyses=("Assess supplier concentration risk in {subject}",
                  "Compare the top {n} vendor offers for {subject}",
                  "Review contract terms of {subject} for lock-in",
                  "Evaluate supplier ESG exposure in {subject}"),
        actions=("Define the tender process and evaluation criteria for {subject}",
                 "Plan renegotiation steps for {subject} with {n}% savings target",
                 "Specify supplier performance KPIs for {subject}"),
        unknowns=("incumbent vendor's renewal price", "legal review of termination clauses"),
    ),
    "customer": _d(
        roles=("Customer Experience Lead", "Support Operations Manager",
               "Voice of Customer Analyst", "Account Manager", "Community Manager",
               "Service Designer"),
        subjects=("the complaint handling process", "the loyalty programme",
                  "the enterprise renewal process", "the chatbot channel"),
        goals=("customer experience review", "retention plan", "service redesign"),
        analyses=("Analyse the drivers of complaints about {subject}",
                  "Segment customers affected by {subject} by value",
                  "Assess response times of {subject} against a {n}-hour target",
                  "Evaluate churn signals linked to {subject}"),
        actions=("Define service recovery steps for {subject}",
                 "Plan a feedback loop from {subject} to product teams",
                 "Set {n} customer-facing commitments for {subject}"),
        unknowns=("net promoter score by segment", "contact-centre staffing data"),
    ),
    "strategy": _d(
        roles=("Strategy Lead", "Market Analyst", "Corporate Development Manager",
               "Chief of Staff", "Economist", "Portfolio Manager"),
        subjects=("the entry into the German market", "the acquisition of a competitor",
                  "the platform business model", "the sustainability strategy"),
        goals=("strategic options paper", "board recommendation", "market entry plan"),
        analyses=("Size the market opportunity of {subject} over {n} years",
                  "Assess competitive responses to {subject}",
                  "Evaluate strategic risks of {subject}",
                  "Identify capabilities needed for {subject}"),
        actions=("Recommend a go/no-go decision on {subject} with criteria",
                 "Define milestones for {subject} over the next {n} months",
                 "Plan stakeholder alignment for {subject}"),
        unknowns=("competitor's pricing plans", "board risk appetite"),
    ),
    "sustainability": _d(
        roles=("Sustainability Manager", "Carbon Accountant", "ESG Reporting Lead",
               "Energy Engineer", "Circularity Designer", "Supply Chain Sustainability Analyst"),
        subjects=("the scope 3 emissions inventory", "the data centre energy use",
                  "the packaging redesign", "the CSRD report"),
        goals=("decarbonisation plan", "ESG reporting readiness", "impact assessment"),
        analyses=("Estimate emissions of {subject} and data quality gaps",
                  "Assess regulatory reporting duties touching {subject}",
                  "Evaluate reduction levers for {subject} by cost per tonne",
                  "Analyse supplier engagement needed for {subject}"),
        actions=("Set a {n}% reduction target for {subject} with milestones",
                 "Define the data collection process for {subject}",
                 "Plan an assurance review of {subject}"),
        unknowns=("supplier emission factors", "energy contract terms"),
    ),
}

ORGS: tuple[str, ...] = (
    "Northwind Bank", "Helix Health", "Arcadia Retail", "Borealis Energy", "Quanta Logistics",
    "Meridian Insurance", "Orion Telecom", "Cobalt Manufacturing", "Vela Software",
    "Atlas Public Services", "Kestrel Airlines", "Juniper Pharma",
)

SCALES: tuple[str, ...] = (
    "a 300-person scale-up", "a 2,000-person mid-size firm", "a 40,000-person enterprise",
    "a regulated multinational", "a public-sector agency",
)

STAKEHOLDERS: tuple[tuple[str, str, str], ...] = (
    ("CEO", "ship within the quarter to meet the growth target",
     "no delay beyond {n} weeks"),
    ("General Counsel", "zero regulatory exposure", "no processing without a completed review"),
    ("CFO", "cut spend", "budget capped {n}% below last year"),
    ("CISO", "eliminate high-severity risks first", "no go-live with open critical findings"),
    ("COO", "no disruption to operations", "downtime under {n} minutes per month"),
    ("Head of Sales", "keep key accounts happy", "no change to contracts of the top {n} customers"),
    ("Works Council", "protect employees", "no headcount reduction without {n} weeks notice"),
    ("CTO", "modernise the platform", "no new legacy dependencies"),
)
