"""A malformed or oversized component state (and a kernel table's edits) is refused with a
notice, and the session goes on (app/state_guard.py, app/controls.edited_table).  Without the
guard, Streamlit's own decoding raised before the page ran, on that rerun and on every later
one of the session (issue 14).

The websocket test runs one Streamlit process of the app (``streamlit run
app/streamlit_app.py``, as deploy/serve.py starts its replicas) and speaks to it like a browser
(deploy/session_client.py); about 8 s.
"""

from __future__ import annotations

import doctest
import json
import re
import sys
from pathlib import Path

import pytest
from streamlit.proto.BackMsg_pb2 import BackMsg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from event_loop import run_async  # noqa: E402

from app import state_guard  # noqa: E402
from app.state_guard import MAX_DEPTH, MAX_STATE_BYTES, REFUSED, guard_back_msg, refusal  # noqa: E402
from deploy import serve  # noqa: E402
from deploy.session_client import Session  # noqa: E402

VIEW = "e2.view"
# (text, what the refusal says): what a broken or hostile client may send as a view's state
MALFORMED = [
    ("{", "not JSON"),
    ("", "not JSON"),
    ('{"view": {"step": 1}', "not JSON"),
    ("{'view': 1}", "not JSON"),
    ("[" * 100_000 + "]" * 100_000, "bytes, more than"),  # issue 14's 100k-deep nesting
    ("[" * 30_000 + "]" * 30_000, "deeper than the decoder allows"),  # within the size cap
    ('{"a":' * 40 + "1" + "}" * 40, f"nested more than {MAX_DEPTH} deep"),
    ('{"view": "' + "x" * (MAX_STATE_BYTES + 1) + '"}', "bytes, more than"),
    ('{"view": [' + ",".join(["1"] * 40_000) + "]}", "bytes, more than"),
    ('{"view": {"step": ' + "9" * 5000 + "}}", "not readable JSON"),  # > 4,300 digits
    ('{"view": NaN, }', "not JSON"),
]


def test_docstring_examples():
    result = doctest.testmod(state_guard)
    assert result.attempted >= 3 and result.failed == 0


@pytest.mark.parametrize("text, says", MALFORMED, ids=range(len(MALFORMED)))
def test_refusal_names_why(text, says):
    assert says in refusal(text)


