"""Fail-fast checks before a launch dispatches episodes to a server (``backend=openai``).

Each endpoint of ``backend.base_url`` must answer ``GET /models`` within a few seconds and list
every model the sweep calls (agents, the judge, swap-model shocks) under the name the client
sends (``backend.model_name_from``). Otherwise the launch stops with one message naming the URL
and the model, instead of retrying hundreds of episodes into a server that cannot serve them.
``launch --no-preflight`` skips it. ``backend=vllm`` needs no preflight: ``serve_models`` waits
until its own ``/models`` lists every model (judge included) before any episode starts.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any

from agents.backends.options import ClientOptions
from agents.catalogue import ModelSpec
from sweep.errors import UserError

TIMEOUT_S = 5.0
SKIP = "or skip this check with --no-preflight"


def listed_models(url: str, api_key: str | None, timeout_s: float = TIMEOUT_S) -> set[str]:
    """The model ids ``url/models`` lists; raises ``UserError`` naming the URL when it cannot."""
    req = urllib.request.Request(f"{url.rstrip('/')}/models")
    if api_key:
        req.add_header("Authorization", f"Bearer {api_key}")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(req, timeout=timeout_s) as r:
            data = json.load(r)
    except urllib.error.HTTPError as e:
        raise UserError(
            f"preflight: {url}/models answered HTTP {e.code} ({e.reason}); check backend.base_url "
            f"and backend.api_key_env, {SKIP}"
        ) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise UserError(
            f"preflight: cannot reach {url}/models ({reason}); start the server or fix "
            f"backend.base_url, {SKIP}"
        ) from None
    except ValueError:
        raise UserError(
            f"preflight: {url}/models did not answer JSON; is it an OpenAI-compatible "
            f"server? {SKIP}"
        ) from None
    return {str(m.get("id")) for m in data.get("data", []) if isinstance(m, Mapping)}


def check_served(
    models: Iterable[ModelSpec],
    judge: str,
    o: ClientOptions,
    timeout_s: float = TIMEOUT_S,
) -> None:
    """Every model is listed by every endpoint of the client options ``o`` (``backend=openai``)."""
    key = os.environ.get(o.api_key_env) if o.api_key_env else None
    by_name = {(m.hf_id if o.model_name_from == "hf_id" else m.name): m for m in models}
    for url in o.urls:
        listed = listed_models(url, key, timeout_s)
        missing = sorted(n for n in by_name if n not in listed)
        if missing:
            n = missing[0]
            role = "the judge" if by_name[n].name == judge else "sweep model"
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            has = ", ".join(sorted(listed)[:6]) or "nothing"
            raise UserError(
                f"preflight: {url}/models does not list {n!r} ({role} {by_name[n].name}){more}; "
                f"it lists: {has}. Serve it there, or change backend.model_name_from / the "
                f"model's hf_id, {SKIP}"
            )


def preflight(specs: Iterable[Any], backend: str, options: Any) -> None:
    """The launch's check, for backends that declare it (``BackendEntry.external``: the sim
    needs none; vllm checks the models it serves itself). ``options``: the backend's typed
    options, a ``ClientOptions`` for a backend with external servers."""
    from agents.backends import backend_entry

    if not backend_entry(backend).external:
        return
    from agents.backends.vllm import sweep_models  # imports the openai client

    specs = list(specs)
    if not specs:
        return
    check_served(sweep_models(specs), specs[0].judge.model.name, options)
