"""The transposed convolution & gradients page (app/transposed.py) and its scene.

The scene carries what the core computed (``cc.conv_transpose*``, ``cc.gather_form``,
``cc.overlap_counts``, ``cc.colliding_input_sizes``); the page's panels show the core's
``transposed_equation`` / ``trace_scatter``, the backward pass equal to the transposed
convolution, and the input sizes ``output_padding`` chooses between; the code panel's programs
run and print what the core computes."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as hst
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import view_payload as vp  # noqa: E402
from view_payload import ok  # noqa: E402

import convcore as cc  # noqa: E402
from app.shared import (  # noqa: E402
    codegen,
    model,
    settings,
    view,
)
from app.shared import scene as scenes  # noqa: E402

SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.transposed.page import transposed_page
transposed_page()
"""


def page(query: dict | None = None) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def transposed_payload(at: AppTest) -> dict:
    return vp.payload(at, view.TRANSPOSED)


def report(at: AppTest, ndim: int, seq: int, **state) -> None:
    p = transposed_payload(at)
    at.session_state[f"t{ndim}.view"] = {"view": {"scene": p["scene_id"], "seq": seq,
                                                  **p["init"], **state}}


def d(ndim: int, **kw) -> settings.Settings:
    return replace(settings.defaults(ndim), **kw)


# ------------------------------------------------------------------------------ scene

@pytest.mark.parametrize("s", [
    d(1, stride=(2,), size=(3,), pad=((1, 1),), output_padding=(1,)),
    d(2, stride=(2, 3), size=(3, 2), dilation=(1, 2), pad=((1, 1), (0, 0)), source="random",
      inmaps=4, outmaps=6, groups=2, omap=5, bias=(0.5, -1.0)),
    d(2, stride=(3, 3), size=(2, 2), shape=(3, 4), pad=((2, 2), (1, 1))),  # cropping gather
])
def test_the_transposed_scene_holds_the_core_arrays(s):
    comp = model.compute_transposed(s)
    kw = model.transposed_kwargs(s)
    conv = cc.conv_transpose1d if s.ndim == 1 else cc.conv_transpose2d
    np.testing.assert_array_equal(comp.out, conv(comp.x, comp.weight, comp.bias, **kw))
    sc = json.loads(json.dumps(scenes.build_transposed_scene(comp, 0, s.omap)))
    # the view reads its rank's layout (app/static/view/ranks.js), not the number of axes
    assert (sc["layout"], sc["axes"]) == {1: ("strip", ["L"]), 2: ("grid", ["H", "W"])}[s.ndim]
    og = s.outmaps // s.groups
    cg = s.inmaps // s.groups
    group, o = divmod(s.omap, og)
    ch = slice(group * cg, (group + 1) * cg)
    np.testing.assert_array_equal(scenes.read_typed_array(sc["inputs"]), comp.x[0, ch])
    np.testing.assert_array_equal(scenes.read_typed_array(sc["weights"]), comp.weight[ch, o])
    np.testing.assert_array_equal(scenes.read_typed_array(sc["output"]), comp.out[0, s.omap])
    gf = cc.gather_form(comp.x, comp.weight, **kw)
    np.testing.assert_array_equal(scenes.read_typed_array(sc["gather"]["values"]),
                                  gf.values[0, ch])
    np.testing.assert_array_equal(scenes.read_typed_array(sc["gather"]["weights"]),
                                  gf.weight[s.omap])
    # the per-axis source and kind rebuild the core's masks cell for cell
    grids = np.meshgrid(*[np.asarray(a) for a in sc["gather"]["source"]], indexing="ij")
    cell = np.all([g >= 0 for g in grids], axis=0)
    for a, g in enumerate(grids):
        np.testing.assert_array_equal(np.where(cell, g, -1), gf.source[a])
    kinds = np.meshgrid(*[np.asarray(a) for a in sc["gather"]["kind"]], indexing="ij")
    np.testing.assert_array_equal(np.any([k == 2 for k in kinds], axis=0), gf.is_padding)
    np.testing.assert_array_equal(np.any([k == 1 for k in kinds], axis=0) & ~gf.is_padding,
                                  gf.is_inserted)
    counts = cc.overlap_counts(comp.x.shape[2:], comp.weight.shape[2:], kw["stride"],
                               kw["padding"], kw["output_padding"], kw["dilation"]).counts
    np.testing.assert_array_equal(scenes.read_typed_array(sc["overlap"]), counts)
    assert sc["padding"] == list(kw["padding"])
    assert sc["output_padding"] == list(kw["output_padding"])
    assert comp.grad_input_diff == 0.0  # the backward of the forward layer, number for number


