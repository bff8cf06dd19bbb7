"""The 3-D explorer on the server side: the rank table's 3-D entry, the page's computation
against PyTorch's ``conv3d`` (hypothesis over every parameter the page offers), its URL with
three values per axis, its inputs (samples, typed, ``.npy``/CSV uploads), the code panel's
programs, the exports, and the page itself (Streamlit's AppTest).  The browser view is
tests/browser/test_volume_view.py; the core's own 3-D oracle tests are test_core_oracle.py and
test_transposed_oracle.py (rank 3 among their draws)."""

from __future__ import annotations

import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import view_payload as vp  # noqa: E402
from test_app_code import run_code  # noqa: E402

import convcore as cc  # noqa: E402
from app.shared import codegen, export, model, ranks, url, view  # noqa: E402
from app.shared import scene as scenes  # noqa: E402
from app.shared import settings as app_settings  # noqa: E402
from app.shared import sources as src  # noqa: E402
from app.shared.navigation import EXPLORER_PAGES, PAGES  # noqa: E402

TORCH_MODE = {"reflect": "reflect", "replicate": "replicate", "circular": "circular",
              "zeros": "constant"}


def torch_out(s, comp) -> np.ndarray:
    """PyTorch's conv3d of the page's input, weights and bias, padded as the settings say."""
    x = torch.from_numpy(comp.x.astype(np.float64))
    pairs = comp.padded.pads
    flat = [v for lo_hi in reversed(pairs) for v in lo_hi]
    x = F.pad(x, flat, mode=TORCH_MODE[s.mode]) if any(flat) else x
    b = None if comp.bias is None else torch.from_numpy(comp.bias.astype(np.float64))
    return F.conv3d(x, torch.from_numpy(comp.weight.astype(np.float64)), b,
                    tuple(s.stride), 0, tuple(s.dilation), s.groups).numpy()


# ------------------------------------------------------------------------------ the table

def test_the_rank_table_describes_three_ranks_and_refuses_others():
    assert list(ranks.RANKS) == [1, 2, 3]
    r = ranks.rank(3)
    assert r.axes == ("D", "H", "W") and r.layout == "slices" and r.max_side == 64
    assert r.samples == tuple(src.SAMPLE_VOLUMES)
    assert app_settings.defaults(3).shape == r.shape
    assert EXPLORER_PAGES[3].endswith("explorer_3d.py")
    assert PAGES[2][:2] == ("explorer_3d.py", "3-D convolution")
    with pytest.raises(ValueError, match="ndim must be one of 1, 2, 3, got 4"):
        ranks.rank(4)
    # every rank has a view, presets, samples that load, and a customW of its rank
    for n, entry in ranks.RANKS.items():
        assert view.explorer_view(n) is not None
        assert all(k.ndim == n for k in src.kernel_presets(n).values())
        for name in entry.samples:
            assert src.load_sample(name).ndim == n + 1
        assert src.custom_w(n, 3).shape == (2, 1) + (3,) * n


# ------------------------------------------------------------------------------ the oracle

@st.composite
def settings_3d(draw):
    groups = draw(st.sampled_from([1, 2]))
    inmaps, outmaps = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    shape = tuple(draw(st.integers(3, 7)) for _ in range(3))
    size = tuple(draw(st.integers(1, 3)) for _ in range(3))
    form = draw(st.sampled_from(["axis", "side", "same", "tfsame"]))
    mode = draw(st.sampled_from(list(app_settings.PADDING_MODES)))
    pad = tuple((draw(st.integers(0, 1)), draw(st.integers(0, 1))) for _ in range(3))
    if form == "axis":
        pad = tuple((lo, lo) for lo, _ in pad)
    stride = (1, 1, 1) if form == "same" else tuple(draw(st.integers(1, 2)) for _ in range(3))
    return replace(
        app_settings.defaults(3), source=draw(st.sampled_from(["arange", "random"])),
        seed=draw(st.integers(0, 99)), batch=draw(st.integers(1, 2)), inmaps=inmaps,
        outmaps=outmaps, groups=groups, shape=shape, size=size, stride=stride,
        dilation=tuple(draw(st.integers(1, 2)) for _ in range(3)), pad_form=form, pad=pad,
        mode=mode, kernel=draw(st.sampled_from(["customW", "random"])),
        kseed=draw(st.integers(0, 9)),
        bias=draw(st.sampled_from([None, (0.5,), (1.0, -2.0)])))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=settings_3d())
def test_the_3d_page_computes_what_pytorch_conv3d_computes(s):
    try:
        comp = model.compute(s)
    except cc.ConvError:  # a window larger than the padded input: the page says so
        return
    np.testing.assert_allclose(comp.out, torch_out(s, comp), rtol=1e-4, atol=1e-3)
    # the scene the view draws carries the same output map and the padded input
    scene = scenes.build_scene(comp, 0, s.outmaps - 1)
    assert scene["layout"] == "slices" and scene["axes"] == ["D", "H", "W"]
    np.testing.assert_array_equal(scenes.output_map(scene), comp.out[0, s.outmaps - 1])


