"""Every page through Streamlit's AppTest: it renders with no exception, each explorer control
changes what it should (numbers read from the scene the page sends to the browser view), the
browser's step report moves the server-side panels and the URL, the URL round-trips, invalid
settings show the core's message inline with every control still there, clamps are announced,
and the documented examples carry the right badges."""

from __future__ import annotations

import io
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import view_payload as vp  # noqa: E402
from view_payload import ok, query  # noqa: E402

import convcore as cc  # noqa: E402
from app import api  # noqa: E402
from app.shared import budget, model  # noqa: E402
from app.shared import sources as src  # noqa: E402
from convcore import examples as ex_reg  # noqa: E402

ENTRY = ROOT / "app" / "streamlit_app.py"
TIMEOUT = 120
PAGE_SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.explorer.page import explorer_page
explorer_page(NDIM)
"""


def explorer(ndim: int, query: dict | None = None) -> AppTest:
    at = AppTest.from_string(PAGE_SCRIPT.replace("NDIM", str(ndim)), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    return at.run()


def out_map(at: AppTest) -> np.ndarray:
    return vp.array(at, "output")


def set_num(at: AppTest, key: str, value) -> AppTest:
    return ok(at.number_input(key=key).set_value(value).run())


def server_equation(at: AppTest) -> str:
    """The server-side arithmetic panel's equation (a markdown code span)."""
    return next(m.value for m in at.markdown if m.value.startswith("`out["))[1:-1]


def captions(at: AppTest) -> str:
    return " | ".join(c.value for c in at.caption)


# ------------------------------------------------------------------------------ every page

@pytest.mark.parametrize("page", [None, "pages/explorer_2d.py", "pages/groups.py",
                                  "pages/examples.py", "pages/about.py"])
def test_every_page_renders_with_a_figure_and_no_exception(page):
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(page).run()
    ok(at)
    assert not at.error, [e.value for e in at.error]
    explorer_page = page in (None, "pages/explorer_2d.py")
    assert bool(vp.view_element(at)) == explorer_page
    # the explorer draws in the browser view only: no st.plotly_chart (plotly.js once)
    assert bool(at.get("plotly_chart")) != explorer_page, f"charts on {page}"
    assert at.title


def test_about_times_the_three_algorithms_and_names_autos_choice():
    at = ok(AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run())
    ok(at.switch_page("pages/about.py").run())
    table = next(m.value for m in at.markdown if m.value.startswith("| layer | auto chooses"))
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
    assert [r[0] for r in rows] == [c[0] for c in model.ALGORITHM_CASES]
    for row, (_, x, w, kw) in zip(rows, model.ALGORITHM_CASES):
        assert row[1] == cc.choose_algorithm(x, w, **kw)[0]
        times = [float(v.strip("*")) for v in row[2:]]
        assert len(times) == 3 and all(t > 0 for t in times)
        assert row[2 + times.index(min(times))].startswith("**")  # the fastest is bold
    assert {r[1] for r in rows} == {"im2col", "direct", "fft"}


def test_about_writes_numbers_and_symbols_as_a_learner_reads_them():
    """No NumPy reprs (``np.float32(0.5)``) and no raw ``g_j``: numbers as cc.format_number
    writes them, symbols as LaTeX."""
    at = ok(AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run())
    ok(at.switch_page("pages/about.py").run())
    names = [trace["name"] for trace in figure(at)["data"]]
    assert names == ["input x", "cross-correlation with w = [0.5, −2]",
                     "convolution (w flipped)"]
    text = " ".join(m.value for m in at.markdown)
    assert "x = [2, 3, 4, 1], w = [0.5, −2]" in text
    assert r"group $g_j = \lfloor j \cdot g / C_{out} \rfloor$" in text
    assert "np." not in text + " ".join(names) and "group g_j" not in text
    # cross-correlation of [2, 3, 4, 1] with [0.5, −2], and with the kernel flipped
    assert [m.value for m in at.metric] == ["[−5, −6.5, 0]", "[−2.5, −4, −7.5]"]


