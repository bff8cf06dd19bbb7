"""The receptive-field page's pure layers: the stack's URL codec (:mod:`app.stack`) and its
scene (:func:`app.scene.build_stack_scene`), and the presets against the receptive fields the
literature gives for them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import convcore as cc  # noqa: E402
from app.receptive import stack  # noqa: E402
from app.receptive.stack import Layer, StackSettings  # noqa: E402
from app.shared import scene as scenes  # noqa: E402

HOSTILE = ["9" * 40, "-3", "1e309", "nan", "inf", "１２", "٣", "∞", "🙂", "x" * 5000, "\x00",
           "%00", "1,,2", ":", " ", "", "0x10", "1_000", "2.5", "True", "[1, 2]", "k", "k3s",
           "k3p-1", "K3", "k3,k", "k٣", "k3d0"]


def random_settings(rng, n: int):
    for _ in range(n):
        ndim = int(rng.integers(1, 3))
        layers = tuple(Layer(int(rng.integers(1, 8)), int(rng.integers(1, 4)),
                             int(rng.integers(1, 5)), int(rng.integers(0, 4)))
                       for _ in range(int(rng.integers(1, stack.MAX_LAYERS + 1))))
        in_shape = tuple(int(v) for v in rng.integers(1, stack.MAX_IN[ndim] + 1, ndim))
        cell = tuple(int(v) for v in rng.integers(0, 9, ndim)) if rng.random() < 0.5 else None
        yield StackSettings(ndim, in_shape, layers, cell, bool(rng.random() < 0.3))


def test_the_url_round_trips_every_setting():
    for s in random_settings(np.random.default_rng(5), 300):
        q = stack.to_query(s)
        assert all(isinstance(v, str) for v in q.values())
        back, problems = stack.from_query(q)
        assert (back, problems) == (s, []), q


def test_default_settings_have_an_empty_url_and_layers_read_as_written():
    assert stack.to_query(StackSettings()) == {}
    s, problems = stack.from_query({"nd": "1", "in": "32", "layers": "k2, k2d2,K2D4,k7s2p3"})
    assert not problems
    assert s.layers == (Layer(2), Layer(2, dilation=2), Layer(2, dilation=4),
                        Layer(7, stride=2, padding=3))
    assert stack.to_query(s) == {"nd": "1", "in": "32", "layers": "k2,k2d2,k2d4,k7s2p3"}


@pytest.mark.parametrize("key", ["nd", "in", "layers", "cell", "presenter"])
def test_unreadable_url_values_are_reported_and_never_raise(key):
    for text in HOSTILE:
        s, problems = stack.from_query({key: text})
        assert isinstance(s, StackSettings)
        if key != "presenter" and s == StackSettings():
            # the value was ignored (or was the default): the page is told which and why
            assert problems or text.strip() in ("", "2"), (key, text)
        for p in problems:
            assert p.startswith(f"ignored {key}=") and len(p) < 400, p


def test_the_stack_module_is_pure():
    from test_app_scene import imported_modules

    names = imported_modules(ROOT / "app" / "receptive" / "stack.py")
    assert {n.split(".")[0] for n in names} <= {"__future__", "hashlib", "re", "dataclasses", "app"}
    pure = {"layer", "url", "settings", "sources"}  # the pure app modules it may use
    for module in {n.split(".")[2] for n in names if n.startswith("app.shared.")}:
        assert module in pure, module
    for module in pure:
        roots = {n.split(".")[0]
                 for n in imported_modules(ROOT / "app" / "shared" / f"{module}.py")}
        assert not roots & {"streamlit", "plotly"}, (module, roots)


def test_too_many_layers_are_cut_with_a_notice():
    s, problems = stack.from_query({"layers": ",".join(["k3"] * 12)})
    assert len(s.layers) == stack.MAX_LAYERS
    assert problems == ["layers: asked 12 layers, using the first 8 (the page's limit)"]
    _, problems = stack.from_query({"nd": "1", "in": "5,6"})
    assert problems == ["ignored in='5,6': expected 1 number"]


def test_presets_give_the_fields_the_literature_gives():
    presets = {name: cc.receptive_field(p.core_layers(), in_spatial=p.in_shape)
               for name, p in stack.PRESETS.items()}
    three = presets["three 3×3 layers"]
    assert [f.size for f in three.layers] == [(3, 3), (5, 5), (7, 7)]  # VGG: 3 layers = 7x7
    wavenet = presets["dilated 1-D stack (WaveNet / TCN)"]
    assert [f.size for f in wavenet.layers] == [(2,), (4,), (8,), (16,), (32,)]  # 2^L
    stem = presets["strided stem (7×7 s2 + 3×3 s2)"]
    assert (stem.size, stem.jump, stem.start) == ((11, 11), (4, 4), (-5, -5))
    assert stem.out_spatial == (8, 8)  # ResNet's stem: 32 -> 16 -> 8


def test_the_stack_scene_is_the_core_geometry_in_json():
    for s in random_settings(np.random.default_rng(6), 80):
        try:
            rf = cc.receptive_field(s.core_layers(), in_spatial=s.in_shape)
        except cc.ConvError:
            continue
        sc = scenes.build_stack_scene(rf)
        assert json.loads(json.dumps(sc, allow_nan=False)) == sc
        assert sc["ndim"] == s.ndim and sc["kind"] == "stack"
        assert sc["layout"] == {1: "strip", 2: "grid"}[s.ndim]  # what receptive.js reads
        assert sc["shapes"] == [list(s.in_shape)] + [
            list(v) for v in cc.stack_shapes(s.in_shape, s.core_layers())]
        for layer, got in zip(s.layers, sc["layers"]):
            assert got["kernel"] == [layer.kernel] * s.ndim
            assert got["stride"] == [layer.stride] * s.ndim
            assert got["dilation"] == [layer.dilation] * s.ndim
            assert got["pads"] == [[layer.padding, layer.padding]] * s.ndim
        assert [f["size"] for f in sc["layers"]] == [list(f.size) for f in rf.layers]


def test_the_receptive_view_bundle_is_one_module_with_the_field_rule():
    from app.receptive import page as receptive
    from app.shared import view

    code = view.bundle(receptive.MODULES)
    assert 'from "./' not in code
    for name in ("export function fieldOf(", "export function tapPosition(",
                 "export function windowTaps(", "export function mount("):
        assert code.count(name) == 1, name
