"""The live class over HTTP: Starlette routes, collected in :data:`ROUTES`, to mount beside
Streamlit (``st.App(script, routes=[*ROUTES, ...])``).

==========================================  =================================================
``POST /api/v1/classes``                    start a class: ``{code, teacher_token, ...}`` (201)
``GET  /api/v1/classes/{code}``             its public state
``POST /api/v1/classes/{code}/join``        a student joins: ``{student, seq, state}``
``POST /api/v1/classes/{code}/teacher``     a teacher action (``Authorization: Bearer TOKEN``)
``POST /api/v1/classes/{code}/answers``     ``{student, question, value}``
``POST /api/v1/classes/{code}/presence``    ``{student, page, query}`` (an exploring student)
``GET  /api/v1/classes/{code}/events``      Server-Sent Events; ``?student=ID`` for a
                                            student, the token (header, or ``?token=`` since
                                            EventSource sends no headers) for the teacher
``GET  /api/v1/classes/{code}/scene``       ``?student=ID``: the scene API's answer for the
                                            teacher's page and query (a following view)
==========================================  =================================================

Mounted in the app by :func:`routes` (under ``server.baseUrlPath``) with :func:`lifespan`, which
ends open event streams as soon as the server is told to stop.  Behind a proxy on the same
machine (deploy/'s nginx) a client is told apart by ``X-Forwarded-For``, as the scene API does
(:func:`app.api.client_of`).

Every refusal is JSON ``{"error": ..., "field": ...}`` with a 4xx status (503 when the broker
does not answer); a bug answers 500 with a one-line message and is logged, never a traceback.

Settings: ``CONVCORE_REDIS_URL`` (e.g. ``redis://127.0.0.1:6379/0``) puts every class in
Redis, shared by all replicas; without it classes live in this process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
import weakref
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app import api
from app.live.broker import MemoryBroker
from app.live.classroom import Classroom, Limits, stop_streams
from app.live.codes import LiveError
from app.live.messages import MAX_PRESENCE_QUERY_CHARS, MAX_QUERY_CHARS, parse_json

PREFIX = "/api/v1"
MAX_BODY_BYTES = MAX_QUERY_CHARS + 16_384  # a teacher's view action with the largest query
MAX_STUDENT_BODY_BYTES = MAX_PRESENCE_QUERY_CHARS + 1_024
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
log = logging.getLogger(__name__)

_memory: MemoryBroker | None = None
_per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def default_classroom() -> Classroom:
    """This process's classes: in memory, or in Redis when ``CONVCORE_REDIS_URL`` is set (one
    client per event loop, as redis-py's asyncio connections require)."""
    global _memory
    url = os.environ.get("CONVCORE_REDIS_URL")
    if not url:
        if _memory is None:
            _memory = MemoryBroker()
        return Classroom(_memory)
    loop = asyncio.get_running_loop()
    if loop not in _per_loop:
        from app.live.redis_broker import RedisBroker

        _per_loop[loop] = Classroom(RedisBroker(url), Limits())
    return _per_loop[loop]


def client_address(request: Request) -> str:
    """Who asks (a rate limit's key): the peer, or behind a trusted local proxy the address
    that proxy saw."""
    return api.client_of(request)


def bearer(request: Request) -> str | None:
    """The teacher token: ``Authorization: Bearer TOKEN``, or ``?token=`` (EventSource)."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""
    return request.query_params.get("token")


async def read_json(request: Request, limit: int):
    """The body as JSON, refused beyond ``limit`` bytes before more is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise LiveError(413, f"body: at most {limit} bytes, got {declared}", "body")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise LiveError(413, f"body: at most {limit} bytes", "body")
    if not raw:
        raise LiveError(400, "body: empty; expected a JSON object", "body")
    return parse_json(bytes(raw))