# ------------------------------------------------------------------------------ page

def test_the_page_opens_in_1d_and_2d_with_the_scatter_view():
    at = page()
    p = transposed_payload(at)
    assert p["init"] == {"step": 0, "speed": 2, "reveal": False, "mode": "scatter"}
    assert p["scene"]["out_shape"] == [11]  # (10 − 1)·1 + 2 = 11
    assert not at.error
    at = page({"ndim": "2", "stride": "2", "size": "3", "shape": "4", "tview": "gather"})
    p = transposed_payload(at)
    assert p["scene"]["out_shape"] == [9, 9] and p["init"]["mode"] == "gather"
    assert at.query_params["ndim"] in ("2", ["2"])


def test_output_padding_and_its_explanation():
    at = page({"stride": "2", "size": "3", "pad": "1"})
    assert transposed_payload(at)["scene"]["out_shape"] == [19]
    at.number_input(key="t1.opad.0").set_value(1).run()
    ok(at)
    assert transposed_payload(at)["scene"]["out_shape"] == [20]
    at.session_state["t1.panel"] = "output_padding"
    ok(at.run())
    text = " ".join(m.value for m in at.markdown)
    assert "inputs of length **19, 20** all to length 10" in text
    assert "output_padding = 1 gives **20**" in text
    at.number_input(key="t1.opad.0").set_value(5).run()  # must be < stride or dilation
    ok(at)
    assert "Output padding: asked 5, using 1" in " ".join(c.value for c in at.caption)


def test_the_arithmetic_follows_the_browser_in_both_views():
    query = {"src": "random", "stride": "2", "size": "3", "pad": "1", "inmaps": "2",
             "outmaps": "2", "shape": "6", "omap": "1"}
    at = page(query)
    s = replace(d(1), source="random", stride=(2,), size=(3,), pad=((1, 1),), inmaps=2,
                outmaps=2, shape=(6,), omap=1)
    comp = model.compute_transposed(s)
    report(at, 1, seq=1, step=6)  # scatter step 6: input map 1, cell 0 (a stamp is cropped)
    ok(at.run())
    table = at.table[0].value
    scatter = cc.trace_scatter(comp.x, comp.weight, None, in_index=(0, 1, 0),
                               **model.transposed_kwargs(s))
    stamps = [t for t in scatter.stamps if t.out_channel == 1]
    assert list(table["output cell"]) == [",".join(map(str, t.output_index))
                                          + (" (cropped by padding)" if t.cropped else "")
                                          for t in stamps]
    assert any(t.cropped for t in stamps) and list(table.columns) == ["output cell", "weight",
                                                                      "adds"]
    report(at, 1, seq=2, step=4, mode="gather")
    ok(at.run())
    assert at.query_params["tview"] in ("gather", ["gather"])
    server = next(m.value for m in at.markdown if m.value.startswith("`out["))
    expected = cc.transposed_equation(cc.trace_transposed(
        comp.x, comp.weight, out_index=(0, 1, 4), **model.transposed_kwargs(s)))
    assert expected in server


def test_the_backward_panel_shows_the_forward_layer_and_the_equal_gradient():
    at = page({"ndim": "2", "stride": "2", "size": "3", "shape": "4"})
    at.session_state["t2.panel"] = "Backward pass"
    ok(at.run())
    text = " ".join(m.value for m in at.markdown)
    assert "**9×9 → 4×4**" in text and "**4×4 → 9×9**" in text
    assert "largest difference **0**" in text
    assert "checkerboard" in " ".join(c.value for c in at.caption)


def test_hostile_and_over_budget_values_are_refused_inline():
    at = page({"stride": "99", "size": "x", "opad": "-4", "tview": "nope", "ndim": "7"})
    assert transposed_payload(at)["init"]["mode"] == "scatter"  # tview=nope: the default
    text = " ".join(c.value for c in at.caption) + " ".join(w.value for w in at.warning)
    assert "Stride: asked 99, using 8" in text and "ignored size='x'" in text
    at = page({"ndim": "2", "inmaps": "64", "outmaps": "64", "shape": "300", "size": "9"})
    assert "input: N·C_in·H·W" in at.error[0].value


