"""app/settings.py, app/url.py, app/model.py and the control bounds without a browser: the
URL codec round-trips every setting, bad URL values are
reported (not raised), control bounds keep the output non-empty as the core defines it, and
the kernels and biases the app builds are the documented ones."""

from __future__ import annotations

import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import convcore as cc  # noqa: E402
from app.shared import layer, model, settings, url  # noqa: E402
from app.shared import sources as src  # noqa: E402
from convcore.examples import custom_w_1d, custom_w_2d  # noqa: E402


def random_settings(rng: np.random.Generator, ndim: int) -> settings.Settings:
    """Any settings the controls can produce (not necessarily a valid convolution)."""
    s = settings.defaults(ndim)
    pick = lambda seq: seq[int(rng.integers(len(seq)))]  # noqa: E731
    axis = lambda lo, hi: tuple(int(v) for v in rng.integers(lo, hi + 1, ndim))  # noqa: E731
    pad_form = pick(list(settings.PAD_FORMS))
    if pad_form == "axis":
        pad = tuple((v, v) for v in axis(0, 4))
    elif pad_form == "side":
        pad = tuple(zip(axis(0, 4), axis(0, 4)))
    else:
        pad = ((0, 0),) * ndim
    source = pick(list(layer.offered(settings.INPUT_SOURCES, ndim)))
    kernel = pick(list(layer.offered(settings.KERNEL_SOURCES, ndim)))
    inmaps, outmaps = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    groups = pick(cc.valid_groups(inmaps, outmaps))
    size = axis(1, 5)
    net_layer = int(rng.integers(1, 3))
    if kernel == "network":  # the controls fix these to the layer's
        outmaps, groups, size = layer.network_maps(net_layer)[1], 1, (3, 3)
    n_w = outmaps * inmaps // groups * math.prod(size)
    return replace(
        s, batch=int(rng.integers(1, 5)), inmaps=inmaps, outmaps=outmaps, groups=groups,
        shape=axis(1, 40), size=size, stride=axis(1, 4), dilation=axis(1, 3),
        pad_form=pad_form, pad=pad, mode=pick(settings.PADDING_MODES),
        bias=None if rng.random() < 0.5 else tuple(np.round(rng.normal(size=2), 3).tolist()),
        source=source, seed=int(rng.integers(0, 1000)),
        sample=pick(list(src.SAMPLE_SIGNALS if ndim == 1 else src.SAMPLE_IMAGES)),
        typed="1, 2, 3" if ndim == 1 else "1 2; 3 4", kernel=kernel,
        preset=pick(list(src.kernel_presets(ndim))), scheme=pick(settings.INIT_SCHEMES),
        kseed=int(rng.integers(0, 1000)),
        weights=tuple(np.round(rng.normal(size=n_w), 4).tolist()) if kernel == "table"
        else None,
        item=int(rng.integers(0, 4)), omap=int(rng.integers(0, 8)),
        step=int(rng.integers(0, 50)), speed=pick(settings.SPEEDS), reveal=bool(rng.random() < .5),
        presenter=bool(rng.random() < .3), layer=net_layer,
        image=int(rng.integers(0, 360)), net=None if rng.random() < .5 else int(rng.integers(9)),
        draw="" if rng.random() < .5 else "".join(pick(list("0123456789abcdefg"))
                                                    for _ in range(64)),
    )


# Fields the URL carries only when they matter (e.g. the seed only for a random input).
RELEVANT = {
    "seed": lambda s: s.source == "random", "sample": lambda s: s.source == "sample",
    "typed": lambda s: s.source == "typed", "preset": lambda s: s.kernel == "preset",
    "scheme": lambda s: s.kernel == "random", "kseed": lambda s: s.kernel == "random",
    "batch": lambda s: not s.data_source, "inmaps": lambda s: not s.data_source,
    "shape": lambda s: not s.data_source, "size": lambda s: s.kernel not in ("preset", "network"),
    **{name: lambda s: s.uses_network for name in ("layer", "image", "net", "draw")},
}


