"""The broker: where a class's state lives and how its events reach every stream.

One contract, two implementations: :class:`MemoryBroker` (this module; one process, nothing to
install, the default) and :class:`~app.live.redis_broker.RedisBroker` (several replicas share a
Redis server).  ``tests/test_live_broker.py`` runs the same suite against both.

What a class holds (Redis keys ``{prefix}:{CODE}:{name}``, all sharing the class's TTL):

- ``meta``: the teacher token's SHA-256, when the class started, the open question's id,
  kind and answer (the answer stays here, never in the state, until it is revealed);
- ``state``: the public state, one JSON value per field, and ``_seq``, its version, which
  every change increments;
- ``stu``: anonymous student id -> ``{"seen", "page", "query"}`` (where an exploring student
  is; no names, no addresses);
- ``ans``/``cnt``: the open question's answers (student id -> answer) and how many gave each.

The contract:

- :meth:`Broker.update` applies a patch to the state, increments ``_seq`` and publishes
  ``{"event": "patch", "seq": n, "data": patch}`` in one atomic step, so a subscriber that read
  the state at version ``s`` and then sees versions ``s+1, s+2, ...`` holds the state exactly;
  a gap means messages were lost and the subscriber reads the state again.
- A subscription registered before the state is read misses nothing published after that
  read; a subscriber that cannot keep up receives ``{"event": "lost"}`` once, then newer events.
- Answers are counted exactly: a student's new answer replaces their previous one.
- Every activity (create, update, join, answer, question change) renews the TTL of all the
  class's keys; heartbeats and presence reports do not.  A class idle for its TTL is gone.
- :meth:`Broker.hit` counts events in fixed windows for rate limits, shared by all replicas.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

QUEUE_LIMIT = 1000  # events waiting for one slow subscriber before it is told it lost some
LOST = {"event": "lost", "seq": None, "to": "all", "data": {}}


class BrokerUnavailableError(RuntimeError):
    """The broker did not answer (the routes answer 503)."""


class Subscription:
    """Events of one class for one stream, in publication order.

    ``get(timeout)`` returns the next event, or None after ``timeout`` seconds without one.
    Producers may call :meth:`push` from any thread.
    """

    def __init__(self):
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE_LIMIT)
        self.lost = False

    def push(self, event: dict) -> None:
        self.loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: dict) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.lost = True

    async def get(self, timeout: float) -> dict | None:
        if self.lost:
            self.lost = False
            while not self.queue.empty():
                self.queue.get_nowait()
            return LOST
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class Broker(ABC):
    """What the class service needs from shared state (see the module docstring).

    ``errors``: the exceptions that mean the broker itself failed (answered as 503).
    """

    name = "broker"
    errors: tuple = (BrokerUnavailableError,)

    @abstractmethod
    async def create(self, code: str, meta: dict, state: dict, ttl_s: float) -> bool:
        """Store a new class; False when the code is taken."""

    @abstractmethod
    async def meta(self, code: str) -> dict | None:
        """The class's private fields, or None when it does not exist (or expired)."""

    @abstractmethod
    async def set_meta(self, code: str, values: dict, ttl_s: float, *,
                       clear_answers: bool = False) -> bool:
        """Set private fields (and drop every answer, for a new question); False when gone."""

    @abstractmethod
    async def state(self, code: str) -> tuple[int, dict] | None:
        """The public state and its version."""

    @abstractmethod
    async def update(self, code: str, patch: dict, ttl_s: float) -> int | None:
        """Patch the state, bump its version, publish the patch; the version, None when gone."""

    @abstractmethod
    async def publish(self, code: str, event: str, data: dict, to: str = "teacher") -> None:
        """Publish an event outside the state (``to``: ``"all"`` or ``"teacher"``)."""

    @abstractmethod
    def subscribe(self, code: str):
        """An async context manager yielding a :class:`Subscription` to the class's events."""

    @abstractmethod
    async def join(self, code: str, student: str, record: dict, max_students: int,
                   ttl_s: float) -> str:
        """Register a student: ``"ok"``, ``"full"`` (``max_students`` reached) or ``"gone"``."""

    @abstractmethod
    async def see(self, code: str, student: str, values: dict) -> bool:
        """Update fields of a registered student's record; False when the student is unknown."""

    @abstractmethod
    async def students(self, code: str) -> dict[str, dict]:
        """Every registered student's record."""

    @abstractmethod
    async def forget(self, code: str, students: list[str]) -> None:
        """Drop students (gone for long: they join again when they come back)."""

    @abstractmethod
    async def answer(self, code: str, question: int, student: str, key: str,
                     ttl_s: float) -> dict[str, int] | str:
        """Record an answer to the open question ``question``: the counts afterwards, or
        ``"gone"`` (no class), ``"closed"`` (not the open question) or ``"unknown"`` (student)."""

    @abstractmethod
    async def counts(self, code: str) -> dict[str, int]:
        """How many students gave each answer to the open (or last) question."""

    @abstractmethod
    async def hit(self, key: str, limit: int, window_s: float) -> bool:
        """Count one event for ``key``; False when the window already holds ``limit``."""

    @abstractmethod
    async def end(self, code: str) -> None:
        """Delete the class (its streams receive the ``end`` event first)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Release connections."""


def encode(event: str, data: dict, seq: int | None = None, to: str = "all") -> str:
    return json.dumps({"event": event, "seq": seq, "to": to, "data": data},
                      separators=(",", ":"))