def test_sidebar_footer_names_the_backend_and_the_compute_time():
    at = ok(explorer(2))
    footer = at.sidebar.caption[-1].value
    assert f"Backend: **{cc.backend_name()}**" in footer
    assert "convolution" in footer and " ms" in footer
    # the footer names the algorithm the core chose for this layer, and why
    names = set()
    for params in ({}, {"size": "1,1"}, {"shape": "256,256", "size": "31,31", "pad": "15"},
                   {"inmaps": "64", "outmaps": "64", "groups": "64", "shape": "64,64",
                    "size": "3,3"}):
        at = ok(explorer(2, params))
        footer = at.sidebar.caption[-1].value
        s = at.session_state
        x_shape = (int(s["e2.batch"]), int(s["e2.inmaps"]), int(s["e2.shape.0"]),
                   int(s["e2.shape.1"]))
        w_shape = (int(s["e2.outmaps"]), x_shape[1] // int(s["e2.groups"]),
                   int(s["e2.size.0"]), int(s["e2.size.1"]))
        name, why = cc.choose_algorithm(x_shape, w_shape, padding=int(s["e2.pad.0"]),
                                        groups=int(s["e2.groups"]),
                                        max_bytes=budget.MAX_BYTES)
        assert f"with **{name}**" in footer and why.split(": ", 1)[1] in footer, (params, footer)
        names.add(name)
    assert names == {"im2col", "direct", "fft"}  # the cases above reach all three


# ------------------------------------------------------------------------------ the view

def test_1d_opens_on_the_documented_example_and_follows_the_browser_report():
    at = ok(explorer(1))
    assert out_map(at).tolist() == [1, 3, 5, 7, 9, 11, 13, 15, 17]
    p = vp.payload(at)
    assert p["init"] == {"step": 0, "speed": 2, "reveal": False, "predict": False}
    sc = p["scene"]
    assert (sc["in_shape"], sc["padded_shape"], sc["out_shape"], sc["kernel"]) == (
        [10], [10], [9], [2])
    assert vp.array(at, "inputs").tolist() == [list(range(10))]
    assert "out[0,0,0] = b(0) + x[0,0]·w[0,0,0] (0·1) + x[0,1]·w[0,0,1] (1·1) = 1" in \
        server_equation(at)
    # the browser reports the step where the user stopped: panel and URL follow (the URL
    # counts as the view does: raster index 8 is "step 9 of 9", step=9)
    vp.report(at, 1, seq=1, step=8)
    ok(at.run())
    assert "out[0,0,8] = " in server_equation(at) and server_equation(at).endswith("= 17")
    assert query(at) == {"step": "9"}
    assert vp.payload(at)["init"]["step"] == 0  # the anchor stays: nothing is resent
    vp.report(at, 1, seq=2, step=7, speed=15, reveal=True)
    ok(at.run())
    assert query(at) == {"step": "8", "speed": "15", "reveal": "1"}
    # a report left over from another scene (or already taken) changes nothing
    at.session_state["e1.view"] = {"view": {"scene": "elsewhere", "seq": 9, "step": 1,
                                            "speed": 2, "reveal": False}}
    ok(at.run())
    assert query(at)["step"] == "8"


def test_a_new_configuration_re_anchors_the_view_at_the_current_step():
    at = ok(explorer(1))
    vp.report(at, 1, seq=1, step=4)
    ok(at.run())
    set_num(at, "e1.stride.0", 2)  # 5 outputs; step 4 is still one of them
    p = vp.payload(at)
    assert p["init"]["step"] == 4 and p["scene"]["out_shape"] == [5]
    set_num(at, "e1.shape.0", 4)  # 2 outputs: the step is moved to the last, with a notice
    assert vp.payload(at)["init"]["step"] == 1
    assert "step: asked 5, using 2" in captions(at)  # counted from 1, as the view does


@pytest.mark.parametrize("key, value, expected", [
    ("e1.size.0", 3, [3, 6, 9, 12, 15, 18, 21, 24]),
    ("e1.stride.0", 2, [1, 5, 9, 13, 17]),
    ("e1.dilation.0", 2, [2, 4, 6, 8, 10, 12, 14, 16]),
    ("e1.pad.0", 1, [0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 9]),
    ("e1.shape.0", 4, [1, 3, 5]),
])
def test_1d_layer_controls_change_the_output_as_the_documents_print(key, value, expected):
    at = ok(explorer(1))
    set_num(at, key, value)
    assert out_map(at).tolist() == expected


