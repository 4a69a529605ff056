"""Parsing vLLM's prefix-cache counters from Prometheus text."""

from __future__ import annotations

import pytest

from bench.vllm_metrics import PrefixCounters, parse

PAGE = """\
# HELP vllm:prefix_cache_queries_total Prefix cache queries, in terms of number of queried tokens.
# TYPE vllm:prefix_cache_queries_total counter
vllm:prefix_cache_queries_total{engine="0",model_name="smollm2_135m"} 1200.0
vllm:prefix_cache_queries_total{engine="1",model_name="smollm2_135m"} 800.0
# HELP vllm:prefix_cache_hits_total Prefix cache hits, in terms of number of cached tokens.
# TYPE vllm:prefix_cache_hits_total counter
vllm:prefix_cache_hits_total{engine="0",model_name="smollm2_135m"} 960.0
vllm:prefix_cache_hits_total{engine="1",model_name="smollm2_135m"} 40.0
vllm:prefix_cache_hits_created{engine="0",model_name="smollm2_135m"} 1.7e9
vllm:num_requests_running{engine="0"} 3.0
"""


def test_counters_are_summed_over_engines_and_created_series_ignored() -> None:
    c = parse(PAGE)
    assert c == PrefixCounters(2000.0, 1000.0)
    assert c.hit_rate == 0.5
    assert (c - PrefixCounters(1000.0, 200.0)) == PrefixCounters(1000.0, 800.0)


def test_a_page_without_the_counters_says_which_is_missing() -> None:
    with pytest.raises(KeyError, match="prefix_cache_queries"):
        parse("vllm:num_requests_running 1\n")