# ------------------------------------------------------------------------------ in-process

@dataclass
class _Class:
    meta: dict
    state: dict
    expires: float
    seq: int = 0
    students: dict = field(default_factory=dict)
    answers: dict = field(default_factory=dict)
    counts: dict = field(default_factory=dict)


class MemoryBroker(Broker):
    """The broker in this process's memory: every stream and request of one server process
    shares it (thread-safe: a lock guards the data, events reach each subscriber's own loop).

    ``max_classes`` bounds memory: a new class beyond it is refused (expired ones are swept).
    """

    name = "memory"

    def __init__(self, max_classes: int = 2000, clock=time.monotonic):
        self.classes: dict[str, _Class] = {}
        self.subs: dict[str, set[Subscription]] = {}
        self.windows: dict[str, tuple[int, int]] = {}
        self.lock = threading.Lock()
        self.max_classes = max_classes
        self.clock = clock

    def _get(self, code: str) -> _Class | None:
        c = self.classes.get(code)
        if c is not None and c.expires <= self.clock():
            del self.classes[code]
            return None
        return c

    def _touch(self, c: _Class, ttl_s: float) -> None:
        c.expires = self.clock() + ttl_s

    def _send(self, code: str, message: str) -> None:
        event = json.loads(message)  # each subscriber gets its own copy, as from Redis
        for sub in self.subs.get(code, ()):
            sub.push(event)

    async def create(self, code, meta, state, ttl_s):
        with self.lock:
            if self._get(code) is not None:
                return False
            if len(self.classes) >= self.max_classes:
                now = self.clock()
                self.classes = {k: c for k, c in self.classes.items() if c.expires > now}
                if len(self.classes) >= self.max_classes:
                    raise OverflowError(f"this server holds {self.max_classes} classes")
            self.classes[code] = _Class(dict(meta), json.loads(json.dumps(state)),
                                        self.clock() + ttl_s)
            return True

    async def meta(self, code):
        with self.lock:
            c = self._get(code)
            return None if c is None else dict(c.meta)

    async def set_meta(self, code, values, ttl_s, *, clear_answers=False):
        with self.lock:
            c = self._get(code)
            if c is None:
                return False
            c.meta.update({k: str(v) for k, v in values.items()})
            if clear_answers:
                c.answers, c.counts = {}, {}
            self._touch(c, ttl_s)
            return True

    async def state(self, code):
        with self.lock:
            c = self._get(code)
            return None if c is None else (c.seq, json.loads(json.dumps(c.state)))

    async def update(self, code, patch, ttl_s):
        with self.lock:
            c = self._get(code)
            if c is None:
                return None
            message = json.dumps(patch)  # fails before anything changes if not JSON
            c.seq += 1
            c.state.update(json.loads(message))
            self._touch(c, ttl_s)
            self._send(code, encode("patch", patch, c.seq))
            return c.seq

    async def publish(self, code, event, data, to="teacher"):
        with self.lock:
            self._send(code, encode(event, data, None, to))

    @contextlib.asynccontextmanager
    async def subscribe(self, code):
        sub = Subscription()
        with self.lock:
            self.subs.setdefault(code, set()).add(sub)
        try:
            yield sub
        finally:
            with self.lock:
                subs = self.subs.get(code, set())
                subs.discard(sub)
                if not subs:
                    self.subs.pop(code, None)

    async def join(self, code, student, record, max_students, ttl_s):
        with self.lock:
            c = self._get(code)
            if c is None:
                return "gone"
            if student not in c.students and len(c.students) >= max_students:
                return "full"
            c.students[student] = dict(record)
            self._touch(c, ttl_s)
            return "ok"

    async def see(self, code, student, values):
        with self.lock:
            c = self._get(code)
            if c is None or student not in c.students:
                return False
            c.students[student].update(values)
            return True

    async def students(self, code):
        with self.lock:
            c = self._get(code)
            return {} if c is None else {k: dict(v) for k, v in c.students.items()}

    async def forget(self, code, students):
        with self.lock:
            c = self._get(code)
            for s in students if c is not None else ():
                c.students.pop(s, None)  # their answers stay counted

    async def answer(self, code, question, student, key, ttl_s):
        with self.lock:
            c = self._get(code)
            if c is None:
                return "gone"
            if c.meta.get("qid") != str(question) or c.meta.get("qopen") != "1":
                return "closed"
            if student not in c.students:
                return "unknown"
            old = c.answers.get(student)
            if old != key:
                c.answers[student] = key
                if old is not None:
                    c.counts[old] -= 1
                    if not c.counts[old]:
                        del c.counts[old]
                c.counts[key] = c.counts.get(key, 0) + 1
            self._touch(c, ttl_s)
            return dict(c.counts)

    async def counts(self, code):
        with self.lock:
            c = self._get(code)
            return {} if c is None else dict(c.counts)

    async def hit(self, key, limit, window_s):
        window = int(time.time() // window_s)
        with self.lock:
            if len(self.windows) > 50_000:  # drop finished windows
                self.windows = {k: v for k, v in self.windows.items() if v[0] >= window}
            seen, count = self.windows.get(key, (window, 0))
            count = count + 1 if seen == window else 1
            self.windows[key] = (window, count)
            return count <= limit

    async def aclose(self):
        pass  # nothing to release

    async def end(self, code):
        with self.lock:
            if self.classes.pop(code, None) is not None:
                self._send(code, encode("end", {"reason": "ended"}))
