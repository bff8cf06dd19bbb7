"""Every message a class accepts, checked field by field before it costs anything.

A message is a JSON object; an unknown field, a missing one, a wrong type or a value out of
bounds is refused with :class:`~app.live.codes.LiveError` (422) naming the field, the rule and
what was received.  What passes is returned normalized (a class code or a student's typed
answer in one canonical form).

Teacher actions (``{"action": NAME, ...}``):

- ``view``: any of ``page``, ``query``, ``step``, ``playing``, ``speed``, ``reveal``, ``pin`` —
  what the followers' views show (``query`` is the page's URL query; the other fields override
  the same names in it and change without a new scene);
- ``mode``: ``mode`` (``follow``, ``free`` or ``pause``) and an optional ``message``;
- ``ask``: ``kind`` (``cell``: "predict out[1,2]", with ``cell``; ``shape``: "what is the
  output size?"), ``answer``, optional ``prompt``;
- ``reveal`` (closes the question and shows the answer and the histogram everywhere),
  ``show`` (``value``: one of the answers given, shown anonymously; null hides it), ``end``.
"""

from __future__ import annotations

import json
import math
import re
from urllib.parse import parse_qsl

from app.drill.questions import parse_shape
from app.live.codes import LiveError, is_student_id
from app.shared.ranks import RANKS
from app.shared.settings import MAX_MAPS, SPEEDS

MAX_QUERY_CHARS = 65_536  # a configuration that travels to every student (table weights fit)
MAX_PRESENCE_QUERY_CHARS = 8_192  # what one exploring student reports
MAX_QUERY_FIELDS = 200
MAX_TEXT_CHARS = 200  # a prompt, a pause message
MAX_ANSWER_CHARS = 64  # one typed answer
MAX_INDEX = 2**31 - 1  # a step or a cell index
MAX_SHAPE_DIMS = 6
MAX_CELL_DIMS = 2 + max(RANKS)  # an output cell: batch item, map, the largest rank's axes
MAX_SHAPE_SIZE = 10**9
MAX_QUESTION = 2**31 - 1
MODES = ("follow", "free", "pause")
QUESTION_KINDS = ("cell", "shape")
PIN_KINDS = {"input": "p", "kernel": "t"}  # the view's pinned cell: its kind and index field
_PAGE = re.compile(r"[a-z][a-z0-9_]{0,39}")


def refuse(where: str, rule: str) -> LiveError:
    return LiveError(422, f"{where}: {rule}", where)


def _shown(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _kind(value) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "an object", type(None): "null"}.get(type(value), "?")


# ------------------------------------------------------------------------------ field checks
# Each check takes (value, where) and returns the value, normalized, or raises.

def integer(lo: int, hi: int):
    def check(value, where):
        if isinstance(value, bool) or not isinstance(value, int):
            raise refuse(where, f"expected an integer from {lo} to {hi}, got {_kind(value)}")
        if not lo <= value <= hi:
            raise refuse(where, f"must be from {lo} to {hi}, got {value}")
        return value
    return check


def boolean(value, where):
    if not isinstance(value, bool):
        raise refuse(where, f"expected true or false, got {_kind(value)}")
    return value


def choice(options):
    def check(value, where):
        if value not in options:
            raise refuse(where, f"expected one of {', '.join(map(str, options))}, "
                         f"got {_shown(value)}")
        return value
    return check


def text(max_chars: int):
    def check(value, where):
        if not isinstance(value, str):
            raise refuse(where, f"expected a string, got {_kind(value)}")
        if len(value) > max_chars:
            raise refuse(where, f"at most {max_chars} characters, got {len(value)}")
        if any(ord(c) < 32 and c not in "\t\n" for c in value):
            raise refuse(where, "control characters are not allowed")
        return value
    return check