def live_routes(classroom=default_classroom, prefix: str = PREFIX) -> list[Route]:
    """The routes over the :class:`Classroom` that ``classroom()`` returns (called per
    request, on the serving event loop)."""

    def endpoint(handle, status: int = 200):
        async def run(request: Request):
            room = None
            try:
                room = classroom()
                result = await handle(request, room, request.path_params.get("code"))
                if isinstance(result, Response):  # the event stream, a scene's JSON text
                    return result
                return JSONResponse(result, status)
            except LiveError as e:
                return JSONResponse(e.body(), e.status)
            except Exception as e:
                if room is not None and isinstance(e, room.broker.errors):
                    log.warning("live class broker failed: %r", e)
                    return JSONResponse({"error": "class state unavailable: the "
                                         f"{room.broker.name} broker did not answer; try again",
                                         "field": None}, 503)
                log.exception("live class request failed: %s %s", request.method,
                              request.url.path)
                return JSONResponse({"error": "internal error (it was logged)",
                                     "field": None}, 500)
        return run

    async def create(request, room, code):
        return await room.create(client_address(request))

    async def public(request, room, code):
        return await room.public(code)

    async def join(request, room, code):
        return await room.join(code, client_address(request))

    async def teacher(request, room, code):
        return await room.teach(code, bearer(request),
                                lambda: read_json(request, MAX_BODY_BYTES))

    async def answers(request, room, code):
        return await room.answer(code, lambda: read_json(request, MAX_STUDENT_BODY_BYTES))

    async def presence(request, room, code):
        return await room.report(code, lambda: read_json(request, MAX_STUDENT_BODY_BYTES))

    async def events(request, room, code):
        stream = await room.open_stream(code, bearer(request),
                                        request.query_params.get("student"))
        return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)

    async def scene(request, room, code):
        text = await room.scene(code, request.query_params.get("student"), class_scene)
        return Response(text, media_type="application/json",
                        headers={"Cache-Control": "no-store"})

    base = f"{prefix}/classes"
    return [
        Route(base, endpoint(create, 201), methods=["POST"]),
        Route(base + "/{code}", endpoint(public), methods=["GET"]),
        Route(base + "/{code}/join", endpoint(join), methods=["POST"]),
        Route(base + "/{code}/teacher", endpoint(teacher), methods=["POST"]),
        Route(base + "/{code}/answers", endpoint(answers), methods=["POST"]),
        Route(base + "/{code}/presence", endpoint(presence), methods=["POST"]),
        Route(base + "/{code}/events", endpoint(events), methods=["GET"]),
        Route(base + "/{code}/scene", endpoint(scene), methods=["GET"]),
    ]


async def class_scene(page: str, query: str) -> str:
    """The scene API's answer for the class's ``page`` and URL ``query`` (the same codec,
    bounds, budget and cached model); its refusal as a :class:`LiveError`."""
    try:
        return await api.compute(page, dict(parse_qsl(query, keep_blank_values=True)))
    except api.ApiError as e:
        raise LiveError(e.status, f"the teacher's view cannot be shown here: {e.message}",
                        e.parameter) from None


ROUTES = live_routes()


def routes(base_path: str = "") -> list[Route]:
    """The class routes under ``base_path`` (Streamlit's ``server.baseUrlPath``, which
    Streamlit does not apply to routes of ours), over :func:`default_classroom`."""
    prefix = "/" + base_path.strip("/") if base_path.strip("/") else ""
    return live_routes(prefix=f"{prefix}{PREFIX}")


def _end_streams_on_signals():
    """Make SIGINT and SIGTERM end this process's event streams first (:func:`stop_streams`),
    then do what they did: uvicorn waits for open connections before the lifespan's shutdown
    runs, so a stream would otherwise hold the server for its whole lifetime.  Returns a
    function restoring the previous handlers (only the main thread may set them)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        handler = signal.getsignal(sig)
        if not callable(handler):
            continue

        def chained(number, frame, handler=handler):
            stop_streams()
            handler(number, frame)
        previous[sig] = (handler, chained)
        signal.signal(sig, chained)

    def restore():
        for sig, (handler, chained) in previous.items():
            if signal.getsignal(sig) is chained:
                signal.signal(sig, handler)
    return restore


def lifespan(inner=None):
    """An ASGI lifespan for the app serving these routes, around ``inner`` (another lifespan,
    or None): open event streams end as soon as the server is told to stop, and this event
    loop's Redis connections are closed at the end."""
    @contextlib.asynccontextmanager
    async def span(app):
        restore = _end_streams_on_signals()
        try:
            async with (inner(app) if inner else contextlib.nullcontext()):
                yield
        finally:
            stop_streams()
            restore()
            room = _per_loop.pop(asyncio.get_running_loop(), None)
            if room is not None:
                with contextlib.suppress(Exception):
                    await room.broker.aclose()
    return span
