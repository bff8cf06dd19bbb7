"""The scene API as ``streamlit run app/streamlit_app.py`` serves it, under a base URL path:
``st.App`` is found in the entry script, the API's routes carry ``server.baseUrlPath`` (which
Streamlit does not apply to routes of ours), Streamlit's own routes stay where they were, and a
kept-alive connection is not held back by Nagle's algorithm (the server's listener has
TCP_NODELAY)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "app" / "streamlit_app.py"),
             "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port",
             str(port), "--server.baseUrlPath", "class", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/class/_stcore/health")
                if c.getresponse().status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


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