@pytest.mark.parametrize("ndim", [1, 2])
def test_query_round_trip_of_random_settings(ndim):
    rng = np.random.default_rng(ndim)
    for _ in range(300):
        s = random_settings(rng, ndim)
        q = url.to_query(s)
        assert all(isinstance(v, str) for v in q.values())
        back, problems = url.from_query(q, ndim)
        assert problems == []
        assert url.to_query(back) == q
        for name in settings.settings_fields():
            if name in RELEVANT and not RELEVANT[name](s):
                continue
            assert getattr(back, name) == getattr(s, name), (name, q)


@pytest.mark.parametrize("ndim", [1, 2])
def test_defaults_make_an_empty_query_and_open_on_the_documents_example(ndim):
    s = settings.defaults(ndim)
    assert url.to_query(s) == {}
    comp = model.compute(s)
    expected = {1: [[1, 3, 5, 7, 9, 11, 13, 15, 17], [-1, -2, -3, -4, -5, -6, -7, -8, -9]],
                2: [[[6, 8, 10, 12], [16, 18, 20, 22], [26, 28, 30, 32], [36, 38, 40, 42]],
                    [[-11, -14, -17, -20], [-26, -29, -32, -35], [-41, -44, -47, -50],
                     [-56, -59, -62, -65]]]}[ndim]
    np.testing.assert_array_equal(comp.out[0], expected)


def test_short_urls_and_per_axis_forms():
    s, problems = url.from_query({"step": "5", "stride": "2"}, 1)
    assert problems == [] and s.step == 4 and s.stride == (2,)  # "step 5 of ..." is index 4
    assert url.to_query(replace(settings.defaults(2), step=8)) == {"step": "9"}
    assert url.from_query({"step": "0"}, 2)[0].step == -1  # an old first step: the page clamps
    s, _ = url.from_query({"stride": "2,4", "pad": "3", "dilation": "3,1"}, 2)
    assert s.stride == (2, 4) and s.pad == ((3, 3), (3, 3)) and s.dilation == (3, 1)
    s, _ = url.from_query({"pad": "1:2,0:3"}, 2)
    assert s.pad_form == "side" and s.pad == ((1, 2), (0, 3))
    s, _ = url.from_query({"pad": "same"}, 2)
    assert s.padding == "same"
    assert url.to_query(replace(settings.defaults(2), stride=(2, 2))) == {"stride": "2"}


def test_bad_url_values_are_reported_and_ignored():
    q = {"stride": "abc", "pad": "1:2:3", "mode": "mirror", "speed": "3", "step": "x",
         "shape": "1,2,3", "w": "1,x", "sample": "nope", "src": "sample",
         "kernel": "preset", "preset": "nope", "unknown": "1"}
    s, problems = url.from_query(q, 2)
    d = settings.defaults(2)
    assert len(problems) == 9, problems
    assert all(p.startswith("ignored ") for p in problems)
    assert (s.stride, s.pad, s.mode, s.speed, s.step, s.shape, s.weights, s.sample,
            s.preset) == (d.stride, d.pad, d.mode, d.speed, d.step, d.shape, d.weights,
                          d.sample, d.preset)
    # in the page's words, never int()'s "invalid literal for int() with base 10"
    by_key = {p.parameter: str(p) for p in problems}
    assert by_key["stride"] == "ignored stride='abc': expected a whole number, got 'abc'"
    assert by_key["step"] == "ignored step='x': expected a whole number, got 'x'"
    _, problems = url.from_query({"pad": "1:x", "groups": "2.5"}, 2)
    assert sorted(map(str, problems)) == [
        "ignored groups='2.5': expected a whole number, got '2.5'",
        "ignored pad='1:x': expected a whole number, got 'x'"]
    assert not any("int()" in str(p) for p in problems)


def test_valid_groups_are_exactly_what_the_core_accepts():
    for cin in range(1, 13):
        for cout in range(1, 13):
            offered = cc.valid_groups(cin, cout)
            for g in range(1, 13):
                try:
                    cc.group_map(cin, cout, g)
                    ok = True
                except cc.ConvError:
                    ok = False
                assert ok == (g in offered), (cin, cout, g)


