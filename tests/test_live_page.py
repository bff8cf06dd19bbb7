"""The sidebar's Class section (app/live/section.py) through Streamlit's AppTest: starting a class,
joining by link or typed code, a forged token, a wrong or unknown code, leaving — and what the
browser view is given (``payload["class"]``).  AppTest runs the page in this process, so its
classes live in this process's in-process broker, as with ``streamlit run``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import segno
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from view_payload import ok, payload, query  # noqa: E402

from app.live import codes  # noqa: E402

TIMEOUT = 120
PAGE_SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.explorer.page import explorer_page
explorer_page(2)
"""


@pytest.fixture(autouse=True)
def no_redis(monkeypatch):
    monkeypatch.delenv("CONVCORE_REDIS_URL", raising=False)


def page(params: dict | None = None) -> AppTest:
    at = AppTest.from_string(PAGE_SCRIPT, default_timeout=TIMEOUT)
    at.query_params.update(params or {})
    return ok(at.run())


def sidebar_text(at: AppTest) -> str:
    return " | ".join([*(m.value for m in at.sidebar.markdown),
                       *(c.value for c in at.sidebar.caption),
                       *(w.value for w in at.sidebar.warning)])


def test_start_a_class_shows_code_link_and_qr_and_keeps_the_token_out_of_the_url():
    at = page({"stride": "2"})
    assert payload(at)["class"] is None  # outside a class the view gets nothing
    ok(at.button(key="live.start").click().run())
    live = payload(at)["class"]
    code = live["code"]
    assert codes.show_code(codes.read_code(code)) == code and live["role"] == "teacher"
    assert len(live["token"]) == 43
    assert live["join"].endswith(f"?class={code}")
    assert query(at) == {"stride": "2", "class": code}  # the page's query keeps its layer
    # the QR code is segno's for the join link: the same modules, drawn as SVG
    assert live["qr"].startswith("<svg") and live["qr"] == segno.make(
        live["join"], error="m").svg_inline(omitsize=True, border=2, dark="#000", light="#fff")
    text = sidebar_text(at)
    assert f"Class **{code}** — you drive it" in text
    assert any(live["join"] == c.value for c in at.sidebar.code)
    teacher_link = next(c.value for c in at.sidebar.code if "token=" in c.value)
    assert teacher_link == f"{live['join']}&token={live['token']}"
    # the view's layer changes keep the class in the URL
    ok(at.number_input(key="e2.stride.0").set_value(1).run())
    assert query(at)["class"] == code and payload(at)["class"]["role"] == "teacher"

    # the teacher's link on another device drives the class; the token leaves the URL
    again = page({"class": code, "token": live["token"]})
    assert payload(again)["class"]["role"] == "teacher" and "token" not in query(again)

    # a student's link (any case, dashes or not) follows it, and gets no token
    student = page({"class": code.lower().replace("-", "")})
    mine = payload(student)["class"]
    assert (mine["code"], mine["role"], mine["token"]) == (code, "student", None)
    assert query(student)["class"] == code
    assert f"Class **{code}** — your view follows the teacher's" in sidebar_text(student)

    # leaving: the view is the student's own again, the URL forgets the class
    ok(student.button(key="live.leave").click().run())
    assert payload(student)["class"] is None and "class" not in query(student)
    ok(student.text_input(key="live.code").set_value(code.replace("-", " ")).run())
    assert payload(student)["class"]["code"] == code  # a code read aloud, typed in


def test_a_forged_token_follows_as_a_student_and_says_why():
    at = page()
    ok(at.button(key="live.start").click().run())
    code = payload(at)["class"]["code"]
    forged = page({"class": code, "token": codes.new_token()})
    assert payload(forged)["class"]["role"] == "student"
    assert payload(forged)["class"]["token"] is None
    assert "only the link given when the class started can drive it" in sidebar_text(forged)


def test_wrong_and_unknown_codes_are_said_and_nothing_breaks():
    at = page({"class": "0O1l"})
    assert "a class code is 9 symbols" in sidebar_text(at)
    assert "class" not in query(at) and payload(at)["class"] is None
    at = page({"class": "222-222-222"})
    assert "no class 222-222-222" in sidebar_text(at) and payload(at)["class"] is None
    ok(at.button(key="live.leave").click().run())
    assert "class" not in query(at)
    ok(at.text_input(key="live.code").set_value("not a code").run())
    assert "a class code is 9 symbols" in sidebar_text(at)
