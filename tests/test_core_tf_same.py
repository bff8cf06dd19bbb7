"""``cc.tf_same_pads``: TensorFlow's and JAX's ``padding="SAME"`` as explicit pads.

The rule is checked from its definition (the least total padding that gives ceil(n / s)
outputs, the odd cell on the high side), found by search here, sharing no code with the core;
then convcore with those pads against PyTorch with the same pads (``F.pad`` first), and at
stride 1 against PyTorch's own ``padding='same'``.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import convcore as cc

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def searched_pads(n: int, k: int, s: int, d: int) -> tuple[int, int]:
    """The least total padding p >= 0 whose output length is ceil(n / s), split low = p // 2."""
    want = math.ceil(n / s)
    for p in range(0, d * (k - 1) + s + 1):
        extent = n + p - d * (k - 1) - 1
        if extent >= 0 and extent // s + 1 == want:
            return p // 2, p - p // 2
    raise AssertionError("no padding gives ceil(n / s) outputs")


axes = st.tuples(st.integers(1, 40), st.integers(1, 7), st.integers(1, 6), st.integers(1, 4))


@settings(max_examples=300, deadline=None)
@given(st.lists(axes, min_size=1, max_size=3))
def test_the_pads_are_the_rule(spec):
    n, k, s, d = zip(*spec)
    assert cc.tf_same_pads(n, k, s, d) == tuple(searched_pads(*a) for a in spec)


@settings(max_examples=60, deadline=None)
@given(st.lists(axes, min_size=1, max_size=2), st.integers(0, 2**31 - 1))
def test_the_output_with_those_pads_is_pytorchs_and_has_ceil_n_over_s_cells(spec, seed):
    n, k, s, d = zip(*spec)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((1, 2, *n)).astype(np.float32)
    w = rng.standard_normal((3, 2, *k)).astype(np.float32)
    pads = cc.tf_same_pads(n, k, s, d)
    out = cc.to_numpy(cc.convnd(x, w, stride=s, padding=pads, dilation=d))
    flat = [v for lo, hi in reversed(pads) for v in (lo, hi)]  # F.pad: last axis first
    conv = {1: F.conv1d, 2: F.conv2d}[len(n)]
    want = conv(F.pad(torch.from_numpy(x), flat), torch.from_numpy(w), stride=s, dilation=d)
    assert out.shape[2:] == tuple(math.ceil(v / t) for v, t in zip(n, s))
    assert_allclose(out, want.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n,k,d", [(7, 3, 1), (8, 4, 1), (9, 2, 3), (5, 5, 2)])
def test_at_stride_1_it_is_pytorchs_same(n, k, d):
    x = np.arange(2 * n * n, dtype=np.float32).reshape(1, 2, n, n)
    w = np.linspace(-1, 1, 2 * k * k, dtype=np.float32).reshape(1, 2, k, k)
    pads = cc.tf_same_pads((n, n), k, 1, d)
    out = cc.to_numpy(cc.conv2d(x, w, padding=pads, dilation=d))
    want = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding="same", dilation=d)
    assert_allclose(out, want.numpy(), rtol=1e-5, atol=1e-3)


def test_bad_arguments_name_the_parameter():
    with pytest.raises(cc.ConvError, match="tf_same_pads: stride must be >= 1"):
        cc.tf_same_pads((5,), 3, stride=0)
    with pytest.raises(cc.ConvError, match="tf_same_pads: in_spatial"):
        cc.tf_same_pads((0, 4), 3)
    with pytest.raises(cc.ConvError, match="tf_same_pads: kernel_size must be an int or a "
                                           "tuple of 2"):
        cc.tf_same_pads((5, 4), (3, 3, 3))
