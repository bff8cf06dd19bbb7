"""Live class: codes, tokens and every message's schema (app/live/codes.py, messages.py)."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from app.live import codes
from app.live import messages as msg
from app.live.classroom import tally
from app.live.codes import LiveError


def refused(fn, *args, status=422, field=None, match=""):
    with pytest.raises(LiveError) as e:
        fn(*args)
    assert e.value.status == status, e.value.message
    if field is not None:
        assert e.value.field == field, e.value.message
    assert match in e.value.message, e.value.message
    return e.value.message


# ------------------------------------------------------------------------------ codes

def test_code_alphabet_has_no_look_alikes_and_codes_carry_40_bits():
    assert not set("0O1lIL") & set(codes.ALPHABET)
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET) == 31
    assert pytest.approx(9 * math.log2(31)) == codes.CODE_BITS and codes.CODE_BITS >= 40
    drawn = [codes.new_code() for _ in range(20_000)]
    assert len(set(drawn)) == len(drawn)
    assert all(len(c) == 9 and set(c) <= set(codes.ALPHABET) for c in drawn)
    symbols = Counter("".join(drawn))  # uniform: 5806 expected per symbol, sd ~75
    assert set(symbols) == set(codes.ALPHABET)
    assert all(abs(n - 180_000 / 31) < 0.25 * 180_000 / 31 for n in symbols.values())


def test_codes_read_forgivingly_and_refuse_what_cannot_be_one():
    assert codes.show_code("K7MQ2X9TB") == "K7M-Q2X-9TB"
    assert codes.read_code("k7m-q2x-9tb") == codes.read_code(" K7M Q2X 9TB") == "K7MQ2X9TB"
    for bad in ("K7M-Q2X-9T", "K7M-Q2X-9TBB", "K7M-Q2X-0TB", "K7M-Q2X-OTB", "K7M-Q2X-1TB",
                "", "K7M/Q2X/9TB", 12345):
        refused(codes.read_code, bad, status=404, field="code", match="9 symbols")


def test_teacher_tokens_are_long_random_and_checked_against_their_digest():
    token = codes.new_token()
    assert len(token) == 43 and token != codes.new_token()
    digest = codes.token_digest(token)
    assert len(digest) == 64 and token not in digest
    assert codes.token_matches(token, digest)
    assert not codes.token_matches(codes.new_token(), digest)
    assert not codes.token_matches(token[:-1] + ("A" if token[-1] != "A" else "B"), digest)
    for bad in (None, 42, "", "short", token + " ", "é" * 43, "x" * 101):
        assert not codes.token_matches(bad, digest)


def test_student_ids_are_anonymous_random_strings():
    ids = {codes.new_student() for _ in range(1000)}
    assert len(ids) == 1000 and all(codes.is_student_id(s) for s in ids)
    assert not codes.is_student_id("Ann Smith") and not codes.is_student_id(None)


# ------------------------------------------------------------------------------ teacher actions

def test_view_actions_pass_normalized_and_refuse_with_the_field_named():
    assert msg.teacher_action({"action": "view", "step": 5, "page": "explorer_2d",
                               "query": "?stride=2&pad=1", "playing": True, "speed": 8,
                               "reveal": False, "pin": {"kind": "kernel", "m": 0, "t": [1, 2]}}
                              ) == ("view", {"step": 5, "page": "explorer_2d",
                                             "query": "stride=2&pad=1", "playing": True,
                                             "speed": 8, "reveal": False,
                                             "pin": {"kind": "kernel", "m": 0, "t": [1, 2]}})
    assert msg.teacher_action({"action": "view", "pin": None}) == ("view", {"pin": None})
    act = msg.teacher_action
    refused(act, {"action": "view"}, field="body", match="at least one of page")
    refused(act, {"action": "jump"}, field="action", match="expected one of view, mode, ask")
    refused(act, {"step": 1}, field="action", match="got null")
    refused(act, [1], field="body", match="expected a JSON object, got a list")
    refused(act, {"action": "view", "stpe": 1}, field="stpe", match="unknown field")
    refused(act, {"action": "view", "step": True}, field="step", match="got a boolean")
    refused(act, {"action": "view", "step": 2.5}, field="step", match="got a number")
    refused(act, {"action": "view", "step": -1}, field="step", match="got -1")
    refused(act, {"action": "view", "step": 2**31}, field="step", match="from 0 to 2147483647")
    refused(act, {"action": "view", "speed": 3}, field="speed", match="1, 2, 4, 8, 15, 30, 60")
    refused(act, {"action": "view", "page": "../etc"}, field="page", match="page name")
    refused(act, {"action": "view", "page": "Explorer"}, field="page")
    refused(act, {"action": "view", "playing": "yes"}, field="playing", match="true or false")
    refused(act, {"action": "view", "pin": {"kind": "input", "m": 0}}, field="pin.p",
            match="missing")
    refused(act, {"action": "view", "pin": {"kind": "output", "m": 0, "p": [1]}},
            field="pin.kind", match="expected one of input, kernel")
    refused(act, {"action": "view", "pin": {"kind": "input", "m": 0, "p": [1, 2, 3, 4]}},
            field="pin.p", match="1 to 3 integers, got 4")
    refused(act, {"action": "view", "pin": {"kind": "input", "m": 0, "p": [1, "2"]}},
            field="pin.p[1]", match="got a string")
    refused(act, {"action": "view", "pin": {"kind": "input", "m": 64, "p": [1]}},
            field="pin.m", match="from 0 to 63")


def test_configurations_are_bounded_url_queries():
    longest = "w=" + "1," * ((msg.MAX_QUERY_CHARS - 3) // 2) + "1"
    assert len(longest) <= msg.MAX_QUERY_CHARS
    assert msg.teacher_action({"action": "view", "query": longest})[1]["query"] == longest
    assert msg.teacher_action({"action": "view", "query": ""})[1] == {"query": ""}
    act = msg.teacher_action
    too_long = "w=" + "1," * 40_000
    refused(act, {"action": "view", "query": too_long}, field="query",
            match=f"at most 65536 characters travel to a class, got {len(too_long)}")
    refused(act, {"action": "view", "query": "stride=2&&pad"}, field="query",
            match="not a URL query")
    refused(act, {"action": "view", "query": "stride=2 pad=1"}, field="query",
            match="URL-encoded")
    refused(act, {"action": "view", "query": "a=1\n"}, field="query")
    refused(act, {"action": "view", "query": "&".join(f"k{i}=1" for i in range(201))},
            field="query", match="not a URL query")
    refused(act, {"action": "view", "query": {"stride": 2}}, field="query", match="object")


def test_levers_questions_and_their_refusals():
    act = msg.teacher_action
    assert act({"action": "mode", "mode": "pause", "message": "Eyes up"}) == (
        "mode", {"mode": "pause", "message": "Eyes up"})
    refused(act, {"action": "mode", "mode": "lock"}, field="mode", match="follow, free, pause")
    refused(act, {"action": "mode", "mode": "pause", "message": "x" * 201}, field="message",
            match="at most 200 characters, got 201")
    refused(act, {"action": "mode", "mode": "pause", "message": "a\x1bb"}, field="message",
            match="control characters")
    assert act({"action": "ask", "kind": "cell", "cell": [1, 2], "answer": 12.5,
                "prompt": "predict out[1,2]"}) == (
        "ask", {"kind": "cell", "cell": [1, 2], "answer": "12.5", "prompt": "predict out[1,2]"})
    assert act({"action": "ask", "kind": "shape", "answer": [1, 2, 7, 7]})[1]["answer"] == \
        "1×2×7×7"
    refused(act, {"action": "ask", "kind": "cell", "answer": 1}, field="cell",
            match="required when kind is cell")
    # a 3-D page's cell: item, map and three axes; one more is no page's
    assert act({"action": "ask", "kind": "cell", "cell": [0, 1, 2, 3, 4], "answer": 1})[1][
        "cell"] == [0, 1, 2, 3, 4]
    refused(act, {"action": "ask", "kind": "cell", "cell": [0] * 6, "answer": 1}, field="cell",
            match="expected 1 to 5 integers, got 6")
    refused(act, {"action": "ask", "kind": "shape", "cell": [1], "answer": [7]}, field="cell")
    refused(act, {"action": "ask", "kind": "shape"}, field="answer", match="missing")
    refused(act, {"action": "ask", "kind": "shape", "answer": [7, -1]}, field="answer[1]")
    refused(act, {"action": "ask", "kind": "cell", "cell": [0], "answer": "many"},
            field="answer", match="expected a number")
    assert act({"action": "show", "value": None}) == ("show", {"value": None})
    refused(act, {"action": "show"}, field="value", match="missing")
    refused(act, {"action": "reveal", "now": True}, field="now", match="expected none")
    assert act({"action": "end"}) == ("end", {})


# ------------------------------------------------------------------------------ students

def test_answers_normalize_to_one_key_per_value():
    key = msg.answer_key
    assert key("cell", 12.5) == key("cell", "12.50") == key("cell", " 12,5 ") == "12.5"
    assert key("cell", "\u22123") == key("cell", -3) == key("cell", "-3.0") == "-3"
    assert key("cell", -0.0) == "0" and key("cell", 1 / 3) == "0.333333"
    assert key("cell", 1e300) == "1e+300"
    assert key("shape", "(1, 2, 7, 7)") == key("shape", [1, 2, 7, 7]) == "1×2×7×7"
    assert key("shape", "7x7") == key("shape", "7 7") == key("shape", "7×7") == "7×7"
    refused(key, "cell", "nan", field="value", match="finite")
    refused(key, "cell", "inf", field="value", match="finite")
    refused(key, "cell", True, field="value", match="got a boolean")
    refused(key, "cell", "1" * 65, field="value", match="at most 64 characters")
    refused(key, "shape", "seven", field="value", match="expected a shape")
    refused(key, "shape", [], field="value", match="1 to 6 integers, got 0")
    refused(key, "shape", [10**10], field="value[0]")


def test_right_answers_follow_predict_mode_and_the_shape_drill():
    right = msg.is_right
    assert right("cell", "12.5", "12.5") and right("cell", "12.51", "12.5104")  # 4 digits
    assert right("cell", "1000", "1000.9") and not right("cell", "1000", "1001.1")  # 1e-3
    assert right("cell", "0", "0.0000001") and not right("cell", "0", "0.01")
    assert right("shape", "1×2×7×7", "1×2×7×7") and right("shape", "7×7", "1×2×7×7")
    assert not right("shape", "2×7×7", "1×2×7×7") and not right("shape", "8×8", "1×2×7×7")
    assert right("shape", "9", "9") and right("shape", "9", "1×2×9")  # 1-D: N, C, L
    assert not right("shape", "2×9", "1×2×9") and not right("shape", "1×9", "1×2×9")
    assert tally("shape", "1×2×7×7", {"7×7": 2, "8×8": 3, "1×2×7×7": 1}) == {
        "count": 6, "right": 0.5, "histogram": [
            {"value": "8×8", "count": 3, "right": False},
            {"value": "7×7", "count": 2, "right": True},
            {"value": "1×2×7×7", "count": 1, "right": True}]}
    assert tally("cell", "1", {}) == {"count": 0, "right": None, "histogram": []}


def test_student_messages():
    sid = codes.new_student()
    assert msg.answer_message({"student": sid, "question": 3, "value": "7x7"}) == {
        "student": sid, "question": 3, "value": "7x7"}
    refused(msg.answer_message, {"student": "me", "question": 3, "value": 1},
            field="student", match="16 characters")
    refused(msg.answer_message, {"student": sid, "value": 1}, field="question")
    refused(msg.answer_message, {"student": sid, "question": 0, "value": 1}, field="question")
    assert msg.presence_message({"student": sid, "page": None}) == {"student": sid,
                                                                    "page": None}
    assert msg.presence_message({"student": sid, "page": "groups", "query": "groups=2"})
    refused(msg.presence_message, {"student": sid, "query": "a=1"}, field="query",
            match="needs its page")
    refused(msg.presence_message, {"student": sid, "page": "groups",
                                   "query": "a=" + "1" * 8200}, field="query",
            match="at most 8192")


def test_bodies_must_be_plain_json():
    assert msg.parse_json(b'{"a": [1, 2.5]}') == {"a": [1, 2.5]}
    refused(msg.parse_json, b'{"a": NaN}', status=400, field="body", match="NaN is not JSON")
    refused(msg.parse_json, b'{"a": Infinity}', status=400, field="body")
    refused(msg.parse_json, b"{'a': 1}", status=400, field="body", match="not valid JSON")
    refused(msg.parse_json, b"9" * 5000, status=400, field="body")  # too many digits
    refused(msg.parse_json, b"[" * 100_000, status=400, field="body")  # too deep
    refused(msg.parse_json, b"\xff\xfe", status=400, field="body")
