"""The scene API as ``streamlit run app/streamlit_app.py`` serves it, under a base URL path:
``st.App`` is found in the entry script, the API's routes carry ``server.baseUrlPath`` (which
Streamlit does not apply to routes of ours), Streamlit's own routes stay where they were, and a
kept-alive connection is not held back by Nagle's algorithm (the server's listener has
TCP_NODELAY)."""

from __future__ import annotations

import http.client
import json
from pathlib import Path

import pytest
from app_server import running_app

from app.shared import view

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with running_app(ROOT / "app" / "streamlit_app.py", log, base_path="class") as (_, port):
        yield port, log


def test_the_api_is_served_under_the_base_url_path(server):
    c = http.client.HTTPConnection("127.0.0.1", server[0], timeout=30)
    c.request("GET", "/class/api/v1/scene?page=explorer_2d&stride=2")
    r = c.getresponse()
    body = json.loads(r.read())
    assert r.status == 200 and body["query"] == {"stride": "2"}
    assert body["scene"]["out_shape"] == [2, 2]
    c.request("GET", "/api/v1/scene?page=explorer_2d")  # not outside the base path
    r = c.getresponse()
    r.read()
    assert r.status == 404
    c.request("GET", "/class/api/v1/scene?page=explorer_2d&stride=x")
    r = c.getresponse()
    assert r.status == 400 and json.loads(r.read())["error"]["parameter"] == "stride"
    c.request("GET", "/class/explorer_2d")  # the pages are still Streamlit's
    r = c.getresponse()
    assert r.status == 200 and b"<div id=\"root\">" in r.read()


def test_the_server_set_tcp_nodelay_on_its_listener(server):
    """The lifespan found the listening socket (it warns when it does not); that accepted
    connections then inherit TCP_NODELAY is tests/test_api.py's, its effect (44 ms -> 1 ms per
    kept-alive request) benchmarks/RESULTS.md's."""
    port, log = server
    text = log.read_text()
    assert f"TCP_NODELAY set on 1 listening socket(s) on port {port}" in text, text[-2000:]


def test_every_page_asks_for_plotly_at_once_and_other_files_are_untouched(server):
    port, _ = server
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for path in ("/class/", "/class/explorer_2d", "/class/receptive"):
        c.request("GET", path, headers={"Accept-Encoding": "gzip"})
        r = c.getresponse()
        html = r.read()
        assert r.status == 200 and int(r.getheader("content-length")) == len(html)
        tag = f'src="app/static/vendor/{view.plotly_name()}"'.encode()
        assert html.count(tag) == 1 and html.index(tag) < html.index(b"</head>"), path
    c.request("GET", f"/class/app/static/vendor/{view.plotly_name()}",
              headers={"Accept-Encoding": "gzip"})
    r = c.getresponse()
    r.read()
    assert r.status == 200 and r.getheader("content-encoding") == "gzip"  # as Streamlit serves
