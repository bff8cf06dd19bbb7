"""The live class's HTTP routes (app/live/routes.py) through Starlette's TestClient, on a
small Starlette app built from them, with the in-process broker and with Redis."""

from __future__ import annotations

import json
import time

import pytest
from event_loop import run_async
from starlette.applications import Starlette
from starlette.testclient import TestClient

from app.live import routes
from app.live.classroom import Classroom, Limits
from app.live.codes import new_student

# Streams close after 1 s here, so a test reads a whole stream; heartbeats every 0.3 s.  Rate
# windows are an hour long, so a test's requests never straddle two fixed windows.
LIMITS = Limits(stream_s=1.0, heartbeat_s=0.3, retry_ms=100, teacher_rate=(40, 3600.0),
                answer_rate=(10, 3600.0))
BASE = "/api/v1/classes"


@pytest.fixture
def client(make_broker, live_app):
    with TestClient(live_app(make_broker, LIMITS), raise_server_exceptions=False) as c:
        yield c


def parse_sse(text: str) -> list[dict]:
    """Events of a stream: ``{"event", "data", "id"}``; comments as ``{"comment"}``."""
    events = []
    for block in text.split("\n\n"):
        if not block:
            continue
        event: dict = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            if name == "":
                event["comment"] = value
            elif name == "data":
                event["data"] = json.loads(value)
            else:
                event[name] = value
        events.append(event)
    return events


def start(client) -> tuple[str, dict]:
    r = client.post(BASE)
    assert r.status_code == 201, r.text
    body = r.json()
    return body["code"], {"Authorization": f"Bearer {body['teacher_token']}"}


def teach(client, code, auth, **body):
    return client.post(f"{BASE}/{code}/teacher", json=body, headers=auth)


def join(client, code) -> str:
    r = client.post(f"{BASE}/{code}/join")
    assert r.status_code == 200, r.text
    return r.json()["student"]


def refusal(response, status: int, field, match: str = "") -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "field"} and body["field"] == field, body
    assert match in body["error"], body["error"]
    assert "Traceback" not in body["error"]
    return body["error"]


