"""convcore against two oracles: PyTorch (``F.conv{1,2,3}d`` with ``F.pad``) and tests/reference.py.

hypothesis draws whole configurations that are legal by construction: rank, batch or unbatched,
groups (depthwise with a multiplier too), kernel, stride, dilation, every padding form and
mode, bias, dtype and compute_mode.  The torch side is written from the rules in the issue (it
resolves ``"same"`` and pads on its own), so it shares nothing with convcore but the inputs.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from reference import conv_reference

import convcore as cc
import convcore.core as core
from convcore.params import make_spec

torch.set_num_threads(1)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CC_CONV = {1: cc.conv1d, 2: cc.conv2d, 3: cc.conv3d}
TORCH_PAD_MODE = {"reflect": "reflect", "replicate": "replicate", "circular": "circular"}
TOL = {  # (rtol, atol) for inputs ~ N(0, 1)
    np.float64: (1e-10, 1e-10),
    np.float32: (1e-4, 1e-4),
    np.float16: (2e-3, 2e-3),  # one float16 rounding of the same float32 result
}


def same_pairs(kernel, dilation):
    """The issue's rule: total d*(k-1), the odd extra cell on the high side (as PyTorch)."""
    return tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2)
                 for k, d in zip(kernel, dilation))


def pad_pairs(padding, kernel, dilation):
    """Any padding form as one (low, high) pair per axis."""
    n = len(kernel)
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        return same_pairs(kernel, dilation)
    if isinstance(padding, int):
        return ((padding, padding),) * n
    return tuple(p if isinstance(p, tuple) else (p, p) for p in padding)


def torch_conv(x, w, b, stride, padding, dilation, groups, mode):
    """PyTorch's result as float64 NumPy; batched or unbatched like ``x``.

    float16 inputs are computed in float32 (the float16 values, exactly) and cast back.
    """
    n = w.ndim - 2
    dtype = x.dtype
    compute = np.float32 if dtype == np.float16 else dtype
    tx = torch.from_numpy(x.astype(compute))
    tw = torch.from_numpy(w.astype(compute))
    tb = None if b is None else torch.from_numpy(b.astype(compute))
    batched = x.ndim == n + 2
    if not batched:
        tx = tx[None]
    symmetric = isinstance(padding, int) or (
        isinstance(padding, tuple) and all(isinstance(p, int) for p in padding))
    if mode == "zeros" and (symmetric or padding in ("valid", "same")):
        out = TORCH_CONV[n](tx, tw, tb, stride, padding, dilation, groups)
    else:
        pairs = pad_pairs(padding, w.shape[2:], (dilation,) * n
                          if isinstance(dilation, int) else dilation)
        flat = [v for lo_hi in reversed(pairs) for v in lo_hi]  # F.pad: last axis first
        if mode == "zeros":
            tx = F.pad(tx, flat)
        else:
            tx = F.pad(tx, flat, mode=TORCH_PAD_MODE[mode])
        out = TORCH_CONV[n](tx, tw, tb, stride, 0, dilation, groups)
    if not batched:
        out = out[0]
    return out.numpy().astype(dtype).astype(np.float64)


def per_axis(draw, n, values):
    """An int for all axes, or one int per axis."""
    if draw(st.booleans()):
        return draw(values)
    return tuple(draw(values) for _ in range(n))


def as_tuple(v, n):
    return v if isinstance(v, tuple) else (v,) * n


