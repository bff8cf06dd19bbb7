"""The pure figure builders of app/figures.py, fed with scenes made from convcore's trace.

What is drawn must be what the core computed: the window outline and tap markers sit on the
taps of ``cc.trace_step``, the output heatmap holds the core's output, padding cells are drawn
apart (with their sources for copy modes), frames move only shapes and a small trace.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image
from plotly.colors import colorbrewer

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import convcore as cc  # noqa: E402
from app import figures, state  # noqa: E402
from app.utils import html_bytes  # noqa: E402


def arr(v) -> np.ndarray:
    """A Plotly JSON array: a list or a typed array {"dtype", "bdata", "shape"}."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        shape = v.get("shape")
        if shape:
            a = a.reshape(tuple(int(s) for s in str(shape).split(",")))
        return a
    return np.asarray(v, dtype=float)


def spec(fig) -> dict:
    return json.loads(fig.to_json())


def scene_for(s: state.Settings):
    comp = state.compute(s)
    step = state.step_trace(comp, s, s.step)
    return comp, step, state.make_scene(comp, s, step)


def trace(d: dict, name: str) -> dict:
    found = [t for t in d["data"] if t.get("name") == name]
    assert found, f"no trace named {name!r}: {[t.get('name') for t in d['data']]}"
    return found[0]


def shape(shapes, name: str) -> dict:
    return next(s for s in shapes if s.get("name") == name)


def d2(**kw) -> state.Settings:
    return replace(state.defaults(2), **kw)


def d1(**kw) -> state.Settings:
    return replace(state.defaults(1), **kw)


# ------------------------------------------------------------------------------ 2-D

def test_2d_figure_draws_the_core_output_and_the_current_window():
    s = d2(step=5)
    comp, step, scene = scene_for(s)
    d = spec(figures.explorer_figure(scene))
    out = arr(trace(d, "output")["z"])
    np.testing.assert_array_equal(out, comp.out[0, 0])
    # the documents' first 2-D example
    np.testing.assert_array_equal(out, np.asarray(
        [[6, 8, 10, 12], [16, 18, 20, 22], [26, 28, 30, 32], [36, 38, 40, 42]]))
    taps = np.array([t.input_index for t in step.taps])
    tap_trace = trace(d, "taps")
    assert sorted(zip(arr(tap_trace["y"]), arr(tap_trace["x"]))) == sorted(map(tuple, taps))
    win = shape(d["layout"]["shapes"], "window")
    assert (win["y0"], win["x0"]) == tuple(taps.min(0) - 0.5)
    assert (win["y1"], win["x1"]) == tuple(taps.max(0) + 0.5)
    cur = shape(d["layout"]["shapes"], "current")
    assert (cur["y0"] + 0.5, cur["x0"] + 0.5) == (1, 1)  # step 5 of a 4x4 output
    assert step.value == 18
    assert d["layout"]["title"]["text"].endswith("out[0,0,1,1] = 18")


def test_every_heatmap_has_the_explicit_diverging_scale_centred_on_zero():
    s = d2(pad_form="axis", pad=((1, 1), (1, 1)), mode="reflect", bias=(-3.0,))
    _, _, scene = scene_for(s)
    d = spec(figures.explorer_figure(scene))
    valued = [t for t in d["data"] if t["type"] == "heatmap" and t["name"] != "dilation gap"]
    assert {t["name"] for t in valued} == {"input", "padding", "kernel", "output"}
    for t in valued:
        assert t["colorscale"] == [[i / 10, c] for i, c in enumerate(colorbrewer.RdBu)], t["name"]
        assert t["zmid"] == 0
        assert t["zmin"] == -t["zmax"]


