"""The scene API (app/api.py): for any URL, the scene the page draws, or a 4xx naming the
parameter — never a 5xx or a traceback.

- round trip, per page: the page run by AppTest and the API for the same URL show the same
  scene and the same canonical query (the same bounds, with the same notices), and the
  answer's own query gives the same answer back;
- a hostile fuzz (hypothesis: unknown keys, junk, unicode, huge and non-finite numbers,
  repeated keys) gets only 200 or 4xx JSON naming the parameter;
- 429 past the per-client rate limit, per client (behind a local proxy, by X-Forwarded-For);
- the routes follow ``server.baseUrlPath``; TCP_NODELAY reaches accepted connections.
"""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import view_payload as vp  # noqa: E402
from test_app_sweep import GARBAGE, HOSTILE, settings_queries  # noqa: E402

import convcore as cc  # noqa: E402
from app import api, nodelay  # noqa: E402
from app.receptive import stack  # noqa: E402
from app.shared import url, view  # noqa: E402

PAGE_SCRIPTS = {
    "explorer_1d": "from app.explorer.page import explorer_page\nexplorer_page(1)",
    "explorer_2d": "from app.explorer.page import explorer_page\nexplorer_page(2)",
    "transposed": "from app.transposed.page import transposed_page\ntransposed_page()",
    "receptive": "from app.receptive.page import receptive_page\nreceptive_page()",
}
COMPONENTS = {"explorer_1d": "convcore_explorer", "explorer_2d": "convcore_explorer",
              "transposed": "convcore_transposed", "receptive": "convcore_receptive"}


def client(**kw) -> TestClient:
    return TestClient(Starlette(routes=api.routes(**kw)))


def get(c: TestClient, page: str, query: dict, headers: dict | None = None):
    return c.get("/api/v1/scene?" + urlencode({"page": page, **query}), headers=headers)


def run_page(page: str, query: dict) -> AppTest:
    script = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n{PAGE_SCRIPTS[page]}\n"
    at = AppTest.from_string(script, default_timeout=60)
    at.query_params.update(query)
    return vp.ok(at.run())


def page_query(at: AppTest) -> dict:
    return {k: v for k, v in vp.query(at).items() if k not in view.VIEW_ONLY}


# ------------------------------------------------------------------------------ round trip

ROUND_TRIP = {
    "explorer_1d": [{}, {"stride": "3", "size": "4", "pad": "1:2", "src": "random"},
                    {"pad": "same", "stride": "2", "size": "3"}, {"stride": "99"},
                    {"src": "typed", "typed": "1, 2, 3, 4, 5", "dilation": "2"},
                    {"inmaps": "3", "outmaps": "6", "groups": "3", "omap": "4", "bias": "0.5"}],
    "explorer_2d": [{}, {"stride": "2,1", "pad": "tfsame", "size": "3,2", "shape": "7,6"},
                    {"mode": "reflect", "pad": "2", "src": "random", "seed": "5"},
                    {"groups": "5", "inmaps": "4", "outmaps": "6"}, {"kernel": "preset",
                                                                     "preset": "sobel x"},
                    {"kernel": "table", "w": "1,2,3,4,5,6,7,8", "step": "99"},
                    {"src": "network", "kernel": "network", "layer": "2", "image": "17",
                     "pad": "1", "outmaps": "3", "groups": "2", "omap": "5", "stride": "2"}],
    "transposed": [{}, {"ndim": "2", "stride": "2", "size": "3", "pad": "1", "opad": "1"},
                   {"stride": "99", "opad": "7"}, {"ndim": "2", "tview": "gather", "groups": "2",
                                                   "inmaps": "2", "outmaps": "4"}],
    "receptive": [{}, {"nd": "1", "in": "40", "layers": "k2,k2d2,k2d4"},
                  {"in": "500,500", "layers": "k99s0"}, {"layers": "k3,k3", "cell": "40,40"}],
}


@pytest.mark.parametrize("page", list(ROUND_TRIP))
def test_the_api_answers_what_the_page_draws_and_its_own_query_round_trips(page):
    c = client()
    for query in ROUND_TRIP[page]:
        at = run_page(page, query)
        r = get(c, page, query)
        assert r.status_code == 200, (query, r.text)
        got = r.json()
        shown = vp.payload(at, COMPONENTS[page])
        assert got["scene_id"] == shown["scene_id"], query
        scene = shown["scene"]
        assert got["scene"] == scene, query  # identical arrays, geometry and numbers
        canonical = page_query(at)
        if page == "transposed" and query.get("ndim") == "2":
            canonical["ndim"] = "2"
        assert got["query"] == canonical, query
        captions = " | ".join(x.value for x in at.caption)
        for notice in got["notices"]:  # what the API changed, the page says too
            assert notice in captions, (query, notice)
        again = get(c, page, got["query"]).json()  # the answer's own query: the same answer
        assert (again["scene_id"], again["scene"], again["query"]) == \
            (got["scene_id"], got["scene"], got["query"])