def test_bounds_keep_the_output_non_empty():
    """At each bound the core computes a non-empty output; one past it, it refuses."""
    for n in (1, 2, 5, 10, 33):
        for lo, hi in ((0, 0), (1, 2), (3, 3)):
            k = layer.size_limit(n, lo + hi)
            assert cc.output_size(n, k, padding=(lo, hi)) >= 1
            if k < settings.MAX_KERNEL:
                with pytest.raises(cc.ConvError):
                    cc.output_size(n, k + 1, padding=(lo, hi))
            for size in range(1, k + 1):
                d = layer.dilation_limit(size, n + lo + hi)
                assert cc.output_size(n, size, padding=(lo, hi), dilation=d) >= 1
                if size > 1 and d < settings.MAX_DILATION:
                    with pytest.raises(cc.ConvError):
                        cc.output_size(n, size, padding=(lo, hi), dilation=d + 1)
    for mode in settings.PADDING_MODES:
        for n in (1, 3, 8):
            p = layer.pad_limit(mode, n)
            x = np.zeros((1, 1, n), np.float32)
            cc.padded_input(x, p, mode)  # the core accepts the bound
            if mode in ("reflect", "circular"):  # and refuses one more
                with pytest.raises(cc.ConvError):
                    cc.padded_input(x, p + 1, mode)


def test_custom_weights_are_the_documents_customw():
    np.testing.assert_array_equal(model.custom_weights(1, (3,), 2, 1),
                                  custom_w_1d(3).reshape(2, 1, 3))
    np.testing.assert_array_equal(model.custom_weights(2, (2, 2), 2, 1), custom_w_2d(2))
    w = model.custom_weights(2, (3, 2), 5, 3)
    assert w.shape == (5, 3, 3, 2)
    np.testing.assert_array_equal(w[2, 1], custom_w_2d(3)[0, 0][:3, :2])
    np.testing.assert_array_equal(w[3, 2], custom_w_2d(3)[1, 0][:3, :2])


def test_bias_values_repeat_over_the_output_maps():
    s = replace(settings.defaults(1), outmaps=5, bias=(1.0, -2.0))
    assert model.build_bias(s).tolist() == [1, -2, 1, -2, 1]
    assert model.build_bias(replace(s, bias=None)) is None


def test_table_weights_must_fill_the_weight_shape():
    s = replace(settings.defaults(1), kernel="table", weights=(1.0, 2.0, 3.0))
    with pytest.raises(src.SourceError, match="do not fill"):
        model.build_weights(s)
    s = replace(s, weights=(1.0, 2.0, 3.0, 4.0))
    assert model.build_weights(s).tolist() == [[[1, 2]], [[3, 4]]]


def test_data_sources_set_the_input_shape():
    s = replace(settings.defaults(2), source="sample", sample="rgb scene")
    x, _ = model.load_input(s, None)
    assert x.shape == (1, 3, 64, 64)
    s = replace(settings.defaults(1), source="typed", typed="1, 2, 3; 4, 5, 6")
    x, _ = model.load_input(s, None)
    assert x.shape == (1, 2, 3)
    with pytest.raises(src.SourceError, match="no file"):
        model.load_input(replace(s, source="upload"), None)
    up = model.Upload.of("x.csv", b"1,2,3,4\n")
    x, _ = model.load_input(replace(s, source="upload"), up)
    assert x.tolist() == [[[1, 2, 3, 4]]]


def test_the_views_play_speeds_are_the_settings():
    """The speed menus of the views (explorer.js SPEEDS, imported by the 3-D view) offer exactly
    the speeds the URL codec and the live class accept (settings.SPEEDS): a speed only one side
    knew would be dropped from a link or refused in a class message."""
    import re

    text = (ROOT / "app" / "static" / "view" / "explorer.js").read_text(encoding="utf-8")
    found = re.search(r"^export const SPEEDS = \[([\d, ]+)\];$", text, re.MULTILINE)
    assert found, "explorer.js exports SPEEDS"
    assert tuple(int(v) for v in found.group(1).split(",")) == settings.SPEEDS
    views = (ROOT / "app" / "static" / "view").glob("*.js")
    assert [p.name for p in views if re.search(r"\bconst \w*SPEEDS = \[", p.read_text(
        encoding="utf-8"))] == ["explorer.js"]