def test_padding_cells_are_drawn_apart_with_their_source_for_copy_modes():
    s = d2(pad_form="axis", pad=((1, 1), (1, 1)), mode="reflect")
    comp, _, scene = scene_for(s)
    d = spec(figures.explorer_figure(scene))
    real, pad = trace(d, "input"), trace(d, "padding")
    assert pad["opacity"] < 1
    zr, zp = arr(real["z"]), arr(pad["z"])
    np.testing.assert_array_equal(np.isnan(zr), comp.padded.is_padding)
    np.testing.assert_array_equal(~np.isnan(zp), comp.padded.is_padding)
    # padded cell (-1, -1) reflects input (1, 1)
    assert pad["text"][0][0] == "←1,1"
    assert zp[0, 0] == comp.x[0, 0, 1, 1]
    assert real["texttemplate"] and pad["texttemplate"]
    boundary = trace(d, "input boundary")
    assert max(boundary["x"]) == 4.5 and min(boundary["y"]) == -0.5
    # zero padding: no source text
    _, _, scene0 = scene_for(replace(s, mode="zeros"))
    assert trace(spec(figures.explorer_figure(scene0)), "padding").get("text") is None


def test_frames_move_shapes_and_the_tap_trace_only():
    s = d2(size=(3, 3), pad_form="axis", pad=((1, 1), (1, 1)), stride=(2, 2))
    comp, _, scene = scene_for(s)
    fig = figures.explorer_figure(scene)
    d = spec(fig)
    frames = d["frames"]
    assert len(frames) == comp.steps == 9
    taps_index = next(i for i, t in enumerate(d["data"]) if t["name"] == "taps")
    wmap = cc.window_map((5, 5), (3, 3), stride=2, padding=1)
    windows = set()
    for p, f in enumerate(frames):
        assert f["name"] == str(p)
        assert f["traces"] == [taps_index]
        assert [t["type"] for t in f["data"]] == ["scatter"]
        assert "z" not in json.dumps(f["data"])
        w = shape(f["layout"]["shapes"], "window")
        windows.add((w["x0"], w["y0"]))
        expected = wmap.coords[p] - np.array([1, 1])
        assert sorted(zip(f["data"][0]["y"], f["data"][0]["x"])) == sorted(map(tuple, expected))
    assert len(windows) == 9
    # Plotly accepts the raw frames (they are not validated on every rerun)
    assert len(go.Figure(d).frames) == 9
    buttons = d["layout"]["updatemenus"][0]["buttons"]
    assert "Play" in buttons[0]["label"] and buttons[0]["method"] == "animate"


def test_output_fills_in_step_by_step():
    s = d2(step=6)
    _, _, scene = scene_for(s)
    shapes = spec(figures.explorer_figure(scene))["layout"]["shapes"]
    covers = [x for x in shapes if x["name"] == "not yet computed"]
    # step 6 = cell (1, 2) of 4x4: the rest of row 1 and rows 2-3 are covered
    assert sorted((c["y0"], c["x0"]) for c in covers) == [(0.5, 2.5), (1.5, -0.5)]
    last = scene_for(d2(step=15))[2]
    shapes = spec(figures.explorer_figure(last))["layout"]["shapes"]
    assert not [x for x in shapes if x["name"] == "not yet computed"]


def test_dilation_gaps_are_marked_on_the_kernel_and_taps_skip_cells():
    s = d2(dilation=(2, 2), step=0)
    _, _step, scene = scene_for(s)
    d = spec(figures.explorer_figure(scene))
    ker = arr(trace(d, "kernel")["z"])
    assert ker.shape == (3, 3)
    assert np.isnan(ker[1]).all() and np.isnan(ker[:, 1]).all()
    gap = arr(trace(d, "dilation gap")["z"])
    assert np.isnan(gap[0, 0]) and gap[1, 1] == 0
    tap_trace = trace(d, "taps")
    assert sorted(set(arr(tap_trace["x"]))) == [0, 2]


def test_never_read_cells_are_marked():
    s = d2(size=(2, 2), stride=(3, 3))  # windows cover 0-1 and 3-4: index 2 is never read
    comp, _, scene = scene_for(s)
    assert [a.never_read for a in comp.axes] == [(2,), (2,)]
    t = trace(spec(figures.explorer_figure(scene)), "never read")
    cells = set(zip(arr(t["y"]).astype(int), arr(t["x"]).astype(int)))
    assert cells == {(r, c) for r in range(5) for c in range(5) if r == 2 or c == 2}