@st.composite
def conv_cases(draw, ndim=None, max_size=7, depthwise=None, dtypes=(np.float32, np.float64,
                                                                      np.float16)):
    """A legal convolution: (x, weight, bias, kwargs) with NumPy arrays."""
    n = draw(st.sampled_from([1, 2, 3])) if ndim is None else ndim
    small = n == 3
    if depthwise is None:
        depthwise = draw(st.integers(0, 3)) == 0
    if depthwise:  # groups == C_in, out_channels == K * C_in
        groups = draw(st.integers(1, 4))
        in_g, out_g = 1, draw(st.integers(1, 3))
    else:
        groups = draw(st.integers(1, 3))
        in_g, out_g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = tuple(draw(st.integers(1, 3 if small else 4)) for _ in range(n))
    form = draw(st.sampled_from(["int", "per_axis", "pairs", "valid", "same"]))
    stride = 1 if form == "same" else per_axis(draw, n, st.integers(1, 3))
    dilation = per_axis(draw, n, st.integers(1, 2 if small else 3))
    mode = draw(st.sampled_from(["zeros", "reflect", "replicate", "circular"]))
    pmax = 2 if small else 3
    if form == "int":
        padding = draw(st.integers(0, pmax))
    elif form == "per_axis":
        padding = tuple(draw(st.integers(0, pmax)) for _ in range(n))
    elif form == "pairs":
        padding = tuple(
            (draw(st.integers(0, pmax)), draw(st.integers(0, pmax)))
            if draw(st.integers(0, 4)) else draw(st.integers(0, pmax))  # ints may mix in
            for _ in range(n))
    else:
        padding = form
    pairs = pad_pairs(padding, kernel, as_tuple(dilation, n))
    spatial = []
    for k, d, (lo, hi) in zip(kernel, as_tuple(dilation, n), pairs):
        least = max(1, d * (k - 1) + 1 - lo - hi)  # a non-empty output
        if mode == "reflect":
            least = max(least, lo + 1, hi + 1)
        elif mode == "circular":
            least = max(least, lo, hi)
        spatial.append(draw(st.integers(least, least + (2 if small else max_size - 3))))
    batched = draw(st.booleans())
    batch = draw(st.integers(1, 3)) if batched else None
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c_in, c_out = in_g * groups, out_g * groups
    x_shape = ((batch,) if batched else ()) + (c_in, *spatial)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((c_out, in_g) + kernel).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if draw(st.booleans()) else None
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups,
              padding_mode=mode)
    return x, w, b, kw


def check_against_torch(x, w, b, kw, compute_mode="default", use_convnd=False):
    n = w.ndim - 2
    conv = cc.convnd if use_convnd else CC_CONV[n]
    out = conv(x, w, b, compute_mode=compute_mode, **kw)
    expect = torch_conv(x, w, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"],
                        kw["padding_mode"])
    assert isinstance(out, np.ndarray)
    assert out.dtype == x.dtype
    assert out.shape == expect.shape
    assert out.ndim == x.ndim  # unbatched in, unbatched out
    rtol, atol = TOL[x.dtype.type]
    assert_allclose(out.astype(np.float64), expect, rtol=rtol, atol=atol)

    shape_kw = {k: kw[k] for k in ("stride", "padding", "dilation", "groups")}
    assert cc.output_shape(x.shape, w.shape, **shape_kw) == expect.shape
    pairs = pad_pairs(kw["padding"], w.shape[2:], as_tuple(kw["dilation"], n))
    for axis in range(n):
        assert cc.output_size(
            x.shape[-n + axis], w.shape[2 + axis], stride=as_tuple(kw["stride"], n)[axis],
            padding=pairs[axis], dilation=as_tuple(kw["dilation"], n)[axis],
        ) == expect.shape[-n + axis]


@pytest.mark.parametrize("ndim", [1, 2, 3])
@settings(max_examples=300)
@given(data=st.data())
def test_matches_torch(ndim, data):
    x, w, b, kw = data.draw(conv_cases(ndim=ndim))
    compute_mode = data.draw(st.sampled_from(["default", "float32"]))
    check_against_torch(x, w, b, kw, compute_mode, use_convnd=data.draw(st.booleans()))


@settings(max_examples=100)
@given(case=conv_cases(depthwise=True, dtypes=(np.float32, np.float64)))
def test_depthwise_with_multiplier_matches_torch(case):
    x, w, b, kw = case
    assert kw["groups"] == x.shape[-w.ndim + 1] and w.shape[1] == 1
    check_against_torch(x, w, b, kw)


@settings(max_examples=100)
@given(case=conv_cases(dtypes=(np.float16,)))
def test_float16_accumulates_in_float32(case):
    x, w, b, kw = case
    check_against_torch(x, w, b, kw, compute_mode="float32")


def test_same_padding_puts_the_extra_cell_high():
    x = np.array([[[1., 2., 3., 4.]]], np.float32)
    w = np.array([[[1., 10.]]], np.float32)  # even kernel: pads (0, 1)
    out = cc.conv1d(x, w, padding="same")
    assert_allclose(out, [[[21., 32., 43., 4.]]])
    assert_allclose(out, F.conv1d(torch.from_numpy(x), torch.from_numpy(w), padding="same"))
    w4 = np.array([[[1., 10., 100., 1000.]]], np.float32)  # dilation 1, total 3: pads (1, 2)
    assert_allclose(cc.conv1d(x, w4, padding="same"), [[[3210., 4321., 432., 43.]]])
    # dilation 3, kernel 2: total 3, pads (1, 2), so output i reads x[i-1] and x[i+2]
    assert_allclose(cc.conv1d(x, w, padding="same", dilation=3), [[[30., 1. + 40., 2., 3.]]])


