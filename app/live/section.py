"""The live class on a page: the sidebar's **Class** section and what the browser view needs to
follow or drive the class (``app/static/view/live.js``).

- *Start a class* creates one (as ``POST /api/v1/classes`` does) and shows its code, the
  students' join link (this page with ``?class=CODE``) and its QR code (:mod:`segno`); the
  teacher's own link (``…?class=CODE&token=TOKEN``) stays folded away, off the projector, and
  the token leaves the address bar after the first run (the page's URL keeps ``class`` only).
- A link with ``?class=CODE`` joins that class as a student; one with a token that is not the
  class's says so and joins as a student.  A code read aloud can be typed in.
- :func:`view_data` is what the view gets: the code, the role, the token (teacher only), the
  join link and its QR code as SVG (the view shows them large on request).

The page calls :func:`frame` once per run (``app.explorer.page_frame``); nothing here reruns a
student's page: following happens in the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
from urllib.parse import urlencode, urlsplit, urlunsplit

import segno
import streamlit as st

from app.api import TRUSTED_PROXIES
from app.live import routes
from app.live.classroom import Classroom, Limits, duration
from app.live.codes import LiveError, read_code, show_code

SESSION = "live.class"  # {"code", "token" (None for a student)}
VIEW = "live.view"  # what the view gets this run (view_data)


def call(fn):
    """``await fn(classroom)`` from a page's script thread (it has no event loop): this
    process's classes, or with ``CONVCORE_REDIS_URL`` a Redis connection for this one call."""
    async def run():
        url = os.environ.get("CONVCORE_REDIS_URL")
        if not url:
            return await fn(routes.default_classroom())
        from app.live.redis_broker import RedisBroker

        room = Classroom(RedisBroker(url), Limits())
        try:
            return await fn(room)
        finally:
            await room.broker.aclose()
    return asyncio.run(run())


def client_address() -> str:
    """This session's browser address as the class's rate limits see it (behind a trusted
    local proxy, the address the proxy saw), as :func:`app.api.client_of` tells it for HTTP."""
    peer = st.context.ip_address or "127.0.0.1"  # None when the browser is on this machine
    forwarded = st.context.headers.get("X-Forwarded-For")
    if forwarded and peer in TRUSTED_PROXIES:
        return forwarded.split(",")[-1].strip()[:64] or peer
    return peer


