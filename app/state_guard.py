"""What a browser sends as a component's state is checked before Streamlit decodes it.

Streamlit 1.67 keeps a widget's state as the protobuf the browser sent and decodes a JSON state
(``json_value``: every ``st.components.v2`` component's state) with ``json.loads`` in
``SessionState.on_script_will_rerun`` — before the page script runs, and again at the start of
every later rerun, since the undecodable value stays stored in the session.  Text that is not
JSON (``"{"``, ``""``), nesting deeper than the decoder's recursion limit, or an integer of more
than 4,300 digits raise there: the page draws a traceback instead of itself, for good, and no
code of ours runs to catch it.  The one public hook in front of that decoding is ASGI middleware
on ``st.App`` (``app/streamlit_app.py`` passes :func:`middleware`): :class:`ComponentStateGuard`
reads each ``BackMsg`` on the websocket and replaces a JSON state that is not JSON, is larger
than :data:`MAX_STATE_BYTES` or nests deeper than :data:`MAX_DEPTH` by
``{"_refused": "<why>", "n": <number>}`` (a trigger by ``null``), which decodes cleanly;
:mod:`app.view` shows that as a notice, once per refusal (:func:`new_refusal`: a browser that
keeps sending the bad state gets a new number each time).  ``st.data_editor``'s edits are JSON
text in a ``string_value``, decoded in the same place: the app's editors, known by their keys
(:data:`DATA_EDITOR_KEYS`), get the same check plus the shape Streamlit's decoder needs, and a
refused one becomes "no edits" (:mod:`app.controls` says so).  Other messages, and states that
pass, go through unchanged (not even re-encoded).

Examples::

    >>> refusal('{"view": {"step": 3}}') is None
    True
    >>> refusal("{")
    'not JSON (Expecting property name enclosed in double quotes at character 1)'
    >>> refusal("[" * 40 + "]" * 40)
    'nested more than 32 deep'
"""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections.abc import Mapping

import streamlit as st
from starlette.middleware import Middleware
from streamlit.proto.BackMsg_pb2 import BackMsg

MAX_STATE_BYTES = 64 * 1024  # the views' reports are under 1 kB; a 31x31 table's edits < 30 kB
MAX_DEPTH = 32  # the views' reports nest 3 deep
REFUSED = "_refused"  # the key a refused component state is replaced by
STREAM_PATH = "/_stcore/stream"
_JSON_FIELDS = {"json_value": None, "json_trigger_value": "null"}  # field -> replacement
# st.data_editor keeps its edits as JSON text in a string_value, decoded in the same place;
# the guard knows the app's editors by their keys (app.controls.table_editor: "e2.table.0.0...")
DATA_EDITOR_KEYS = re.compile(r"^[a-z]+\d\.table\.")
EMPTY_EDITS = {"edited_rows": {}, "added_rows": [], "deleted_rows": []}

_LOG = logging.getLogger(__name__)
_refusals = itertools.count(1)  # numbers the refusals (only the event loop's thread counts)
_REFUSALS_SHOWN = "_refusals_shown"  # session state: widget key -> the refusal last shown