@pytest.mark.parametrize(
    ("mode", "expect"),
    [("zeros", [0., 0., 1., 2., 3., 0.]), ("reflect", [3., 2., 1., 2., 3., 2.]),
     ("replicate", [1., 1., 1., 2., 3., 3.]), ("circular", [2., 3., 1., 2., 3., 1.])],
)
def test_padding_modes_by_hand(mode, expect):
    """A 1-tap identity kernel returns the padded input itself: pads (2, 1) around [1, 2, 3]."""
    x = np.array([[[1., 2., 3.]]])
    out = cc.conv1d(x, np.ones((1, 1, 1)), padding=((2, 1),), padding_mode=mode)
    assert_allclose(out, [[expect]])


# --- the loop reference ----------------------------------------------------------------------

def reference_call(x, w, b, kw):
    n = w.ndim - 2
    batched = x.ndim == n + 2
    xb = x if batched else x[None]
    pairs = pad_pairs(kw["padding"], w.shape[2:], as_tuple(kw["dilation"], n))
    out = conv_reference(xb, w, b, as_tuple(kw["stride"], n), pairs,
                         as_tuple(kw["dilation"], n), kw["groups"], kw["padding_mode"])
    return out if batched else out[0]


@settings(max_examples=100)
@given(case=conv_cases(max_size=5, dtypes=(np.float64,)))
def test_matches_loop_reference(case):
    x, w, b, kw = case
    expect = reference_call(x, w, b, kw)
    assert_allclose(CC_CONV[w.ndim - 2](x, w, b, **kw), expect, rtol=1e-10, atol=1e-10)
    # The reference itself agrees with PyTorch, so the two oracles vouch for each other.
    assert_allclose(torch_conv(x, w, b, kw["stride"], kw["padding"], kw["dilation"],
                               kw["groups"], kw["padding_mode"]), expect, rtol=1e-10, atol=1e-10)


# --- the chunked path ------------------------------------------------------------------------

@settings(max_examples=100)
@given(case=conv_cases(dtypes=(np.float64,)), divisor=st.integers(2, 64))
def test_chunked_equals_unchunked(case, divisor):
    x, w, _, kw = case
    n = w.ndim - 2
    xb = x if x.ndim == n + 2 else x[None]
    spec = make_spec("test", xb.shape, w.shape, None, kw["stride"], kw["padding"],
                     kw["dilation"], kw["groups"], kw["padding_mode"], n)
    xpad = core.pad_input(np, xb, spec.pads, spec.padding_mode)
    whole = core.correlate_padded(np, xpad, w, spec)
    # The whole column buffer: (N, groups, C_in/groups * prod(kernel), positions) float64.
    column_bytes = xb.shape[0] * kw["groups"] * w[0].size * int(np.prod(spec.out_spatial)) * 8
    chunked = core.correlate_padded(np, xpad, w, spec, budget=max(1, column_bytes // divisor))
    assert chunked.shape == whole.shape
    assert_allclose(chunked, whole, rtol=1e-12, atol=1e-12)


class CountingMatmul:
    def __init__(self):
        self.calls = 0
        self.matmul = np.matmul

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.matmul(*args, **kwargs)


ITEM_BYTES = 2 * 18 * 18 * 16 * 8  # groups * taps * positions * float64, one batch item


@pytest.mark.parametrize(("budget", "least_calls"), [
    (2 * ITEM_BYTES, 2),  # two batch items per chunk
    (ITEM_BYTES // 4, 4 * 4),  # a quarter of one item: at least 4 row chunks per item
    (1, 4 * 18),  # smaller than one row: one row per chunk
])
def test_column_budget_chunks_public_call(monkeypatch, budget, least_calls):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 4, 18, 18))
    w = rng.standard_normal((6, 2, 3, 3))
    b = rng.standard_normal(6)
    whole = cc.conv2d(x, w, b, groups=2, padding=(1, 0))  # taps 2*3*3, positions 18*16
    counter = CountingMatmul()
    monkeypatch.setattr(core, "COLUMN_BUDGET_BYTES", budget)
    monkeypatch.setattr(np, "matmul", counter)
    chunked = cc.conv2d(x, w, b, groups=2, padding=(1, 0))
    monkeypatch.undo()
    assert counter.calls >= least_calls
    assert_allclose(chunked, whole, rtol=1e-12, atol=1e-12)
    expect = torch_conv(x, w, b, 1, (1, 0), 1, 2, "zeros")
    assert_allclose(chunked, expect, rtol=1e-10, atol=1e-10)
