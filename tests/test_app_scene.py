"""The scene (app/scene.py) and what is made from it without a browser (app/export.py), plus
the figures of the other pages (app/figures.py).

The scene must carry exactly what the core computed: the padded input maps of the output map's
group (``cc.padded_input``), each padded cell's source (``convcore.trace.source_map``), the
kernels, the bias and the output (``cc.conv1d/2d``), the cells no window reads
(``cc.coverage``) — as plain JSON, inf and nan included, within its size budget.
"""

from __future__ import annotations

import ast
import io
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from test_app_settings import random_settings  # noqa: E402

import convcore as cc  # noqa: E402
from app.shared import export, figures, model, ranks, settings, view  # noqa: E402
from app.shared import scene as scenes  # noqa: E402
from convcore.trace import source_map  # noqa: E402


def d1(**kw) -> settings.Settings:
    return replace(settings.defaults(1), **kw)


def d2(**kw) -> settings.Settings:
    return replace(settings.defaults(2), **kw)


def arrays(sc: dict) -> dict:
    return {name: scenes.read_typed_array(sc[name])
            for name in ("inputs", "weights", "bias")} | {"output": scenes.output_map(sc)}


def valid_random_settings(n: int, seed: int):
    rng = np.random.default_rng(seed)
    found = 0
    while found < n:
        ndim = 1 + found % 2
        s = replace(random_settings(rng, ndim), source="random", kernel="random")
        s = replace(s, item=s.item % s.batch, omap=s.omap % s.outmaps)
        try:
            comp = model.compute(s)
        except cc.ConvError:
            continue
        found += 1
        yield s, comp


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add(node.module or "")
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


# ------------------------------------------------------------------------------ the contract

def test_the_scene_module_imports_neither_streamlit_nor_plotly():
    # the rank table is pure data (it imports nothing but dataclasses), so scene may read it
    names = imported_modules(ROOT / "app" / "shared" / "scene.py") - {"app.shared.ranks",
                                                                      "app.shared.ranks.rank"}
    roots = {n.split(".")[0] for n in names}
    assert roots <= {"__future__", "base64", "math", "numpy", "convcore"}, roots
    ranks = {n.split(".")[0] for n in imported_modules(ROOT / "app" / "shared" / "ranks.py")}
    assert ranks <= {"__future__", "dataclasses"}, ranks


def test_layers_import_only_the_layers_before_them():
    later = {"settings": {"model", "scene", "view", "explorer", "controls", "export"},
             "url": {"model", "scene", "view", "explorer", "controls", "export"},
             "model": {"scene", "view", "explorer", "controls", "export", "url"},
             "scene": {"model", "view", "explorer", "controls", "export", "streamlit"},
             "layer": {"model", "scene", "view", "explorer", "controls", "export", "url",
                       "streamlit"}}
    for name, forbidden in later.items():
        names = imported_modules(ROOT / "app" / "shared" / f"{name}.py")
        found = {n.split(".")[-1] for n in names} | {n.split(".")[0] for n in names}
        assert not found & forbidden, (name, found & forbidden)


