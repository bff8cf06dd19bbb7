"""The two geometry rules (output length, tap position) and what is derived from them, against
brute force: read counts, unread cells, and the text helpers every panel shares."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import convcore as cc
from convcore import geometry
from convcore.trace.windows import axis_coverage, unread_cells


def brute_counts(positions, k, s, d, out):
    """How many (window, tap) pairs read each padded position, by enumerating them all."""
    read = {}
    for o in range(out):
        for t in range(k):
            p = o * s + t * d
            read[p] = read.get(p, 0) + 1
    return [read.get(p, 0) for p in positions]


axis = st.tuples(st.integers(1, 40), st.integers(1, 6), st.integers(1, 7), st.integers(1, 5),
                 st.integers(0, 6), st.integers(0, 6))


@settings(max_examples=300)
@given(axis)
def test_read_counts_equal_brute_force(cfg):
    n, k, s, d, lo, hi = cfg
    out = geometry.output_length(n, k, s, d, lo, hi)
    if out == 0:
        with pytest.raises(cc.ConvError, match="output would be empty"):
            cc.output_size(n, k, s, (lo, hi), d)
        return
    assert out == cc.output_size(n, k, s, (lo, hi), d)
    assert out == len(range(0, n + lo + hi - (d * (k - 1) + 1) + 1, s))  # windows that fit
    positions = range(-3, n + lo + hi + 3)
    counts = geometry.read_counts(positions.start, positions.stop, k, s, d, out)
    assert counts.tolist() == brute_counts(positions, k, s, d, out)
    assert int(counts.sum()) == out * k  # every tap of every window lands somewhere
    assert geometry.last_read(out, k, s, d) == max(p for p, c in zip(positions, counts) if c)


@settings(max_examples=60)
@given(axis)
def test_read_counts_python_path_equals_brute_force(cfg):
    """Beyond int64-safe sizes the count runs on Python ints: forced here on small cases."""
    n, k, s, d, lo, hi = cfg
    out = geometry.output_length(n, k, s, d, lo, hi)
    if out == 0:
        return
    small, geometry._SMALL = geometry._SMALL, 0
    try:
        counts = geometry.read_counts(-2, n + lo + hi, k, s, d, out)
    finally:
        geometry._SMALL = small
    assert counts.tolist() == brute_counts(range(-2, n + lo + hi), k, s, d, out)


def test_read_counts_with_huge_coordinates():
    # stride 2, kernel 3: an even position is read by taps 0 and 2, an odd one by tap 1
    start = 10**20
    assert geometry.read_counts(start, start + 4, 3, 2, 1, 10**20).tolist() == [2, 1, 2, 1]
    assert geometry.read_counts(start, start + 2, 3, 2, 1, 1).tolist() == [0, 0]


@settings(max_examples=300)
@given(axis)
def test_unread_cells_agree_with_the_full_count(cfg):
    n, k, s, d, lo, hi = cfg
    out = geometry.output_length(n, k, s, d, lo, hi)
    if out == 0:
        return
    _, full = axis_coverage(0, n, k, s, d, lo, out)
    cells = unread_cells(n, k, s, d, lo, out, most=3)
    assert tuple(cells.dropped_tail) == full.dropped_tail
    assert cells.skipped == len(full.skipped)
    assert cells.first_skipped == full.skipped[:3]


def test_unread_cells_of_a_huge_axis_cost_nothing():
    n = 10**12
    out = geometry.output_length(n, 3, 2, 1, 0, 0)
    # stride 2 <= kernel 3: gap-free without a scan; the last window starts at n - 4
    cells = unread_cells(n, 3, 2, 1, 0, out)
    assert cells.skipped == 0 and cells.dropped_tail == range(n - 1, n)
    # stride 3 > kernel 2: gaps, too many cells to scan; the last window starts at n - 4
    cells = unread_cells(n, 2, 3, 1, 0, geometry.output_length(n, 2, 3, 1, 0, 0))
    assert cells.skipped is None and cells.dropped_tail == range(n - 2, n)


def test_tap_position_is_the_rule_of_the_core_view():
    """The core's window view and window_map read the same cells: the view's values are the
    padded input at the tap positions."""
    x = np.arange(2 * 3 * 11 * 9, dtype=np.float64).reshape(2, 3, 11, 9)
    spec = cc.params.make_spec("t", x.shape, (3, 1, 2, 3), None, (2, 1), ((1, 0), 2), (3, 2), 3)
    xpad = cc.core.pad_input(np, x, spec.pads, "zeros")
    view = cc.core.window_view(np, xpad, spec)  # (N, g, cg, kH, kW, oH, oW)
    wmap = cc.window_map(spec.in_spatial, spec.kernel, spec.stride, spec.pads, spec.dilation)
    for p, (oh, ow) in enumerate(wmap.out_coords.tolist()):
        for q, (th, tw) in enumerate(np.ndindex(*spec.kernel)):
            h, w = wmap.coords[p, q]
            assert h == geometry.tap_position(oh, th, spec.stride[0], spec.dilation[0])
            assert np.array_equal(view[:, :, 0, th, tw, oh, ow], xpad[:, :, h, w])


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (-0.0, "0"), (3, "3"), (-2.0, "−2"), (0.5, "0.5"), (-1 / 3, "−0.3333"),
    (1e20, "1e+20"), (-1.5e-7, "−1.5e−07"), (float("inf"), "inf"), (float("-inf"), "−inf"),
    (float("nan"), "nan"), (np.float32(-2.5), "−2.5"), (np.int64(-7), "−7"),
    (np.array(4.0), "4"), (10**400, "1e+400"), (-3 * 10**400, "−3e+400"),
])
def test_format_number(value, text):
    assert cc.format_number(value) == text


@pytest.mark.parametrize("bad", [None, "1", [1], True, 1j, np.array([1.0]), object()])
def test_format_number_refuses_what_is_not_a_real_number(bad):
    with pytest.raises(cc.ConvError, match="format_number: value"):
        cc.format_number(bad)


def test_index_span_and_list_helpers():
    assert cc.format_index((0, -2, np.int64(3))) == "0,-2,3"
    assert cc.format_span((5,)) == "5" and cc.format_span(range(2, 10**15)) == f"2–{10**15 - 1}"
    assert cc.format_list([1, 2]) == "1, 2"
    assert cc.format_list(range(20)) == "0, 1, 2, 3, 4, 5, 6, 7, … (12 more)"


def test_equation_uses_the_shared_minus_sign():
    step = cc.trace_step(np.array([[[1.0, -2.0]]]), np.array([[[1.0, 1.0]]]),
                         out_index=(0, 0, 0))
    assert cc.equation(step).endswith(f"= {cc.format_number(-1.0)}")
    assert math.isclose(step.value, -1.0)
