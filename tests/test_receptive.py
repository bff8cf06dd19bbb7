"""Receptive fields of stacks against brute force on real stacks computed with convcore.

*Which inputs matter*: run the stack (random float64 weights, one channel) on a batch holding
the input and, per input cell, the input with that cell changed; an output cell depends on the
input cells whose change changes it.  *How many paths*: run the stack with all-ones kernels on
a batch of one-hot inputs; output cell o of item i is the number of paths from input cell i.
Neither uses convcore.receptive.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal

import convcore as cc

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@st.composite
def stacks(draw, nd=None):
    nd = draw(st.integers(1, 2)) if nd is None else nd
    n_layers = draw(st.integers(1, 4))
    layers = []
    for _ in range(n_layers):
        kernel = tuple(draw(st.integers(1, 4)) for _ in range(nd))
        stride = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        dilation = tuple(draw(st.integers(1, 3)) for _ in range(nd))
        if draw(st.booleans()):
            padding = tuple(draw(st.integers(0, 2)) for _ in range(nd))
        else:
            padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(nd))
        layer = dict(kernel_size=kernel, stride=stride, padding=padding, dilation=dilation)
        layers.append(layer if draw(st.booleans()) else cc.StackLayer(**layer))
    in_spatial = tuple(draw(st.integers(4, 24 if nd == 1 else 9)) for _ in range(nd))
    try:
        cc.stack_shapes(in_spatial, layers)
    except cc.ConvError:
        assume(False)
    return layers, in_spatial


def as_dict(layer):
    if isinstance(layer, cc.StackLayer):
        return dict(kernel_size=layer.kernel_size, stride=layer.stride, padding=layer.padding,
                    dilation=layer.dilation)
    return layer


def run_stack(x, layers, weights):
    """The stack through convcore's forward core: x (N, 1, *spatial)."""
    for layer, w in zip(layers, weights):
        x = cc.convnd(x, w, **{k: v for k, v in as_dict(layer).items() if k != "kernel_size"})
    return x


def one_hot_batch(in_spatial):
    cells = math.prod(in_spatial)
    return np.eye(cells).reshape((cells, 1) + in_spatial)


@SETTINGS
@given(stacks())
def test_reached_cells_are_the_cells_whose_change_changes_the_output(case):
    layers, in_spatial = case
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((1, 1) + tuple(np.broadcast_to(
        as_dict(layer)["kernel_size"], (len(in_spatial),)))) for layer in layers]
    base = rng.standard_normal((1, 1) + in_spatial)
    changed = run_stack(base + one_hot_batch(in_spatial), layers, weights)
    differs = np.abs(changed - run_stack(base, layers, weights)) > 1e-9  # (cells, 1, *out)
    out_spatial = changed.shape[2:]
    assert out_spatial == cc.stack_shapes(in_spatial, layers)[-1]
    for out_index in np.ndindex(*out_spatial):
        cf = cc.cell_receptive_field(layers, in_spatial, out_index)
        brute = differs[(slice(None), 0) + out_index].reshape(in_spatial)
        assert_array_equal(cf.reached, brute)
        # every cell that matters lies in first..last; where the range lies inside the input
        # on every axis, its ends are reached (the all-first-tap and all-last-tap paths)
        hit = np.argwhere(brute)
        if hit.size:
            assert np.all(hit.min(axis=0) >= cf.first) and np.all(hit.max(axis=0) <= cf.last)
        if all(lo >= 0 and hi < n for lo, hi, n in zip(cf.first, cf.last, in_spatial)):
            assert tuple(hit.min(axis=0)) == cf.first and tuple(hit.max(axis=0)) == cf.last
            assert cf.inside == tuple(zip(cf.first, cf.last))