# ------------------------------------------------------------------------------ code

@pytest.mark.parametrize("s", [
    d(1, stride=(2,), size=(3,), pad=((1, 1),), output_padding=(1,), bias=(0.5, -2.0)),
    d(2, stride=(2, 1), size=(3, 2), inmaps=2, outmaps=4, groups=2, source="random",
      dilation=(1, 2)),
])
def test_the_code_panel_programs_print_the_core_output(s, tmp_path):
    comp = model.compute_transposed(s)
    args = (s, comp.x, comp.weight, comp.bias)
    for make in (codegen.code_transposed_convcore, codegen.code_transposed_pytorch,
                 codegen.code_transposed_module_api):
        scope: dict = {}
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(make(*args), "<generated>", "exec"), scope)  # our own code
        out = scope["out"] if "out" in scope else scope["deconv"].data
        got = out.detach().numpy() if isinstance(out, torch.Tensor) else cc.to_numpy(out)
        np.testing.assert_allclose(got, comp.out, rtol=1e-5, atol=1e-5)
        if "grad" in scope:  # the gradient of the forward layer: the same, without bias
            expected = comp.out - (0 if comp.bias is None else
                                   comp.bias.reshape(1, -1, *[1] * s.ndim))
            np.testing.assert_allclose(scope["grad"].numpy(), expected, rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------ 3-D

def volume_payload(at: AppTest) -> dict:
    """The 3-D transposed view's payload (the rank table's layout "slices")."""
    return vp.payload(at, view.TRANSPOSED_VOLUME)


@hst.composite
def transposed_3d(draw):
    """Every parameter the 3-D transposed page offers, small enough for a fast draw."""
    groups = draw(hst.sampled_from([1, 2]))
    stride = tuple(draw(hst.integers(1, 3)) for _ in range(3))
    dilation = tuple(draw(hst.integers(1, 2)) for _ in range(3))
    size = tuple(draw(hst.integers(1, 3)) for _ in range(3))
    shape = tuple(draw(hst.integers(1, 4)) for _ in range(3))
    pad = tuple(draw(hst.integers(0, 2)) for _ in range(3))
    opad = tuple(draw(hst.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    return d(3, source=draw(hst.sampled_from(["arange", "random"])),
             seed=draw(hst.integers(0, 99)), batch=draw(hst.integers(1, 2)),
             inmaps=groups * draw(hst.integers(1, 2)), outmaps=groups * draw(hst.integers(1, 2)),
             groups=groups, shape=shape, size=size, stride=stride, dilation=dilation,
             pad=tuple((p, p) for p in pad), output_padding=opad,
             kernel=draw(hst.sampled_from(["customW", "random"])),
             kseed=draw(hst.integers(0, 9)),
             bias=draw(hst.sampled_from([None, (0.5,), (1.0, -2.0)])))


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=transposed_3d())
def test_the_3d_transposed_page_computes_what_pytorch_conv_transpose3d_computes(s):
    try:
        comp = model.compute_transposed(s)
    except cc.ConvError:  # padding that crops the whole output: the page says so
        return
    kw = model.transposed_kwargs(s)
    b = None if comp.bias is None else torch.from_numpy(comp.bias.astype(np.float64))
    want = torch.nn.functional.conv_transpose3d(
        torch.from_numpy(comp.x.astype(np.float64)),
        torch.from_numpy(comp.weight.astype(np.float64)), b, kw["stride"], kw["padding"],
        kw["output_padding"], kw["groups"], kw["dilation"]).numpy()
    np.testing.assert_allclose(comp.out, want, rtol=1e-4, atol=1e-4)
    assert comp.grad_input_diff < 1e-4  # the backward pass of the forward layer
    # the scene the 3-D view draws: the rank table's layout, the core's output map and the
    # gather form as a plain stride-1 convolution giving the same map
    omap = s.outmaps - 1
    sc = scenes.build_transposed_scene(comp, 0, omap)
    assert sc["layout"] == "slices" and sc["axes"] == ["D", "H", "W"] and sc["exact"]
    np.testing.assert_array_equal(scenes.read_typed_array(sc["output"]), comp.out[0, omap])
    canvas = scenes.read_typed_array(sc["gather"]["values"])[None]
    gw = scenes.read_typed_array(sc["gather"]["weights"])[None]
    plain = cc.to_numpy(cc.conv3d(canvas.astype(np.float64), gw.astype(np.float64),
                                  dilation=kw["dilation"], groups=1))
    bias = 0.0 if comp.bias is None else float(comp.bias[omap])
    np.testing.assert_allclose(plain[0, 0] + bias, comp.out[0, omap], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(scenes.read_typed_array(sc["overlap"]), comp.overlap.counts)


def test_a_3d_transposed_scene_over_its_budget_is_refused_before_work():
    """The transposed scene travels cell for cell: the zero-inserted input grows like
    stride³, so what would exceed budget.MAX_TRANSPOSED_VALUES is refused, naming the rule."""
    from app import api
    from app.shared import budget

    with pytest.raises(budget.BudgetError, match=r"^scene: the transposed view shows every cell"
                       r".*1·67·67·67 = 300,763.*882,781 values; it shows at most 400,000"):
        budget.check_transposed((1, 1, 32, 32, 32), (1, 2, 3, 3, 3), (2, 2, 2), (0, 0, 0),
                                (0, 0, 0), (1, 1, 1), 1)
    budget.check_transposed((1, 1, 16, 16, 16), (1, 2, 3, 3, 3), (2, 2, 2), (0, 0, 0),
                            (0, 0, 0), (1, 1, 1), 1)  # 33³ + 35³ + 2·33³ cells: fits
    total = budget.transposed_scene_values((1, 1, 16, 16, 16), (1, 2, 3, 3, 3), (2, 2, 2),
                                           (0, 0, 0), (0, 0, 0), (1, 1, 1), 1)
    sc = scenes.build_transposed_scene(model.compute_transposed(d(
        3, shape=(16, 16, 16), size=(3, 3, 3), stride=(2, 2, 2))), 0, 0)
    sent = sum(scenes.read_typed_array(a).size for a in (
        sc["inputs"], sc["gather"]["values"], sc["output"], sc["overlap"]))
    assert total[0] == sent <= budget.MAX_TRANSPOSED_VALUES
    at = page({"ndim": "3", "shape": "32", "stride": "2", "size": "3"})
    assert at.error and at.error[0].value.startswith("scene: the transposed view shows")
    with pytest.raises(api.ApiError) as e:
        api.answer("transposed", {"ndim": "3", "shape": "32", "stride": "2", "size": "3"})
    assert e.value.status == 422 and e.value.parameter == "stride"
    assert "stride to the power 3" in e.value.message


def test_the_page_opens_in_3d_from_the_url_and_its_panels_are_the_cores():
    at = page({"ndim": "3", "src": "random", "shape": "2,3,3", "size": "2,3,2",
               "stride": "2,1,2", "pad": "0,1,0", "opad": "1,0,0", "tview": "gather",
               "step": "8"})
    assert not at.error, [e.value for e in at.error]
    assert list(at.radio(key="t.ndim").options) == ["1-D", "2-D", "3-D"]
    assert at.radio(key="t.ndim").value == 3
    p = volume_payload(at)
    assert p["scene"]["layout"] == "slices" and p["init"]["mode"] == "gather"
    assert p["init"]["step"] == 7 and p["query"]["ndim"] == "3"
    assert at.query_params["ndim"] in ("3", ["3"])
    s = d(3, source="random", shape=(2, 3, 3), size=(2, 3, 2), stride=(2, 1, 2),
          pad=((0, 0), (1, 1), (0, 0)), output_padding=(1, 0, 0))
    comp = model.compute_transposed(s)
    assert p["scene"]["out_shape"] == list(comp.out.shape[2:]) == [5, 3, 6]
    server = next(m.value for m in at.markdown if m.value.startswith("`out["))
    assert cc.transposed_equation(model.transposed_step(comp, s, 7)) in server
    for panel, text in (("Backward pass", "**5×3×6 → 2×3×3**"),
                        ("output_padding", "output_padding = 1 gives **5**")):
        at.session_state["t3.panel"] = panel
        ok(at.run())
        assert text in " ".join(m.value for m in at.markdown), panel
    # the view reports scatter step 10 (input map 0, cell (1, 0, 1)): the arithmetic panel
    # lists that cell's stamps as the core's trace_scatter makes them
    at.session_state["t3.panel"] = "Arithmetic"
    at.session_state["t3.view"] = {"view": {"scene": p["scene_id"], "seq": 1, **p["init"],
                                            "step": 10, "mode": "scatter"}}
    ok(at.run())
    stamps = [t for t in cc.trace_scatter(comp.x, comp.weight, None, in_index=(0, 0, 1, 0, 1),
                                          **model.transposed_kwargs(s)).stamps
              if t.out_channel == s.omap]
    table = at.table[0].value
    assert list(table["output cell"]) == [",".join(map(str, t.output_index))
                                          + (" (cropped by padding)" if t.cropped else "")
                                          for t in stamps]
    assert any(t.cropped for t in stamps)
    at.session_state["t3.panel"] = "Code"
    ok(at.run())
    code = " ".join(c.value for c in at.code)
    assert "torch.nn.ConvTranspose3d(" in code and "conv_transpose3d(" in code
    assert "torch.nn.grad.conv3d_input(" in code and "Deconv3D(" in code


def test_the_3d_page_takes_typed_values_and_samples_within_its_scene_budget():
    at = page({"ndim": "3", "src": "typed", "typed": "1 2; 3 4\n\n5 6; 7 8", "size": "2",
               "stride": "2"})
    assert not at.error, [e.value for e in at.error]
    sc = volume_payload(at)["scene"]
    x = torch.arange(1, 9, dtype=torch.float64).reshape(1, 1, 2, 2, 2)
    s = d(3, source="typed", typed="1 2; 3 4\n\n5 6; 7 8", stride=(2, 2, 2))
    w = torch.from_numpy(model.compute_transposed(s).weight.astype(np.float64))
    want = torch.nn.functional.conv_transpose3d(x, w, stride=2).numpy()[0, 0]
    np.testing.assert_allclose(scenes.read_typed_array(sc["output"]), want, rtol=1e-6)
    assert sc["out_shape"] == [4, 4, 4]
    # the sphere (16³): stride 3 fits the scene, stride 4 is refused before work, saying why
    at = page({"ndim": "3", "src": "sample", "sample": "sphere", "size": "3", "stride": "3"})
    assert not at.error and volume_payload(at)["scene"]["out_shape"] == [48, 48, 48]
    at = page({"ndim": "3", "src": "sample", "sample": "sphere", "size": "3", "stride": "4"})
    assert at.error[0].value.startswith("scene: the transposed view shows every cell")
    assert "it shows at most 400,000" in at.error[0].value


def test_the_api_answers_what_the_3d_transposed_page_draws():
    from app import api

    query = {"ndim": "3", "stride": "2,1,1", "size": "3,2,2", "pad": "1", "inmaps": "2",
             "outmaps": "4", "groups": "2", "omap": "3", "src": "random"}
    at = page(query)
    shown = volume_payload(at)
    got = json.loads(api.answer("transposed", query))
    assert got["scene_id"] == shown["scene_id"] and got["scene"] == shown["scene"]
    assert got["query"]["ndim"] == "3" and got["layer"]["axes"] == ["D", "H", "W"]
    again = json.loads(api.answer("transposed", got["query"]))
    assert again["scene"] == got["scene"]


@pytest.mark.parametrize("s", [
    d(3, stride=(2, 1, 2), size=(3, 2, 2), pad=((1, 1), (0, 0), (0, 0)),
      output_padding=(1, 0, 0), bias=(0.5, -2.0), source="random"),
    d(3, stride=(1, 2, 1), size=(2, 2, 3), inmaps=2, outmaps=4, groups=2, source="random",
      dilation=(2, 1, 1)),
])
def test_the_3d_code_panel_programs_print_the_core_output(s, tmp_path):
    test_the_code_panel_programs_print_the_core_output(s, tmp_path)
    comp = model.compute_transposed(s)
    args = (s, comp.x, comp.weight, comp.bias)
    assert "torch.nn.ConvTranspose3d(" in codegen.code_transposed_pytorch(*args)
    assert "cc.conv_transpose3d(" in codegen.code_transposed_convcore(*args)
