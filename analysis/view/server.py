"""``orgsweep view RESULTS_DIR``: a local, read-only web app over a results directory.

aiohttp (already installed through ``ray[default]``) serves three GET pages rendered by
Jinja2 templates with autoescape on, so every model-written string (roles, contributions,
deliverables, judge reasons, prompts) is HTML-escaped; there is no write route and no
JavaScript. Each request reads the results dir again (through ``analysis.view.data``), so the
pages follow a running sweep; the Polars work runs in a thread to keep the server responsive.
Binds 127.0.0.1 unless told otherwise. Why this stack: docs/design/view.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable
from typing import Any

import jinja2
import polars as pl
from aiohttp import web

from analysis import coverage, palette
from analysis.numbers import formatter
from analysis.view import data
from analysis.view.graph import round_graph
from sweep.errors import UserError
from sweep.results.store import MANIFEST, ResultStore

DIR = web.AppKey("results_dir", str)
ENV = web.AppKey("env", jinja2.Environment)
PLANNED = web.AppKey("planned", dict)


def make_app(results_dir: str) -> web.Application:
    """The viewer's application over ``results_dir`` (checked to be a results directory)."""
    if not ResultStore(results_dir).exists():
        raise UserError(
            f"{results_dir} is not an orgsweep results directory (no {MANIFEST} or runs/); "
            "make one with `orgsweep launch results_dir=...`"
        )
    app = web.Application(middlewares=[_errors])
    app[DIR] = results_dir
    app[ENV] = _environment()
    app[PLANNED] = {}
    app.router.add_get("/", overview)
    app.router.add_get("/runs", runs)
    app.router.add_get("/episode/{episode_id}", episode)
    return app


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("analysis.view", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["colour"] = palette.colour
    env.filters["fmt"] = _fmt
    return env


def _fmt(value: Any, column: str = "") -> str:
    """A table cell as text (the report's number formats, ``analysis.numbers``)."""
    series = pl.Series([value])
    return formatter(column, series, html_out=False)(value)


@web.middleware
async def _errors(request: web.Request, handler: Callable[..., Any]) -> web.StreamResponse:
    try:
        return await handler(request)
    except UserError as e:
        return _page(request, "error.html", status=400, message=str(e))


def _page(request: web.Request, name: str, status: int = 200, **ctx: Any) -> web.Response:
    env = request.app[ENV]
    body = env.get_template(name).render(results_dir=request.app[DIR], **ctx)
    return web.Response(text=body, status=status, content_type="text/html")


async def _thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(functools.partial(fn, *args))


def _coverage(app: web.Application) -> coverage.Coverage | None:
    """Coverage against the stored plan, planned once per manifest text (cached)."""
    results_dir = app[DIR]
    text = ResultStore(results_dir).read_text(MANIFEST) or ""
    cache = app[PLANNED]
    if text not in cache:
        cache.clear()
        cache[text] = coverage.planned_cells(results_dir)
    planned = cache[text]
    if planned is None:
        return None
    return coverage.coverage(planned, data.results(results_dir).runs)


async def overview(request: web.Request) -> web.Response:
    res = data.results(request.app[DIR])
    ov = await _thread(data.overview, res)
    cov = await _thread(_coverage, request.app)
    return _page(request, "overview.html", ov=ov, cov=cov)


async def runs(request: web.Request) -> web.Response:
    qs = request.query
    score_set = qs.get("score_set", "default")
    res = data.results(request.app[DIR], score_set)
    q = data.RunsQuery(
        filters={k: qs.get(k, "") for k in data.FILTERS},
        sort=qs.get("sort", "finished_at"),
        descending=qs.get("order", "desc") != "asc",
        offset=_int(qs, "offset", 0),
        limit=_int(qs, "limit", data.PAGE),
    )
    page, total = await _thread(data.runs_page, res, q)
    options = await _thread(data.filter_options, res)
    sets = await _thread(data.score_sets, res)
    if score_set not in sets:
        raise UserError(f"score_set={score_set!r}: choose one of {', '.join(sets)}")
    return _page(
        request,
        "runs.html",
        page=page,
        total=total,
        q=q,
        options=options,
        score_sets=sets,
        score_set=score_set,
        columns=data.COLUMNS,
        link=functools.partial(_link, dict(qs)),
    )


def _link(current: dict[str, str], **change: Any) -> str:
    """The runs URL with ``change`` applied to the current query (for sorting and paging)."""
    from urllib.parse import urlencode

    merged = {**current, **{k: str(v) for k, v in change.items()}}
    return "/runs?" + urlencode({k: v for k, v in merged.items() if v != ""})


def _int(qs: Any, key: str, default: int) -> int:
    raw = qs.get(key)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError:
        raise UserError(f"{key}={raw!r}: a whole number") from None


async def episode(request: web.Request) -> web.Response:
    res = data.results(request.app[DIR], request.query.get("score_set"))
    eid, steps = await _thread(data.episode, res, request.match_info["episode_id"])
    graphs = {
        (s.run["step"], rnd): round_graph(turns, {t.agent for _, ts in s.rounds for t in ts})
        for s in steps
        for rnd, turns in s.rounds
    }
    return _page(request, "episode.html", eid=eid, steps=steps, graphs=graphs, scores=data.SCORES)


def serve(results_dir: str, port: int = 0, host: str = "127.0.0.1") -> int:
    """Serve the viewer until Ctrl-C; ``port`` 0 picks a free one. Prints the URL."""
    app = make_app(results_dir)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise UserError(f"cannot listen on {host}:{port} ({e.strerror}); pick --port") from None
        bound = runner.addresses[0]
        print(
            f"orgsweep view: {results_dir} at http://{host}:{bound[1]}/ (Ctrl-C stops)", flush=True
        )
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how the viewer stops
        asyncio.run(main())
    return 0