def test_1d_output_map_batch_item_and_bias():
    at = ok(explorer(1))
    set_num(at, "e1.omap", 1)
    assert out_map(at).tolist() == [-1, -2, -3, -4, -5, -6, -7, -8, -9]
    assert vp.scene(at)["omap"] == 1
    set_num(at, "e1.batch", 2)
    set_num(at, "e1.item", 1)
    assert out_map(at).tolist() == [-11, -12, -13, -14, -15, -16, -17, -18, -19]
    ok(at.toggle(key="e1.bias_on").set_value(True).run())
    ok(at.text_input(key="e1.bias").set_value("0.5, 100").run())
    assert out_map(at).tolist() == [v + 100 for v in
                                    [-11, -12, -13, -14, -15, -16, -17, -18, -19]]
    assert vp.array(at, "bias").tolist() == [100] and vp.scene(at)["has_bias"]
    assert query(at)["bias"] == "0.5,100"


def test_1d_padding_mode_and_per_side_padding():
    at = ok(explorer(1))
    ok(at.selectbox(key="e1.mode").set_value("replicate").run())
    ok(at.radio(key="e1.pad_form").set_value("side").run())
    set_num(at, "e1.padlo.0", 2)
    x = cc.to_numpy(cc.conv1d(np.arange(10, dtype=np.float32)[None, None],
                              model.custom_weights(1, (2,), 2, 1), padding=((2, 0),),
                              padding_mode="replicate"))
    assert out_map(at).tolist() == x[0, 0].tolist()
    sc = vp.scene(at)
    assert sc["pads"] == [[2, 0]] and sc["mode"] == "replicate"
    assert sc["source"][0][:3] == [0, 0, 0]  # the two padding cells copy x[0]
    assert vp.array(at, "inputs")[0, :3].tolist() == [0, 0, 0]
    ok(at.radio(key="e1.pad_form").set_value("same").run())
    assert len(out_map(at)) == 10


def test_inputs_sources_change_the_input():
    at = ok(explorer(1))
    ok(at.selectbox(key="e1.source").set_value("random").run())
    first = vp.array(at, "inputs")
    assert not np.array_equal(first[0], np.arange(10))
    set_num(at, "e1.seed", 7)
    assert not np.array_equal(vp.array(at, "inputs"), first)
    ok(at.selectbox(key="e1.source").set_value("typed").run())
    ok(at.text_area(key="e1.typed").set_value("2, 3, 4").run())
    assert vp.array(at, "inputs").tolist() == [[2, 3, 4]]
    ok(at.text_area(key="e1.typed").set_value("2, x").run())
    assert "not a number" in at.error[0].value and not vp.view_element(at)
    # the layer and view controls stay on the page while the input is invalid
    assert at.number_input(key="e1.stride.0") and at.number_input(key="e1.omap")
    ok(at.selectbox(key="e1.source").set_value("sample").run())
    ok(at.selectbox(key="e1.sample").set_value("step").run())
    assert vp.scene(at)["in_shape"] == [src.load_sample("step").shape[1]]


def test_uploads_become_the_input_and_are_checked():
    at = ok(explorer(2))
    ok(at.selectbox(key="e2.source").set_value("upload").run())
    # no file yet is not an error: a prompt to choose one
    assert not at.error and "Choose a file" in at.info[0].value and not vp.view_element(at)
    buf = io.BytesIO()
    np.save(buf, np.arange(12, dtype=np.float32).reshape(3, 4))
    ok(at.file_uploader(key="e2.upload").upload("m.npy", buf.getvalue(),
                                               "application/octet-stream").run())
    assert vp.array(at, "inputs")[0].tolist() == np.arange(12).reshape(3, 4).tolist()
    assert "upload" not in "".join(at.query_params)  # files never go into the URL
    ok(at.file_uploader(key="e2.upload").upload("bad.npy", b"not numpy",
                                               "application/octet-stream").run())
    assert at.error and not vp.view_element(at)
    # no CSV cell is dropped in silence: an empty one is refused where it is, empty cells
    # after the last number are ignored with a notice
    ok(at.file_uploader(key="e2.upload").upload("gap.csv", b"1,2\n3,\n", "text/csv").run())
    assert "'gap.csv': CSV row 2, column 2 is empty" in at.error[0].value
    ok(at.file_uploader(key="e2.upload").upload("t.csv", b"1,2,\n3,4,\n", "text/csv").run())
    assert vp.array(at, "inputs")[0].tolist() == [[1, 2], [3, 4]]
    assert "ignored the empty cells after column 2 on every row (a trailing ',')" in \
        captions(at)


