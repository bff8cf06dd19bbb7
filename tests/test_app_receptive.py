"""The receptive-field page through Streamlit's AppTest: it renders its browser view, every
control changes the scene it sends (numbers read from the scene), presets fill the stack, an
empty layer is refused inline with the core's message, the pinned cell the browser reports
reaches the URL, the URL round-trips, and hostile URL values end in notices, never in an
exception."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import view_payload as vp  # noqa: E402
from test_app_stack import HOSTILE  # noqa: E402
from view_payload import ok, query  # noqa: E402

import convcore as cc  # noqa: E402
from app.receptive import stack  # noqa: E402

ENTRY = ROOT / "app" / "streamlit_app.py"
COMPONENT = "convcore_receptive"
TIMEOUT = 60
SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.receptive.page import receptive_page
receptive_page()
"""


def page(query: dict | None = None) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    return ok(at.run())


def view_element(at):
    return vp.view_element(at, COMPONENT)


def payload(at) -> dict:
    return vp.payload(at, COMPONENT)


def scene(at) -> dict:
    return payload(at)["scene"]


def captions(at) -> str:
    return " | ".join(c.value for c in at.caption)


def set_num(at, key: str, value) -> AppTest:
    return ok(at.number_input(key=key).set_value(value).run())


def report(at, seq: int, cell) -> None:
    """What the browser sends when the user pins an output cell."""
    at.session_state["rf.view"] = {"cell": {"scene": payload(at)["scene_id"], "seq": seq,
                                            "cell": cell}}


def test_the_page_renders_from_the_entry_point_with_its_view():
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    ok(at.switch_page("pages/receptive.py").run())
    assert at.title[0].value == "Receptive field of a stack"
    sc = scene(at)
    assert sc["shapes"] == [[16, 16], [14, 14], [12, 12], [10, 10]]
    assert not at.error and not at.get("plotly_chart")  # plotly.js only in the view
    table = at.table[0].value
    assert table["size r"].tolist() == ["1", "3", "5", "7"]  # 3x3 layers: r = 1 + 2l
    assert table["output shape"].tolist() == ["16×16", "14×14", "12×12", "10×10"]
    # the default pinned cell is the centre, and the server says what the core says of it
    assert "Pinned output cell (4, 4): convcore.cell_receptive_field gives input 4–10 × 4–10; " \
           "49 input cells reach it through 729 paths." in captions(at)  # 3^3 · 3^3 paths


def test_layer_controls_change_the_scene_and_the_url():
    at = page()
    set_num(at, "rf.L0.stride", 2)
    set_num(at, "rf.L1.dilation", 2)
    set_num(at, "rf.L2.padding", 1)
    layers = scene(at)["layers"]
    assert [v["stride"] for v in layers] == [[2, 2], [1, 1], [1, 1]]
    assert [v["dilation"] for v in layers] == [[1, 1], [2, 2], [1, 1]]
    assert layers[2]["pads"] == [[1, 1], [1, 1]]
    assert scene(at)["shapes"][1:] == [[7, 7], [3, 3], [3, 3]]  # (16-3)//2+1, 7-4, 3+2-2
    assert query(at) == {"layers": "k3s2,k3d2,k3p1"}
    set_num(at, "rf.L2.kernel", 1)
    assert scene(at)["layers"][2]["kernel"] == [1, 1]
    assert at.table[0].value["size r"].tolist() == ["1", "3", "11", "11"]  # 3 + 2·2·2


def test_stack_controls_layers_dimensions_and_input():
    at = page()
    set_num(at, "rf.count", 5)
    assert len(scene(at)["layers"]) == 5 and scene(at)["shapes"][-1] == [6, 6]
    set_num(at, "rf.in.1", 20)
    assert scene(at)["shapes"][0] == [16, 20]
    ok(at.radio(key="rf.ndim").set_value(1).run())
    sc = scene(at)
    assert sc["ndim"] == 1 and sc["shapes"][0] == [16] and sc["layers"][0]["kernel"] == [3]
    assert query(at) == {"nd": "1", "layers": "k3,k3,k3,k3,k3"}
    set_num(at, "rf.count", 2)
    assert len(scene(at)["layers"]) == 2
    ok(at.toggle(key="rf.presenter").set_value(True).run())
    assert payload(at)["presenter"] and query(at)["presenter"] == "1"


@pytest.mark.parametrize("index, name", list(enumerate(stack.PRESETS)))
def test_presets_fill_the_stack(index, name):
    at = page()
    ok(at.button(key=f"rf.preset.{index}").click().run())
    preset = stack.PRESETS[name]
    sc = scene(at)
    assert sc["ndim"] == preset.ndim and sc["shapes"][0] == list(preset.in_shape)
    assert [v["dilation"][0] for v in sc["layers"]] == [la.dilation for la in preset.layers]
    assert [v["stride"][0] for v in sc["layers"]] == [la.stride for la in preset.layers]
    assert at.number_input(key="rf.count").value == len(preset.layers)
    again = page(query(at))
    assert scene(again) == sc


