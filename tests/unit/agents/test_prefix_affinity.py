"""Prefix affinity over a ``backend.base_url`` list: the calls about one task go to one
endpoint while it is not busier than the others; different tasks spread over endpoints."""

from __future__ import annotations

import asyncio
from collections import Counter

from agents.backends.affinity import SLACK, choose, prefix_key, rank
from agents.backends.chat import ChatRequest, Message
from agents.backends.openai import OpenAIBackend
from agents.backends.options import ClientOptions, ServeOptions
from agents.catalogue import ModelSpec
from tests.fake_openai_server import FakeOpenAIServer

MODEL = ModelSpec(name="tiny", hf_id="org/tiny-chat", max_num_seqs=4, replicas=1)


def request(task: str, agent: int, seed: int = 1) -> ChatRequest:
    messages = (
        Message("system", "You are one of the agents; the last section says which one."),
        Message(
            "user", f"# Task {task} (level L1; domains: ops)\n## Agent-specific\nagent {agent}"
        ),
    )
    return ChatRequest(MODEL, messages, 0.7, 64, seed, "agent_turn")


def test_the_key_is_the_task_header_not_the_agent() -> None:
    assert (
        prefix_key(request("T1", 0))
        == prefix_key(request("T1", 5))
        == "tiny|# Task T1 (level L1; domains: ops)"
    )
    assert prefix_key(request("T1", 0)) != prefix_key(request("T2", 0))


def test_rank_is_stable_and_spreads_keys() -> None:
    assert rank("k", 4) == rank("k", 4) and sorted(rank("k", 4)) == [0, 1, 2, 3]
    firsts = Counter(rank(f"task {i}", 4)[0] for i in range(400))
    assert set(firsts) == {0, 1, 2, 3} and min(firsts.values()) > 60


def test_a_busy_preferred_endpoint_gives_way() -> None:
    best, second = rank("k", 3)[:2]
    idle = [0.0, 0.0, 0.0]
    assert choose("k", idle) == best
    loads = list(idle)
    loads[best] = SLACK  # within the slack: still preferred
    assert choose("k", loads) == best
    loads[best] = SLACK + 0.01
    assert choose("k", loads) == second


def test_when_every_endpoint_is_full_the_slack_grows_with_the_load() -> None:
    best, second = rank("k", 3)[:2]
    loads = [4.0, 4.0, 4.0]  # every engine full, four windows' worth queued at each
    loads[best] = 4.0 * (1 + SLACK)  # moving the key would gain nothing but lose its cache
    assert choose("k", loads) == best
    loads[best] = 4.0 * (1 + SLACK) + 0.01
    assert choose("k", loads) == second


def test_backend_sends_one_task_to_one_endpoint_and_two_tasks_apart() -> None:
    def prefers(t: str) -> int:
        return rank(prefix_key(request(t, 0)), 2)[0]

    names = [f"T{i}" for i in range(40)]
    tasks = [t for t in names if prefers(t) == 0][:2] + [t for t in names if prefers(t) == 1][:1]

    async def go(urls: list[str]) -> None:
        options = ClientOptions.parse({"base_url": urls, "api_key_env": None, "timeout_s": 2.0})
        backend = OpenAIBackend(options)
        try:
            for task in tasks:  # sequential calls: loads stay equal, affinity decides
                for agent in range(4):
                    await backend.chat(request(task, agent, seed=agent))
        finally:
            await backend.aclose()

    with FakeOpenAIServer({MODEL.hf_id: MODEL}, ports=2) as srv:
        asyncio.run(go(srv.urls))
        counts = dict(srv.stats.by_port)
    assert sorted(counts.values()) == [4, 8]  # least_in_flight would give 6 and 6


def test_vllm_routes_by_prefix_when_a_model_has_replicas() -> None:
    from agents.backends.vllm import PREFIX_ROUTER, llm_config_kwargs

    served = ModelSpec(name="m", hf_id="org/m", replicas=2)
    kw = llm_config_kwargs(served, ServeOptions())
    router = kw["deployment_config"]["request_router_config"]
    assert router == {"request_router_class": PREFIX_ROUTER}
    assert PREFIX_ROUTER == "ray.serve.llm.request_router.PrefixCacheAffinityRouter"
    one = llm_config_kwargs(ModelSpec(name="m", hf_id="org/m", replicas=1), ServeOptions())
    assert "request_router_config" not in one["deployment_config"]  # one replica: no choice
    off = llm_config_kwargs(served, ServeOptions(prefix_affinity=False))
    assert "request_router_config" not in off["deployment_config"]
    scaled = llm_config_kwargs(ModelSpec(name="m", hf_id="org/m"), ServeOptions(max_replicas=3))
    assert "request_router_config" in scaled["deployment_config"]


def test_an_affinity_hint_keys_by_episode() -> None:
    r = request("T1", 0)
    hinted = ChatRequest(r.model, r.messages, 0.7, 64, 1, "agent_turn", affinity="ep-1")
    assert prefix_key(hinted) == "tiny|ep-1" != prefix_key(r)
    assert hinted == r  # the hint is not part of the request's identity


def test_the_runtime_tags_every_call_of_an_episode_with_its_id() -> None:
    from agents.backends.sim import SimBackend
    from agents.catalogue import SimProfile
    from agents.judge import JudgeSpec
    from agents.tasks import generate_tasks
    from sweep.episode import run_episode
    from sweep.spec import EpisodeSpec

    seen: list[ChatRequest] = []

    class Spy(SimBackend):
        async def chat(self, request: ChatRequest):  # type: ignore[no-untyped-def]
            seen.append(request)
            return await super().chat(request)

    sim = ModelSpec("sim_a", "sim/a", sim=SimProfile())
    spec = EpisodeSpec(
        "broadcast", (), sim, 3, "free", "L1", tuple(generate_tasks(1, "L1", 1)), 0, "M",
        JudgeSpec(ModelSpec("j", "sim/j")),
    )  # fmt: skip
    asyncio.run(run_episode(spec, Spy()))
    agent_calls = [r for r in seen if r.purpose != "judge"]
    assert agent_calls and {r.affinity for r in agent_calls} == {spec.episode_id}
