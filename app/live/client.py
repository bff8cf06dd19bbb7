"""A Python client of a live class: the teacher's requests, and a follower that reads the event
stream as the browser's EventSource does (reconnecting after ``retry:``, state first).

For the tests, the benchmark and scripting a class; needs ``httpx2`` (requirements-dev.txt).

Example (against a running server)::

    async with httpx2.AsyncClient(base_url="http://127.0.0.1:8501") as http:
        teacher = await Teacher.start(http)
        student = Follower(http, teacher.code, student=await join(http, teacher.code))
        task = asyncio.create_task(student.run())
        await teacher.act(action="view", step=3)
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx2

BASE = "/api/v1/classes"


async def join(http: httpx2.AsyncClient, code: str) -> str:
    r = await http.post(f"{BASE}/{code}/join")
    r.raise_for_status()
    return r.json()["student"]


class Teacher:
    """A class's teacher: its code, token, and when each state version was sent."""

    def __init__(self, http: httpx2.AsyncClient, code: str, token: str):
        self.http, self.code, self.token = http, code, token
        self.sent: dict[int, float] = {}  # state version -> perf_counter() before sending

    @classmethod
    async def start(cls, http: httpx2.AsyncClient) -> Teacher:
        r = await http.post(BASE)
        r.raise_for_status()
        return cls(http, r.json()["code"], r.json()["teacher_token"])

    async def act(self, **body) -> dict:
        t = time.perf_counter()
        r = await self.http.post(f"{BASE}/{self.code}/teacher", json=body,
                                 headers={"Authorization": f"Bearer {self.token}"})
        r.raise_for_status()
        out = r.json()
        if "seq" in out:
            self.sent[out["seq"]] = t
        return out


class Follower:
    """Follows a class's stream: holds the state and its version, when each version arrived,
    and the teacher-only events when it follows as the teacher (``token``).

    A patch that is not the next version is a protocol error (counted in ``gaps``); the
    server sends the whole state instead when its subscriber lost events.
    """

    def __init__(self, http: httpx2.AsyncClient, code: str, student: str | None = None,
                 token: str | None = None):
        self.http, self.code = http, code
        self.params = {"student": student} if student else {}
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.state: dict | None = None
        self.seq = -1
        self.received: dict[int, float] = {}  # version -> perf_counter() when it arrived
        self.events: list[tuple[str, dict]] = []  # events other than snapshot/patch
        self.connections = 0
        self.gaps = 0
        self.retry_s = 1.0
        self.ended = asyncio.Event()
        self.changed = asyncio.Event()

    def _arrived(self, seq: int) -> None:
        now = time.perf_counter()
        for s in range(self.seq + 1, seq + 1):  # a snapshot brings every version up to it
            self.received.setdefault(s, now)
        self.seq = seq
        self.changed.set()

    def _handle(self, event: str, data: dict) -> None:
        if event == "snapshot":
            self.state = data["state"]
            if data["seq"] > self.seq:
                self._arrived(data["seq"])
        elif event == "patch":
            if data["seq"] != self.seq + 1:
                self.gaps += 1
            self.state.update(data["patch"])
            self._arrived(data["seq"])
        else:
            self.events.append((event, data))
            self.changed.set()
            if event == "end":
                self.ended.set()

    async def run(self) -> None:
        """Read the stream until the class ends (cancel the task to stop earlier)."""
        while not self.ended.is_set():
            try:
                async with self.http.stream("GET", f"{BASE}/{self.code}/events",
                                            params=self.params, headers=self.headers,
                                            timeout=httpx2.Timeout(10.0, read=None)) as r:
                    if r.status_code == 404:  # the class was ended or expired meanwhile
                        self.events.append(("end", {"reason": "gone"}))
                        self.ended.set()
                        return
                    r.raise_for_status()
                    self.connections += 1
                    event, data = "message", None
                    async for line in r.aiter_lines():
                        if line.startswith("retry: "):
                            self.retry_s = int(line[7:]) / 1000
                        elif line.startswith("event: "):
                            event = line[7:]
                        elif line.startswith("data: "):
                            data = json.loads(line[6:])
                        elif not line and data is not None:
                            self._handle(event, data)
                            event, data = "message", None
            except httpx2.TransportError:
                pass  # the server went away: reconnect, as EventSource does
            if not self.ended.is_set():
                await asyncio.sleep(self.retry_s)

    async def wait_for(self, predicate, timeout: float) -> None:
        """Wait until ``predicate(self)`` holds (TimeoutError after ``timeout`` s)."""
        async def wait():
            while not predicate(self):
                self.changed.clear()
                await self.changed.wait()
        await asyncio.wait_for(wait(), timeout)
