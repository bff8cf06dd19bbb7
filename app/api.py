"""The scene API: a small, public, read-only HTTP API beside Streamlit.

    GET {server.baseUrlPath}/api/v1/scene?page=<page>&<that page's URL query>

``page`` is a page's URL path — ``explorer_1d``, ``explorer_2d``, ``transposed`` (``ndim=2`` for
2-D, as in its URL) or ``receptive`` — and every other parameter is that page's own URL query,
read by the same codec (:mod:`app.url`, :mod:`app.stack`), put within the same bounds
(:mod:`app.layer`), weighed against the same budget and computed by convcore through the same
cached model: the answer is the scene the page draws for that URL.  The browser view fetches
it when its own controls change the layer; a teacher's script or an LMS can fetch it too.

Answers are JSON:

- 200: ``{"api": 1, "page", "scene_id", "scene", "init", "presenter", "query", "layer",
  "limits", "notices"}`` — ``query`` is the canonical URL query of the layer shown (what the
  page's URL will hold), ``notices`` what was changed to stay within bounds and why;
- 400: ``{"error": {"status", "parameter", "message"}}`` — a parameter that is unknown, given
  twice, or cannot be read;
- 422: the same, for a layer the core or the budget refuses (``ConvError``, ``BudgetError``);
- 429: the same, past the per-client rate limit, with ``Retry-After``.

Nothing else reaches a client: an unexpected failure is a 500 with no internals (and is
logged).  Each answer carries ``Server-Timing: scene;dur=<ms>``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from streamlit.logger import get_logger

import convcore as cc
from app.receptive import stack
from app.shared import layer, model, url, view
from app.shared import scene as scenes
from app.shared import sources as src
from app.shared.layer import Notices
from app.shared.ranks import RANKS
from app.shared.settings import Settings

API_VERSION = 1
# the transposed page's ranks (its URL names one with ndim=)
TRANSPOSED_RANKS = tuple(str(n) for n, r in RANKS.items() if r.transposed)
PAGES = (*(r.address for r in RANKS.values()), "transposed", "receptive")
MAX_QUERY_BYTES = 60_000  # typed values and table weights travel in the query
RATE = float(os.environ.get("CONVCORE_API_RATE", "20"))  # requests per second, per client
BURST = float(os.environ.get("CONVCORE_API_BURST", "60"))  # requests at once, per client
COST_MS = 25.0  # a request costs one token, plus one per this many ms of server time
_LOG = get_logger(__name__)  # Streamlit's: its format and level


class ApiError(Exception):
    """A request the API answers with a 4xx: which parameter, and why."""

    def __init__(self, status: int, parameter: str | None, message: str):
        super().__init__(message)
        self.status, self.parameter, self.message = status, parameter, message

    def body(self) -> dict:
        return {"error": {"status": self.status, "parameter": self.parameter,
                          "message": self.message}}


# ------------------------------------------------------------------------------ answers

def answer(page: str, query: dict[str, str]) -> str:
    """The JSON text answering ``page`` and its URL ``query`` (one value per key); raises
    :class:`ApiError` for a 4xx."""
    if page == "receptive":
        return receptive_answer(query)
    if page not in PAGES:
        raise ApiError(400, "page", f"page must be one of {', '.join(PAGES)}, got "
                                    f"{page[:40]!r}")
    transposed = page == "transposed"
    ndim = int(page[-2]) if not transposed else _transposed_ndim(query)
    allowed = set(url.QUERY_KEYS) | ({"ndim"} if transposed else set())
    _known(query, allowed)
    s, problems = url.from_query({k: v for k, v in query.items() if k != "ndim"}, ndim)
    _readable(problems)
    if s.source == "upload":
        raise ApiError(422, "src", "src=upload: an upload is not part of a URL; the scene API "
                                   "computes arange, random, sample and typed inputs")
    return layer_answer(s, transposed)


def _transposed_ndim(query) -> int:
    text = query.get("ndim", "1")
    if text not in TRANSPOSED_RANKS:
        raise ApiError(400, "ndim", f"ndim must be {' or '.join(TRANSPOSED_RANKS)}, got "
                                    f"{text[:40]!r}")
    return int(text)


def _known(query, allowed) -> None:
    for key in query:
        if key not in allowed:
            raise ApiError(400, key[:40], f"unknown parameter {key[:40]!r}; this page reads "
                                          f"{', '.join(sorted(allowed))}")


def _readable(problems) -> None:
    """Refuse the first value that could not be read (a :class:`app.url.Problem`)."""
    for p in problems:
        if isinstance(p, url.Problem):
            raise ApiError(400, p.parameter, str(p))


def layer_answer(s: Settings, transposed: bool) -> str:
    """The explorer's or the transposed page's answer for URL settings ``s``, through the
    page's own steps: input, bounds, budget, the core, the step."""
    notices = Notices()
    s, _ = layer.clamp_input(s, notices, transposed)
    try:
        x, input_notices = model.load_input(s, None)
        s = model.with_input_shape(s, x)
        clamp = layer.clamp_transposed_layer if transposed else layer.clamp_layer
        s, _ = clamp(s, notices)
        s, _ = layer.clamp_view(s, notices)
        if not transposed:
            s = _table_weights(s)
        comp = (model.compute_transposed if transposed else model.compute)(s)
    except src.SourceError as e:  # the input, or the budget (BudgetError)
        raise ApiError(422, _budget_parameter(str(e)), str(e)) from None
    except cc.ConvError as e:
        raise ApiError(422, "layer", str(e)) from None
    s = layer.clamp_step(s, model.view_steps(s, comp), notices)
    sid = view.scene_id(s, None, transposed)
    text = view.scene_text(sid, comp, s.item, s.omap, transposed)
    extra = {**view.view_state(s, transposed), "notices": [*notices, *input_notices],
             "api": API_VERSION}
    return view.payload(text, sid, view.init_of(s, transposed), s.presenter, extra)