def test_the_sphere_with_a_3x3x3_gaussian_is_pytorchs():
    s = replace(app_settings.defaults(3), source="sample", sample="sphere", kernel="preset",
                preset="gaussian 3x3x3", pad_form="same", mode="replicate")
    comp = model.compute(replace(s, shape=(16, 16, 16)))
    assert comp.out.shape == (1, 2, 16, 16, 16)
    np.testing.assert_allclose(comp.out, torch_out(s, comp), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------ the URL

@pytest.mark.parametrize("preset, pad, mode", [
    ("gaussian 3x3x3", 1, "zeros"), ("laplacian", 0, "zeros"), ("sobel x", 3, "reflect"),
    ("temporal difference", 2, "replicate"), ("box blur 3x3x3", 1, "circular")])
def test_a_64_cubed_volume_travels_voxel_for_voxel_and_is_the_cores(preset, pad, mode):
    """The rank table's max side with its shipped kernels: every voxel in the scene (no
    subsampling), the input exactly the core's padded input, the output exactly the core's
    (and PyTorch's conv3d), one output map (the one the slices draw), in an honest size."""
    s = replace(app_settings.defaults(3), source="random", shape=(64, 64, 64), outmaps=3,
                omap=2, kernel="preset", preset=preset, pad=((pad, pad),) * 3, mode=mode)
    comp = model.compute(s)
    sc = scenes.build_scene(comp, 0, 2)
    assert sc["exact"] and sc["scale"] == 1
    assert sc["padded_shape"] == [64 + 2 * pad] * 3 and sc["out_shape"] == [64 + 2 * pad - 2] * 3
    inputs = scenes.read_typed_array(sc["inputs"])
    np.testing.assert_array_equal(inputs, comp.padded.values[0])
    outputs = scenes.read_typed_array(sc["outputs"])
    assert outputs.shape[0] == 1 and sc["outputs_first"] == 2  # the shown map only
    np.testing.assert_array_equal(scenes.output_map(sc), comp.out[0, 2])
    np.testing.assert_allclose(comp.out, torch_out(s, comp), rtol=1e-4, atol=1e-3)
    # the JSON: float32 in base64, 16/3 bytes a value, and little else
    values = inputs.size + outputs.size
    assert values <= ranks.rank(3).exact_values
    assert len(json.dumps(sc)) < values * 16 / 3 + 20_000


def test_past_the_3d_budget_the_scene_is_subsampled_and_says_so():
    s = replace(app_settings.defaults(3), source="random", shape=(64, 64, 64), inmaps=2,
                kernel="preset", preset="gaussian 3x3x3", pad=((1, 1),) * 3)
    comp = model.compute(s)
    sc = scenes.build_scene(comp, 0, 0)
    # 2 · 66³ + 64³ = 837,136 values > 660,000: every 2nd voxel per axis
    assert not sc["exact"] and sc["scale"] == 2
    np.testing.assert_array_equal(scenes.output_map(sc), comp.out[0, 0, ::2, ::2, ::2])


def test_three_values_per_axis_round_trip_through_the_url():
    q = {"stride": "1,2,2", "size": "3", "dilation": "1,1,2", "pad": "0:1,1:1,2:0",
         "shape": "6,7,8", "step": "5", "src": "random"}
    s, problems = url.from_query(q, 3)
    assert not problems
    assert s.stride == (1, 2, 2) and s.size == (3, 3, 3) and s.pad == ((0, 1), (1, 1), (2, 0))
    assert url.from_query(url.to_query(s), 3)[0] == s
    assert url.link(s).startswith("explorer_3d?")
    _, problems = url.from_query({"stride": "1,2"}, 3)
    assert problems and "expected 1 or 3 integers" in problems[0]
    _, problems = url.from_query({"src": "network"}, 3)
    assert problems and "2-D" in problems[0]
    _, problems = url.from_query({"src": "sample", "sample": "chirp"}, 3)
    assert problems and "no such sample" in problems[0]


# ------------------------------------------------------------------------------ inputs

def test_3d_inputs_typed_uploaded_and_refused_with_the_rule():
    a = src.parse_typed_values("[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]", 3)
    b = src.parse_typed_values("1 2; 3 4\n\n5 6; 7 8", 3)
    np.testing.assert_array_equal(a, np.arange(1, 9, dtype=np.float32).reshape(1, 2, 2, 2))
    np.testing.assert_array_equal(a, b)
    for shape in ((4, 5, 6), (2, 4, 5, 6), (1, 2, 4, 5, 6)):
        buf = io.BytesIO()
        np.save(buf, np.ones(shape))
        x, _ = src.load_upload("v.npy", buf.getvalue(), 3)
        assert x.shape[1:] == (4, 5, 6)
    buf = io.BytesIO()
    np.save(buf, np.ones((65, 2, 2)))
    with pytest.raises(src.SourceError, match=r"65×2×2 \(depth×height×width\) is larger than "
                                              r"the 64×64×64 limit for 3-D maps"):
        src.load_upload("big.npy", buf.getvalue(), 3)
    with pytest.raises(src.SourceError, match=r"unsupported file type '\.png' for a 3-D input"):
        src.load_upload("a.png", b"\x89PNG", 3)
    # the exported CSV of a 3-D map reads back as the same map
    out = np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7
    x, _ = src.load_upload("out.csv", export.csv_text(out).encode(), 3)
    np.testing.assert_allclose(x[0], out, rtol=1e-7)
    clip = src.load_sample("moving bar (clip)")[0]
    assert clip.shape == (8, 10, 12)  # time × height × width: the bar moves right each frame
    assert [int(np.argmax(clip[t, 4])) for t in range(8)] == list(range(2, 10))


# ------------------------------------------------------------------------------ code, export

@pytest.mark.parametrize("form", ["axis", "side", "tfsame"])
def test_the_code_panel_programs_compute_the_3d_output(form, tmp_path):
    s = replace(app_settings.defaults(3), source="random", shape=(4, 5, 6), size=(2, 3, 2),
                stride=(1, 2, 1), pad_form=form, pad=((1, 1), (0, 1), (1, 0)) if form == "side"
                else ((1, 1),) * 3, inmaps=2, outmaps=2, groups=2, bias=(0.5, -1.0))
    comp = model.compute(s)
    args = (s, comp.x, comp.weight, comp.bias)
    out = run_code(codegen.code_convcore(*args), comp, tmp_path)["out"]
    np.testing.assert_allclose(cc.to_numpy(out), comp.out, rtol=1e-5, atol=1e-4)
    out = run_code(codegen.code_pytorch(*args), comp, tmp_path)["out"]
    np.testing.assert_allclose(out.numpy(), comp.out, rtol=1e-4, atol=1e-3)
    if form == "axis":
        scope = run_code(codegen.code_module_api(*args), comp, tmp_path)
        assert "Conv3D(" in codegen.code_module_api(*args)
        np.testing.assert_allclose(cc.to_numpy(scope["conv"].data), comp.out, rtol=1e-5,
                                   atol=1e-4)
    if form == "tfsame":
        assert '"NCDHW", "OIDHW", "NCDHW"' in codegen.code_tensorflow_jax(*args)


def test_the_html_export_carries_the_3d_view():
    s = app_settings.defaults(3)
    comp = model.compute(s)
    text = view.scene_text(view.scene_id(s), comp, 0, 0)
    html = export.html_bytes(view.payload(text, "x", {"step": 0}, False), "3-D", 3).decode()
    assert "class VolumeView" in html and "mountVolume({data" in html


# ------------------------------------------------------------------------------ the page

PAGE_SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.explorer.page import explorer_page
explorer_page(3)
"""


def test_the_3d_page_renders_its_view_and_panels_from_the_url():
    at = AppTest.from_string(PAGE_SCRIPT, default_timeout=120)
    at.query_params.update({"src": "sample", "sample": "sphere", "size": "3",
                            "stride": "1,2,2", "step": "4"})
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.title[0].value == "3-D convolution explorer"
    p = vp.payload(at, view.VOLUME)
    assert p["init"]["step"] == 3 and p["scene"]["layout"] == "slices"
    s, _ = url.from_query(dict(at.query_params), 3)
    assert s.stride == (1, 2, 2) and s.sample == "sphere"
    comp = model.compute(s)
    np.testing.assert_array_equal(scenes.output_map(p["scene"]), comp.out[0, 0])
    # the arithmetic panel writes the step's equation as the core does
    eq = next(m.value for m in at.markdown if m.value.startswith("`out["))[1:-1]
    assert eq == cc.equation(model.step_trace(comp, s, 3))


def test_the_scene_api_answers_the_3d_page_and_the_3d_transposed_page():
    from app import api

    body = json.loads(api.answer("explorer_3d", {"stride": "1,2,2", "shape": "5,6,7",
                                                 "src": "random"}))
    assert body["scene"]["layout"] == "slices" and body["scene"]["stride"] == [1, 2, 2]
    assert body["layer"]["axes"] == ["D", "H", "W"]
    body = json.loads(api.answer("transposed", {"ndim": "3", "stride": "2"}))
    assert body["scene"]["layout"] == "slices" and body["query"]["ndim"] == "3"
    with pytest.raises(api.ApiError) as e:
        api.answer("transposed", {"ndim": "4"})
    assert e.value.status == 400 and e.value.parameter == "ndim"
    assert "ndim must be 1 or 2 or 3" in e.value.message


def test_the_3d_page_takes_typed_values_from_the_sidebar():
    at = AppTest.from_string(PAGE_SCRIPT, default_timeout=120)
    at.query_params.update({"src": "typed", "typed": "1 2; 3 4\n\n5 6; 7 8", "size": "2"})
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    p = vp.payload(at, view.VOLUME)
    assert p["scene"]["in_shape"] == [2, 2, 2]
    # customW's 3-D map 0 is the cube's diagonal: x[0,0,0] + x[1,1,1] = 1 + 8
    assert scenes.output_map(p["scene"]).tolist() == [[[9.0]]]