def _lan_address() -> str | None:
    """This machine's address on its network (the route a packet would take; none is sent)."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
        address = s.getsockname()[0]
        return None if ipaddress.ip_address(address).is_loopback else address
    return None


def join_link(code: str) -> tuple[str, str | None]:
    """The students' link to this page in class ``code``, and a note when the address the
    teacher's browser used would not work on the students' machines (``localhost``)."""
    here = urlsplit(st.context.url or "http://localhost:8501/")
    note = None
    host = here.hostname or "localhost"
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if loopback:
        listening = st.config.get_option("server.address") or ""
        lan = _lan_address() if listening in ("", "0.0.0.0", "::") else None
        if lan:
            here = here._replace(netloc=f"{lan}:{here.port}" if here.port else lan)
            note = (f"{host} works only on this computer: the link uses this machine's "
                    f"network address, {lan}.")
        else:
            note = (f"{host} works only on this computer: give the students this server's "
                    "network address instead (start the app with --server.address 0.0.0.0 "
                    "to serve them).")
    return urlunsplit(here._replace(query=urlencode({"class": code}), fragment="")), note


def qr_svg(link: str) -> str:
    """The link as a QR code (SVG that scales to its box)."""
    return segno.make(link, error="m").svg_inline(omitsize=True, border=2, dark="#000",
                                                  light="#fff")


# ------------------------------------------------------------------------------ the frame

def _from_url() -> None:
    """A ``?class=`` in the URL (a join link, the teacher's link) puts this session in that
    class; a ``token`` beside it is kept in the session only (the URL drops it)."""
    text = st.query_params.get("class")
    token = st.query_params.get("token")
    if "token" in st.query_params:
        del st.query_params["token"]
    if not text:
        return
    try:
        code = show_code(read_code(text))
    except LiveError as e:
        st.session_state["live.error"] = e.message
        del st.query_params["class"]
        return
    st.query_params["class"] = code
    known = st.session_state.get(SESSION)
    if not known or known["code"] != code or token:
        st.session_state[SESSION] = {"code": code, "token": token or None}


def _check(joined: dict) -> str | None:
    """Whether the class is still there, and the token still drives it (said once when it
    does not); the reason when the class is gone."""
    try:
        role = call(lambda room: room.role(joined["code"], joined["token"]))
    except LiveError as e:
        return e.message
    except Exception as e:  # the broker failed: said, never a traceback
        return f"the class's state is unavailable ({type(e).__name__}); reload to try again"
    if joined["token"] and role != "teacher":
        joined["token"] = None
        st.session_state["live.error"] = (
            "This link's teacher token is not this class's: only the link given when the "
            "class started can drive it. You follow as a student.")
    return None


def _start() -> None:
    try:
        made = call(lambda room: room.create(client_address()))
    except LiveError as e:
        st.session_state["live.error"] = e.message
        return
    st.session_state[SESSION] = {"code": made["code"], "token": made["teacher_token"]}
    st.query_params["class"] = made["code"]


def _join(key: str) -> None:
    try:
        code = show_code(read_code(st.session_state.get(key, "")))
    except LiveError as e:
        st.session_state["live.error"] = e.message
        return
    st.query_params["class"] = code
    st.session_state.pop(SESSION, None)


def _leave() -> None:
    st.session_state.pop(SESSION, None)
    if "class" in st.query_params:
        del st.query_params["class"]


def frame() -> None:
    """The sidebar's Class section; sets what the view gets (:func:`view_data`)."""
    _from_url()
    joined = st.session_state.get(SESSION)
    if joined and "class" not in st.query_params:  # the navigation drops a page's query
        st.query_params["class"] = joined["code"]
    gone = _check(joined) if joined else None
    data = None
    with st.sidebar:
        st.divider()
        st.markdown("**Class**")
        error = st.session_state.pop("live.error", None)
        if error:
            st.warning(error, icon=":material/gpp_bad:")
        if joined is None:
            st.button("Start a class", key="live.start", on_click=_start,
                      icon=":material/co_present:",
                      help="Your view drives every student's: they join with a code, a "
                           "link or a QR code, and their predictions come back to you.")
            st.caption(f"No names or personal data are stored; a class ends after "
                       f"{duration(Limits().idle_s)} without activity.")
            st.text_input("Join with a code", key="live.code", placeholder="K7M-Q2X-9TB",
                          on_change=_join, args=("live.code",))
        elif gone:
            st.warning(gone, icon=":material/event_busy:")
            st.button("Leave", key="live.leave", on_click=_leave)
        else:
            data = _member(joined)
    st.session_state[VIEW] = data


def _member(joined: dict) -> dict:
    code = joined["code"]
    link, note = join_link(code)
    qr = qr_svg(link)
    if joined.get("token"):
        st.markdown(f"Class **{code}** — you drive it: every student's view follows yours.")
        st.caption("Students join with this link, the QR code or the code (the view's "
                   "**Join code** button shows them large):")
        st.code(link, language=None)
        if note:
            st.caption(note)
        st.image(qr, width=180, caption=f"join class {code}")
        with st.expander("Your teacher link (keep it off the projector)"):
            st.caption("Opens this class as its teacher on any device. Whoever holds it "
                       "can drive the class.")
            st.code(f"{link}&{urlencode({'token': joined['token']})}", language=None)
    else:
        st.markdown(f"Class **{code}** — your view follows the teacher's.")
    st.button("Leave the class", key="live.leave", on_click=_leave,
              help="This page stops following; the class goes on.")
    return {"code": code, "role": "teacher" if joined.get("token") else "student",
            "token": joined.get("token"), "join": link, "qr": qr}


def view_data() -> dict:
    """The ``class`` field of the view's payload: None outside a class."""
    return {"class": st.session_state.get(VIEW)}