@SETTINGS
@given(stacks())
def test_path_counts_equal_the_stack_with_all_ones_kernels(case):
    layers, in_spatial = case
    nd = len(in_spatial)
    ones = [np.ones((1, 1) + tuple(np.broadcast_to(as_dict(layer)["kernel_size"], (nd,))))
            for layer in layers]
    through = run_stack(one_hot_batch(in_spatial), layers, ones)  # (cells, 1, *out)
    for out_index in np.ndindex(*through.shape[2:]):
        cf = cc.cell_receptive_field(layers, in_spatial, out_index)
        assert cf.paths.dtype == np.float64 and cf.paths.shape == in_spatial
        assert_array_equal(cf.paths, through[(slice(None), 0) + out_index].reshape(in_spatial))


@SETTINGS
@given(stacks())
def test_size_jump_start_follow_the_layers(case):
    """Per layer, against the definitions: output o of layer l spans the union of the fields of
    the layer-(l−1) cells its window reads (padding included), jump = product of strides."""
    layers, in_spatial = case
    rf = cc.receptive_field(layers, in_spatial)
    nd = len(in_spatial)
    assert [f.out_spatial for f in rf.layers] == list(cc.stack_shapes(in_spatial, layers))
    prev = [(0, 0)] * nd  # field of cell 0 at the input: itself
    jump = [1] * nd
    for f in rf.layers:
        for a in range(nd):
            k, s, d, (lo, _) = f.kernel[a], f.stride[a], f.dilation[a], f.pads[a]
            # output 0 reads cells −lo, −lo + d, ..., −lo + d(k−1) of the previous layer
            first = prev[a][0] + (-lo) * jump[a]
            last = prev[a][1] + (-lo + d * (k - 1)) * jump[a]
            assert (f.start[a], f.start[a] + f.size[a] - 1) == (first, last)
            prev[a] = (first, last)
            jump[a] *= s
            assert f.jump[a] == jump[a]
            assert f.center[a] == first + (last - first) / 2


def test_presets():
    three = cc.receptive_field([dict(kernel_size=(3, 3), padding=1)] * 3)
    assert (three.size, three.jump, three.start) == ((7, 7), (1, 1), (-3, -3))
    wavenet = cc.receptive_field([dict(kernel_size=2, dilation=2 ** i) for i in range(10)])
    assert wavenet.size == (1024,) and wavenet.jump == (1,)
    stem = cc.receptive_field([dict(kernel_size=7, stride=2, padding=3),
                               dict(kernel_size=3, stride=2, padding=1)], in_spatial=(224, 224))
    assert [(f.size, f.jump, f.start, f.out_spatial) for f in stem.layers] == [
        ((7, 7), (2, 2), (-3, -3), (112, 112)), ((11, 11), (4, 4), (-5, -5), (56, 56))]
    assert stem.layers[1].center == (0.0, 0.0)  # the field of output 0 is centred on input 0
    cf = cc.cell_receptive_field([dict(kernel_size=2, dilation=2 ** i) for i in range(3)], 16, 0)
    assert cf.first == (0,) and cf.last == (7,) and cf.paths.tolist() == [1.0] * 8 + [0.0] * 8
    # a dilated kernel alone leaves holes inside its range
    holes = cc.cell_receptive_field([dict(kernel_size=3, dilation=3)], 9, 1)
    assert holes.paths.tolist() == [0, 1, 0, 0, 1, 0, 0, 1, 0]
    # an output that only sees padding
    only_pad = cc.cell_receptive_field([dict(kernel_size=1, padding=2)], 3, 0)
    assert only_pad.first == (-2,) and only_pad.inside == (None,)
    assert not only_pad.reached.any()


def test_layer_forms_and_ndim():
    a = cc.receptive_field([cc.StackLayer(3, stride=2), {"kernel": 3, "padding": (1, 0)}],
                           ndim=2)
    b = cc.receptive_field([dict(kernel_size=(3, 3), stride=(2, 2)),
                            dict(kernel_size=(3, 3), padding=((1, 1), (0, 0)))])
    assert a == b and a.in_spatial is None and a.out_spatial is None
    assert len(cc.receptive_field([cc.StackLayer(3)], in_spatial=(5, 6)).size) == 2
    assert cc.stack_shapes(10, [cc.StackLayer(4, padding="same")]) == ((10,),)