@pytest.mark.parametrize("text", ['{"view": {"scene": "ab", "seq": 3, "step": 7}}', "{}",
                                  '{"view": null}', "[]", '"text"', "1e400",
                                  '{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH])
def test_readable_states_pass(text):
    assert refusal(text) is None
    json.loads(text)  # and Streamlit's decoder reads them


TABLE_EDITS = [  # (edits a browser may send for the kernel table, what the notice says)
    ("{", "not JSON"),
    ("[]", "not an object of edits"),
    ('{"edited_rows": {"a": {"0": 1}}}', "a row number must be a whole number"),
    ('{"edited_rows": {"0": 5}}', "not an object of rows"),
    ('{"deleted_rows": [true]}', "not a list of row numbers"),
    ('{"edited_rows": {"0": {"zz": 1}}}', "KeyError"),  # a column the table has not
    ('{"edited_rows": {"7": {"0": 1}}}', "IndexError"),  # a row it has not
]


@pytest.mark.parametrize("text, says", TABLE_EDITS[:5])
def test_edits_refusal_names_why(text, says):
    assert says in state_guard.edits_refusal(text)


def test_readable_edits_pass():
    assert state_guard.edits_refusal('{"edited_rows": {"0": {"1": 2.5}, "1": {"0": null}}, '
                                     '"added_rows": [], "deleted_rows": [1]}') is None
    assert state_guard.edits_refusal("{}") is None


def back_msg(states: dict[str, tuple[str, object]]) -> BackMsg:
    msg = BackMsg()
    msg.rerun_script.query_string = "stride=2"
    for wid, (field, value) in states.items():
        w = msg.rerun_script.widget_states.widgets.add()
        w.id = wid
        if field == "double_array_value":
            w.double_array_value.data.extend(value)
        else:
            setattr(w, field, value)
    return msg


def test_frames_that_pass_are_not_reencoded_and_refused_states_decode():
    good = back_msg({"a": ("json_value", '{"view": {"step": 2}}'), "b": ("int_value", 3),
                     "c": ("string_value", "{"), "d": ("json_trigger_value", '[{"event": 1}]'),
                     "e": ("double_array_value", [1.0, 2.0])}).SerializeToString()
    assert guard_back_msg(good) is good
    heartbeat = BackMsg(app_heartbeat=True).SerializeToString()
    assert guard_back_msg(heartbeat) is heartbeat
    assert guard_back_msg(b"\xff\x00garbage") == b"\xff\x00garbage"  # Streamlit refuses it
    table = "$$ID-0a1b-e2.table.0.0.(2, 1, 2, 2)"
    edits = back_msg({table: ("string_value", '{"edited_rows": {"0": {"1": 3}}}'),
                      "$$ID-0a1b-e2.typed": ("string_value", "{")}).SerializeToString()
    assert guard_back_msg(edits) is edits  # readable edits, and a text that is no table's
    out = BackMsg()
    out.ParseFromString(guard_back_msg(back_msg({table: ("string_value", "{")})
                                       .SerializeToString()))
    refused = json.loads(out.rerun_script.widget_states.widgets[0].string_value)
    assert {k: refused[k] for k in state_guard.EMPTY_EDITS} == state_guard.EMPTY_EDITS
    assert refused[REFUSED].startswith("not JSON")
    bad = back_msg({"a": ("json_value", "{"), "b": ("int_value", 3),
                    "c": ("string_value", "{"), "d": ("json_trigger_value", "[" * 5000),
                    "e": ("json_value", '{"view": {"step": 4}}')})
    out = BackMsg()
    out.ParseFromString(guard_back_msg(bad.SerializeToString()))
    widgets = {w.id: w for w in out.rerun_script.widget_states.widgets}
    refused = json.loads(widgets["a"].json_value)
    assert refused[REFUSED].startswith("not JSON") and isinstance(refused["n"], int)
    assert widgets["d"].json_trigger_value == "null"
    assert widgets["b"].int_value == 3 and widgets["c"].string_value == "{"
    assert widgets["e"].json_value == '{"view": {"step": 4}}'
    assert out.rerun_script.query_string == "stride=2"


async def _malformed_then_good(url: str) -> None:
    session = Session(url, page="explorer_2d", timeout=60)
    await session.open()
    first = await session.rerun()
    assert first.exceptions == [] and VIEW in session.widgets
    steps = session.view_payload(VIEW)["scene"]["out_shape"]
    assert steps[0] * steps[1] > 3
    for i, (text, says) in enumerate(MALFORMED):
        bad = await session.rerun(raw={VIEW: ("json_value", text)})
        assert bad.exceptions == [], (i, bad.exceptions)
        notices = [w for w in bad.warnings if "The view sent a state the server cannot read"
                   in w]
        assert len(notices) == 1 and says in notices[0], (i, bad.warnings)
        assert VIEW in session.widgets and "e2.stride.0" in session.widgets  # the page drew
        # the next rerun, without the bad state: no traceback, no repeated notice, and the
        # page still takes a control change and the view's own report
        stride = 1 + i % 2
        good = await session.rerun({"e2.stride.0": stride})
        assert good.exceptions == [] and good.status == 0
        assert not any("cannot read" in w for w in good.warnings)
        assert ("stride=2" in session.query) == (stride == 2)
        report = await session.rerun({VIEW: session.view_report(VIEW, step=3)})
        assert report.exceptions == [] and re.search(r"(^|&)step=4(&|$)", session.query)  # from 1
        await session.rerun({VIEW: session.view_report(VIEW, step=0)})
    # a client that keeps sending a bad state gets the notice every time, and nothing worse
    for _ in range(2):
        again = await session.rerun(raw={VIEW: ("json_value", "{")})
        assert again.exceptions == [] and sum("cannot read" in w for w in again.warnings) == 1
    await session.close()


async def _table_edits(url: str) -> None:
    session = Session(url, page="explorer_2d", query="kernel=table", timeout=60)
    await session.open()
    await session.rerun()
    (table,) = [key for key in session.widgets if key.startswith("e2.table.")]
    assert session.widgets[table].kind == "dataframe"
    for text, says in TABLE_EDITS:
        bad = await session.rerun(raw={table: ("string_value", text)})
        notices = [w for w in bad.warnings if "edits from the browser could not be read" in w]
        assert bad.exceptions == [] and len(notices) == 1 and says in notices[0], (text, bad)
        good = await session.rerun()
        assert good.exceptions == [] and not good.warnings and table in session.widgets
    weights = await session.rerun(raw={table: ("string_value",
                                               '{"edited_rows": {"0": {"1": 7.5}}}')})
    assert weights.exceptions == [] and not weights.warnings
    assert "w=" in session.query and "7.5" in session.query  # a good edit still counts
    await session.close()


def test_a_malformed_component_state_is_refused_and_the_session_goes_on(tmp_path):
    (tmp_path / "logs").mkdir()
    port = serve.free_port()
    replica = serve.Replica(port, ROOT / "app" / "streamlit_app.py", tmp_path, "test")
    replica.start()
    try:
        serve.wait_healthy([replica], serve.HEALTH_TIMEOUT_S)
        run_async(_malformed_then_good(f"http://127.0.0.1:{port}"))
        run_async(_table_edits(f"http://127.0.0.1:{port}"))
    finally:
        replica.stop()
    log = (tmp_path / "logs" / f"replica-{port}.log").read_text()
    assert "Traceback" not in log
    assert log.count("refused the state of widget") == len(MALFORMED) + 2 + 5