def refusal(text: str) -> str | None:
    """Why ``text`` cannot be a component's state (None when it can): its size, JSON
    syntax (as Python's decoder, which Streamlit uses, reads it) and nesting depth."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_STATE_BYTES:
        return f"{size:,} bytes, more than the {MAX_STATE_BYTES:,} a view's state may have"
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        return f"not JSON ({e.msg} at character {e.pos})"
    except RecursionError:
        return f"nested more than {MAX_DEPTH} deep (deeper than the decoder allows)"
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        return f"not readable JSON ({str(e)[:80]})"
    if _deeper_than(value, MAX_DEPTH):
        return f"nested more than {MAX_DEPTH} deep"
    return None


def edits_refusal(text: str) -> str | None:
    """Why ``text`` cannot be a data editor's state: :func:`refusal`'s reasons, or a shape
    Streamlit's decoder cannot take (an object of ``edited_rows``: {row number: {column:
    value}}, ``added_rows``: [objects], ``deleted_rows``: [row numbers]).

    >>> edits_refusal('{"edited_rows": {"0": {"1": 2.5}}, "added_rows": [], "deleted_rows": []}')
    >>> edits_refusal('{"edited_rows": {"a": {}}}')
    'edited_rows: a row number must be a whole number, got a'
    """
    why = refusal(text)
    if why is not None:
        return why
    value = json.loads(text)
    if not isinstance(value, dict):
        return "not an object of edits"
    rows = value.get("edited_rows", {})
    if not isinstance(rows, dict) or not all(isinstance(v, dict) for v in rows.values()):
        return "edited_rows: not an object of rows"
    for row in rows:
        if not re.fullmatch(r"-?\d{1,9}", row):
            return f"edited_rows: a row number must be a whole number, got {row[:20]}"
    added, deleted = value.get("added_rows", []), value.get("deleted_rows", [])
    if not isinstance(added, list) or not all(isinstance(v, dict) for v in added):
        return "added_rows: not a list of rows"
    if not isinstance(deleted, list) or not all(type(v) is int for v in deleted):
        return "deleted_rows: not a list of row numbers"
    return None


def user_key(widget_id: str) -> str:
    """``$$ID-<hash>-<user key>`` -> the user key ("" for widgets without one)."""
    parts = widget_id.split("-", 2)
    return parts[2] if len(parts) == 3 and parts[0] == "$$ID" else ""


def _deeper_than(value, limit: int) -> bool:
    """Whether decoded JSON nests more than ``limit`` lists/objects deep (no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth + 1 > limit:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict)
                                                  else item))
    return False


def new_refusal(key: str, state) -> str | None:
    """Why the state of widget ``key`` (as the widget returned it: a mapping or a component's
    result) was refused, the first time this session sees that refusal; else None."""
    get = state.get if isinstance(state, Mapping) else (lambda name: getattr(state, name, None))
    why, number = get(REFUSED), get("n")
    shown = st.session_state.setdefault(_REFUSALS_SHOWN, {})
    if not why or shown.get(key) == number:
        return None
    shown[key] = number
    return str(why)[:200]


def guard_back_msg(data: bytes) -> bytes:
    """``data`` (one websocket frame) with each refused JSON widget state replaced; the same
    bytes when nothing was refused or the frame is no ``BackMsg`` (Streamlit refuses those)."""
    msg = BackMsg()
    try:
        msg.ParseFromString(data)
    except Exception:  # protobuf's DecodeError; Streamlit closes the connection on it
        return data
    if msg.WhichOneof("type") != "rerun_script":
        return data
    changed = False
    for widget in msg.rerun_script.widget_states.widgets:
        field = widget.WhichOneof("value")
        if field in _JSON_FIELDS:
            why = refusal(getattr(widget, field))
            replacement = _JSON_FIELDS[field] or {}
        elif field == "string_value" and DATA_EDITOR_KEYS.match(user_key(widget.id)):
            why = edits_refusal(widget.string_value)
            replacement = EMPTY_EDITS
        else:
            continue
        if why is None:
            continue
        _LOG.warning("refused the state of widget %s: %s", widget.id[:120], why)
        if isinstance(replacement, dict):
            replacement = json.dumps({**replacement, REFUSED: why, "n": next(_refusals)})
        setattr(widget, field, replacement)
        changed = True
    return msg.SerializeToString() if changed else data


class ComponentStateGuard:
    """Pure ASGI middleware: every frame a browser sends on Streamlit's websocket passes
    :func:`guard_back_msg` before Streamlit reads it; everything else passes untouched."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket" or not scope.get("path", "").endswith(STREAM_PATH):
            await self.app(scope, receive, send)
            return

        async def guarded_receive():
            message = await receive()
            if message.get("type") == "websocket.receive" and message.get("bytes"):
                message = {**message, "bytes": guard_back_msg(message["bytes"])}
            return message

        await self.app(scope, guarded_receive, send)


def middleware() -> list[Middleware]:
    """The middleware ``st.App`` runs in front of Streamlit's own."""
    return [Middleware(ComponentStateGuard)]
