"""The class service: starting a class, the teacher's actions, students' answers and presence,
and the event stream — every rule of a live class, over any :class:`~app.live.broker.Broker`.

The public state every student receives (``STATE``): the teacher's ``page`` and ``query``
(its configuration), ``step``, ``playing``/``speed`` (with ``at``, the server time in ms when
the step or Play last changed, so a latecomer can tell where Play has got to), ``reveal``,
``pin``, the lever ``mode`` (``follow``/``free``/``pause``) with its ``message``, the open
``question`` (its answer only once revealed) and ``shown``, an answer shown anonymously.

Only the teacher's stream receives ``answers`` (live count, histogram, share right) and
``presence`` (how many students are here, how many follow, and how many are on which
configuration: counts only).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass

from app.live import messages as msg
from app.live.broker import Broker
from app.live.codes import (
    LiveError,
    is_student_id,
    new_code,
    new_student,
    new_token,
    read_code,
    show_code,
    token_digest,
    token_matches,
)

STATE = {"page": None, "query": "", "step": 0, "playing": False, "speed": 2, "reveal": False,
         "pin": None, "at": None, "mode": "follow", "message": "", "question": None,
         "shown": None}
STOP_POLL_S = 1.0  # how soon open streams notice stop_streams()
_stops = [0]  # how many times stop_streams() was called


def stop_streams() -> None:
    """End every event stream open in this process within ~1 s (call it on shutdown: an open
    stream otherwise holds the server until its capped lifetime ends).  Streams opened later
    are not affected."""
    _stops[0] += 1


@dataclass(frozen=True)
class Limits:
    """How long things live and how much anyone may send.  Rates are (events, seconds)."""

    idle_s: float = 4 * 3600  # a class without activity for this long is gone
    stream_s: float = 60.0  # an event stream closes after this; the browser reconnects
    retry_ms: int = 500  # ... this long after (the SSE ``retry:`` field)
    heartbeat_s: float = 15.0  # a comment line keeps proxies from closing an idle stream
    seen_s: float = 45.0  # a student counts as present this long after their last heartbeat
    forget_s: float = 15 * 60  # ... and is forgotten after this (they join again on return)
    max_students: int = 500  # students registered at once in one class
    teacher_rate: tuple = (60, 1.0)  # teacher actions per class
    answer_rate: tuple = (10, 10.0)  # answers per student
    presence_rate: tuple = (20, 10.0)  # presence reports per student
    scene_rate: tuple = (40, 10.0)  # the teacher's scene fetched by one student
    join_rate: tuple = (300, 60.0)  # joins per class from one address (a school shares one)
    create_rate: tuple = (20, 60.0)  # classes started from one address


def duration(seconds: float) -> str:
    """``14400`` -> ``"4 h"``, ``900`` -> ``"15 min"``, ``1.5`` -> ``"1.5 s"``."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"