def test_a_layer_with_an_empty_output_is_refused_inline():
    at = page({"in": "8", "layers": "k3,k3,k3,k5"})
    assert not view_element(at)
    assert "receptive_field: layer 3 would give an empty output on spatial axis 0" in \
        at.error[0].value
    assert "= 5 cells" in at.error[0].value
    assert "convcore counts layers from 0: that is layer 4 in the editor" in captions(at)
    table = at.table[0].value
    assert table["output shape"].tolist() == ["8×8", "6×6", "4×4", "2×2", "empty"]
    assert table["size r"].tolist()[-1] == "11"  # sizes do not depend on the input
    assert at.number_input(key="rf.L3.kernel")  # the control to fix it is still there
    set_num(at, "rf.L3.kernel", 2)
    assert view_element(at) and not at.error
    assert scene(at)["shapes"][-1] == [1, 1]


def test_the_pinned_cell_reported_by_the_browser_reaches_the_url():
    at = page({"in": "12", "layers": "k3s2,k3"})
    assert scene(at)["shapes"][-1] == [3, 3]
    assert payload(at)["init"] == {"cell": None}
    report(at, 1, [2, 0])
    ok(at.run())
    assert query(at)["cell"] == "2,0"
    cf = cc.cell_receptive_field([dict(kernel_size=3, stride=2), dict(kernel_size=3)], (12, 12),
                                 (2, 0))
    assert f"Pinned output cell (2, 0): convcore.cell_receptive_field gives input " \
           f"{cf.first[0]}–{cf.last[0]} × {cf.first[1]}–{cf.last[1]}" in captions(at)
    assert payload(at)["init"] == {"cell": None}  # the anchor stays: nothing is resent
    # a report from another scene, an old one, or one off the output changes nothing
    at.session_state["rf.view"] = {"cell": {"scene": "elsewhere", "seq": 9, "cell": [0, 0]}}
    ok(at.run())
    report(at, 1, [0, 0])
    ok(at.run())
    report(at, 2, [3, 9])
    ok(at.run())
    assert query(at)["cell"] == "2,0"
    again = page(query(at))
    assert payload(again)["init"] == {"cell": [2, 0]}


def test_the_url_round_trips_to_the_same_view():
    at = page()
    ok(at.radio(key="rf.ndim").set_value(1).run())
    set_num(at, "rf.in.0", 50)
    set_num(at, "rf.count", 4)
    for i, d in enumerate((1, 2, 4, 8)):
        set_num(at, f"rf.L{i}.dilation", d)
    set_num(at, "rf.L3.kernel", 2)
    report(at, 1, [5])
    ok(at.run())
    q = query(at)
    assert q == {"nd": "1", "in": "50", "layers": "k3,k3d2,k3d4,k2d8", "cell": "5"}
    again = page(q)
    assert scene(again) == scene(at)
    assert payload(again)["init"] == {"cell": [5]}


def test_out_of_range_url_values_are_clamped_with_a_notice():
    at = page({"in": "500,3", "layers": "k99s0d70p65,k3", "cell": "40,40", "nd": "7"})
    text = captions(at)
    assert "Input H: asked 500, using 128 — must be at most 128" in text
    assert "layer 1 kernel: asked 99, using 31" in text
    assert "layer 1 stride: asked 0, using 1" in text
    assert "layer 1 dilation: asked 70, using 64" in text
    assert "layer 1 padding: asked 65, using 64" in text
    assert "ignored nd='7': expected 1 or 2" in at.warning[0].value
    at = page({"in": "20", "layers": "k3", "cell": "40,40"})
    assert "cell: asked 40,40, using 8,8 — the last layer's output is 18×18" in captions(at)
    assert payload(at)["init"] == {"cell": None} and "cell" not in query(at)


def test_hostile_url_values_end_in_notices_not_exceptions():
    rng = np.random.default_rng(9)
    keys = ["nd", "in", "layers", "cell", "presenter"]
    for text in HOSTILE:
        q = {keys[int(rng.integers(len(keys)))]: text,
             keys[int(rng.integers(len(keys)))]: HOSTILE[int(rng.integers(len(HOSTILE)))]}
        at = AppTest.from_string(SCRIPT, default_timeout=TIMEOUT)
        at.query_params.update(q)
        at.run()
        assert not at.exception, (q, [e.value for e in at.exception])
        assert bool(view_element(at)) != bool(at.error), q