@pytest.mark.parametrize("ndim", [1, 2])
def test_a_link_to_an_upload_with_an_empty_shape_asks_for_the_file(ndim):
    # the shape of an upload comes from the file; until it arrives the URL's shape (here 0,
    # which no control offers) must not reach the core's limits (it raised ConvError there)
    at = ok(explorer(ndim, {"src": "upload", "shape": ",".join(["0"] * ndim), "pad": "4:0",
                            "mode": "reflect", "dilation": "2"}))
    assert not at.error and "Choose a file" in at.info[0].value and not vp.view_element(at)


def test_kernel_sources():
    at = ok(explorer(2))
    ok(at.selectbox(key="e2.kernel").set_value("preset").run())
    ok(at.selectbox(key="e2.preset").set_value("sobel x").run())
    np.testing.assert_array_equal(vp.array(at, "weights")[0], src.kernel_presets(2)["sobel x"])
    assert at.number_input(key="e2.size.0").disabled
    assert query(at)["preset"] == "sobel x"
    ok(at.selectbox(key="e2.kernel").set_value("random").run())
    k0 = vp.array(at, "weights")
    set_num(at, "e2.kseed", 3)
    assert not np.array_equal(vp.array(at, "weights"), k0)
    ok(at.selectbox(key="e2.kernel").set_value("table").run())
    assert len(at.data_editor) == 1  # one table per input map of the group
    assert "w" in at.query_params


def test_table_kernel_from_the_url():
    at = ok(explorer(1, {"kernel": "table", "w": "1,0.5,0,-1"}))
    assert vp.array(at, "weights").tolist() == [[1, 0.5]]
    assert out_map(at).tolist() == [0.5 + i * 1.5 for i in range(9)]


# ------------------------------------------------------------------------------ 2-D controls

def test_2d_per_axis_controls_and_groups():
    at = ok(explorer(2))
    set_num(at, "e2.stride.1", 4)
    set_num(at, "e2.pad.0", 3)
    set_num(at, "e2.pad.1", 3)
    set_num(at, "e2.stride.0", 2)
    assert out_map(at).tolist() == [[0, 0, 0], [0, 2, 0], [0, 18, 0], [0, 38, 0],
                                    [0, 0, 0]]  # seed 002
    assert query(at)["stride"] == "2,4"
    set_num(at, "e2.inmaps", 4)
    set_num(at, "e2.outmaps", 6)
    assert at.selectbox(key="e2.groups").options == ["1", "2"]
    ok(at.selectbox(key="e2.groups").set_value(2).run())
    set_num(at, "e2.omap", 5)
    sc = vp.scene(at)
    assert sc["channels"] == [2, 3] and sc["groups"] == 2  # output map 5 reads group 1
    assert vp.array(at, "inputs").shape == (2, 11, 11)
    at.session_state["e2.panel"] = "Code"
    ok(at.run())
    torch_code = at.code[0].value
    assert "in_channels=4, out_channels=6" in torch_code and "groups=2" in torch_code


def test_panels_render_only_when_open():
    at = ok(explorer(1, {"stride": "3", "size": "2"}))
    assert [t.label for t in at.tabs] == ["Arithmetic", "Shape", "Code", "Export"]
    assert "out[0,0,0] = " in server_equation(at)
    assert not at.code and not at.latex and not at.download_button
    at.session_state["e1.panel"] = "Shape"
    ok(at.run())
    assert len(at.latex) == 1 and "3} \\right\\rfloor + 1 = 3" in at.latex[0].value
    assert "floor discards a remainder of 2" in captions(at)
    assert any("never read" in m.value and "2, 5" in m.value for m in at.markdown)
    at.session_state["e1.panel"] = "Export"
    ok(at.run())
    labels = [b.label for b in at.download_button]
    assert len(labels) == 5 and any("HTML" in x for x in labels)
    assert "the view's own **GIF** and **Video** buttons" in " ".join(c.value for c in at.caption)
    assert not at.code