def test_scenes_hold_the_core_arrays_and_round_trip_through_json():
    for s, comp in valid_random_settings(24, 5):
        sc = scenes.build_scene(comp, s.item, s.omap)
        again = json.loads(json.dumps(sc, allow_nan=False))
        assert again == sc
        a = arrays(again)
        cg = comp.weight.shape[1]
        group = s.omap // (s.outmaps // s.groups)
        assert sc["channels"] == list(range(group * cg, (group + 1) * cg))
        np.testing.assert_array_equal(a["inputs"],
                                      comp.padded.values[s.item, group * cg:(group + 1) * cg])
        np.testing.assert_array_equal(a["weights"], comp.weight[s.omap])
        np.testing.assert_array_equal(a["output"], comp.out[s.item, s.omap])
        assert a["bias"].tolist() == [0.0 if comp.bias is None else float(comp.bias[s.omap])]
        assert sc["out_shape"] == list(comp.out.shape[2:])
        assert sc["padded_shape"] == list(comp.padded.values.shape[2:])
        assert sc["pads"] == [list(p) for p in comp.padded.pads]
        assert sc["kernel"] == list(comp.weight.shape[2:])
        assert (sc["stride"], sc["dilation"]) == (list(s.stride), list(s.dilation))
        cov = cc.coverage(comp.x.shape[2:], comp.weight.shape[2:], stride=s.stride,
                          padding=s.padding, dilation=s.dilation)
        assert sc["never_read"] == [list(axis.never_read) for axis in cov.axes]
        for axis, (n, (lo, hi)) in enumerate(zip(sc["in_shape"], sc["pads"])):
            assert sc["source"][axis] == source_map(n, lo, hi, s.mode).tolist()
        assert sc["exact"] and sc["scale"] == 1


def test_the_scene_carries_no_step_so_stepping_never_resends_it():
    comp = model.compute(d2())
    assert scenes.build_scene(comp, 0, 0) == scenes.build_scene(model.compute(d2(step=7)), 0, 0)
    assert "step" not in scenes.build_scene(comp, 0, 0)


def test_inf_and_nan_travel_as_typed_arrays_in_plain_json():
    comp = model.compute(d1(bias=(float("inf"), float("nan"))))
    text = json.dumps(scenes.build_scene(comp, 0, 1), allow_nan=False)
    back = arrays(json.loads(text))
    assert np.isnan(back["output"]).all() and np.isnan(back["bias"]).all()
    back = arrays(scenes.build_scene(comp, 0, 0))
    assert np.isposinf(back["output"]).all()


def test_scene_sizes_stay_within_budget():
    small = json.dumps(scenes.build_scene(model.compute(d2()), 0, 0))
    assert len(small) < 3_000
    big = d2(source="random", shape=(256, 256), size=(5, 5), pad=((2, 2), (2, 2)))
    sc = scenes.build_scene(model.compute(big), 0, 0)
    # 260² + two 256² output maps, float32, base64
    assert sc["exact"] and len(json.dumps(sc)) < 1_100_000
    huge = d2(source="random", inmaps=3, shape=(1024, 1024), size=(3, 3))
    comp = model.compute(huge)
    sc = scenes.build_scene(comp, 0, 1)
    assert not sc["exact"] and sc["scale"] == 4  # ceil(sqrt(4.19M / 400k))
    a = arrays(sc)
    assert a["inputs"].size + arrays_of(sc, "outputs").size <= ranks.rank(2).exact_values
    np.testing.assert_array_equal(a["output"], comp.out[0, 1, ::4, ::4])  # real values
    assert len(json.dumps(sc)) < 2_500_000


def arrays_of(sc: dict, name: str) -> np.ndarray:
    return scenes.read_typed_array(sc[name])


def test_every_output_map_travels_and_the_partial_sums_add_up_to_the_output():
    s = d2(source="random", inmaps=4, outmaps=6, groups=2, shape=(7, 6), size=(3, 2),
           stride=(2, 1), pad=((1, 0), (0, 2)), pad_form="side", mode="reflect", bias=(0.5, -2))
    comp = model.compute(s)
    for omap in range(6):
        sc = scenes.build_scene(comp, 0, omap)
        np.testing.assert_array_equal(arrays_of(sc, "outputs"), comp.out[0])
        parts = arrays_of(sc, "partials")  # (C_in/g, *out): one term per input map
        assert parts.shape == (2, *comp.out.shape[2:])
        np.testing.assert_allclose(parts.sum(0) + comp.bias[omap], comp.out[0, omap],
                                   rtol=1e-5, atol=1e-4)
        # each term is that map's own arithmetic: the core's taps of that map, summed
        step = cc.trace_step(comp.x, comp.weight, comp.bias, out_index=(0, omap, 1, 2),
                             **s.conv_kwargs())
        for m, c in enumerate(sc["channels"]):
            mine = sum(t.product for t in step.taps if t.in_channel == c)
            assert parts[m, 1, 2] == pytest.approx(mine, rel=1e-5, abs=1e-4)
    many = scenes.build_scene(model.compute(d2(outmaps=40)), 0, 39)
    assert (many["outputs_first"], arrays_of(many, "outputs").shape[0]) == (24, 16)
    assert scenes.build_scene(model.compute(d2()), 0, 0)["partials"] is None  # one map