def test_click_overlay_maps_each_output_cell_to_its_step():
    _, _, scene = scene_for(d2())
    d = spec(figures.explorer_figure(scene))
    overlay = trace(d, "output cells")
    assert overlay["marker"]["color"] == "rgba(0,0,0,0)"
    steps = arr(overlay["customdata"]).astype(int)
    cells = np.column_stack([arr(overlay["y"]), arr(overlay["x"])]).astype(int)
    assert steps.tolist() == np.ravel_multi_index(cells.T, (4, 4)).tolist()
    assert d["layout"]["clickmode"] == "event+select"


def test_step_from_selection():
    sel = {"points": [{"x": 2, "y": 1, "customdata": 6}]}
    assert figures.step_from_selection(sel, (4, 4)) == 6
    assert figures.step_from_selection({"points": [{"customdata": [5]}]}, (9,)) == 5
    # a tap marker or never-read mark (no customdata) is not an output cell
    assert figures.step_from_selection({"points": [{"x": 3.0, "y": 2.0}]}, (4, 4)) is None
    tap_then_cell = {"points": [{"x": 0, "y": 0}, {"x": 1, "y": 0, "customdata": 1}]}
    assert figures.step_from_selection(tap_then_cell, (4, 4)) == 1
    assert figures.step_from_selection({"points": [{"customdata": 16}]}, (4, 4)) is None
    assert figures.step_from_selection({"points": []}, (4, 4)) is None
    assert figures.step_from_selection(None, (4, 4)) is None


# ------------------------------------------------------------------------------ 1-D

def test_1d_figure_opens_on_the_documented_example():
    s = d1(step=3)
    comp, step, scene = scene_for(s)
    d = spec(figures.explorer_figure(scene))
    np.testing.assert_array_equal(arr(trace(d, "output")["z"])[0],
                                  [1, 3, 5, 7, 9, 11, 13, 15, 17])
    np.testing.assert_array_equal(arr(trace(d, "output signal")["y"]), comp.out[0, 0])
    np.testing.assert_array_equal(arr(trace(d, "input signal")["y"]), np.arange(10))
    taps = [t.input_index[0] for t in step.taps]
    assert [t["x"] for t in d["data"] if t["name"] == "taps"] == [taps, taps]
    assert len(d["frames"]) == 9
    assert all(f["traces"] == [i for i, t in enumerate(d["data"]) if t["name"] == "taps"]
               for f in d["frames"])
    win = shape(d["layout"]["shapes"], "window")
    assert (win["x0"], win["x1"]) == (2.5, 4.5)


def test_1d_padding_sources_and_line_plot():
    s = d1(pad_form="side", pad=((2, 1),), mode="circular", size=(3,))
    _comp, _, scene = scene_for(s)
    d = spec(figures.explorer_figure(scene))
    pad = trace(d, "padding")
    assert [t for t in pad["text"][0] if t] == ["←8", "←9", "←0"]
    pads = next(t for t in d["data"] if t["name"] == "padding" and t["type"] == "scatter")
    assert list(arr(pads["x"])) == [-2, -1, 10]
    assert list(arr(pads["y"])) == [8, 9, 0]


def test_frame_count_is_capped_and_spread_evenly():
    s = d1(shape=(5000,), size=(3,))
    comp, _, scene = scene_for(s)
    fig = figures.explorer_figure(scene)
    frames = fig.raw_frames
    assert len(frames) == figures.MAX_FRAMES < comp.steps
    names = [int(f["name"]) for f in frames]
    assert names[0] == 0 and names[-1] == comp.steps - 1
    assert len(set(np.diff(names))) <= 2  # evenly spread (rounding)
    assert figures.frame_steps(10, 200).tolist() == list(range(10))