def test_a_network_layer_fixes_its_controls_in_the_answer():
    """The trained network's layer as the explorer's source: its limits hold the layer's own
    size, C_out and groups (the view's controls show them fixed), a value asked otherwise is
    answered with the layer's and a notice; the network is 2-D and forward only."""
    c = client()
    body = get(c, "explorer_2d", {"src": "network", "kernel": "network", "layer": "1",
                                  "outmaps": "4", "bias": "0.5", "stride": "2"}).json()
    layer, limits = body["layer"], body["limits"]
    assert (layer["network"], layer["outmaps"], layer["groups"], layer["size"],
            layer["bias"], layer["data"]) == (1, 8, 1, [3, 3], None, True)
    assert limits["outmaps"] == [[8, 8]] and limits["groups"] == [1]
    assert limits["size"] == [[3, 3], [3, 3]] and limits["layer"] == [[1, 2]]
    assert limits["stride"][1][1] > 1  # the rest is the layer's to change
    assert "Output maps C_out: asked 4, using 8 — set by the network's layer 1" in body["notices"]
    assert any(n.startswith("Bias: the network's layer 1 brings its learned bias")
               for n in body["notices"])
    assert body["query"]["outmaps"] == "8" and "bias" not in body["query"]
    r = get(c, "explorer_1d", {"src": "network"})
    assert r.status_code == 400 and r.json()["error"]["parameter"] == "src"
    body = get(c, "transposed", {"ndim": "2", "src": "network", "kernel": "network"}).json()
    assert body["layer"]["source"] == "arange" and body["layer"]["kernel"] == "customW"
    assert any("Input source: 'network' is not one of the choices" in n
               for n in body["notices"])
    assert any("the trained network's layers are on the 2-D explorer" in n
               for n in body["notices"])


def test_the_api_and_the_page_agree_on_random_and_hostile_urls():
    """Where the page shows a view the API answers its scene; where it shows an error or
    ignores a value, the API answers 4xx naming the parameter.  (Unlimited: the random URLs
    include networks trained from new seeds, ~2 s each, which the rate limit rightly charges
    as ~80 requests; the limit has its own test.)"""
    c = client(limiter=api.RateLimiter(rate=1e9, burst=1e9))
    for ndim in (1, 2):
        for query in list(settings_queries(ndim, 40)):
            page = f"explorer_{ndim}d"
            r = get(c, page, query)
            assert r.status_code in (200, 400, 422), (query, r.status_code, r.text)
            body = r.json()
            at = run_page(page, query)
            warned = [w.value for w in at.warning if w.value.startswith("URL: ")]
            if r.status_code == 400:
                assert body["error"]["parameter"], body
                assert warned, (query, body)  # the page could not read it either
                continue
            assert not warned, (query, warned)
            shown = vp.view_element(at)
            if r.status_code == 422:
                assert shown is None, (query, body)
                assert body["error"]["message"] and (at.error or query.get("src") == "upload")
                continue
            assert shown is not None, (query, [e.value for e in at.error])
            assert body["scene_id"] == vp.payload(at)["scene_id"], query


# ------------------------------------------------------------------------------ the fuzz

KEYS = st.sampled_from([*url.QUERY_KEYS, *stack.QUERY_KEYS, "ndim", "page", "x", "", "stride[]",
                        "\u00e9", "__proto__"])
VALUES = st.one_of(st.sampled_from(HOSTILE), st.sampled_from(
    [v for vs in GARBAGE.values() for v in vs]), st.text(max_size=30),
    st.integers(-10**30, 10**30).map(str), st.floats().map(str),
    st.lists(st.integers(-5, 99), min_size=1, max_size=4).map(
        lambda v: ",".join(map(str, v))))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(api.PAGES), st.lists(st.tuples(KEYS, VALUES), max_size=6))