def int_list(min_len: int, max_len: int, lo: int, hi: int):
    item = integer(lo, hi)

    def check(value, where):
        if not isinstance(value, list):
            raise refuse(where, f"expected a list of {min_len} to {max_len} integers, "
                         f"got {_kind(value)}")
        if not min_len <= len(value) <= max_len:
            raise refuse(where, f"expected {min_len} to {max_len} integers, got {len(value)}")
        return [item(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return check


def number(value, where):
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refuse(where, f"expected a number, got {_kind(value)}")
    if not math.isfinite(value):
        raise refuse(where, "expected a finite number")
    return value


def nullable(check):
    def wrapped(value, where):
        return None if value is None else check(value, where)
    return wrapped


def page(value, where):
    if not isinstance(value, str) or not _PAGE.fullmatch(value):
        raise refuse(where, "expected a page name such as explorer_2d (lower-case letters, "
                     f"digits and _, at most 40), got {_shown(value)}")
    return value


def query(max_chars: int):
    def check(value, where):
        if not isinstance(value, str):
            raise refuse(where, f"expected a URL query string, got {_kind(value)}")
        value = value.removeprefix("?")
        if len(value) > max_chars:
            raise refuse(where, f"at most {max_chars} characters travel to a class, got "
                         f"{len(value)} (use a sample or a seeded input instead of typed data)")
        if not value:
            return value
        if not value.isascii() or not value.isprintable() or " " in value:
            raise refuse(where, "expected a URL-encoded query such as stride=2&pad=1")
        try:
            parse_qsl(value, keep_blank_values=True, strict_parsing=True,
                      max_num_fields=MAX_QUERY_FIELDS)
        except ValueError as e:
            raise refuse(where, f"not a URL query ({e}); expected name=value pairs joined "
                         "by &") from None
        return value
    return check


def student(value, where):
    if not is_student_id(value):
        raise refuse(where, "expected the student id this class gave on joining "
                     f"(16 characters), got {_shown(value)}")
    return value


def pin(value, where):
    """The view's pinned cell: ``{"kind": "input", "m": map, "p": index}`` or ``{"kind":
    "kernel", "m": map, "t": tap}`` (what explorer.js keeps in ``pinned``)."""
    if not isinstance(value, dict):
        raise refuse(where, f"expected an object or null, got {_kind(value)}")
    kind = choice(tuple(PIN_KINDS))(value.get("kind"), f"{where}.kind")
    return fields(value, {"kind": choice(tuple(PIN_KINDS)), "m": integer(0, MAX_MAPS - 1),
                          PIN_KINDS[kind]: int_list(1, 3, 0, MAX_INDEX)},
                  where=f"{where}.", required=("kind", "m", PIN_KINDS[kind]))


def fields(body, schema: dict, *, where: str = "", required=()) -> dict:
    """``body`` checked against ``schema`` (name -> check); unknown and missing fields refused.

    Example:
        >>> fields({"step": 3}, {"step": integer(0, 10)})
        {'step': 3}
        >>> fields({"step": -1}, {"step": integer(0, 10)})
        Traceback (most recent call last):
        ...
        app.live.codes.LiveError: step: must be from 0 to 10, got -1
    """
    if not isinstance(body, dict):
        raise refuse(where.rstrip(".") or "body", f"expected a JSON object, got {_kind(body)}")
    for name in body:
        if name not in schema:
            raise refuse(f"{where}{str(name)[:40]}",
                         f"unknown field; expected {', '.join(schema) or 'none'}")
    for name in required:
        if name not in body:
            raise refuse(f"{where}{name}", "missing (required)")
    return {name: schema[name](value, f"{where}{name}") for name, value in body.items()}


def parse_json(raw: bytes):
    """A request body as JSON; NaN/Infinity and numbers too long to read are refused."""
    def constant(name):
        raise ValueError(f"{name} is not JSON")
    try:
        return json.loads(raw, parse_constant=constant)
    except (ValueError, RecursionError) as e:
        raise LiveError(400, f"body: not valid JSON ({str(e)[:80]})", "body") from None


# ------------------------------------------------------------------------------ messages

VIEW = {"page": page, "query": query(MAX_QUERY_CHARS), "step": integer(0, MAX_INDEX),
        "playing": boolean, "speed": choice(SPEEDS), "reveal": boolean, "pin": nullable(pin)}
ACTIONS = {
    "view": (VIEW, ()),
    "mode": ({"mode": choice(MODES), "message": text(MAX_TEXT_CHARS)}, ("mode",)),
    "ask": ({"kind": choice(QUESTION_KINDS), "prompt": text(MAX_TEXT_CHARS),
             "cell": int_list(1, MAX_CELL_DIMS, 0, MAX_INDEX), "answer": lambda v, w: v},
            ("kind", "answer")),
    "reveal": ({}, ()),
    "show": ({"value": nullable(text(MAX_ANSWER_CHARS))}, ("value",)),
    "end": ({}, ()),
}


def teacher_action(body) -> tuple[str, dict]:
    """A teacher's message checked: its action and fields."""
    if not isinstance(body, dict):
        raise refuse("body", f"expected a JSON object, got {_kind(body)}")
    action = choice(tuple(ACTIONS))(body.get("action"), "action")
    schema, required = ACTIONS[action]
    values = fields({k: v for k, v in body.items() if k != "action"}, schema,
                    required=required)
    if action == "view" and not values:
        raise refuse("body", f"a view action changes at least one of {', '.join(VIEW)}")
    if action == "ask":
        if values["kind"] == "cell" and "cell" not in values:
            raise refuse("cell", "missing (required when kind is cell): the output index")
        if values["kind"] == "shape" and "cell" in values:
            raise refuse("cell", "only a cell question names a cell")
        values["answer"] = answer_key(values["kind"], values["answer"], "answer")
    return action, values


def answer_message(body) -> dict:
    return fields(body, {"student": student, "question": integer(1, MAX_QUESTION),
                         "value": lambda v, w: v}, required=("student", "question", "value"))


def presence_message(body) -> dict:
    """What an exploring student is on (``page`` null: following the teacher)."""
    values = fields(body, {"student": student, "page": nullable(page),
                           "query": nullable(query(MAX_PRESENCE_QUERY_CHARS))},
                    required=("student",))
    if values.get("page") is None and values.get("query"):
        raise refuse("query", "a query needs its page")
    return values


# ------------------------------------------------------------------------------ answers

def _number_key(value: float) -> str:
    key = f"{value:.6g}"
    return "0" if key == "-0" else key


def answer_key(kind: str, value, where: str = "value") -> str:
    """An answer in the one form the histogram counts: a cell value as a number written with 6
    significant digits (``"12.5"``), a shape as sizes joined by ``×`` (``"7×7"``).

    A cell value may be typed text ("−3,5" reads as -3.5); a shape a list of sizes or text the
    shape drill reads ("(1, 2, 7, 7)", "7x7").

    Example:
        >>> answer_key("cell", "−3,50"), answer_key("shape", "torch.Size([1, 2, 7, 7])")
        ('-3.5', '1×2×7×7')
    """
    if kind == "cell":
        if isinstance(value, str):
            typed = text(MAX_ANSWER_CHARS)(value, where).strip()
            typed = typed.replace("\u2212", "-").replace(",", ".")
            try:
                value = float(typed)
            except ValueError:
                raise refuse(where, f"expected a number, got {_shown(value)}") from None
        return _number_key(number(value, where))
    if isinstance(value, str):
        sizes = parse_shape(text(MAX_ANSWER_CHARS)(value, where))
        if sizes is None:
            raise refuse(where, f"expected a shape such as 7x7 or (1, 2, 7, 7), got "
                         f"{_shown(value)}")
        value = list(sizes)
    sizes = int_list(1, MAX_SHAPE_DIMS, 0, MAX_SHAPE_SIZE)(value, where)
    return "×".join(str(v) for v in sizes)


def is_right(kind: str, key: str, answer: str) -> bool:
    """Whether an answer key is right: a cell value as the explorer's predict mode judges
    (the same 4 significant digits, or within 1e-3 relative), a shape when it equals the
    answer or the answer's spatial sizes (after N and C_out)."""
    if kind == "cell":
        guess, value = float(key), float(answer)
        return (f"{guess:.4g}" == f"{value:.4g}"
                or abs(guess - value) <= max(1e-6, 1e-3 * abs(value)))
    sizes = answer.split("×")
    return key == answer or (len(sizes) > 2 and key == "×".join(sizes[2:]))