def _table_weights(s: Settings) -> Settings:
    """A kernel table without every weight starts from customW, as a fresh page does."""
    if s.kernel != "table" or (s.weights is not None
                               and len(s.weights) == math.prod(s.weight_shape)):
        return s
    w = model.custom_weights(s.ndim, s.size, s.outmaps, s.weight_shape[1])
    return replace(s, weights=tuple(float(v) for v in w.ravel()))


def _budget_parameter(message: str) -> str:
    """The parameter a refusal of the input or the budget is about."""
    head = message.split(":", 1)[0].strip()
    return {"input": "shape", "output": "outmaps", "compute": "size", "memory": "pad",
            "scene": "stride", "typed values": "typed", "upload": "src"}.get(head, "src")


def receptive_answer(query) -> str:
    """The receptive-field page's answer: its stack within the page's limits, its geometry."""
    _known(query, set(stack.QUERY_KEYS))
    s, problems = stack.from_query(query)
    _readable(problems)
    notices = Notices(str(p) for p in problems)
    s = stack.clamp(s, notices)
    try:
        rf = cc.receptive_field(s.core_layers(), in_spatial=s.in_shape)
    except cc.ConvError as e:
        raise ApiError(422, "layers", str(e)) from None
    if s.cell is not None and not all(0 <= v < n for v, n in zip(s.cell, rf.out_spatial)):
        centre = tuple((n - 1) // 2 for n in rf.out_spatial)
        notices.changed("cell", ",".join(map(str, s.cell)), ",".join(map(str, centre)),
                        f"the last layer's output is {'×'.join(map(str, rf.out_spatial))}")
        s = replace(s, cell=None)
    text = json.dumps(scenes.build_stack_scene(rf), separators=(",", ":"))
    extra = {"page": "receptive", "query": stack.to_query(replace(s, presenter=False)),
             "notices": list(notices), "api": API_VERSION}
    init = {"cell": None if s.cell is None else list(s.cell)}
    return view.payload(text, stack.scene_id(s), init, s.presenter, extra)


# ------------------------------------------------------------------------------ rate limit

@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Per client, a token bucket: ``burst`` requests at once, ``rate`` per second after; a
    request costs one token plus one per ``cost_ms`` of server time it took."""

    def __init__(self, rate: float = RATE, burst: float = BURST, cost_ms: float = COST_MS,
                 clock=time.monotonic):
        self.rate, self.burst, self.cost_ms, self.clock = rate, burst, cost_ms, clock
        self.buckets: dict[str, _Bucket] = {}
        self.lock = threading.Lock()

    def _bucket(self, client: str, now: float) -> _Bucket:
        b = self.buckets.get(client)
        if b is None:
            if len(self.buckets) > 10_000:  # forget clients whose buckets are full again
                full = [c for c, v in self.buckets.items()
                        if v.tokens + (now - v.at) * self.rate >= self.burst]
                for c in full:
                    del self.buckets[c]
            b = self.buckets[client] = _Bucket(self.burst, now)
        b.tokens = min(self.burst, b.tokens + (now - b.at) * self.rate)
        b.at = now
        return b

    def take(self, client: str) -> float:
        """Take one token; 0 when granted, else the seconds until one is there."""
        with self.lock:
            b = self._bucket(client, self.clock())
            if b.tokens >= 1:
                b.tokens -= 1
                return 0.0
            return (1 - b.tokens) / self.rate

    def charge(self, client: str, tokens: float) -> None:
        """Charge work done after the fact (it may go below zero: the client waits)."""
        with self.lock:
            b = self._bucket(client, self.clock())
            b.tokens -= tokens


# Proxies whose X-Forwarded-For is believed: nginx of deploy/ runs on the same machine.
TRUSTED_PROXIES = tuple(os.environ.get("CONVCORE_TRUSTED_PROXIES", "127.0.0.1,::1").split(","))


def client_of(request, trusted=TRUSTED_PROXIES) -> str:
    """Who asks: the peer address; behind a trusted proxy, the address that proxy saw (the
    last one it appended to X-Forwarded-For)."""
    host = request.client.host if request.client else "unknown"
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded and host in trusted:
        return forwarded.split(",")[-1].strip()[:64] or host
    return host


# ------------------------------------------------------------------------------ HTTP

def _query(request) -> tuple[str, dict[str, str]]:
    raw = request.url.query
    if len(raw) > MAX_QUERY_BYTES:
        raise ApiError(400, None, f"the query has {len(raw):,} bytes; at most "
                                  f"{MAX_QUERY_BYTES:,} are read")
    items = request.query_params.multi_items()
    seen: dict[str, str] = {}
    for key, value in items:
        if key in seen:
            raise ApiError(400, key[:40], f"parameter {key[:40]!r} is given more than once")
        seen[key] = value
    page = seen.pop("page", None)
    if page is None:
        raise ApiError(400, "page", f"page is required: one of {', '.join(PAGES)}")
    return page, seen


def _json(status: int, body: str, elapsed_ms: float, headers: dict | None = None):
    from starlette.responses import Response

    return Response(body, status_code=status, media_type="application/json",
                    headers={"Server-Timing": f"scene;dur={elapsed_ms:.2f}",
                             "Cache-Control": "no-store",
                             "Access-Control-Allow-Origin": "*", **(headers or {})})


# The answers run on threads of their own: at most WORKERS scenes at once, and Streamlit's
# "missing ScriptRunContext" warning (a cached function's spinner has no page to show on) is
# dropped for them alone.
WORKERS = 4
_POOL = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="scene-api")


class _NoPageHere(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.threadName.startswith("scene-api")
                    and "missing ScriptRunContext" in record.getMessage())


logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
    _NoPageHere())


async def compute(page: str, query: dict[str, str]) -> str:
    """:func:`answer` on the API's worker threads (the live class's scene route uses it too);
    raises :class:`ApiError` for a 4xx."""
    return await asyncio.get_running_loop().run_in_executor(_POOL, answer, page, query)


def make_endpoint(limiter: RateLimiter, trusted=TRUSTED_PROXIES):
    async def scene(request):
        t0 = time.perf_counter()
        client = client_of(request, trusted)
        wait = limiter.take(client)
        if wait:
            err = ApiError(429, None, f"rate limit: at most {limiter.rate:g} scenes per second "
                                      f"per client (bursts of {limiter.burst:g}); retry in "
                                      f"{wait:.2f} s")
            return _json(429, json.dumps(err.body()), 0.0,
                         {"Retry-After": str(max(1, math.ceil(wait)))})
        try:
            page, query = _query(request)
            text = await compute(page, query)
            status = 200
        except ApiError as e:
            text, status = json.dumps(e.body()), e.status
        except Exception:  # never a traceback to the client
            _LOG.exception("scene API: unexpected failure for %s", request.url.query[:200])
            err = ApiError(500, None, "internal error: the server could not compute this "
                                      "scene (logged)")
            text, status = json.dumps(err.body()), 500
        ms = (time.perf_counter() - t0) * 1e3
        limiter.charge(client, ms / limiter.cost_ms)
        return _json(status, text, ms)

    return scene


def routes(base_path: str = "", limiter: RateLimiter | None = None,
           trusted=TRUSTED_PROXIES) -> list:
    """The API's Starlette routes under ``base_path`` (Streamlit's ``server.baseUrlPath``,
    which Streamlit does not apply to routes of ours)."""
    from starlette.routing import Route

    prefix = "/" + base_path.strip("/") if base_path.strip("/") else ""
    return [Route(f"{prefix}/api/v1/scene", make_endpoint(limiter or RateLimiter(), trusted),
                  methods=["GET"])]