def sse(event: str, data, event_id: int | None = None) -> str:
    """One Server-Sent Event (``data`` as one line of JSON)."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n"


def _rendered(event: dict) -> str:
    """An event from the broker as SSE text, written once for all the streams it reaches
    (they share the event object)."""
    text = event.get("sse")
    if text is None:
        if event["seq"] is None:
            text = sse(event["event"], event["data"])
        else:
            text = sse("patch", {"seq": event["seq"], "patch": event["data"]}, event["seq"])
        event["sse"] = text
    return text


def tally(kind: str, answer: str, counts: dict[str, int]) -> dict:
    """The answers to a question: how many, the share right, and the histogram (most given
    first).

    Example:
        >>> tally("shape", "7×7", {"7×7": 3, "8×8": 1})["right"]
        0.75
    """
    total = sum(counts.values())
    bars = [{"value": k, "count": n, "right": msg.is_right(kind, k, answer)}
            for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if n > 0]
    right = sum(b["count"] for b in bars if b["right"])
    return {"count": total, "right": right / total if total else None, "histogram": bars}


async def _read(body):
    return await body() if callable(body) else body


class Classroom:
    """Every live class of this server, over ``broker``, within ``limits``.

    A request's ``body`` is the message, or an async function returning it: it is called
    once the class (and the teacher's token) have been checked, so nobody's body is read
    for a class that does not exist or a token that does not match.
    """

    def __init__(self, broker: Broker, limits: Limits = Limits()):
        self.broker = broker
        self.limits = limits

    # ------------------------------------------------------------------ helpers

    def _gone(self, code: str) -> LiveError:
        return LiveError(404, f"no class {show_code(code)}: it was ended, expired after "
                         f"{duration(self.limits.idle_s)} without activity, or never "
                         "existed", "code")

    async def _meta(self, code_text) -> tuple[str, dict]:
        code = read_code(code_text)
        meta = await self.broker.meta(code)
        if meta is None:
            raise self._gone(code)
        return code, meta

    async def _limit(self, key: str, rate: tuple, what: str, field: str | None) -> None:
        if not await self.broker.hit(key, *rate):
            raise LiveError(429, f"too many {what}: at most {rate[0]} in "
                            f"{duration(rate[1])}; wait and try again", field)

    def _teacher(self, meta: dict, token) -> None:
        if not token:
            raise LiveError(401, "teacher token: missing (send Authorization: Bearer TOKEN)",
                            "token")
        if not token_matches(token, meta["token"]):
            raise LiveError(403, "teacher token: not this class's (only the token given when "
                            "the class started can drive it)", "token")

    async def _update(self, code: str, patch: dict) -> int:
        seq = await self.broker.update(code, patch, self.limits.idle_s)
        if seq is None:
            raise self._gone(code)
        return seq

    async def _state(self, code: str) -> tuple[int, dict]:
        snap = await self.broker.state(code)
        if snap is None:
            raise self._gone(code)
        return snap

    async def answers(self, code: str, meta: dict, counts: dict | None = None) -> dict:
        """The teacher's view of the open (or last) question: its answer, how many answered,
        the share right, the histogram."""
        if "qid" not in meta:
            return {"question": None, "open": False, "answer": None,
                    **tally("cell", "0", {})}
        if counts is None:
            counts = await self.broker.counts(code)
        return {"question": int(meta["qid"]), "open": meta["qopen"] == "1",
                "answer": meta["answer"], **tally(meta["qkind"], meta["answer"], counts)}

    async def presence(self, code: str) -> dict:
        """How many students are here, how many follow, how many are on which configuration."""
        now = time.time()
        records = await self.broker.students(code)
        old = [s for s, r in records.items() if now - r["seen"] > self.limits.forget_s]
        if old:
            await self.broker.forget(code, old)
        here = [r for r in records.values() if now - r["seen"] <= self.limits.seen_s]
        configs = Counter((r["page"], r["query"] or "") for r in here if r.get("page"))
        return {"students": len(here),
                "following": sum(1 for r in here if not r.get("page")),
                "free": [{"page": p, "query": q, "count": n}
                         for (p, q), n in sorted(configs.items(), key=lambda c: -c[1])]}

    # ------------------------------------------------------------------ requests

    async def create(self, client: str) -> dict:
        """Start a class: its code and the teacher's token (shown once, stored only hashed)."""
        await self._limit(f"new:{client}", self.limits.create_rate, "classes started from "
                          "this address", None)
        token = new_token()
        meta = {"token": token_digest(token), "started": f"{time.time():.3f}"}
        for _ in range(8):  # a taken code is a 1-in-1e13 event per live class
            code = new_code()
            try:
                created = await self.broker.create(code, meta, STATE, self.limits.idle_s)
            except OverflowError as e:
                raise LiveError(503, f"cannot start a class: {e}; try again later") from None
            if created:
                return {"code": show_code(code), "teacher_token": token, "seq": 0,
                        "state": dict(STATE), "idle_limit_s": self.limits.idle_s}
        raise LiveError(503, "cannot start a class: no free code found; try again")

    async def public(self, code_text) -> dict:
        """What anyone holding the code may read: the state and the idle limit."""
        code = read_code(code_text)
        seq, state = await self._state(code)
        return {"code": show_code(code), "seq": seq, "state": state,
                "idle_limit_s": self.limits.idle_s}

    async def role(self, code_text, token=None) -> str:
        """``"teacher"`` when ``token`` drives the class, else ``"student"``; 404 when the
        class does not exist (a page checks the link it was opened with)."""
        _, meta = await self._meta(code_text)
        return "teacher" if token and token_matches(token, meta["token"]) else "student"

    async def join(self, code_text, client: str) -> dict:
        """A student joins: an anonymous id for their answers, and the current state."""
        code, _ = await self._meta(code_text)
        await self._limit(f"join:{code}:{client}", self.limits.join_rate,
                          "students joining from this address", None)
        student = new_student()
        status = await self.broker.join(code, student, {"seen": time.time(), "page": None,
                                                        "query": None},
                                        self.limits.max_students, self.limits.idle_s)
        if status == "gone":
            raise self._gone(code)
        if status == "full":
            raise LiveError(409, f"class {show_code(code)} is full: "
                            f"{self.limits.max_students} students", "code")
        await self.broker.publish(code, "presence", await self.presence(code))
        seq, state = await self._state(code)
        return {"code": show_code(code), "student": student, "seq": seq, "state": state}

    async def teach(self, code_text, token, body) -> dict:
        """One teacher action (see :mod:`app.live.messages`); the new state version."""
        code, meta = await self._meta(code_text)
        self._teacher(meta, token)
        await self._limit(f"teach:{code}", self.limits.teacher_rate, "teacher actions", None)
        action, values = msg.teacher_action(await _read(body))
        return await getattr(self, f"_{action}")(code, meta, values)

    async def _view(self, code, meta, values) -> dict:
        if "step" in values or "playing" in values:
            values["at"] = round(time.time() * 1000)
        return {"seq": await self._update(code, values)}

    async def _mode(self, code, meta, values) -> dict:
        seq = await self._update(code, {"mode": values["mode"],
                                        "message": values.get("message", "")})
        return {"seq": seq}

    async def _ask(self, code, meta, values) -> dict:
        qid = int(meta.get("qid", 0)) + 1
        if not await self.broker.set_meta(code, {"qid": qid, "qopen": 1,
                                                 "qkind": values["kind"],
                                                 "answer": values["answer"]},
                                          self.limits.idle_s, clear_answers=True):
            raise self._gone(code)
        question = {"id": qid, "kind": values["kind"], "prompt": values.get("prompt", ""),
                    "cell": values.get("cell"), "open": True, "result": None}
        seq = await self._update(code, {"question": question, "shown": None})
        await self.broker.publish(code, "answers", await self.answers(code, {
            "qid": qid, "qopen": "1", "qkind": values["kind"], "answer": values["answer"]}, {}))
        return {"seq": seq, "question": qid}

    async def _reveal(self, code, meta, values) -> dict:
        if meta.get("qopen") != "1":
            raise LiveError(409, "reveal: no open question (ask one first)", "action")
        await self.broker.set_meta(code, {"qopen": 0}, self.limits.idle_s)
        _, state = await self._state(code)
        answers = await self.answers(code, {**meta, "qopen": "0"})
        result = {k: answers[k] for k in ("answer", "count", "right", "histogram")}
        seq = await self._update(code, {"question": {**state["question"], "open": False,
                                                     "result": result}})
        await self.broker.publish(code, "answers", answers)
        return {"seq": seq, "result": result}

    async def _show(self, code, meta, values) -> dict:
        value = values["value"]
        if value is not None and value not in await self.broker.counts(code):
            raise LiveError(422, f"value: no student gave {value!r} to the current question",
                            "value")
        shown = None if value is None else {"question": int(meta["qid"]), "value": value}
        return {"seq": await self._update(code, {"shown": shown})}

    async def _end(self, code, meta, values) -> dict:
        await self.broker.end(code)
        return {"ended": show_code(code)}

    async def answer(self, code_text, body) -> dict:
        """A student's answer to the open question (a new one replaces their last)."""
        code, meta = await self._meta(code_text)
        values = msg.answer_message(await _read(body))
        student = values["student"]
        await self._limit(f"answer:{code}:{student}", self.limits.answer_rate,
                          "answers from this student", "student")
        if meta.get("qopen") != "1" or int(meta["qid"]) != values["question"]:
            raise LiveError(409, f"question: {values['question']} is not open "
                            + ("(no question is open)" if meta.get("qopen") != "1"
                               else f"(question {meta['qid']} is)"), "question")
        key = msg.answer_key(meta["qkind"], values["value"])
        counts = await self.broker.answer(code, values["question"], student, key,
                                          self.limits.idle_s)
        if counts == "gone":
            raise self._gone(code)
        if counts == "closed":
            raise LiveError(409, f"question: {values['question']} closed meanwhile",
                            "question")
        if counts == "unknown":
            raise LiveError(404, "student: not in this class (join again)", "student")
        await self.broker.publish(code, "answers", await self.answers(code, meta, counts))
        return {"question": values["question"], "value": key}

    async def report(self, code_text, body) -> dict:
        """Where an exploring student is (``page`` null: back to following the teacher)."""
        code, _ = await self._meta(code_text)
        values = msg.presence_message(await _read(body))
        student = values.pop("student")
        await self._limit(f"presence:{code}:{student}", self.limits.presence_rate,
                          "presence reports from this student", "student")
        record = {"seen": time.time(), "page": values.get("page"),
                  "query": values.get("query")}
        if not await self.broker.see(code, student, record):
            raise LiveError(404, "student: not in this class (join again)", "student")
        await self.broker.publish(code, "presence", await self.presence(code))
        return {"ok": True}

    async def scene(self, code_text, student, compute) -> str:
        """The teacher's view for a following student: ``compute(page, query)`` of the class's
        current page and query (the scene API's answer).  The student never names the
        configuration, so a class behind one school address costs one scene per teacher
        change, cached, however many follow; the rate limit is per student."""
        code, _ = await self._meta(code_text)
        student = msg.student(student, "student")
        if not await self.broker.see(code, student, {"seen": time.time()}):
            raise LiveError(404, "student: not in this class (join again)", "student")
        await self._limit(f"scene:{code}:{student}", self.limits.scene_rate,
                          "scenes for this student", "student")
        _, state = await self._state(code)
        if not state["page"]:
            raise LiveError(409, "page: the teacher has not shown a view yet", "page")
        return await compute(state["page"], state["query"] or "")

    # ------------------------------------------------------------------ the event stream

    async def open_stream(self, code_text, token=None, student=None):
        """Check who asks, then the stream of Server-Sent Events (text chunks): ``retry:``,
        the current state (``snapshot``), then ``patch`` events in order, ``end`` when the
        class ends, a comment every heartbeat; the teacher also gets ``answers`` and
        ``presence``.  It closes after ``limits.stream_s`` (the browser reconnects and
        receives the state again) or on :func:`stop_streams`."""
        code, meta = await self._meta(code_text)
        teacher = token is not None
        if teacher:
            self._teacher(meta, token)
        if student is not None:
            if not is_student_id(student):
                raise msg.refuse("student", "expected the student id this class gave on "
                                 "joining")
            if not await self.broker.see(code, student, {"seen": time.time()}):
                raise LiveError(404, "student: not in this class (join again)", "student")
        return self._stream(code, teacher, student)

    async def _snapshot(self, code: str, teacher: bool):
        snap = await self.broker.state(code)
        if snap is None:
            return None, [sse("end", {"reason": "expired"})]
        seq, state = snap
        # `now`: the server's clock, against which a latecomer reads `at` (where Play has got to)
        out = [sse("snapshot", {"seq": seq, "state": state, "now": round(time.time() * 1000)},
                   seq)]
        if teacher:
            meta = await self.broker.meta(code) or {}
            out += [sse("answers", await self.answers(code, meta)),
                    sse("presence", await self.presence(code))]
        return seq, out

    async def _stream(self, code: str, teacher: bool, student: str | None):
        lim = self.limits
        stops = _stops[0]
        try:
            async with self.broker.subscribe(code) as sub:
                yield f"retry: {lim.retry_ms}\n\n"
                seq, out = await self._snapshot(code, teacher)
                for chunk in out:
                    yield chunk
                if seq is None:
                    return
                loop = asyncio.get_running_loop()
                closes = loop.time() + lim.stream_s
                beat = loop.time() + lim.heartbeat_s
                while _stops[0] == stops and loop.time() < closes:
                    now = loop.time()
                    event = await sub.get(max(0.0, min(closes, beat, now + STOP_POLL_S) - now))
                    if event is None:
                        if loop.time() < beat:
                            continue
                        beat = loop.time() + lim.heartbeat_s
                        if await self.broker.meta(code) is None:
                            yield sse("end", {"reason": "expired"})
                            return
                        if student is not None:
                            await self.broker.see(code, student, {"seen": time.time()})
                        if teacher:
                            yield sse("presence", await self.presence(code))
                        yield ": heartbeat\n\n"
                    elif event["event"] == "end":
                        yield sse("end", event["data"])
                        return
                    elif event["event"] == "lost" or (event["seq"] or 0) > seq + 1:
                        seq, out = await self._snapshot(code, teacher)
                        for chunk in out:
                            yield chunk
                        if seq is None:
                            return
                    elif event["seq"] is not None:
                        if event["seq"] == seq + 1:
                            seq = event["seq"]
                            yield _rendered(event)
                    elif teacher or event["to"] == "all":
                        yield _rendered(event)
        except self.broker.errors:
            return  # the broker failed: the browser reconnects (`retry:`) and resynchronizes