def test_2d_dilation_rectangular_kernel_and_presenter_mode():
    at = ok(explorer(2))
    set_num(at, "e2.size.0", 3)
    set_num(at, "e2.dilation.1", 2)
    sc = vp.scene(at)
    assert sc["kernel"] == [3, 2] and sc["dilation"] == [1, 2]
    assert vp.array(at, "weights").shape == (1, 3, 2)
    assert not vp.payload(at)["presenter"]
    ok(at.toggle(key="e2.presenter").set_value(True).run())
    assert vp.payload(at)["presenter"]
    assert query(at)["presenter"] == "1"


def test_same_with_a_stride_keeps_the_view_with_tensorflows_same_and_a_notice():
    at = ok(explorer(1, {"pad": "same", "stride": "2", "shape": "10", "size": "3"}))
    sc = vp.scene(at)
    assert sc["pads"] == [list(p) for p in cc.tf_same_pads((10,), 3, 2)] == [[0, 1]]
    assert sc["out_shape"] == [5]  # ceil(10 / 2)
    assert "PyTorch refuses padding='same' with a stride > 1" in captions(at)
    assert query(at)["pad"] == "same"  # stride 1 again gives PyTorch's same back
    ok(at.number_input(key="e1.stride.0").set_value(1).run())
    assert vp.scene(at)["pads"] == [[1, 1]] and "PyTorch refuses" not in captions(at)


def test_a_layer_change_in_the_view_brings_the_sidebar_and_url_along():
    """The view changed the stride itself (the scene API answered it) and reports the new
    layer's query: the page takes it over, its widgets and URL follow, and it does not send
    the scene the view holds again (it acknowledges the report instead)."""
    at = ok(explorer(2, {"shape": "7,6"}))
    # the API reads the URL's step (from 1, "step 3 of ..."); the view reports its index, 2
    answer = json.loads(api.answer("explorer_2d", {"shape": "7,6", "stride": "1,2",
                                                    "step": "3"}))
    assert answer["init"]["step"] == 2
    at.session_state["e2.view"] = {"view": {"scene": answer["scene_id"], "seq": 41, "step": 2,
                                            "speed": 2, "reveal": False, "predict": False,
                                            "query": answer["query"]}}
    ok(at.run())
    assert int(at.session_state["e2.stride.1"]) == 2 and query(at)["stride"] == "1,2"
    assert query(at)["step"] == "3"
    p = vp.payload(at)
    assert p["scene_id"] == answer["scene_id"] and p["scene"] is None and p["ack"] == 41
    assert p["query"] == answer["query"]
    # an unchanged report later changes nothing; a sidebar change sends a scene again
    ok(at.run())
    assert vp.payload(at)["scene"] is None
    set_num(at, "e2.stride.0", 2)
    p = vp.payload(at)
    assert p["scene"]["stride"] == [2, 2] and p["query"]["stride"] == "2"


def test_invalid_settings_show_the_core_message_inline():
    at = ok(explorer(2, {"src": "typed", "typed": "1 2 3; 4 5 6; 7 8 9", "kernel": "preset",
                         "preset": "gaussian 5x5"}))
    assert "larger than the padded input" in at.error[0].value
    assert not vp.view_element(at)
    assert at.number_input(key="e2.pad.0")  # the controls to fix it are still there


def test_out_of_range_url_values_are_clamped_with_a_notice():
    at = ok(explorer(1, {"step": "999", "size": "50", "groups": "3", "omap": "9",
                         "stride": "100"}))
    assert at.number_input(key="e1.size.0").value == 10
    assert at.selectbox(key="e1.groups").value == 1
    assert at.number_input(key="e1.omap").value == 1
    text = captions(at)
    assert "Kernel size: asked 50, using 10" in text
    assert "Groups: asked 3, using 1" in text
    assert "Output map: asked 9, using 1" in text
    assert "Stride: asked 100, using 1" in text  # the window now spans the whole input
    assert "step: asked 999, using 1" in text
    assert vp.payload(at)["init"]["step"] == 0
    at = ok(explorer(1, {"stride": "abc"}))
    assert "ignored stride='abc'" in at.warning[0].value


