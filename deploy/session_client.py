"""One browser tab talking to a Streamlit app, without a browser: the same websocket
(``/_stcore/stream``) and protobuf messages the page's JavaScript uses (``BackMsg`` up,
``ForwardMsg`` down).

A session loads its page like a browser: an HTTP GET of the page first (which is where a
load balancer sets its sticky cookie), then the websocket with that cookie and an ``Origin``
header, then one ``rerun_script`` per interaction carrying the widget values the user set.
Widgets are found by their user key, the last part of Streamlit's element id
(``$$ID-<hash>-e2.stride.0`` has the key ``e2.stride.0``).  Used by ``tests/test_deploy.py``
and ``benchmarks/bench_classroom.py``.

Examples::

    async def one_student():
        session = Session("http://127.0.0.1:8501", page="explorer_2d")
        await session.open()
        first = await session.rerun()                 # the page load
        run = await session.rerun({"e2.stride.0": 2})
        print(run.seconds, run.query_string)
        await session.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import websockets
from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileUploaderState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect

FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
            ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


@dataclass
class Widget:
    """A widget as the last run drew it: its user key, element id (which changes when the
    widget's parameters do), element type and protobuf (min, max, default, ...)."""

    key: str
    id: str
    kind: str
    proto: Any


@dataclass
class Run:
    """What one rerun cost and showed."""

    seconds: float  # from sending the BackMsg to the script-finished ForwardMsg
    status: int  # ForwardMsg.ScriptFinishedStatus
    received_bytes: int
    exceptions: list[str] = field(default_factory=list)  # tracebacks the page shows
    errors: list[str] = field(default_factory=list)  # st.error messages
    warnings: list[str] = field(default_factory=list)  # st.warning messages
    query_string: str | None = None  # the URL query the app wrote during the run


def widget_key(element_id: str) -> str | None:
    """``$$ID-<hash>-<user key>`` -> the user key (None for widgets without one)."""
    parts = element_id.split("-", 2)
    if len(parts) == 3 and parts[0] == "$$ID" and parts[2] != "None":
        return parts[2]
    return None


class Session:
    """One browser tab: ``open()``, then ``rerun(changes)`` per interaction, ``close()``.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8080``.
        page: the page's URL path, e.g. ``explorer_2d`` ("" for the default page).
        query: the page's URL query string, without ``?``.
        timeout: seconds one rerun may take before it counts as failed.
    """

    def __init__(self, base_url: str, page: str = "", query: str = "", timeout: float = 120):
        self.base_url = base_url.rstrip("/")
        self.page, self.query, self.timeout = page, query, timeout
        self.cookies: dict[str, str] = {}
        self.session_id: str | None = None
        self.page_script_hash: str | None = None
        self.widgets: dict[str, Widget] = {}
        self._values: dict[str, tuple[str, Any]] = {}  # key -> (WidgetState field, value)
        self._reports = 0
        self._requests = itertools.count(1)
        self._ws = None

    # ---------------------------------------------------------------- connection

    def _http(self, method: str, path: str, body: bytes | None = None,
              headers: dict[str, str] | None = None, timeout: float = 30) -> bytes:
        """One HTTP request with this tab's cookies; keeps the cookies it sets, as a browser
        does (a load balancer's sticky cookie among them)."""
        request = urllib.request.Request(f"{self.base_url}/{path.lstrip('/')}", data=body,
                                         method=method, headers=headers or {})
        if self.cookies:
            request.add_header("Cookie", self._cookie_header())
        with urllib.request.urlopen(request, timeout=timeout) as response:
            self._take_cookies(response.headers.get_all("Set-Cookie") or [])
            return response.read()

    def _take_cookies(self, headers: list[str]) -> None:
        for header in headers:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()

    def _cookie_header(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    async def open(self) -> None:
        """Load the page over HTTP (keeping its cookies), check the server as the page does
        (``/_stcore/health``, which sets the XSRF cookie, and ``/_stcore/host-config``), then
        open the websocket."""
        await asyncio.to_thread(self._http, "GET", self.page)
        await asyncio.to_thread(self._ping_server)
        await self._connect()

    def _ping_server(self, timeout: float = 30) -> None:
        self._http("GET", "_stcore/health", timeout=timeout)
        self._http("GET", "_stcore/host-config", timeout=timeout)

    async def _connect(self, timeout: float = 30) -> None:
        parts = urlsplit(self.base_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        # The subprotocol header carries [protocol, XSRF token, session to resume], as the
        # browser sends it; no token is needed without authentication or uploads.
        protocols = ["streamlit", "no-xsrf"] + ([self.session_id] if self.session_id else [])
        headers = {"Origin": f"{parts.scheme}://{parts.netloc}"}
        if self.cookies:
            headers["Cookie"] = self._cookie_header()
        self._ws = await connect(f"{scheme}://{parts.netloc}/_stcore/stream",
                                 subprotocols=protocols, additional_headers=headers,
                                 max_size=None, open_timeout=timeout,
                                 ping_interval=None)  # a browser sends no pings either
        self._take_cookies(self._ws.response.headers.get_all("Set-Cookie"))

    async def reconnect(self) -> None:
        """Drop the websocket and open a new one asking for the same session, as the browser
        does after a network blip."""
        await self._ws.close()
        await self._connect()

    async def resume(self, give_up_after: float = 60, browser_delays: bool = True) -> int:
        """Reconnect after the websocket was lost, as Streamlit's page does: wait a moment
        (``browser_delays``: the page's own back-off, 250-500 ms first, doubling up to 4 s),
        check ``/_stcore/health``, open the websocket asking for the old session, repeat until
        it works.  Returns the number of attempts.  The next :meth:`rerun` resends every widget
        value, as the page does; a replica that does not know the session starts a new one
        (``session_id`` changes).

        Raises:
            TimeoutError: no connection within ``give_up_after`` seconds.
        """
        with contextlib.suppress(Exception):
            await self._ws.close()
        deadline = time.monotonic() + give_up_after
        for attempt in itertools.count(1):
            if browser_delays:
                top = min(4000, 500 * 2 ** (attempt - 1))
                low = 250 if attempt == 1 else top / 2
                await asyncio.sleep(random.uniform(low, top) / 1000)
            try:
                await asyncio.to_thread(self._ping_server, 4)
                await self._connect(timeout=15)
                return attempt
            except (OSError, websockets.exceptions.WebSocketException, TimeoutError):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no connection to {self.base_url} after "
                                       f"{attempt} attempts") from None
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None

    # -------------------------------------------------------------------- uploads

    async def upload(self, key: str, name: str, data: bytes) -> None:
        """Put a file into the file uploader ``key`` as the page does: ask for an upload URL
        over the websocket, PUT the file there (with the XSRF token from its cookie), and
        send the uploader's new state with the next :meth:`rerun`."""
        if self.widgets.get(key) is None or self.widgets[key].kind != "file_uploader":
            raise KeyError(f"no file uploader with key {key!r} on the page")
        msg = BackMsg()
        request_id = f"upload-{next(self._requests)}"
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.file_names.append(name)
        msg.file_urls_request.session_id = self.session_id
        await self._ws.send(msg.SerializeToString())
        while True:
            reply = ForwardMsg()
            reply.ParseFromString(await asyncio.wait_for(self._ws.recv(), self.timeout))
            if (reply.WhichOneof("type") == "file_urls_response"
                    and reply.file_urls_response.response_id == request_id):
                break
        if reply.file_urls_response.error_msg:
            raise RuntimeError(f"upload refused: {reply.file_urls_response.error_msg}")
        urls = reply.file_urls_response.file_urls[0]
        boundary = f"----convexplorer{random.getrandbits(64):016x}"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}",
                   "X-Xsrftoken": self.cookies.get("_streamlit_xsrf", "")}
        await asyncio.to_thread(self._http, "PUT", urls.upload_url, body, headers)
        state = FileUploaderState()
        info = state.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        self._values[key] = ("file_uploader_state_value", state)

    # -------------------------------------------------------------------- reruns

    def view_payload(self, key: str) -> dict:
        """The data the page sent to the browser view ``key``: scene id, initial state, scene."""
        data = json.loads(self.widgets[key].proto.json)
        return json.loads(data) if isinstance(data, str) else data  # (sent as a JSON text)

    def view_report(self, key: str, **view) -> dict:
        """The state the explorer's browser view (component ``key``) sends when the user stops
        stepping or playing: the shown scene's id, a new sequence number, and the view's state
        (``step``, ``speed``, ``reveal``, ...) over the one the page started it with.  Pass it
        to :meth:`rerun` as ``{key: state}``."""
        data = self.view_payload(key)
        self._reports += 1
        return {"view": {"scene": data["scene_id"], "seq": self._reports, **data["init"],
                         **view}}

    def _state_for(self, widget: Widget, value: Any) -> tuple[str, Any]:
        if widget.kind == "number_input":
            if widget.proto.data_type == widget.proto.INT:
                return "int_value", int(value)
            return "double_value", float(value)
        if widget.kind == "slider":
            values = value if isinstance(value, (list, tuple)) else [value]
            return "double_array_value", [float(v) for v in values]
        if widget.kind == "checkbox":
            return "bool_value", bool(value)
        if widget.kind == "button":
            return "trigger_value", True
        if widget.kind == "bidi_component":  # a custom component's state: a JSON object
            return "json_value", json.dumps(value)
        if widget.kind in ("text_input", "text_area"):
            return "string_value", str(value)
        raise NotImplementedError(f"setting a {widget.kind} widget ({widget.key}) is not "
                                  "implemented")

    def _back_msg(self, triggers: dict[str, tuple[str, Any]]) -> BackMsg:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        if self.page_script_hash:
            state.page_script_hash = self.page_script_hash
        else:
            state.page_name = self.page
        for key, (kind, value) in {**self._values, **triggers}.items():
            widget = self.widgets.get(key)
            if widget is None:
                continue  # not on the page this run: the browser would not send it either
            ws = state.widget_states.widgets.add()
            ws.id = widget.id
            if kind == "double_array_value":
                ws.double_array_value.data.extend(value)
            elif kind == "file_uploader_state_value":
                ws.file_uploader_state_value.CopyFrom(value)
            else:
                setattr(ws, kind, value)
        return msg

    async def rerun(self, changes: dict[str, Any] | None = None,
                    raw: dict[str, tuple[str, Any]] | None = None) -> Run:
        """Send one rerun with ``changes`` (user key -> new value) on top of the values set
        before, and wait for the script to finish.

        ``raw`` (user key -> (WidgetState field, value)) sends values as they are, for this
        rerun only, as a buggy or hostile client would: ``{"e2.view": ("json_value", "{")}``.

        Raises:
            KeyError: a key in ``changes`` or ``raw`` is not a widget of the page.
            TimeoutError: the run took longer than ``timeout``.
        """
        triggers = dict(raw or {})
        for key in [*(changes or {}), *triggers]:
            if key not in self.widgets:
                raise KeyError(f"no widget with key {key!r} on the page (have: "
                               f"{', '.join(sorted(self.widgets))})")
        for key, value in (changes or {}).items():
            kind, state = self._state_for(self.widgets[key], value)
            if kind == "trigger_value":
                triggers[key] = (kind, state)
            else:
                self._values[key] = (kind, state)
        started = time.perf_counter()
        await self._ws.send(self._back_msg(triggers).SerializeToString())
        return await asyncio.wait_for(self._collect(started), self.timeout)

    async def _collect(self, started: float) -> Run:
        run = Run(seconds=0.0, status=-1, received_bytes=0)
        widgets: dict[str, Widget] = {}
        while True:
            raw = await self._ws.recv()
            run.received_bytes += len(raw)
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "new_session":
                self.session_id = msg.new_session.initialize.session_id or self.session_id
            elif kind == "navigation":  # the page st.navigation picked: asked for by hash later
                self.page_script_hash = msg.navigation.page_script_hash or None
            elif kind == "page_info_changed":
                run.query_string = self.query = msg.page_info_changed.query_string
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._read_element(msg.delta.new_element, widgets, run)
            elif kind == "script_finished":
                if msg.script_finished in FINISHED:
                    run.seconds = time.perf_counter() - started
                    run.status = msg.script_finished
                    self.widgets = widgets
                    return run
                widgets = {}  # finished early for a rerun: the next run redraws everything

    @staticmethod
    def _read_element(element, widgets: dict[str, Widget], run: Run) -> None:
        kind = element.WhichOneof("type")
        proto = getattr(element, kind)
        if kind == "exception":
            run.exceptions.append(f"{proto.type}: {proto.message}")
        elif kind == "alert" and proto.format == Alert.ERROR:
            run.errors.append(proto.body)
        elif kind == "alert" and proto.format == Alert.WARNING:
            run.warnings.append(proto.body)
        element_id = getattr(proto, "id", "")
        key = widget_key(element_id) if isinstance(element_id, str) else None
        if key:
            widgets[key] = Widget(key, element_id, kind, proto)
