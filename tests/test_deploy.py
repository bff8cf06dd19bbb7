"""deploy/: nginx in front of two Streamlit replicas on loopback, driven over Streamlit's own
websocket protocol (deploy/session_client.py).

Without nginx these tests skip with the reason; with ``CONVCORE_REQUIRE_NGINX=1`` (set by
``.ci/run``) they fail instead, so CI cannot pass without running them.
"""

from __future__ import annotations

import argparse
import asyncio
import doctest
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import deployment  # noqa: E402
from deployment import Classroom, access_log, nginx_or_skip  # noqa: E402
from event_loop import run_async  # noqa: E402

from app.drill import questions as drill_questions  # noqa: E402
from deploy import serve  # noqa: E402
from deploy.session_client import Session  # noqa: E402


def test_missing_nginx_skips_here_and_fails_in_ci(monkeypatch):
    monkeypatch.setattr(serve, "find_nginx", lambda: None)
    monkeypatch.setattr(deployment, "REQUIRE_NGINX", False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install nginx"):
        nginx_or_skip()
    monkeypatch.setattr(deployment, "REQUIRE_NGINX", True)
    with pytest.raises(pytest.fail.Exception, match="CONVCORE_REQUIRE_NGINX=1 requires them"):
        nginx_or_skip()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "missing+=(nginx)" in ci and "export CONVCORE_REQUIRE_NGINX=1" in ci


def test_watcher_verdicts_and_replicas_auto():
    """A replica is killed at once when it misses its checks without using CPU (stopped,
    deadlocked), a busy one only after 20 s; ``--replicas auto`` is one per usable core."""
    result = doctest.testmod(serve)
    assert result.attempted >= 3 and result.failed == 0
    assert serve.verdict(1, 0.0, 1.0) is None  # one missed check is not enough
    assert serve.verdict(5, 0.01, 4.0).endswith(": hung")
    assert serve.verdict(5, 3.0, 19.0) is None and serve.verdict(5, 3.0, 20.0)
    assert serve.replica_count("auto") == serve.usable_cores()
    assert 1 <= serve.usable_cores() <= len(os.sched_getaffinity(0))
    assert serve.replica_count("3") == 3
    for bad in ("0", "-2", "two", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            serve.replica_count(bad)


def test_generated_config_passes_nginx_test(tmp_path):
    nginx = nginx_or_skip()
    (tmp_path / "logs").mkdir()
    (tmp_path / "tmp").mkdir()
    text = serve.nginx_config(tmp_path, "127.0.0.1:18080", [18601, 18602, 18603], 16)
    code = re.sub(r"#.*", "", text)
    new_browsers = re.search(r"upstream replicas \{([^}]*)\}", code).group(1)
    assert "least_conn;" in new_browsers
    assert len(re.findall(r"server 127\.0\.0\.1:1860\d max_fails=1 fail_timeout=2s;",
                          new_browsers)) == 3
    for i, port in enumerate((18601, 18602, 18603), start=1):  # r1 -> its replica, then backups
        block = re.search(rf"upstream replica_r{i} \{{([^}}]*)\}}", code).group(1)
        servers = re.findall(r"server 127\.0\.0\.1:(\d+)( backup)?", block)
        assert servers[0] == (str(port), "") and len(servers) == 3
        assert all(b == " backup" for _, b in servers[1:])
        assert f"r{i} replica_r{i};" in code
        assert f'"~(^|, )127\\.0\\.0\\.1:{port}$" r{i};' in code
    assert "hash" not in code and "ip_hash" not in code
    assert "add_header Set-Cookie $sticky_set_cookie always;" in code
    assert "client_max_body_size 17m;" in text
    assert "proxy_set_header Upgrade $http_upgrade;" in text
    classes = re.search(r"location \^~ /api/v1/classes \{([^}]*)\}", code).group(1)
    assert "proxy_buffering off;" in classes and "proxy_read_timeout 75s;" in classes
    assert "@" not in code  # every field filled in
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf),
                           "-e", str(tmp_path / "logs" / "error.log")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """One deploy/serve.py for the module's tests (each test leaves both replicas serving),
    with the redis-server it starts for live classes (without one, and not required, serve.py
    runs with --no-redis and the live class test skips)."""
    nginx_or_skip()
    redis = serve.find_redis() is not None or deployment.REQUIRE_REDIS
    room = Classroom(tmp_path_factory.mktemp("classroom"), redis=redis)
    yield room
    ports = [r["port"] for r in room.replicas().values()]
    room.stop()
    assert len(ports) == 2 and not any(serve.healthy(p) for p in ports)  # everything stopped
    assert not serve.healthy(int(room.url.rsplit(":", 1)[1]))


async def student(url: str, replica: str | None = None, page: str = "explorer_2d",
                  query: str = "") -> Session:
    """A browser tab that loaded the page (with a sticky cookie naming ``replica``, if given)."""
    session = Session(url, page=page, query=query, timeout=60)
    if replica:
        session.cookies[serve.COOKIE] = replica
    await session.open()
    run = await session.rerun()
    assert run.exceptions == [] and run.status == 0
    assert replica is None or session.cookies[serve.COOKIE] == replica
    return session


async def _sessions_keep_their_state(room: Classroom) -> None:
    # New browsers spread over the replicas (fewest connections first), each told its own.
    tabs = [await student(room.url) for _ in range(6)]
    names = [t.cookies[serve.COOKIE] for t in tabs]
    assert sorted(set(names)) == ["r1", "r2"] and abs(names.count("r1") - 3) <= 1, names
    a = next(t for t in tabs if t.cookies[serve.COOKIE] == "r1")
    b = next(t for t in tabs if t.cookies[serve.COOKIE] == "r2")
    for t in tabs:
        if t not in (a, b):
            await t.close()

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
    a.cookies[serve.COOKIE] = "r2"
    session_id = a.session_id
    await a.reconnect()
    await a.rerun()
    assert a.session_id != session_id
    for session in (a, b):
        await session.close()
    await asyncio.sleep(0.5)  # nginx logs a websocket when it closes
    ports = {name: f"127.0.0.1:{row['port']}" for name, row in room.replicas().items()}
    for line in access_log(room.workdir):
        if line["request"].startswith("GET /_stcore/stream"):
            assert line["upstream"] == ports[line["sticky"]] == ports[line["served_by"]], line


def test_two_replicas_keep_each_sessions_state(classroom):
    """nginx + 2 replicas on loopback: new browsers spread over both; two sessions on
    different replicas keep their state over reruns and reconnections, and a reconnection
    routed to the other replica (the control) does not.  About 15 s, most of it starting the
    replicas (once for this module)."""
    run_async(_sessions_keep_their_state(classroom))


async def _a_class_across_replicas(room: Classroom) -> None:
    import httpx2

    from app import api
    from app.live.client import Follower, Teacher, join

    def replica(name: str) -> httpx2.AsyncClient:  # a browser whose cookie names `name`
        return httpx2.AsyncClient(base_url=room.url, cookies={serve.COOKIE: name}, timeout=30)

    async with replica("r1") as r1, replica("r2") as r2:
        teacher = await Teacher.start(r1)
        await teacher.act(action="view", page="explorer_2d", query="stride=2&pad=1", step=1)
        students = [await join(r2, teacher.code) for _ in range(3)]
        followers = [Follower(r2, teacher.code, student=s) for s in students]
        tasks = [asyncio.create_task(f.run()) for f in followers]
        try:
            for f in followers:  # the state so far, then every change of the teacher's
                await f.wait_for(lambda f: f.state and f.state["step"] == 1, 10)
            for step in (2, 3, 4):
                seq = (await teacher.act(action="view", step=step))["seq"]
                for f in followers:
                    await f.wait_for(lambda f, seq=seq: f.seq >= seq, 5)
                    assert f.state["step"] == step and f.state["query"] == "stride=2&pad=1"
            assert all(f.gaps == 0 for f in followers)
            # the teacher's scene, served to the students by the other replica
            r = await r2.get(f"/api/v1/classes/{teacher.code}/scene",
                             params={"student": students[0]})
            assert r.status_code == 200
            assert r.json() == json.loads(api.answer("explorer_2d", {"stride": "2", "pad": "1"}))
            # predictions sent to r2, counted for the teacher on r1
            await teacher.act(action="ask", kind="shape", answer=[1, 2, 3, 3])
            for s, typed in zip(students, ["3x3", "3x3", "4x4"]):
                r = await r2.post(f"/api/v1/classes/{teacher.code}/answers",
                                  json={"student": s, "question": 1, "value": typed})
                assert r.status_code == 200, r.text
            result = (await teacher.act(action="reveal"))["result"]
            assert result["count"] == 3 and result["histogram"] == [
                {"value": "3×3", "count": 2, "right": True},
                {"value": "4×4", "count": 1, "right": False}]
            # a forged token drives nothing on either replica
            for http in (r1, r2):
                r = await http.post(f"/api/v1/classes/{teacher.code}/teacher",
                                    json={"action": "view", "step": 0},
                                    headers={"Authorization": "Bearer " + "A" * 43})
                assert r.status_code == 403 and r.json()["field"] == "token"
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.sleep(0.5)  # nginx logs a stream when it closes
    ports = {name: f"127.0.0.1:{row['port']}" for name, row in room.replicas().items()}
    served = {}
    for line in access_log(room.workdir):
        if f"/api/v1/classes/{teacher.code}" in line["request"] or (
                line["request"].startswith("POST /api/v1/classes ")):
            assert line["upstream"] == ports[line["sticky"]], line
            served.setdefault(line["sticky"], set()).add(re.sub(r"\?\S*", "", line["request"]))
    assert f"GET /api/v1/classes/{teacher.code}/events HTTP/1.1" in served["r2"]
    assert f"POST /api/v1/classes/{teacher.code}/teacher HTTP/1.1" in served["r1"]


def test_a_live_class_crosses_replicas_through_redis(classroom):
    """A teacher on replica r1 and three students on r2 (their sticky cookies): the students'
    event streams, through nginx unbuffered, get every change the teacher makes on the other
    replica, in order; the scene route serves the teacher's view; their answers are counted
    exactly for the teacher; a forged token is refused on both (serve.py's redis-server)."""
    if not classroom.redis:
        pytest.skip("no redis-server: serve.py ran with --no-redis")
    run_async(_a_class_across_replicas(classroom))


async def _replica_fails(room: Classroom, fault: signal.Signals) -> dict:
    """Students on both replicas, with state in their URLs (stride, step; a drill's answers)
    and one with an upload; ``fault`` hits r1; every student must be served again, with the
    same URL state, and those on r1 moved to r2 for good."""
    victim, other = "r1", "r2"
    explorers = [await student(room.url, name) for name in (victim, victim, other)]
    for i, tab in enumerate(explorers):
        await tab.rerun({"e2.stride.0": 2})
        await tab.rerun({"e2.view": tab.view_report("e2.view", step=1 + i)})
    drill = await student(room.url, victim, page="drill", query="seed=5&n=3")
    q0 = drill_questions.question(5, 0, 3)
    await drill.rerun({"drill.guess.0": ", ".join(map(str, q0.answer)),
                       "drill.check.0": True})
    await drill.rerun({"drill.next.0": True})
    assert "q=2" in drill.query and "ans=" in drill.query
    uploader = await student(room.url, victim, query="src=upload")
    await uploader.upload("e2.upload", "signal.csv", b"1,2,3,4,5\n5,4,3,2,1\n")
    loaded = await uploader.rerun()
    assert loaded.exceptions == [] and "e2.view" in uploader.widgets
    assert uploader.view_payload("e2.view")["scene"]["in_shape"][-2:] == [2, 5]
    on_victim = [*explorers[:2], drill, uploader]
    urls = {id(t): t.query for t in [*explorers, drill]}
    sessions = {id(t): t.session_id for t in [*explorers, drill, uploader]}
    old_pid = room.replicas()[victim]["pid"]

    os.kill(old_pid, fault)
    started = time.monotonic()

    async def served_again(tab: Session) -> float:
        try:  # a student who clicks: the rerun fails when the websocket goes, or waits
            await tab.rerun()
        except Exception:
            await tab.resume()
            run = await tab.rerun()
            assert run.exceptions == [], run.exceptions
        return time.monotonic() - started

    downtime = dict(zip(map(id, on_victim), await asyncio.gather(
        *(served_again(t) for t in on_victim))))
    for tab in on_victim:
        assert tab.session_id != sessions[id(tab)] and tab.cookies[serve.COOKIE] == other
    # ... in new sessions that kept what the URLs held (the page writes its settings and the
    # drill's progress back to the URL after every run: a lost value would show): the stride
    # and step, the drill's second question with the first answer graded
    for tab in [*explorers[:2], drill]:
        assert tab.query == urls[id(tab)] and re.search(r"stride=2|ans=", tab.query)
    assert "drill.guess.1" in drill.widgets and "drill.guess.0" not in drill.widgets
    notice = await uploader.rerun()
    assert any("upload it again" in w for w in notice.warnings), notice.warnings
    # the students on the other replica noticed nothing
    run = await explorers[2].rerun({"e2.view": explorers[2].view_report("e2.view", step=2)})
    assert run.exceptions == [] and explorers[2].session_id == sessions[id(explorers[2])]

    # The restarted replica does not take back the sessions that moved.
    await asyncio.to_thread(room.wait_serving, victim, old_pid)
    for tab in [*on_victim, explorers[2]]:
        moved_id = tab.session_id
        await tab.reconnect()
        run = await tab.rerun()
        assert run.exceptions == [] and tab.session_id == moved_id
        assert tab.cookies[serve.COOKIE] == other
        await tab.close()
    return downtime


def test_a_killed_replica_fails_over(classroom):
    """SIGKILL one of two replicas: its students reconnect (as the page does) to the other,
    keep what their URLs hold (explorer settings and step, drill answers), are asked to upload
    again, and stay there after the killed replica is back; the others notice nothing."""
    downtime = run_async(_replica_fails(classroom, signal.SIGKILL))
    print(f"killed replica: served again after {sorted(downtime.values())} s")
    assert any("exited (-9); restarting" in line for line in classroom.lines)
    # served again long before anything but the closed websocket could have told them
    assert max(downtime.values()) < 10


def test_a_hung_replica_fails_over(classroom):
    """SIGSTOP one of two replicas: serve.py's health checks find it hung and kill it, and its
    students fail over as from a killed one (not after nginx's 75 s websocket timeout)."""
    downtime = run_async(_replica_fails(classroom, signal.SIGSTOP))
    print(f"hung replica: served again after {sorted(downtime.values())} s")
    assert any("hung; killing it" in line for line in classroom.lines)
    assert max(downtime.values()) < 20


def test_kubernetes_manifest_validates_against_the_schemas():
    """deploy/kubernetes.yaml against the Kubernetes API schemas (kubernetes-validate, strict:
    unknown fields refused) of Kubernetes 1.30 (2024) and the newest it bundles; two broken
    copies (the controls) are refused; and the pods run the app as serve.py's replicas do."""
    import kubernetes_validate
    import yaml

    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "kubernetes.yaml").read_text()) if d]
    assert [d["kind"] for d in docs] == ["Secret", "Deployment", "Service", "Deployment",
                                         "Service", "Ingress"]
    versions = ["1.30", ".".join(kubernetes_validate.latest_version().split(".")[:2])]
    for version in versions:
        for doc in docs:
            assert kubernetes_validate.validate(doc, version, strict=True) == version

    deployment, ingress = docs[1], docs[5]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    # the pods share the live classes through the Redis Deployment's Service
    redis_deployment, redis_service = docs[3], docs[4]
    env = {e["name"]: e.get("value") for e in container["env"]}
    host, port = re.fullmatch(r"redis://([a-z-]+):(\d+)/0", env["CONVCORE_REDIS_URL"]).groups()
    assert host == redis_service["metadata"]["name"]
    assert redis_service["spec"]["ports"][0]["port"] == int(port)
    assert redis_service["spec"]["selector"] == redis_deployment["spec"]["template"]["metadata"][
        "labels"]
    redis = redis_deployment["spec"]["template"]["spec"]["containers"][0]
    assert redis["args"][:5] == ["redis-server", "--save", "", "--appendonly", "no"]
    assert redis["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8501"
    with pytest.raises(kubernetes_validate.ValidationError, match="is not of type 'integer'"):
        kubernetes_validate.validate(broken, versions[-1], strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(broken, versions[-1], strict=True)

    assert container["args"][:3] == ["streamlit", "run", "app/streamlit_app.py"]
    assert f"--server.maxUploadSize={serve.MAX_UPLOAD_MB}" in container["args"]
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert notes[prefix + "proxy-body-size"] == f"{serve.MAX_UPLOAD_MB + 1}m"
    assert notes[prefix + "session-cookie-name"] == serve.COOKIE
    assert notes[prefix + "session-cookie-change-on-failure"] == "true"
    # a hung pod is out of the Service and restarted about as fast as serve.py restarts one
    for probe, most_s in (("readinessProbe", 3), ("livenessProbe", 5)):
        p = container[probe]
        assert p["httpGet"]["path"] == "/_stcore/health"
        assert p["periodSeconds"] * p["failureThreshold"] + p["timeoutSeconds"] <= most_s