def test_a_configuration_over_budget_is_refused_inline_before_any_work():
    at = ok(explorer(2, {"batch": "1", "inmaps": "64", "outmaps": "64", "shape": "384",
                         "size": "31", "pad": "15"}))  # 268 s of compute before budgets
    assert "input: N·C_in·H·W = 1·64·384·384" in at.error[0].value
    assert not vp.view_element(at) and at.number_input(key="e2.inmaps")
    set_num(at, "e2.inmaps", 16)
    set_num(at, "e2.shape.0", 256)
    set_num(at, "e2.shape.1", 256)
    assert "multiply-adds" in at.error[0].value and "Try output maps" in at.error[0].value
    set_num(at, "e2.outmaps", 1)
    assert not at.error and vp.view_element(at)


def test_a_typed_value_out_of_range_is_clamped_with_a_notice():
    at = ok(explorer(2))
    set_num(at, "e2.stride.0", 50)
    assert at.number_input(key="e2.stride.0").value == 5
    assert "Stride H: asked 50, using 5" in captions(at)


def test_non_finite_values_are_drawn_and_explained():
    at = ok(explorer(1, {"bias": "1e39"}))  # a float32 overflow: every output is inf
    assert np.isinf(out_map(at)).all()
    assert "Non-finite values" in captions(at) and "output: 18 inf, 0 nan" in captions(at)
    assert server_equation(at).endswith("= inf")
    at = ok(explorer(1, {"bias": "nan"}))
    assert np.isnan(out_map(at)).all()


def test_a_huge_value_in_a_large_kernels_input_stays_where_it_is_read():
    # a 31×31 kernel at stride 1 is the FFT's ground, but its spectra would overflow with a
    # 3e38 in the input and spread inf to every output: the core's choice on these values is
    # another algorithm, and the outputs are PyTorch's (inf only where the sum overflows)
    rows = [["1"] * 32 for _ in range(32)]
    rows[0][0] = "3e38"
    at = ok(explorer(2, {"src": "typed", "typed": ";".join(",".join(r) for r in rows),
                         "size": "31,31", "pad": "15"}))
    assert not at.error, [e.value for e in at.error]
    assert int(at.session_state["e2.size.0"]) == 31
    x = torch.ones(1, 1, 32, 32)
    x[0, 0, 0, 0] = 3e38
    w = torch.from_numpy(vp.array(at, "weights")[:1].reshape(1, 1, 31, 31).astype(np.float32))
    expect = torch.nn.functional.conv2d(x, w, padding=15)[0, 0].numpy()
    out = out_map(at)
    assert_allclose(out, expect, rtol=1e-5, atol=1e-3)
    assert np.isfinite(out).sum() > out.size // 2  # not one inf spread everywhere
    assert "with **fft**" not in at.sidebar.caption[-1].value


# ------------------------------------------------------------------------------ URL

def test_query_params_round_trip_to_the_same_view():
    at = ok(explorer(2))
    for key, value in (("e2.size.0", 3), ("e2.stride.1", 2), ("e2.dilation.1", 2)):
        set_num(at, key, value)
    ok(at.selectbox(key="e2.mode").set_value("circular").run())
    ok(at.radio(key="e2.pad_form").set_value("side").run())
    set_num(at, "e2.padlo.1", 2)
    set_num(at, "e2.omap", 1)
    vp.report(at, 2, seq=1, step=3)
    ok(at.run())
    q = query(at)
    assert q == {"size": "3,2", "stride": "1,2", "dilation": "1,2", "pad": "0:0,2:0",
                 "mode": "circular", "omap": "1", "step": "4"}
    again = ok(explorer(2, q))
    assert vp.scene(again) == vp.scene(at)
    assert vp.payload(again)["init"]["step"] == 3


