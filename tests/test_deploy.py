"""deploy/: nginx in front of two Streamlit replicas on loopback, driven over Streamlit's own
websocket protocol (deploy/session_client.py).

Without nginx these tests skip with the reason; with ``CONVCORE_REQUIRE_NGINX=1`` (set by
``.ci/run``) they fail instead, so CI cannot pass without running them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from deploy import serve  # noqa: E402
from deploy.session_client import Session  # noqa: E402

REQUIRE_NGINX = os.environ.get("CONVCORE_REQUIRE_NGINX") == "1"
READY_TIMEOUT_S = 180


def nginx_or_skip() -> str:
    path = serve.find_nginx()
    if path is None:
        reason = ("no nginx executable (looked at $CONVCORE_NGINX, PATH and /usr/sbin/nginx); "
                  "install it with `apt-get install nginx`")
        if REQUIRE_NGINX:
            pytest.fail(f"deployment tests cannot run: {reason} (CONVCORE_REQUIRE_NGINX=1 "
                        "requires them)", pytrace=False)
        pytest.skip(f"deployment tests skipped: {reason}")
    return path


def test_missing_nginx_skips_here_and_fails_in_ci(monkeypatch):
    monkeypatch.setattr(serve, "find_nginx", lambda: None)
    monkeypatch.setattr(sys.modules[__name__], "REQUIRE_NGINX", False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install nginx"):
        nginx_or_skip()
    monkeypatch.setattr(sys.modules[__name__], "REQUIRE_NGINX", True)
    with pytest.raises(pytest.fail.Exception, match="CONVCORE_REQUIRE_NGINX=1 requires them"):
        nginx_or_skip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "missing+=(nginx)" in ci and "export CONVCORE_REQUIRE_NGINX=1" in ci


def test_generated_config_passes_nginx_test(tmp_path):
    nginx = nginx_or_skip()
    (tmp_path / "logs").mkdir()
    (tmp_path / "tmp").mkdir()
    text = serve.nginx_config(tmp_path, "127.0.0.1:18080", [18601, 18602, 18603], 16)
    assert len(re.findall(r"server 127\.0\.0\.1:1860\d max_fails=1 fail_timeout=10s;", text)) == 3
    assert "hash $sticky_id consistent;" in text and "ip_hash" not in text.split("#")[0]
    assert "client_max_body_size 17m;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    assert "@" not in re.sub(r"#.*", "", text)  # every field filled in
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf),
                           "-e", str(tmp_path / "logs" / "error.log")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _start(port: int, workdir: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy" / "serve.py"), "--replicas", "2",
         "--host", "127.0.0.1", "--port", str(port), "--first-port", "0",
         "--workdir", str(workdir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout],
                     daemon=True).start()
    seen = []
    while True:
        try:
            line = lines.get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            process.kill()
            pytest.fail(f"deploy/serve.py not ready after {READY_TIMEOUT_S} s: {seen}")
        seen.append(line)
        if line.startswith("READY "):
            return process, line.split()[1]
        if process.poll() is not None:
            pytest.fail(f"deploy/serve.py exited with {process.returncode}: {''.join(seen)}")


def upstreams(workdir: Path, sticky: str, request: str) -> set[str]:
    """The replicas nginx sent ``request`` lines with sticky id ``sticky`` to."""
    log = (workdir / "logs" / "access.log").read_text()
    return set(re.findall(rf'"{re.escape(request)} [^"]*" \d+ \d+ upstream=(\S+) '
                          rf"sticky={re.escape(sticky)} ", log))


async def _sessions_keep_their_state(url: str, workdir: Path) -> None:
    # Open sessions until two landed on different replicas (each has even odds).
    by_replica: dict[str, Session] = {}
    for _ in range(12):
        session = Session(url, page="explorer_2d")
        await session.open()
        first = await session.rerun()
        assert first.exceptions == [] and "e2.stride.0" in session.widgets
        (replica,) = upstreams(workdir, session.cookies[serve.COOKIE], "GET /explorer_2d")
        if replica in by_replica:
            await session.close()
        else:
            by_replica[replica] = session
        if len(by_replica) == 2:
            break
    assert len(by_replica) == 2, "12 sessions all went to one replica"
    (replica_a, a), (replica_b, b) = by_replica.items()

    # Each session changes its own control, then both rerun in turns: each keeps its own.
    run_a = await a.rerun({"e2.stride.0": 2})
    run_b = await b.rerun({"e2.size.0": 3})
    assert "stride=2" in run_a.query_string and "size=" not in run_a.query_string
    assert "size=3" in run_b.query_string and "stride=" not in run_b.query_string
    for step in (1, 2):  # the browser view reports where the user stopped stepping
        for session in (a, b):
            run = await session.rerun({"e2.view": session.view_report("e2.view", step=step)})
            assert run.exceptions == [] and run.status == 0
    assert re.search(r"stride=2.*step=3", a.query) and "size=" not in a.query  # from 1
    assert re.search(r"size=3.*step=3", b.query) and "stride=" not in b.query

    # A dropped websocket comes back to the same replica and finds its session there.
    for session in (a, b):
        session_id = session.session_id
        for step in (3, 4, 5):
            await session.reconnect()
            run = await session.rerun({"e2.view": session.view_report("e2.view", step=step)})
            assert session.session_id == session_id and run.exceptions == []
    assert "step=6" in a.query and "stride=2" in a.query and "step=6" in b.query

    # The control: the same reconnection with the other replica's cookie finds no session.
    cookie_a, cookie_b = a.cookies[serve.COOKIE], b.cookies[serve.COOKIE]
    a.cookies[serve.COOKIE] = cookie_b
    session_id = a.session_id
    await a.reconnect()
    await a.rerun()
    assert a.session_id != session_id
    for session in (a, b):
        await session.close()
    await asyncio.sleep(0.5)  # nginx logs a websocket when it closes
    assert upstreams(workdir, cookie_a, "GET /_stcore/stream") == {replica_a}
    assert upstreams(workdir, cookie_b, "GET /_stcore/stream") == {replica_b}


def test_two_replicas_keep_each_sessions_state(tmp_path):
    """nginx + 2 replicas on loopback: two sessions on different replicas keep their state
    over reruns and reconnections, and a reconnection routed to the other replica (the
    control) does not.  About 20 s, most of it starting the replicas."""
    nginx_or_skip()
    process, url = _start(serve.free_port(), tmp_path)
    try:
        # (in a thread of its own: in one pytest process the browser tests' Playwright keeps
        # an event loop running on the main thread, where asyncio.run() refuses to start)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _sessions_keep_their_state(url, tmp_path)).result()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
    replica_ports = [int(p) for p in re.findall(r"server 127\.0\.0\.1:(\d+)",
                                                (tmp_path / "nginx.conf").read_text())]
    assert len(replica_ports) == 2
    assert not any(serve.healthy(p) for p in replica_ports)  # everything stopped
    assert not serve.healthy(int(url.rsplit(":", 1)[1]))
