"""The scatter and gather views of a transposed convolution against the core and brute force."""

from __future__ import annotations

import doctest
import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import convcore as cc
import convcore.receptive
import convcore.transposed
import convcore.transposed_trace

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def configs(draw, max_nd=2):
    """A legal transposed convolution with small integer-valued arrays (exact sums)."""
    nd = draw(st.integers(1, max_nd))
    groups = draw(st.integers(1, 2))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    size = draw(st.tuples(*[st.integers(1, 5 if nd == 1 else 4)] * nd))
    kernel = draw(st.tuples(*[st.integers(1, 4)] * nd))
    stride = draw(st.tuples(*[st.integers(1, 3)] * nd))
    dilation = draw(st.tuples(*[st.integers(1, 2)] * nd))
    room = [((n - 1) * s + d * (k - 1)) // 2 for n, s, d, k in zip(size, stride, dilation,
                                                                   kernel)]
    padding = tuple(draw(st.integers(0, r)) for r in room)
    opad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    batched = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.integers(-4, 5, ((2,) if batched else ()) + (cin, *size)).astype(np.float64)
    w = rng.integers(-3, 4, (cin, cout // groups, *kernel)).astype(np.float64)
    bias = rng.integers(-2, 3, cout).astype(np.float64) if draw(st.booleans()) else None
    kw = dict(stride=stride, padding=padding, output_padding=opad, groups=groups,
              dilation=dilation)
    return x, w, bias, kw


def out_cells(out):
    return list(np.ndindex(*out.shape))


@SETTINGS
@given(configs())
def test_every_output_is_the_sum_of_its_stamps(case):
    x, w, bias, kw = case
    out = cc.conv_transposend(x, w, bias, **kw)
    nd = w.ndim - 2
    for index in out_cells(out):
        step = cc.trace_transposed(x, w, bias, out_index=index, **kw)
        assert step.out_index == index
        assert step.value == pytest.approx(float(out[index]), abs=1e-9)
        assert step.value == pytest.approx(sum(s.product for s in step.stamps) + step.bias)
        lead = index[:-nd - 1]  # the batch index, if any
        for s in step.stamps:
            assert s.output_index == index[-nd:] and not s.cropped
            assert s.x == x[lead + (s.in_channel,) + s.input_index]
            assert s.w == w[s.weight_index] and s.product == s.x * s.w


@SETTINGS
@given(configs())
def test_scattering_every_input_cell_rebuilds_the_output(case):
    """Add up every stamp of every input cell: that is the core's output (plus bias)."""
    x, w, bias, kw = case
    out = cc.conv_transposend(x, w, bias, **kw)
    nd = w.ndim - 2
    batched = x.ndim == nd + 2
    rebuilt = np.zeros(out.shape)
    gathered = {}
    for index in np.ndindex(*x.shape):
        step = cc.trace_scatter(x, w, bias, in_index=index, **kw)
        assert step.value == x[index]
        lead = index[:1] if batched else ()
        for s in step.stamps:
            assert s.full_index == tuple(i * st_ + t * d for i, t, st_, d in zip(
                s.input_index, s.weight_index[2:], kw["stride"], kw["dilation"]))
            assert s.output_index == tuple(f - p for f, p in zip(s.full_index, kw["padding"]))
            assert s.cropped == (not all(0 <= o < m for o, m in
                                         zip(s.output_index, out.shape[-nd:])))
            if not s.cropped:
                rebuilt[lead + (s.out_channel,) + s.output_index] += s.product
                gathered.setdefault(lead + (s.out_channel,) + s.output_index, []).append(
                    (s.in_channel, s.input_index, s.weight_index))
        assert step.kept == tuple(s for s in step.stamps if not s.cropped)
    if bias is not None:
        rebuilt += bias.reshape((-1,) + (1,) * nd)
    assert_allclose(rebuilt, out, atol=1e-9)
    # the two views list the same stamps for every output cell
    for index in out_cells(out):
        step = cc.trace_transposed(x, w, bias, out_index=index, **kw)
        got = sorted((s.in_channel, s.input_index, s.weight_index) for s in step.stamps)
        assert got == sorted(gathered.get(index, []))


@SETTINGS
@given(configs(max_nd=3))
def test_gather_form_is_a_forward_convolution_equal_to_the_core(case):
    x, w, bias, kw = case
    nd = w.ndim - 2
    gf = cc.gather_form(x, w, **kw)
    out = cc.conv_transposend(x, w, bias, **kw)
    assert_allclose(cc.convnd(gf.values, gf.weight, bias, dilation=gf.dilation,
                              groups=gf.groups), out, atol=1e-9)
    # and PyTorch agrees that this forward convolution is the transposed one
    tv = torch.from_numpy(gf.values if x.ndim == nd + 2 else gf.values[None])
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[nd]
    expect = conv(tv, torch.from_numpy(gf.weight), None if bias is None else
                  torch.from_numpy(bias), dilation=gf.dilation, groups=gf.groups).numpy()
    assert_allclose(expect.reshape(out.shape), out, atol=1e-9)
    # geometry: stride − 1 zeros between cells, d·(k−1) − p (+ output_padding) around them
    for a in range(nd):
        k, d, p, o = w.shape[2 + a], kw["dilation"][a], kw["padding"][a], kw["output_padding"][a]
        assert gf.pads[a] == (d * (k - 1) - p, d * (k - 1) - p + o)
        dilated = (x.shape[-nd + a] - 1) * kw["stride"][a] + 1
        assert gf.values.shape[-nd + a] == dilated + sum(gf.pads[a])
    assert gf.out_spatial == out.shape[-nd:]
    # the shape alone (budgets weigh it before any work): L_out + d·(k − 1) per axis
    shape = cc.gather_form_shape(x.shape, w.shape, **kw)
    assert shape == gf.values.shape == x.shape[:-nd] + tuple(
        o + d * (k - 1) for o, d, k in zip(out.shape[-nd:], kw["dilation"], w.shape[2:]))
    # every input cell appears once, where ``source`` says; every other cell is a zero
    cell = gf.source[0] >= 0
    assert int(cell.sum()) == int(np.prod(x.shape[-nd:])) or min(gf.pads[a][0]
                                                                 for a in range(nd)) < 0
    assert not np.any(cell & (gf.is_padding | gf.is_inserted))
    assert_array_equal(gf.values[..., ~cell], 0)
    src = tuple(gf.source[a][cell] for a in range(nd))
    assert_array_equal(gf.values[..., cell], x[(Ellipsis, *src)])
    # the per-axis layout (what the browser draws along each axis) agrees with the nd maps,
    # and records the transposed layer's own padding and output_padding
    assert gf.padding == tuple(kw["padding"]) and gf.output_padding == tuple(kw["output_padding"])
    grids = np.meshgrid(*(np.array(v) for v in gf.axis_source), indexing="ij")
    kinds = np.meshgrid(*(np.array(v) for v in gf.axis_kind), indexing="ij")
    assert_array_equal(np.all([g >= 0 for g in grids], axis=0), cell)
    for a in range(nd):
        assert_array_equal(grids[a][cell], gf.source[a][cell])
    assert_array_equal(np.any([kd == 2 for kd in kinds], axis=0), gf.is_padding)
    assert_array_equal(np.any([kd == 1 for kd in kinds], axis=0) & ~gf.is_padding,
                       gf.is_inserted)
    assert np.all(gf.is_padding | gf.is_inserted | cell)


def test_gather_weight_flips_and_swaps_channels_per_group():
    w = np.arange(2 * 3 * 2, dtype=np.float64).reshape(2, 3, 2)  # C_in 2, C_out/g 3, k 2
    g2 = cc.transposed_trace.gather_weight(w.reshape(2, 3, 2), groups=2)
    assert g2.shape == (6, 1, 2)
    # group 0: input channel 0 → outputs 0..2; group 1: input channel 1 → outputs 3..5
    assert g2[:, 0].tolist() == [[1, 0], [3, 2], [5, 4], [7, 6], [9, 8], [11, 10]]
    g1 = cc.transposed_trace.gather_weight(w, groups=1)
    assert g1.shape == (3, 2, 2) and g1[1, 0].tolist() == [3, 2] and g1[1, 1].tolist() == [9, 8]


# --- maps and counts ---------------------------------------------------------------------------

@SETTINGS
@given(configs(max_nd=3))
def test_scatter_map_is_the_stamp_rule(case):
    x, w, _, kw = case
    nd = w.ndim - 2
    geo = {k: kw[k] for k in ("stride", "padding", "output_padding", "dilation")}
    m = cc.scatter_map(x.shape[-nd:], w.shape[2:], **geo)
    assert m.out_spatial == cc.conv_transposend(x, w, **kw).shape[-nd:]
    assert m.steps == int(np.prod(x.shape[-nd:]))
    taps = list(np.ndindex(*w.shape[2:]))
    for p, cell in enumerate(np.ndindex(*x.shape[-nd:])):
        assert tuple(m.in_coords[p]) == cell
        for k, tap in enumerate(taps):
            at = tuple(i * s + t * d - q for i, t, s, d, q in
                       zip(cell, tap, kw["stride"], kw["dilation"], kw["padding"]))
            assert tuple(m.coords[p, k]) == at
            assert m.inside[p, k] == all(0 <= a < n for a, n in zip(at, m.out_spatial))
    sub = cc.scatter_map(x.shape[-nd:], w.shape[2:], steps=[m.steps - 1, 0], **geo)
    assert_array_equal(sub.coords, m.coords[[m.steps - 1, 0]])


@SETTINGS
@given(configs(max_nd=3))
def test_overlap_counts_equal_a_transposed_convolution_of_ones(case):
    """Ones in, ones as kernel: each output is the number of stamps that land on it."""
    x, w, _, kw = case
    nd = w.ndim - 2
    geo = {k: kw[k] for k in ("stride", "padding", "output_padding", "dilation")}
    ov = cc.overlap_counts(x.shape[-nd:], w.shape[2:], **geo)
    ones = cc.conv_transposend(np.ones((1, 1) + x.shape[-nd:]), np.ones((1, 1) + w.shape[2:]),
                               **geo)[0, 0]
    assert ov.counts.dtype == np.int64
    assert_array_equal(ov.counts, ones)
    m = cc.scatter_map(x.shape[-nd:], w.shape[2:], **geo)
    flat = np.ravel_multi_index(tuple(m.coords[m.inside].T), ov.counts.shape)
    assert_array_equal(np.bincount(flat, minlength=ov.counts.size).reshape(ov.counts.shape),
                       ov.counts)


@pytest.mark.parametrize(("k", "s", "d", "uneven"), [
    (3, 2, 1, True), (4, 2, 1, False), (3, 3, 1, False), (5, 3, 1, True), (1, 2, 1, True),
    (3, 2, 2, True),  # every tap lands on even offsets: odd cells get nothing
    (2, 2, 3, False),  # taps at 0 and 3: one per residue
])
def test_checkerboard_where_the_kernel_does_not_tile_the_stride(k, s, d, uneven):
    ov = cc.overlap_counts(40, k, stride=s, dilation=d)
    assert ov.checkerboard == uneven and ov.uneven == (uneven,)
    assert ov.residue_counts[0].sum() == k and len(ov.residue_counts[0]) == s
    # away from the ends, output o gets residue_counts[o mod s] stamps (padding 0)
    counts = ov.axis_counts[0]
    for o in range(d * (k - 1), 39 * s + 1):
        assert counts[o] == ov.residue_counts[0][o % s]
    if d == 1:
        assert uneven == (k % s != 0)


# --- output_padding ------------------------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(out=st.integers(1, 8), k=st.integers(1, 4), s=st.integers(1, 4), d=st.integers(1, 3),
       lo=st.integers(0, 3), hi=st.integers(0, 3))
def test_colliding_input_sizes_by_brute_force(out, k, s, d, lo, hi):
    pad = (lo, hi)
    brute = tuple(n for n in range(1, 80) if (n + lo + hi - d * (k - 1) - 1) >= 0
                  and (n + lo + hi - d * (k - 1) - 1) // s + 1 == out)
    if not brute:
        with pytest.raises(cc.ConvError, match="no input length"):
            cc.colliding_input_sizes(out, k, stride=s, padding=pad, dilation=d)
        return
    sizes = cc.colliding_input_sizes(out, k, stride=s, padding=pad, dilation=d)
    assert sizes == brute and len(sizes) <= s
    if lo == hi:  # the transposed convolution gives each of them back by its output_padding
        first = (out - 1) * s + d * (k - 1) + 1 - 2 * lo
        for n in sizes:
            back = cc.conv_transpose1d(np.ones((1, 1, out)), np.ones((1, 1, k)), stride=s,
                                       padding=lo, dilation=d, output_padding=n - first)
            assert back.shape[-1] == n == cc.transpose_output_size(
                out, k, stride=s, padding=lo, output_padding=n - first, dilation=d)


def test_transposed_equation():
    x = np.array([[[1., 10.]]])
    w = np.array([[[1., 2., 3.]]])
    step = cc.trace_transposed(x, w, np.array([0.5]), out_index=(0, 0, 2), stride=2)
    assert cc.transposed_equation(step) == (
        "out[0,0,2] = b(0.5) + x[0,0]·w[0,0,2] (1·3) + x[0,1]·w[0,0,0] (10·1) = 13.5")
    assert "1 more terms (Σ 10)" in cc.transposed_equation(step, max_terms=1)
    assert repr(step) == "TransposedStep(out[0,0,2] = 13.5, 2 stamps, bias 0.5)"
    s = cc.trace_scatter(x, w, in_index=(0, 0, 1), stride=2, padding=1)
    assert repr(s.stamps[2]) == "Stamp(x[0,1]=10 · w[0,0,2]=3 → 30 onto out[0,3] (cropped))"


@pytest.mark.parametrize("module", [convcore.transposed, convcore.transposed_trace,
                                    convcore.receptive], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_unbatched_trace_indices():
    x = np.arange(6.).reshape(2, 3)
    w = np.ones((2, 2, 2))
    out = cc.conv_transpose1d(x, w, groups=2)
    for index in itertools.product(*map(range, out.shape)):
        assert cc.trace_transposed(x, w, out_index=index, groups=2).value == out[index]