def test_entry_page_restores_a_shared_url():
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    at.query_params.update({"step": "6", "stride": "2"})
    ok(at.run())
    assert vp.payload(at)["init"]["step"] == 4  # 5 outputs at stride 2: the last one
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT)
    at.query_params.update({"step": "5", "stride": "1", "speed": "30", "reveal": "1",
                            "predict": "1"})
    ok(at.run())
    assert vp.payload(at)["init"] == {"step": 4, "speed": 30, "reveal": True, "predict": True}
    assert query(at)["step"] == "5"  # the view's "step 5 of 9"


# ------------------------------------------------------------------------------ examples

def _examples_page() -> AppTest:
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    return ok(at.switch_page("pages/examples.py").run())


def test_examples_page_shows_every_entry_with_the_right_badge():
    at = _examples_page()
    badges = [m.value for m in at.markdown if "-badge[" in m.value]
    order = sorted(ex_reg.EXAMPLES, key=lambda e: e.seed)
    assert len(badges) == len(order)
    for ex, badge in zip(order, badges):
        status = ex_reg.check_example(ex).status
        assert status in ("match", "erratum")
        expected = {"match": ":green-badge[", "erratum": ":orange-badge["}[status]
        assert badge.startswith(expected), (ex.id, badge)
    statuses = Counter(ex_reg.check_example(e).status for e in ex_reg.EXAMPLES)
    assert statuses["erratum"] >= 1
    bodies = [w.value for w in at.warning] + [i.value for i in at.info]
    for ex in ex_reg.EXAMPLES:
        for e in ex.errata:
            assert any(e.why in b for b in bodies), e.id
    codes = [c.value for c in at.code]
    assert all(any(ex.code in c for c in codes) for ex in ex_reg.EXAMPLES)
    assert any("reproduces the printed output with pad=5" in w.value for w in at.warning)


@pytest.mark.parametrize("example_id", ["puzzlelib-conv2d-pad-hw", "puzzlelib-conv1d-dilation",
                                        "blog-k2-s2-p1"])
def test_open_an_example_in_the_explorer(example_id):
    at = _examples_page()
    ok(at.button(key=f"open.{example_id}").click().run())
    ex = ex_reg.get_example(example_id)
    ndim = 2 if ex.module == "Conv2D" else 1
    assert at.title[0].value == f"{ndim}-D convolution explorer"  # st.switch_page ran
    printed = ex_reg.printed_values(ex)[0, 0]
    np.testing.assert_allclose(out_map(at), printed)
    assert at.query_params  # the view is in the URL


def test_open_the_depthwise_example_in_the_groups_page():
    at = _examples_page()
    ok(at.button(key="open.puzzlelib-conv2d-depthwise").click().run())
    assert at.radio(key="g.ndim").value == 2
    table = at.table[-1].value
    assert "(3, 1, 4, 4)" in table.to_string() and "(32, 3, 1, 1)" in table.to_string()


# ------------------------------------------------------------------------------ groups page

def figure(at: AppTest) -> dict:
    import json

    charts = at.get("plotly_chart")
    assert charts, "no chart: " + "; ".join(e.value for e in at.error)
    return json.loads(charts[0].proto.spec)


def test_groups_page_wiring_follows_the_groups_control():
    at = AppTest.from_file(str(ENTRY), default_timeout=TIMEOUT).run()
    ok(at.switch_page("pages/groups.py").run())
    fig = figure(at)
    assert "groups=4" in fig["layout"]["title"]["text"]
    assert at.selectbox(key="g.groups").options == ["1", "2", "4", "8", "16"]
    ok(at.selectbox(key="g.groups").set_value(16).run())
    fig = figure(at)
    assert "each output reads 1 input map" in fig["layout"]["title"]["text"]
    shapes = at.table[0].value.to_string()
    assert "(32, 1, 2)" in shapes and "(32, 1, 1, 2)" in shapes and "(16, 2, 1, 2)" in shapes
    assert at.query_params["groups"] in ("16", ["16"])
    block = at.table[1].value.to_string()
    assert "(16, 1, 1, 2)" in block and "(32, 16, 1, 1)" in block  # document 000's shapes
