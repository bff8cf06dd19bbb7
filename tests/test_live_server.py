"""The live class on a real uvicorn server, followed over real Server-Sent Events
(app/live/client.py reads the stream as EventSource does): delivery of every state version,
reconnects, two replicas sharing a class through Redis, and shutdown with streams open."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import statistics
import threading
import time

import httpx2
import uvicorn
from event_loop import run_async

from app.live import classroom
from app.live.classroom import Limits
from app.live.client import Follower, Teacher, join

# Streams close every 2 s here, so each student reconnects during a test; heartbeats 0.5 s.
LIMITS = Limits(stream_s=2.0, heartbeat_s=0.5, retry_ms=100)


@contextlib.contextmanager
def serve(app):
    """``app`` served by uvicorn on a free loopback port, in a thread: its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread
    finally:
        server.should_exit = True
        classroom.stop_streams()
        thread.join(15)
        sock.close()


def millis(seconds: list[float]) -> str:
    q = statistics.quantiles(seconds, n=20) if len(seconds) > 1 else seconds * 19
    return (f"p50 {1000 * statistics.median(seconds):.1f} ms, p95 {1000 * q[18]:.1f} ms, "
            f"max {1000 * max(seconds):.1f} ms")


async def lesson(teacher_url: str, student_urls: list[str], n_students: int) -> dict:
    """A teacher steps through 30 steps over ~3 s (every stream reconnects at least once), asks,
    the students answer, the teacher reveals; returns what everybody saw."""
    limits = httpx2.Limits(max_connections=n_students + 10)
    clients = [httpx2.AsyncClient(base_url=u, limits=limits) for u in {teacher_url,
                                                                       *student_urls}]
    by_url = {str(c.base_url).rstrip("/"): c for c in clients}
    try:
        teacher = await Teacher.start(by_url[teacher_url])
        students = [Follower(by_url[u], teacher.code,
                             student=await join(by_url[u], teacher.code))
                    for u in (student_urls * n_students)[:n_students]]
        watcher = Follower(by_url[teacher_url], teacher.code, token=teacher.token)
        tasks = [asyncio.create_task(f.run()) for f in [*students, watcher]]
        await asyncio.gather(*(f.wait_for(lambda f: f.seq == 0, 10) for f in students))
        await teacher.act(action="view", page="explorer_2d", query="stride=2&pad=1")
        for step in range(30):
            await teacher.act(action="view", step=step, pin=None if step % 3 else
                              {"kind": "input", "m": 0, "p": [step, 1]})
            await asyncio.sleep(0.1)
        ask = await teacher.act(action="ask", kind="cell", cell=[1, 2], answer=12.5)
        guesses = ["12.5", "12,50", "13"]
        for i, s in enumerate(students):
            r = await s.http.post(f"/api/v1/classes/{teacher.code}/answers", json={
                "student": s.params["student"], "question": ask["question"],
                "value": guesses[i % 3]})
            assert r.status_code == 200, r.text
        await watcher.wait_for(lambda f: any(
            e == "answers" and d["count"] == n_students for e, d in f.events), 10)
        reveal = await teacher.act(action="reveal")
        last = max(teacher.sent)
        await asyncio.gather(*(f.wait_for(lambda f: f.seq == last, 10) for f in students))
        final = (await by_url[teacher_url].get(f"/api/v1/classes/{teacher.code}")).json()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return {"teacher": teacher, "students": students, "watcher": watcher,
                "reveal": reveal, "final": final}
    finally:
        for c in clients:
            await c.aclose()


def check(seen: dict, n_students: int) -> list[float]:
    teacher, final = seen["teacher"], seen["final"]
    delays = []
    for s in seen["students"]:
        assert s.gaps == 0 and s.seq == final["seq"] and s.state == final["state"]
        assert set(s.received) >= set(teacher.sent)  # every version arrived: none lost
        assert s.connections >= 2  # the 2 s lifetime made it reconnect, and it resynced
        delays += [s.received[v] - teacher.sent[v] for v in teacher.sent]
    result = seen["reveal"]["result"]
    third = n_students // 3 + (1 if n_students % 3 == 2 else 0)
    assert result["count"] == n_students
    assert {b["value"]: b["count"] for b in result["histogram"]} == {
        "12.5": n_students - third, "13": third}
    assert final["state"]["question"]["result"] == result
    return delays


def test_every_student_receives_every_version_over_real_sse(make_broker, live_app):
    with serve(live_app(make_broker, LIMITS)) as (url, _, _):
        seen = run_async(lesson(url, [url], 12))
    delays = check(seen, 12)
    print(f"\n{len(delays)} deliveries to 12 students on one uvicorn: {millis(delays)}")


def test_two_replicas_share_a_class_through_redis(redis_url, live_app):
    from app.live.redis_broker import RedisBroker

    prefix = f"rep{time.monotonic_ns()}"
    with serve(live_app(lambda: RedisBroker(redis_url, prefix), LIMITS)) as (a, _, _), \
            serve(live_app(lambda: RedisBroker(redis_url, prefix), LIMITS)) as (b, _, _):
        seen = run_async(lesson(a, [a, b], 12))  # half the students on each replica
    delays = check(seen, 12)
    assert {str(s.http.base_url).rstrip("/") for s in seen["students"]} == {a, b}
    print(f"\n{len(delays)} deliveries across 2 replicas + Redis: {millis(delays)}")


def test_shutdown_is_not_held_by_open_streams(make_broker, live_app):
    """A stream that would live 60 s: stop_streams() ends it and the server exits at once."""
    with serve(live_app(make_broker, Limits(stream_s=60.0))) as (url, server, thread):
        async def hold():
            async with httpx2.AsyncClient(base_url=url) as http:
                teacher = await Teacher.start(http)
                follower = Follower(http, teacher.code, student=await join(http, teacher.code))
                task = asyncio.create_task(follower.run())
                await follower.wait_for(lambda f: f.seq == 0, 10)
                t0 = time.monotonic()
                server.should_exit = True
                classroom.stop_streams()
                await asyncio.to_thread(thread.join, 15)
                task.cancel()
                return time.monotonic() - t0, follower

        took, follower = run_async(hold())
        assert not thread.is_alive() and follower.connections == 1
        assert took < classroom.STOP_POLL_S + 5  # not the stream's 60 s
    print(f"\nserver exited {took:.2f} s after shutdown with a stream open")


def test_the_class_ends_for_every_follower(make_broker, live_app):
    with serve(live_app(make_broker, LIMITS)) as (url, _, _):
        async def lesson_end():
            async with httpx2.AsyncClient(base_url=url) as http:
                teacher = await Teacher.start(http)
                followers = [Follower(http, teacher.code, student=await join(http, teacher.code))
                             for _ in range(3)]
                tasks = [asyncio.create_task(f.run()) for f in followers]
                await asyncio.gather(*(f.wait_for(lambda f: f.seq == 0, 10) for f in followers))
                await teacher.act(action="end")
                await asyncio.wait_for(asyncio.gather(*tasks), 10)  # every stream ends
                return followers

        for f in run_async(lesson_end()):
            assert f.events[-1] == ("end", {"reason": "ended"}) and f.connections == 1