def test_large_inputs_stay_light():
    """1024x1024: heatmaps are subsampled, frames carry no arrays: the spec stays small."""
    s = d2(source="random", shape=(1024, 1024), size=(3, 3), pad_form="axis",
           pad=((1, 1), (1, 1)), step=123_456)
    comp, step, scene = scene_for(s)
    text = figures.explorer_figure(scene).to_json()
    assert len(text) < 1_000_000
    d = json.loads(text)
    assert arr(trace(d, "input")["z"]).shape[0] <= figures.MAX_SIDE_2D
    assert trace(d, "input")["dx"] > 1
    taps = np.array([t.input_index for t in step.taps])
    win = shape(d["layout"]["shapes"], "window")
    assert (win["y0"], win["x0"]) == tuple(taps.min(0) - 0.5)
    # the capped frames of a big input are the core's windows at those steps
    steps, ftaps = state.frame_taps(comp, s)
    assert len(steps) == figures.MAX_FRAMES
    full = cc.window_map((1024, 1024), (3, 3), padding=1)
    np.testing.assert_array_equal(ftaps, full.coords[steps] - 1)


def test_1d_100k_samples_figure_is_small():
    s = d1(source="random", shape=(100_000,), size=(5,))
    _, _, scene = scene_for(s)
    text = figures.explorer_figure(scene).to_json()
    assert len(text) < 600_000


# ------------------------------------------------------------------------------ exports, others

def test_gif_has_one_frame_per_animation_step():
    _, _, scene = scene_for(d2(size=(3, 3)))
    data = figures.sliding_window_gif(scene, frame_ms=200)
    img = Image.open(io.BytesIO(data))
    assert img.format == "GIF"
    assert img.n_frames == len(scene.frame_steps) == 9
    _, _, scene1 = scene_for(d1())
    assert Image.open(io.BytesIO(figures.sliding_window_gif(scene1))).n_frames == 9


def test_html_export_is_self_contained_and_animated():
    _, _, scene = scene_for(d2())
    html = html_bytes(figures.explorer_figure(scene)).decode()
    assert "<script src=" not in html  # nothing is loaded from the network
    assert len(html) > 1_000_000  # plotly.js is inside
    assert "Plotly.addFrames" in html and '"traces"' in html


def test_groups_figure_draws_every_edge_of_the_core_wiring():
    gmap = cc.group_map(16, 32, 4, (2,))
    d = spec(figures.groups_figure(gmap, highlight_out=9))
    lines = [t for t in d["data"] if t["name"].startswith("group ")]
    assert len(lines) == 4
    segments = sum(len(arr(t["x"])) // 3 for t in lines)
    assert segments == len(gmap.edges) == 32 * 4
    hl = trace(d, "highlight")
    assert len(arr(hl["x"])) // 3 == len(gmap.inputs_of(9)) == 4


def test_examples_and_correlation_figures():
    fig = figures.examples_figure([("A", "s1", "match"), ("A", "s2", "erratum"),
                                   ("B", "s3", "match")])
    d = spec(fig)
    assert list(arr(d["data"][0]["x"])) == [0, 1, 0]
    corr = figures.correlation_figure(np.array([2.0, 3, 4]), np.array([0.5, -2]),
                                      np.array([-5.0, -6.5]), np.array([3.5, 5]))
    assert len(spec(corr)["data"]) == 3


@pytest.mark.parametrize("ndim", [1, 2])
def test_explorer_specs_are_valid_plotly(ndim):
    """The builders write plain specs; plotly's validators accept them (frames included)."""
    rng = np.random.default_rng(ndim)
    from test_app_state import random_settings

    checked = 0
    while checked < 12:
        s = replace(random_settings(rng, ndim), source="random", kernel="random")
        s = replace(s, item=s.item % s.batch, omap=s.omap % s.outmaps,
                    imap=s.imap % (s.inmaps // s.groups))  # as the controls clamp them
        try:
            comp = state.compute(s)
        except cc.ConvError:
            continue
        _, _, scene = scene_for(replace(s, step=s.step % comp.steps))
        fig = figures.explorer_figure(scene, figures.FigureOptions(presenter=checked % 2 == 1))
        valid = fig.validated()
        assert len(valid.frames) == len(scene.frame_steps)
        assert valid.layout.updatemenus[0].buttons[0].label.endswith("Play")
        checked += 1


def test_explorer_figure_refuses_3d():
    _, _, scene = scene_for(d1())
    bad = replace(scene, padded=np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="1-D and 2-D"):
        figures.explorer_figure(bad)