def test_a_hostile_query_gets_json_and_never_a_5xx(page, pairs):
    c = FUZZ
    r = c.get("/api/v1/scene", params=[("page", page), *pairs])
    assert r.status_code < 500, (pairs, r.text)
    body = r.json()  # always JSON
    assert "Traceback" not in r.text
    if r.status_code >= 400:
        assert set(body["error"]) == {"status", "parameter", "message"}
        assert body["error"]["status"] == r.status_code and body["error"]["message"]
        if r.status_code == 400:
            assert body["error"]["parameter"] is not None or "bytes" in body["error"]["message"]
    else:
        assert body["scene"]["version"] == 1 and body["scene_id"]


FUZZ = client(limiter=api.RateLimiter(rate=1e9, burst=1e9))


def test_an_unknown_page_a_missing_page_a_repeated_key_and_a_long_query():
    c = client()
    cases = [("?page=nope", "page"), ("?stride=2", "page"),
             ("?page=explorer_2d&stride=1&stride=2", "stride"),
             ("?page=explorer_2d&foo=1", "foo"), ("?page=transposed&ndim=4", "ndim"),
             ("?page=explorer_2d&stride=x", "stride"), ("?page=receptive&layers=q9", "layers"),
             ("?page=explorer_2d&src=upload", "src")]
    for q, parameter in cases:
        r = c.get("/api/v1/scene" + q)
        assert 400 <= r.status_code < 500 and r.json()["error"]["parameter"] == parameter, q
    r = c.get("/api/v1/scene?page=explorer_2d&typed=" + "1," * 31_000)
    assert r.status_code == 400 and "bytes" in r.json()["error"]["message"]
    r = get(c, "explorer_2d", {"shape": "1024", "inmaps": "64"})
    assert r.status_code == 422 and "values" in r.json()["error"]["message"]


# ------------------------------------------------------------------------------ rate limit

def test_past_the_rate_limit_a_client_gets_429_and_another_client_does_not():
    clock = [0.0]
    c = client(limiter=api.RateLimiter(rate=2, burst=3, cost_ms=float("inf"),
                                       clock=lambda: clock[0]), trusted=("testclient",))
    codes = [get(c, "receptive", {}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    r = get(c, "receptive", {})
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["status"] == 429 and "rate limit" in r.json()["error"]["message"]
    # behind a trusted proxy (nginx on this machine): each student is the address it appended
    other = {"X-Forwarded-For": "10.0.0.7"}
    assert get(c, "receptive", {}, other).status_code == 200
    clock[0] += 1.0  # two tokens later
    assert get(c, "receptive", {}).status_code == 200


def test_the_cost_of_an_answer_is_charged_to_its_client():
    limiter = api.RateLimiter(rate=1, burst=10, cost_ms=1e-6, clock=lambda: 0.0)
    c = client(limiter=limiter)
    assert get(c, "explorer_2d", {"stride": "2"}).status_code == 200  # > 1 ms: > 10 tokens
    assert get(c, "explorer_2d", {}).status_code == 429
    assert limiter.take("other") == 0


# ------------------------------------------------------------------------------ serving

def test_the_routes_follow_the_base_url_path():
    c = client(base_path="/class/")
    assert get(c, "explorer_2d", {}).status_code == 404
    r = c.get("/class/api/v1/scene?page=explorer_2d&stride=2")
    assert r.status_code == 200 and r.json()["query"] == {"stride": "2"}
    assert r.headers["server-timing"].startswith("scene;dur=")


def test_tcp_nodelay_set_on_the_listener_reaches_accepted_connections():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:  # protocol 0, as
        listener.bind(("127.0.0.1", 0))  # Streamlit binds it
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            before, _ = listener.accept()
        with before:
            assert before.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 0
        assert nodelay.set_on_listeners(port) == 1
        with socket.create_connection(("127.0.0.1", port)):
            after, _ = listener.accept()
        with after:
            assert after.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert nodelay.set_on_listeners(port + 1 if port < 65535 else 1) == 0


def test_the_receptive_answer_is_the_core_receptive_field():
    r = get(client(), "receptive", {"in": "32,32", "layers": "k7s2p3,k3s2p1", "cell": "3,4"})
    body = r.json()
    rf = cc.receptive_field([dict(kernel_size=7, stride=2, padding=3),
                             dict(kernel_size=3, stride=2, padding=1)], in_spatial=(32, 32))
    assert body["scene"]["shapes"] == [[32, 32], *[list(f.out_spatial) for f in rf.layers]]
    assert body["init"] == {"cell": [3, 4]} and body["query"]["cell"] == "3,4"
    assert [L["size"] for L in body["scene"]["layers"]] == [list(f.size) for f in rf.layers]
    assert np.all(np.asarray(body["scene"]["layers"][1]["jump"]) == 4)
    assert json.loads(json.dumps(body)) == body