def test_a_lesson_from_start_to_end(client):
    code, auth = start(client)
    assert len(code) == 11 and code[3] == code[7] == "-"
    latecomer_view = client.get(f"{BASE}/{code.lower().replace('-', '')}").json()
    assert latecomer_view["state"]["mode"] == "follow" and latecomer_view["seq"] == 0
    assert latecomer_view["idle_limit_s"] == LIMITS.idle_s

    r = teach(client, code, auth, action="view", page="explorer_2d", query="stride=2&pad=1",
              step=4, pin={"kind": "input", "m": 0, "p": [2, 3]})
    assert r.status_code == 200 and r.json() == {"seq": 1}
    students = [join(client, code) for _ in range(5)]
    assert len(set(students)) == 5
    state = client.get(f"{BASE}/{code}").json()["state"]
    assert (state["page"], state["query"], state["step"]) == ("explorer_2d", "stride=2&pad=1", 4)
    assert state["pin"] == {"kind": "input", "m": 0, "p": [2, 3]} and state["at"] > 0

    r = teach(client, code, auth, action="ask", kind="shape", prompt="what is the output size?",
              answer=[1, 2, 7, 7])
    assert r.json()["question"] == 1
    question = client.get(f"{BASE}/{code}").json()["state"]["question"]
    assert question == {"id": 1, "kind": "shape", "prompt": "what is the output size?",
                        "cell": None, "open": True, "result": None}  # no answer leaks
    for sid, typed in zip(students, ["7x7", "(1, 2, 7, 7)", "8 8", "7×7", "6x6"]):
        r = client.post(f"{BASE}/{code}/answers", json={"student": sid, "question": 1,
                                                        "value": typed})
        assert r.status_code == 200, r.text
    assert r.json() == {"question": 1, "value": "6×6"}
    client.post(f"{BASE}/{code}/answers", json={"student": students[4], "question": 1,
                                                "value": "7 7"})  # changes their mind
    r = teach(client, code, auth, action="reveal")
    result = r.json()["result"]
    assert result["answer"] == "1×2×7×7" and result["count"] == 5 and result["right"] == 0.8
    assert result["histogram"] == [{"value": "7×7", "count": 3, "right": True},
                                   {"value": "1×2×7×7", "count": 1, "right": True},
                                   {"value": "8×8", "count": 1, "right": False}]
    assert client.get(f"{BASE}/{code}").json()["state"]["question"]["result"] == result
    refusal(client.post(f"{BASE}/{code}/answers", json={"student": students[0], "question": 1,
                                                       "value": "5x5"}),
            409, "question", "no question is open")
    refusal(teach(client, code, auth, action="show", value="9×9"), 422, "value",
            "no student gave '9×9'")
    assert teach(client, code, auth, action="show", value="8×8").status_code == 200
    assert client.get(f"{BASE}/{code}").json()["state"]["shown"] == {"question": 1,
                                                                    "value": "8×8"}
    teach(client, code, auth, action="mode", mode="pause", message="Eyes up here")
    state = client.get(f"{BASE}/{code}").json()["state"]
    assert (state["mode"], state["message"]) == ("pause", "Eyes up here")

    # the stream: retry, the current state first, heartbeats; closes after 1 s
    t0 = time.monotonic()
    r = client.get(f"{BASE}/{code}/events", params={"student": students[0]})
    assert time.monotonic() - t0 >= LIMITS.stream_s * 0.9
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["x-accel-buffering"] == "no" and r.headers["cache-control"] == "no-cache"
    events = parse_sse(r.text)
    assert events[0] == {"retry": "100"}
    snapshot = events[1]
    assert snapshot["event"] == "snapshot" and snapshot["id"] == str(snapshot["data"]["seq"])
    assert snapshot["data"]["state"] == client.get(f"{BASE}/{code}").json()["state"]
    assert {"comment": "heartbeat"} in events[2:]
    assert not any(e.get("event") in ("answers", "presence") for e in events)  # teacher's

    teacher = parse_sse(client.get(f"{BASE}/{code}/events", headers=auth).text)
    assert [e.get("event") for e in teacher[1:4]] == ["snapshot", "answers", "presence"]
    assert teacher[2]["data"] == {"question": 1, "open": False, **result}  # with the answer
    assert teacher[3]["data"]["students"] == 5

    assert teach(client, code, auth, action="end").json() == {"ended": code}
    refusal(client.get(f"{BASE}/{code}"), 404, "code", "was ended, expired after 4 h")
    refusal(teach(client, code, auth, action="view", step=1), 404, "code")  # replayed token


def test_tokens_only_drive_their_own_class(client):
    code, auth = start(client)
    other, other_auth = start(client)
    refusal(teach(client, code, {}, action="view", step=1), 401, "token", "missing")
    refusal(teach(client, code, {"Authorization": "Basic abc"}, action="view", step=1), 401,
            "token")
    refusal(teach(client, code, other_auth, action="view", step=1), 403, "token",
            "not this class's")
    forged = {"Authorization": "Bearer " + "A" * 43}
    refusal(teach(client, code, forged, action="view", step=1), 403, "token")
    refusal(client.get(f"{BASE}/{code}/events", params={"token": "A" * 43}), 403, "token")
    refusal(client.get(f"{BASE}/{code}/events", headers=other_auth), 403, "token")
    r = client.post(f"{BASE}/{code}/teacher", content=b"x" * 200_000, headers=forged)
    refusal(r, 403, "token")  # refused before its large body is read
    assert client.get(f"{BASE}/{code}").json()["seq"] == 0  # nothing moved
    assert teach(client, code, auth, action="view", step=2).json() == {"seq": 1}
    assert teach(client, other, other_auth, action="view", step=3).json() == {"seq": 1}


