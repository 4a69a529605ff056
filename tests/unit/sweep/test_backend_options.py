"""Backend options are parsed once, by ``sweep.config.build``, into the typed object the
registry names (``BackendEntry.options``); a bad option is one message naming its key at
``validate`` and ``launch``; the object pickles (runner actors get it as is), and its consumers
take it without parsing again (docs/design/architecture.md section 7)."""

from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest

from agents.backends import backend_entry, make_backend, parse_options
from agents.backends import options as options_module
from agents.backends.openai import OpenAIBackend
from agents.backends.options import ClientOptions, Runtime, SimOptions, VllmOptions
from agents.backends.sim import SimBackend
from sweep.cli import main
from sweep.config import SweepConfig, build, compose
from sweep.errors import ConfigError, UserError
from sweep.plan import plan
from sweep.preflight import check_served, preflight
from sweep.sizing import engine_slots

OPENAI = ["backend=openai", "backend.api_key_env=null"]


def typed(*overrides: str) -> SweepConfig:
    return build(compose(list(overrides)))[0]


def problems(*overrides: str) -> list[str]:
    with pytest.raises(ConfigError) as e:
        build(compose(list(overrides)))
    return e.value.problems


@pytest.mark.parametrize(
    ("overrides", "cls"),
    [([], SimOptions), (OPENAI, ClientOptions), (["backend=vllm"], VllmOptions)],
)
def test_each_backend_gets_the_options_type_its_entry_names(
    overrides: list[str], cls: type
) -> None:
    backend = typed(*overrides).backend
    assert backend_entry(backend.name).options is cls
    assert isinstance(backend.options, cls) and backend.options.problems() == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["backend.invalid_output_rate=2"],
            "backend.invalid_output_rate=2: must be a number in 0..1",
        ),
        (
            ["backend.simulate_latency=sometimes"],
            "backend.simulate_latency='sometimes': must be true or false",
        ),
        ([*OPENAI, "backend.timeout_s=-1"], "backend.timeout_s=-1: must be a number >= 0"),
        (
            ["backend=vllm", "backend.max_retries=-2"],
            "backend.max_retries=-2: must be a whole number >= 0",
        ),
        (
            ["backend=vllm", "backend.base_url=http://10.0.0.1:8000/v1"],
            "backend.base_url='http://10.0.0.1:8000/v1': backend=vllm sets it from the app it "
            "deploys (serve_models); leave it null, or use backend=openai for a server of your own",
        ),
    ],
)
def test_a_bad_option_is_one_message_naming_its_key(overrides: list[str], message: str) -> None:
    assert problems(*overrides) == [message]


def test_validate_and_launch_refuse_a_bad_option_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = "backend.invalid_output_rate=1.5"
    assert main(["validate", bad]) == 2
    assert capsys.readouterr().err == (
        "orgsweep: error: 1 problem(s) in the config:\n"
        "  - backend.invalid_output_rate=1.5: must be a number in 0..1\n"
    )
    results = tmp_path / "r"
    assert main(["launch", bad, f"results_dir={results}", "--no-progress"]) == 2
    assert "backend.invalid_output_rate=1.5" in capsys.readouterr().err
    assert not results.exists()


EXTRA = "backend.extra_body={frequency_penalty: 0.5}"  # a mapping inside the frozen object


@pytest.mark.parametrize(
    "overrides",
    [["backend.invalid_output_rate=0.25"], [*OPENAI, EXTRA], ["backend=vllm", EXTRA]],
)
def test_the_typed_backend_config_round_trips_through_pickle(overrides: list[str]) -> None:
    backend = typed(*overrides).backend
    again = pickle.loads(pickle.dumps(backend))
    assert again == backend and type(again.options) is type(backend.options)


def test_consumers_take_the_typed_object_without_parsing_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = typed(*OPENAI, "backend.max_in_flight=6")
    o = cfg.backend.options

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("backend options parsed again after the config was built")

    for module in [m for name, m in sys.modules.items() if name.startswith("agents.backends")]:
        if getattr(module, "parse", None) is options_module.parse:  # also where imported by name
            monkeypatch.setattr(module, "parse", refuse)
    for cls in (ClientOptions, SimOptions, VllmOptions):
        monkeypatch.setattr(cls, "parse", classmethod(refuse))
    backend = make_backend(cfg.backend.name, o, Runtime(n_clients=3))
    assert isinstance(backend, OpenAIBackend) and backend.options is o
    assert backend.n_clients == 3 and o.n_clients == 1  # runtime beside, not inside
    model = cfg.models[cfg.blocks[0].models[0]]
    assert backend.admission_limit(model) == 2  # ceil(6 / 3)
    specs = plan(cfg).specs
    assert engine_slots(specs, cfg.backend.name, o) == 6 * len({s.model.name for s in specs})
    assert isinstance(make_backend("sim", SimOptions(invalid_output_rate=0.5)), SimBackend)


def test_preflight_takes_the_typed_client_options(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = typed(
        *OPENAI, "backend.base_url=[http://a/v1,http://b/v1]", "backend.model_name_from=name"
    )
    asked: list[str] = []

    def listed(url: str, api_key: str | None, timeout_s: float) -> set[str]:
        asked.append(url)
        return set(cfg.models)  # registry names, as model_name_from=name sends

    monkeypatch.setattr("sweep.preflight.listed_models", listed)
    preflight(plan(cfg).specs, cfg.backend.name, cfg.backend.options)
    assert asked == ["http://a/v1", "http://b/v1"]
    one = parse_options("openai", {"api_key_env": None, "base_url": "http://c/v1"})
    assert isinstance(one, ClientOptions)
    with pytest.raises(UserError, match="does not list"):
        check_served(cfg.models.values(), cfg.judge.model.name, one)  # hf_ids are not listed
