"""convcore.trace against the core and against brute force, on random configurations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import convcore as cc
from convcore.params import make_spec

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
MODES = ("zeros", "reflect", "replicate", "circular")


@st.composite
def configs(draw, max_nd=3):
    """A legal convolution: shapes, every parameter form, and arrays."""
    nd = draw(st.integers(1, max_nd))
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    size = draw(st.tuples(*[st.integers(1, 7 if nd == 1 else 5)] * nd))
    kernel = draw(st.tuples(*[st.integers(1, 3)] * nd))
    stride = draw(st.tuples(*[st.integers(1, 3)] * nd))
    dilation = draw(st.tuples(*[st.integers(1, 2)] * nd))
    form = draw(st.sampled_from(["int", "axis", "pairs", "valid", "same"]))
    if form == "int":
        padding = draw(st.integers(0, 2))
    elif form == "axis":
        padding = draw(st.tuples(*[st.integers(0, 2)] * nd))
    elif form == "pairs":
        padding = tuple(draw(st.tuples(st.integers(0, 2), st.integers(0, 2))) for _ in range(nd))
    else:
        padding = form
        if form == "same":
            stride = (1,) * nd
    mode = draw(st.sampled_from(MODES))
    batched = draw(st.booleans())
    x_shape = ((2,) if batched else ()) + (cin, *size)
    w_shape = (cout, cin // groups, *kernel)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=mode)
    try:
        spec = make_spec("test", x_shape, w_shape, None, **kw)
    except cc.ConvError:
        assume(False)
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.integers(-4, 5, x_shape).astype(np.float64)
    w = rng.integers(-3, 4, w_shape).astype(np.float64)
    bias = rng.integers(-2, 3, cout).astype(np.float64) if draw(st.booleans()) else None
    return x, w, bias, kw, spec


def brute_source(i, n, mode):
    """Where padded position ``i`` (unpadded coordinates) takes its value from, by np.pad."""
    if 0 <= i < n:
        return i
    if mode == "zeros":
        return None
    reach = abs(i) + n
    padded = np.pad(np.arange(n), reach, mode={"reflect": "reflect", "replicate": "edge",
                                               "circular": "wrap"}[mode])
    return int(padded[i + reach])


@SETTINGS
@given(configs())
def test_every_tap_sum_equals_the_core_output(cfg):
    x, w, bias, kw, spec = cfg
    out = cc.convnd(x, w, bias, **kw)
    lead = out.shape[: out.ndim - spec.ndim]
    # a few output cells per configuration: first, last and one in the middle
    cells = list(itertools.product(*[range(n) for n in out.shape]))
    for index in {cells[0], cells[len(cells) // 2], cells[-1]}:
        step = cc.trace_step(x, w, bias, out_index=index, **kw)
        assert step.out_index == index
        assert step.value == pytest.approx(float(out[index]), abs=1e-9)
        assert sum(t.product for t in step.taps) + step.bias == pytest.approx(step.value)
        assert step.bias == (0.0 if bias is None else bias[index[len(lead) - 1]])
        assert len(step.taps) == spec.in_per_group * math.prod(spec.kernel)


@SETTINGS
@given(configs())
def test_padding_flags_and_sources_follow_the_mode(cfg):
    x, w, bias, kw, spec = cfg
    out_shape = spec.out_shape
    index = tuple(n - 1 for n in out_shape)  # the last cell touches the high padding
    step = cc.trace_step(x, w, bias, out_index=index, **kw)
    xb = x if spec.batched else x[None]
    n = index[0] if spec.batched else 0
    c_out = index[-spec.ndim - 1]
    g = c_out // spec.out_per_group
    for t in step.taps:
        outside = any(not 0 <= i < s for i, s in zip(t.input_index, spec.in_spatial))
        assert t.is_padding == outside
        assert g * spec.in_per_group <= t.in_channel < (g + 1) * spec.in_per_group
        expected = [brute_source(i, s, spec.padding_mode)
                    for i, s in zip(t.input_index, spec.in_spatial)]
        if spec.padding_mode == "zeros" and outside:
            assert t.source_index is None and t.x == 0.0
        else:
            assert t.source_index == tuple(expected)
            assert t.x == xb[(n, t.in_channel, *t.source_index)]
        assert t.w == w[t.weight_index]
        assert t.product == t.x * t.w


@SETTINGS
@given(configs())
def test_coverage_counts_equal_brute_force(cfg):
    _, _, _, kw, spec = cfg
    args = (spec.in_spatial, spec.kernel, kw["stride"], kw["padding"], kw["dilation"])
    cov = cc.coverage(*args)
    counts = np.zeros(spec.in_spatial, dtype=int)
    lo = [p[0] for p in spec.pads]
    for o in itertools.product(*[range(n) for n in spec.out_spatial]):
        for k in itertools.product(*[range(n) for n in spec.kernel]):
            i = tuple(oo * s + kk * d - p
                      for oo, kk, s, d, p in zip(o, k, spec.stride, spec.dilation, lo))
            if all(0 <= a < n for a, n in zip(i, spec.in_spatial)):
                counts[i] += 1
    np.testing.assert_array_equal(cov.counts, counts)
    assert set(cov.never_read) == {tuple(i) for i in np.argwhere(counts == 0)}
    for a, axis in enumerate(cov.axes):
        reach = (spec.out_spatial[a] - 1) * spec.stride[a] + spec.dilation[a] * (
            spec.kernel[a] - 1) - lo[a]  # the last index the last window touches
        read = {o * spec.stride[a] + k * spec.dilation[a] - lo[a]
                for o in range(spec.out_spatial[a]) for k in range(spec.kernel[a])}
        unread = [i for i in range(spec.in_spatial[a]) if i not in read]
        assert axis.never_read == tuple(unread)
        assert axis.dropped_tail == tuple(i for i in unread if i > reach)
        assert axis.skipped == tuple(i for i in unread if i < reach)

    wmap = cc.window_map(*args)
    assert wmap.steps == math.prod(spec.out_spatial)
    assert wmap.coords.shape == (wmap.steps, math.prod(spec.kernel), spec.ndim)
    for p, o in enumerate(itertools.product(*[range(n) for n in spec.out_spatial])):
        assert tuple(wmap.out_coords[p]) == o  # raster order
        for q, k in enumerate(itertools.product(*[range(n) for n in spec.kernel])):
            assert tuple(wmap.coords[p, q]) == tuple(
                oo * s + kk * d for oo, kk, s, d in zip(o, k, spec.stride, spec.dilation))


@SETTINGS
@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 5), st.integers(0, 4),
       st.integers(0, 4), st.integers(1, 3))
def test_explain_shape_agrees_with_output_size_and_names_the_remainder(n, k, s, lo, hi, d):
    ex = cc.explain_shape(n, k, stride=s, padding=((lo, hi),), dilation=d)
    (axis,) = ex.axes
    numerator = n + lo + hi - d * (k - 1) - 1
    assert axis.numerator == numerator
    if numerator < 0:
        assert axis.out_size == 0 and any("empty" in w for w in axis.warnings)
        with pytest.raises(cc.ConvError, match="output would be empty"):
            cc.output_size(n, k, s, (lo, hi), d)
        return
    assert axis.out_size == cc.output_size(n, k, s, (lo, hi), d)
    assert axis.remainder == numerator % s
    assert f"floor({numerator}/{s}) + 1 = {axis.out_size}" in axis.text
    assert rf"\frac{{{numerator}}}{{{s}}}" in axis.latex
    has_warning = any(f"remainder of {axis.remainder}" in w for w in axis.warnings)
    assert has_warning == (axis.remainder > 0)
    never = cc.coverage(n, k, s, ((lo, hi),), d).axes[0]
    assert any("never read" in w for w in axis.warnings) == bool(never.never_read)


def test_explain_shape_documented_erratum_numbers():
    ex = cc.explain_shape(10, 2, stride=2, padding=2)
    assert ex.out_spatial == (7,)
    assert ex.text == "L_out = floor((10 + 2 + 2 − 1·(2−1) − 1) / 2) + 1 = floor(12/2) + 1 = 7"
    ex = cc.explain_shape((5, 5), 2, stride=(2, 4), padding=3)
    assert ex.out_spatial == (5, 3)
    assert [a.remainder for a in ex.axes] == [1, 1]
    assert "H_out" in ex.text and "W_out" in ex.text


@SETTINGS
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
def test_group_map_wiring_matches_the_core_and_layouts_round_trip(groups, cg, og, k):
    cin, cout = groups * cg, groups * og
    gm = cc.group_map(cin, cout, groups, kernel_size=(k,))
    w = np.arange(cout * cg * k, dtype=np.float64).reshape(cout, cg, k) + 1
    assert gm.weight_shape_pytorch == w.shape
    mge = cc.to_megengine(w, groups)
    assert mge.shape == gm.weight_shape_megengine or groups == 1
    np.testing.assert_array_equal(cc.from_megengine(mge), w)
    pz = cc.to_puzzlelib_1d(w)
    assert pz.shape == gm.weight_shape_puzzlelib
    np.testing.assert_array_equal(cc.from_puzzlelib_1d(pz), w)
    assert gm.params_count == w.size
    # wiring: light one input channel, see which output channels respond
    edges = set()
    for c in range(cin):
        x = np.zeros((1, cin, k))
        x[0, c] = 1.0
        out = cc.conv1d(x, np.abs(w), groups=groups)
        edges |= {(c, o) for o in np.flatnonzero(out[0, :, 0])}
    assert set(gm.edges) == edges
    for o in range(cout):
        assert gm.inputs_of(o) == tuple(sorted(c for c, oo in edges if oo == o))
    for c in range(cin):
        assert gm.outputs_of(c) == tuple(sorted(oo for cc_, oo in edges if cc_ == c))


def test_group_map_checks_groups_like_the_core():
    with pytest.raises(cc.ConvError, match="groups"):
        cc.group_map(4, 6, 4)
    with pytest.raises(cc.ConvError, match="groups must be a positive integer"):
        cc.group_map(4, 4, 0)


@SETTINGS
@given(configs(max_nd=2))
def test_dilated_kernel_reproduces_dilation(cfg):
    x, w, bias, kw, spec = cfg
    assume(kw["padding"] != "same")
    wd = cc.dilated_kernel(w, spec.dilation)
    assert wd.shape[2:] == tuple(d * (k - 1) + 1 for k, d in zip(spec.kernel, spec.dilation))
    assert np.count_nonzero(wd) == np.count_nonzero(w)
    kw1 = {**kw, "dilation": 1}
    np.testing.assert_allclose(cc.convnd(x, wd, bias, **kw1), cc.convnd(x, w, bias, **kw))


def test_dilated_kernel_as_the_seeds_describe_it():
    np.testing.assert_array_equal(cc.dilated_kernel(np.array([[[1.0, -1.0]]]), 2),
                                  [[[1.0, 0.0, -1.0]]])
    np.testing.assert_array_equal(cc.dilated_kernel(np.eye(2).reshape(1, 1, 2, 2), (3, 1)),
                                  [[[[1, 0], [0, 0], [0, 0], [0, 1]]]])


@SETTINGS
@given(configs())
def test_padded_input_values_mask_and_sources(cfg):
    x, _, _, kw, spec = cfg
    xb = x if spec.batched else x[None]
    p = cc.padded_input(xb, kw["padding"], spec.padding_mode, kernel_size=spec.kernel,
                        dilation=spec.dilation, stride=spec.stride)
    assert p.pads == spec.pads
    assert p.values.shape == xb.shape[:2] + spec.padded_spatial
    lo = [a for a, _ in spec.pads]
    for cell in itertools.product(*[range(n) for n in spec.padded_spatial]):
        i = [c - a for c, a in zip(cell, lo)]
        outside = any(not 0 <= a < n for a, n in zip(i, spec.in_spatial))
        assert p.is_padding[cell] == outside
        src = tuple(p.source[(slice(None), *cell)])
        if outside and spec.padding_mode == "zeros":
            assert src == (-1,) * spec.ndim
            assert not p.values[(Ellipsis, *cell)].any()
        else:
            assert src == tuple(brute_source(a, n, spec.padding_mode)
                                for a, n in zip(i, spec.in_spatial))
            np.testing.assert_array_equal(p.values[(Ellipsis, *cell)], xb[(Ellipsis, *src)])


def test_equation_text_for_a_small_and_a_large_step():
    x = np.arange(10, dtype=np.float32).reshape(1, 1, 10)
    w = np.array([[[1, 1]], [[0, -1]]], dtype=np.float32)
    b = np.array([0.0, 0.5], dtype=np.float32)
    step = cc.trace_step(x, w, b, out_index=(0, 1, 3), stride=2, padding=2)
    assert cc.equation(step) == ("out[0,1,3] = b(0.5) + x[0,4]·w[1,0,0] (4·0) + "
                                 "x[0,5]·w[1,0,1] (5·−1) = −4.5")
    step = cc.trace_step(x, w, b, out_index=(0, 0, 0), stride=2, padding=2)
    assert cc.equation(step).startswith("out[0,0,0] = b(0) + pad[0,-2]·w[0,0,0] (0·1)")
    big = np.ones((1, 3, 8, 8))
    step = cc.trace_step(big, np.ones((1, 3, 5, 5)), out_index=(0, 0, 1, 1))
    text = cc.equation(step, max_terms=10)
    assert "… 65 more terms (Σ 65)" in text and text.endswith("= 75")


def test_reprs_are_readable():
    x = np.array([[[2.0, 3.0, 4.0]]])
    step = cc.trace_step(x, np.array([[[0.5, -2.0]]]), np.array([0.25]), out_index=(0, 0, 0),
                         stride=2, padding=1, padding_mode="reflect")
    assert repr(step) == "Step(out[0,0,0] = −2.25, 2 taps, bias 0.25)"
    assert repr(step.taps[0]) == "Tap(x[0,-1](pad←x[0,1])=3 · w[0,0,0]=0.5 → 1.5)"


@pytest.mark.parametrize("bad, match", [
    ((0, 2, 0), r"out_index must be \(n, c_out, \*spatial\)"),
    ((0, 0), "out_index"),
    ((0, 0, 9), "out_index"),
])
def test_trace_step_rejects_out_of_range_indices(bad, match):
    x = np.zeros((1, 1, 10))
    with pytest.raises(cc.ConvError, match=match):
        cc.trace_step(x, np.ones((2, 1, 2)), out_index=bad)


@SETTINGS
@given(configs(max_nd=2), st.data())
def test_window_map_of_chosen_steps_equals_the_full_map(cfg, data):
    _, _, _, kw, spec = cfg
    args = (spec.in_spatial, spec.kernel, kw["stride"], kw["padding"], kw["dilation"])
    full = cc.window_map(*args)
    steps = data.draw(st.lists(st.integers(0, full.steps - 1), max_size=6))
    part = cc.window_map(*args, steps=steps)
    np.testing.assert_array_equal(part.coords, full.coords[steps].reshape(part.coords.shape))
    np.testing.assert_array_equal(part.out_coords,
                                  full.out_coords[steps].reshape(part.out_coords.shape))
    with pytest.raises(cc.ConvError, match="steps must lie in"):
        cc.window_map(*args, steps=[full.steps])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(1, 30), st.integers(1, 8), st.integers(0, 4), st.integers(0, 4),
       st.integers(1, 4))
def test_limits_are_exactly_where_the_core_starts_refusing(n, k, lo, hi, d):
    kmax = cc.max_kernel_size(n, (lo, hi), d)
    assert cc.output_size(n, kmax, 1, (lo, hi), d) >= 1
    with pytest.raises(cc.ConvError, match="output would be empty"):
        cc.output_size(n, kmax + 1, 1, (lo, hi), d)
    dmax = cc.max_dilation(n, k, (lo, hi))
    if k == 1:
        assert dmax is None
    elif dmax >= 1:
        assert cc.output_size(n, k, 1, (lo, hi), dmax) >= 1
        with pytest.raises(cc.ConvError, match="output would be empty"):
            cc.output_size(n, k, 1, (lo, hi), dmax + 1)
    x = np.zeros((1, 1, n))
    for mode in MODES:
        pmax = cc.max_padding(n, mode)
        if pmax is None:
            cc.conv1d(x, np.ones((1, 1, 1)), padding=n + 5, padding_mode=mode)
            continue
        cc.conv1d(x, np.ones((1, 1, 1)), padding=pmax, padding_mode=mode)
        with pytest.raises(cc.ConvError, match="padding_mode"):
            cc.conv1d(x, np.ones((1, 1, 1)), padding=pmax + 1, padding_mode=mode)


@pytest.mark.parametrize("cin, cout", [(1, 1), (4, 6), (16, 32), (3, 7), (12, 18)])
def test_valid_groups_are_exactly_the_ones_the_core_accepts(cin, cout):
    accepted = []
    for g in range(1, max(cin, cout) + 1):
        try:
            make_spec("t", (1, cin, 4), (cout, cin // g or 1, 1), groups=g)
            accepted.append(g)
        except cc.ConvError:
            pass
    assert cc.valid_groups(cin, cout) == accepted