def test_hostile_and_malformed_requests_are_refused_by_name(client):
    code, auth = start(client)
    sid = join(client, code)
    missing = "K7M-Q2X-9TB"
    for method, path in [("get", ""), ("post", "/join"), ("post", "/answers"),
                         ("post", "/presence"), ("get", "/events"), ("post", "/teacher")]:
        r = getattr(client, method)(f"{BASE}/{missing}{path}", headers=auth,
                                    **({"json": {}} if method == "post" else {}))
        refusal(r, 404, "code", "no class K7M-Q2X-9TB")
        refusal(getattr(client, method)(f"{BASE}/0OO-111-lll{path}"), 404, "code",
                "9 symbols from")
    refusal(client.post(f"{BASE}/{code}/teacher", content=b"x" * (routes.MAX_BODY_BYTES + 1),
                        headers=auth), 413, "body", f"at most {routes.MAX_BODY_BYTES} bytes")

    def chunks():
        for _ in range(100):
            yield b"x" * 1000
    refusal(client.post(f"{BASE}/{code}/answers", content=chunks()), 413, "body")  # no length
    refusal(client.post(f"{BASE}/{code}/teacher", content=b"{nope", headers=auth), 400,
            "body", "not valid JSON")
    refusal(client.post(f"{BASE}/{code}/teacher", headers=auth), 400, "body", "empty")
    refusal(teach(client, code, auth, action="view", step="3"), 422, "step", "got a string")
    refusal(teach(client, code, auth, action="view", page="explorer_2d", query="a=" + "1" * 70_000),
            422, "query", "at most 65536 characters")
    refusal(client.post(f"{BASE}/{code}/answers", json={"student": sid, "question": 1,
                                                       "value": 3}),
            409, "question", "no question is open")
    teach(client, code, auth, action="ask", kind="cell", cell=[0, 1], answer=2.5)
    stranger = new_student()
    refusal(client.post(f"{BASE}/{code}/answers", json={"student": stranger, "question": 1,
                                                       "value": 3}),
            404, "student", "join again")
    refusal(client.post(f"{BASE}/{code}/answers", json={"student": sid, "question": 1,
                                                       "value": "lots", "x": 1}), 422, "x")
    refusal(client.post(f"{BASE}/{code}/answers", json={"student": sid, "question": 1,
                                                       "value": "lots"}),
            422, "value", "expected a number")
    refusal(client.post(f"{BASE}/{code}/presence", json={"student": stranger}), 404, "student")
    refusal(client.get(f"{BASE}/{code}/events", params={"student": "me"}), 422, "student")
    refusal(client.get(f"{BASE}/{code}/events", params={"student": stranger}), 404, "student")


def test_floods_are_limited_per_student_and_never_reach_other_classes(client):
    code, auth = start(client)
    other, other_auth = start(client)
    flooder, calm = join(client, code), join(client, code)
    other_student = join(client, other)
    teach(client, code, auth, action="ask", kind="cell", cell=[0], answer=1)
    teach(client, other, other_auth, action="ask", kind="cell", cell=[0], answer=1)
    codes = [client.post(f"{BASE}/{code}/answers", json={"student": flooder, "question": 1,
                                                         "value": i}).status_code
             for i in range(15)]
    assert codes == [200] * 10 + [429] * 5
    r = client.post(f"{BASE}/{code}/answers", json={"student": flooder, "question": 1,
                                                    "value": 1})
    refusal(r, 429, "student", "too many answers from this student: at most 10 in 1 h")
    assert client.post(f"{BASE}/{code}/answers", json={"student": calm, "question": 1,
                                                       "value": 1}).status_code == 200
    assert client.post(f"{BASE}/{other}/answers", json={"student": other_student,
                                                        "question": 1,
                                                        "value": 1}).status_code == 200
    result = teach(client, code, auth, action="reveal").json()["result"]
    assert result["count"] == 2  # one answer per student: the flooder's last one counts
    assert result["histogram"] == [{"value": "1", "count": 1, "right": True},
                                   {"value": "9", "count": 1, "right": False}]
    statuses = [teach(client, code, auth, action="view", step=i).status_code
                for i in range(40)]
    assert statuses == [200] * 38 + [429] * 2  # the teacher's own limit (ask, reveal above)
    assert teach(client, other, other_auth, action="view", step=1).status_code == 200


def test_presence_counts_students_per_configuration(client):
    code, auth = start(client)
    students = [join(client, code) for _ in range(6)]
    teach(client, code, auth, action="mode", mode="free")
    for sid, (page, query) in zip(students, [("explorer_2d", "stride=2"),
                                             ("explorer_2d", "stride=2"),
                                             ("explorer_2d", "stride=1"),
                                             ("groups", ""), (None, None)]):
        r = client.post(f"{BASE}/{code}/presence", json={"student": sid, "page": page,
                                                         "query": query})
        assert r.status_code == 200, r.text
    events = parse_sse(client.get(f"{BASE}/{code}/events", headers=auth).text)
    presence = next(e for e in events if e.get("event") == "presence")["data"]
    assert presence == {"students": 6, "following": 2, "free": [
        {"page": "explorer_2d", "query": "stride=2", "count": 2},
        {"page": "explorer_2d", "query": "stride=1", "count": 1},
        {"page": "groups", "query": "", "count": 1}]}


