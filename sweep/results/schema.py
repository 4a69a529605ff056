"""Result tables: every column and its dtype, defined once (data, not code).

``runs``: one row per episode step (docs/design/protocols.md section 4); an episode is
committed when its ``runs`` rows exist. ``agents``: one row per agent per step (final turn).
``transcripts``: the text of every turn, the coordinator's plan and the deliverable, for
``show`` and ``rescore``. Readers keep, per ``episode_id``, the rows of its latest
(``attempt``, ``batch``) in ``runs``, and only the ``agents``/``transcripts`` rows of that same
commit, so rows orphaned by a crash between part files never count twice.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1

_ID = [
    ("episode_id", pa.string()),
    ("attempt", pa.int32()),
    ("batch", pa.string()),  # the commit (flush) that wrote the row; links an attempt's rows
    ("step", pa.int32()),
]

RUNS = pa.schema(
    [
        *_ID,
        ("sweep", pa.string()),
        ("block", pa.string()),
        ("protocol", pa.string()),
        ("protocol_params", pa.string()),  # canonical JSON
        ("model", pa.string()),  # registry name
        ("model_id", pa.string()),  # Hugging Face id / gateway name
        ("n_agents", pa.int32()),
        ("roles", pa.string()),  # free | fixed
        ("level", pa.string()),
        ("task_id", pa.string()),
        ("task_hash", pa.string()),
        ("domains", pa.string()),  # comma-separated
        ("seed", pa.int64()),
        ("steps", pa.int32()),
        ("shock", pa.string()),  # shock kind at this step, "" when none
        ("judge_model", pa.string()),
        ("score_set", pa.string()),
        ("accuracy", pa.int8()),
        ("completeness", pa.int8()),
        ("coherence", pa.int8()),
        ("actionability", pa.int8()),
        ("mission_score", pa.int8()),
        ("quality", pa.float64()),  # (acc + comp + coh + act) / 16, in [0.25, 1]
        ("mission_relevance", pa.float64()),  # mission / 4
        ("judge_failed", pa.bool_()),
        # The step ran without its judge (cost.judge=deferred): the judge's pass scores its
        # stored deliverable into the scores table's ``default`` set, which readers put in
        # place of this row's null scores (sweep.results.scores). Null in results before it.
        ("judge_deferred", pa.bool_()),
        ("n_active", pa.int32()),  # agents present at this step (after shocks)
        ("n_participating", pa.int32()),
        ("n_abstained_voluntary", pa.int32()),
        ("n_excluded", pa.int32()),
        ("n_parse_errors", pa.int32()),
        ("n_invalid_refs", pa.int32()),
        ("n_unique_roles", pa.int32()),
        ("role_duplication", pa.float64()),
        ("role_gini", pa.float64()),
        ("hierarchy_depth", pa.int32()),
        ("llm_calls", pa.int32()),  # agent (and coordinator) calls only
        ("repair_calls", pa.int32()),
        ("judge_calls", pa.int32()),
        ("prompt_tokens", pa.int64()),  # agents
        ("completion_tokens", pa.int64()),
        ("judge_prompt_tokens", pa.int64()),
        ("judge_completion_tokens", pa.int64()),
        ("rounds", pa.int32()),
        ("intentions_changed", pa.int32()),  # broadcast only, else null
        ("context_compacted", pa.bool_()),
        ("deliverable_truncated", pa.bool_()),
        ("deliverable_chars", pa.int32()),
        ("wall_s", pa.float64()),
        ("gpu_s", pa.float64()),
        ("cost_usd", pa.float64()),  # agent_cost_usd + judge_cost_usd
        # Accounting parts (docs/design/cost.md "Accounting"); null in results written before
        # them, where gpu_s and cost_usd are the totals.
        ("agent_gpu_s", pa.float64()),
        ("judge_gpu_s", pa.float64()),
        ("agent_cost_usd", pa.float64()),
        ("judge_cost_usd", pa.float64()),
        ("status", pa.string()),  # ok | failed
        ("error_kind", pa.string()),
        ("error", pa.string()),
        ("backend", pa.string()),
        ("node", pa.string()),  # Ray node that ran the episode
        ("finished_at", pa.timestamp("ms", tz="UTC")),
        ("n_agent_rows", pa.int32()),  # agents rows its commit wrote for this step (verify.py)
        ("n_transcript_rows", pa.int32()),  # transcripts rows likewise
        # What the servers said (agents.served, docs/design/inference.md); null in older parts.
        ("served_model", pa.string()),  # model ids the agents' server reported, comma-separated
        ("judge_served_model", pa.string()),  # likewise for the judge ("sim:<name>" on the sim)
        ("served_fingerprint", pa.string()),  # system_fingerprints seen (agents and judge)
        ("served_mismatch", pa.int32()),  # calls whose served id is not the configured model
        ("tokens_estimated", pa.int32()),  # agent calls whose tokens are estimates (no usage)
        ("judge_tokens_estimated", pa.int32()),  # judge calls likewise
    ]
)

AGENTS = pa.schema(
    [
        *_ID,
        ("agent", pa.int32()),  # -1 = the coordinator
        ("model", pa.string()),
        ("role", pa.string()),  # as written
        ("role_norm", pa.string()),  # case-folded, punctuation stripped
        ("participate", pa.bool_()),
        ("abstain_reason", pa.string()),  # "", voluntary, excluded_by_coordinator, ...
        ("builds_on", pa.list_(pa.int32())),
        ("invalid_refs", pa.int32()),
        ("parse_error", pa.bool_()),
        ("calls", pa.int32()),
        ("repairs", pa.int32()),
        ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()),
        ("latency_s", pa.float64()),
        ("round", pa.int32()),
        ("contribution_chars", pa.int32()),
        ("served_model", pa.string()),  # model ids its server reported (agents.served)
        ("tokens_estimated", pa.int32()),  # its calls whose token counts are estimates
    ]
)

TRANSCRIPTS = pa.schema(
    [
        *_ID,
        ("agent", pa.int32()),  # -1 coordinator, -2 deliverable
        ("round", pa.int32()),
        ("kind", pa.string()),  # turn | intention | coordinator | deliverable
        ("role", pa.string()),
        ("participate", pa.bool_()),
        ("text", pa.string()),  # contribution / plan / deliverable
        ("rationale", pa.string()),
        ("error", pa.string()),
        ("prompt", pa.string()),  # "" unless store_prompts
    ]
)

# ``scores``: one row per (run step, score set) written by ``orgsweep rescore`` (another judge
# re-scoring stored deliverables). The key columns are those of the runs row it scores, so a
# score belongs to one committed attempt. ``analysis.load(dir, score_set=NAME)`` puts a set's
# columns in place of the inline (``default``) scores of ``runs``.
SCORES = pa.schema(
    [
        *_ID,
        ("score_set", pa.string()),  # e.g. glm5-r2 (judge model - rubric version) or --name
        ("judge_model", pa.string()),  # registry name
        ("judge_model_id", pa.string()),  # Hugging Face id / gateway name
        ("rubric_version", pa.string()),
        ("judge_id", pa.string()),  # hash of the judge's identity; one per score set
        ("accuracy", pa.int8()),
        ("completeness", pa.int8()),
        ("coherence", pa.int8()),
        ("actionability", pa.int8()),
        ("mission_score", pa.int8()),
        ("quality", pa.float64()),
        ("mission_relevance", pa.float64()),
        ("judge_failed", pa.bool_()),
        ("judge_calls", pa.int32()),
        ("judge_prompt_tokens", pa.int64()),
        ("judge_completion_tokens", pa.int64()),
        ("judge_gpu_s", pa.float64()),  # what this rescore spent (runs' judge_* columns: the
        ("judge_cost_usd", pa.float64()),  # sweep's inline judge), null before these columns
        ("justification", pa.string()),
        ("error", pa.string()),
        ("scored_at", pa.timestamp("ms", tz="UTC")),
        ("judge_served_model", pa.string()),  # as in runs (agents.served)
        ("judge_tokens_estimated", pa.int32()),
    ]
)
SCORE_KEY = tuple(name for name, _ in _ID)
# The runs columns a score set replaces.
SCORE_COLUMNS = (
    "judge_model",
    "accuracy",
    "completeness",
    "coherence",
    "actionability",
    "mission_score",
    "quality",
    "mission_relevance",
    "judge_failed",
    "judge_calls",
    "judge_prompt_tokens",
    "judge_completion_tokens",
    "judge_served_model",
    "judge_tokens_estimated",
)

TABLES: dict[str, pa.Schema] = {
    "runs": RUNS,
    "agents": AGENTS,
    "transcripts": TRANSCRIPTS,
    "scores": SCORES,
}
# Written first to last: an episode is committed by its runs rows, so runs go last.
WRITE_ORDER = ("transcripts", "agents", "runs")
DELIVERABLE = -2