def test_many_input_maps_travel_whole_but_only_eight_are_drawn():
    comp = model.compute(d2(inmaps=12, outmaps=2, source="random"))
    sc = scenes.build_scene(comp, 0, 1)
    assert sc["shown_maps"] == scenes.MAX_SHOWN_MAPS == 8
    assert arrays(sc)["inputs"].shape[0] == 12  # the equation sums all twelve


# ------------------------------------------------------------------------------ exports

def payload_of(s: settings.Settings) -> tuple[str, dict]:
    comp = model.compute(s)
    text = json.dumps(scenes.build_scene(comp, s.item, s.omap))
    return view.payload(text, "test", {"step": 0, "speed": 2, "reveal": False}, False), \
        json.loads(text)


def test_the_view_bundle_is_one_module_without_relative_imports():
    code = view.bundle()
    assert 'from "./' not in code
    for name in ("export function fmt(", "export function windowTaps(",
                 "export function mount("):
        assert code.count(name) == 1, name


def test_html_export_is_the_same_view_and_self_contained():
    text, _ = payload_of(d2(stride=(2, 1)))
    html = export.html_bytes(text, "explorer").decode()
    assert "plotly.js v" in html and "export function windowTaps(" in html
    assert "mount({data: " in html and '"out_shape": [2, 4]' in html
    assert "<script src=" not in html
    assert len(html) > 1_000_000  # plotly.js is inside: it works offline


def test_csv_and_npy_exports_hold_the_arrays():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert export.csv_text(a) == "0,1,2\n3,4,5\n"
    assert np.load(io.BytesIO(export.npy_bytes(a)), allow_pickle=False).tolist() == a.tolist()


# ------------------------------------------------------------------------------ other pages

def _length(v) -> int:
    return len(scenes.read_typed_array(v)) if isinstance(v, dict) else len(v)


def test_groups_figure_draws_every_edge_of_the_core_wiring():
    gmap = cc.group_map(16, 32, 4, (2,))
    d = json.loads(figures.groups_figure(gmap, highlight_out=9).to_json())
    lines = [t for t in d["data"] if t["name"].startswith("group ")]
    assert len(lines) == 4
    assert sum(_length(t["x"]) // 3 for t in lines) == len(gmap.edges) == 32 * 4
    hl = next(t for t in d["data"] if t["name"] == "highlight")
    assert _length(hl["x"]) // 3 == len(gmap.inputs_of(9)) == 4


def test_examples_and_correlation_figures():
    d = json.loads(figures.examples_figure([("A", "s1", "match"), ("A", "s2", "erratum"),
                                            ("B", "s3", "match")]).to_json())
    x = d["data"][0]["x"]
    assert list(scenes.read_typed_array(x) if isinstance(x, dict) else x) == [0, 1, 0]
    corr = figures.correlation_figure(np.array([2.0, 3, 4]), np.array([0.5, -2]),
                                      np.array([-5.0, -6.5]), np.array([3.5, 5]))
    assert len(json.loads(corr.to_json())["data"]) == 3


def test_one_diverging_scale_for_the_whole_app():
    stops = figures.COLORSCALE
    assert stops[0][1] == "rgb(103,0,31)" and stops[-1][1] == "rgb(5,48,97)"
    js = (ROOT / "app" / "static" / "view" / "grid.js").read_text()
    assert all(f'"{c}"' in js for _, c in stops)  # the browser view draws with the same stops