def test_idle_classes_expire(make_broker, live_app):
    with TestClient(live_app(make_broker, Limits(idle_s=1.0))) as client:
        code, auth = start(client)
        time.sleep(0.6)
        assert teach(client, code, auth, action="view", step=1).status_code == 200  # activity
        time.sleep(0.6)
        assert client.get(f"{BASE}/{code}").status_code == 200
        time.sleep(1.2)
        refusal(client.get(f"{BASE}/{code}"), 404, "code", "expired after 1 s without activity")
        refusal(client.post(f"{BASE}/{code}/join"), 404, "code")


def test_failures_answer_json_never_a_traceback(monkeypatch, live_app):
    from app.live.redis_broker import RedisBroker

    with TestClient(live_app(lambda: RedisBroker("redis://127.0.0.1:9/0"), LIMITS),
                    raise_server_exceptions=False) as client:
        r = client.post(BASE)
        refusal(r, 503, None, "the redis broker did not answer")

    def broken(self, code_text):
        raise RuntimeError("secret internals")

    def no_classroom():
        raise RuntimeError("no broker configured")

    with TestClient(Starlette(routes=routes.live_routes(no_classroom)),
                    raise_server_exceptions=False) as client:
        r = client.post(BASE)
        assert r.status_code == 500 and r.json() == {"error": "internal error (it was logged)",
                                                     "field": None}

    from app.live.broker import MemoryBroker
    monkeypatch.setattr(Classroom, "public", broken)
    with TestClient(live_app(MemoryBroker, LIMITS), raise_server_exceptions=False) as client:
        r = client.get(f"{BASE}/K7M-Q2X-9TB")
        assert r.status_code == 500 and r.json() == {"error": "internal error (it was logged)",
                                                     "field": None}


def test_the_default_classroom_follows_the_environment(monkeypatch, redis_url):
    from app.live.broker import MemoryBroker
    from app.live.redis_broker import RedisBroker

    async def brokers():
        first, second = routes.default_classroom(), routes.default_classroom()
        return first, second

    monkeypatch.delenv("CONVCORE_REDIS_URL", raising=False)
    a, b = run_async(brokers())
    assert isinstance(a.broker, MemoryBroker) and a.broker is b.broker
    monkeypatch.setenv("CONVCORE_REDIS_URL", redis_url)
    a, b = run_async(brokers())
    assert isinstance(a.broker, RedisBroker) and a is b and a.broker.url == redis_url
    assert [r.path for r in routes.ROUTES] == [
        "/api/v1/classes", "/api/v1/classes/{code}", "/api/v1/classes/{code}/join",
        "/api/v1/classes/{code}/teacher", "/api/v1/classes/{code}/answers",
        "/api/v1/classes/{code}/presence", "/api/v1/classes/{code}/events",
        "/api/v1/classes/{code}/scene"]


def test_a_following_student_gets_the_teachers_scene_as_the_scene_api_gives_it(client):
    from app import api

    code, auth = start(client)
    student = join(client, code)
    scene = f"{BASE}/{code}/scene"
    refusal(client.get(scene, params={"student": student}), 409, "page", "not shown a view")
    teach(client, code, auth, action="view", page="explorer_2d", query="stride=2&pad=1", step=3)
    r = client.get(scene, params={"student": student})
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    expected = json.loads(api.answer("explorer_2d", {"stride": "2", "pad": "1"}))
    assert r.json() == expected and r.json()["scene"]["out_shape"] == [3, 3]
    # the student never names the configuration: a changed query is the teacher's
    teach(client, code, auth, action="view", query="stride=1")
    assert r.json()["scene_id"] != client.get(scene, params={"student": student}).json()[
        "scene_id"]
    refusal(client.get(scene, params={"student": "x" * 5}), 422, "student", "16 characters")
    refusal(client.get(scene, params={"student": new_student()}), 404, "student", "join again")
    refusal(client.get(f"{BASE}/ZZZ-ZZZ-ZZZ/scene", params={"student": student}), 404, "code")
    # a configuration the scene API refuses is refused here by name, as a 4xx
    teach(client, code, auth, action="view", query="nonsense=1")
    refusal(client.get(scene, params={"student": student}), 400, "nonsense",
            "the teacher's view cannot be shown here: unknown parameter 'nonsense'")
