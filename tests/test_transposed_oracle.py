"""conv_transpose{1,2,3,n}d, conv_grad_input and conv_grad_weight against PyTorch.

The transposed convolution against ``F.conv_transpose{1,2,3}d`` (and ``nn.ConvTranspose*d`` for
``output_size``); the gradients against autograd through ``F.pad`` + ``F.conv{1,2,3}d`` on the
forward oracle's whole hypothesis space (every padding form and mode, groups, dtypes).  The torch
side shares nothing with convcore but the inputs; tolerances are the forward ones.
"""

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from test_core_oracle import TOL, as_tuple, conv_cases, pad_pairs

import convcore as cc
import convcore.transposed as tr

torch.set_num_threads(1)

TORCH_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
TORCH_T_MODULE = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d,
                  3: torch.nn.ConvTranspose3d}
TORCH_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
CC_T = {1: cc.conv_transpose1d, 2: cc.conv_transpose2d, 3: cc.conv_transpose3d}


def per_axis(draw, n, values):
    """An int for all axes, or one int per axis."""
    if draw(st.booleans()):
        return draw(values)
    return tuple(draw(values) for _ in range(n))


@st.composite
def transpose_cases(draw, ndim=None, dtypes=(np.float32, np.float64, np.float16),
                    with_output_size=False):
    """A legal transposed convolution: (x, weight, bias, kwargs) with NumPy arrays."""
    n = draw(st.sampled_from([1, 2, 3])) if ndim is None else ndim
    small = n == 3
    if draw(st.integers(0, 3)) == 0:  # depthwise: one input channel per group
        groups, in_g, out_g = draw(st.integers(1, 4)), 1, draw(st.integers(1, 3))
    else:
        groups, in_g, out_g = (draw(st.integers(1, 3)), draw(st.integers(1, 3)),
                               draw(st.integers(1, 3)))
    kernel = tuple(draw(st.integers(1, 3 if small else 4)) for _ in range(n))
    stride = per_axis(draw, n, st.integers(1, 3))
    dilation = per_axis(draw, n, st.integers(1, 2 if small else 3))
    spatial = tuple(draw(st.integers(1, 3 if small else 5)) for _ in range(n))
    st_t, d_t = as_tuple(stride, n), as_tuple(dilation, n)
    # padding may crop everything but one cell: (L-1)s + d(k-1) + 1 - 2p >= 1
    room = [((m - 1) * s + d * (k - 1)) // 2 for m, s, d, k in zip(spatial, st_t, d_t, kernel)]
    if draw(st.booleans()):
        padding = draw(st.integers(0, min(room)))
    else:
        padding = tuple(draw(st.integers(0, r)) for r in room)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    # output_padding < stride or < dilation, per axis
    opad = tuple(draw(st.integers(0, max(s, d) - 1)) for s, d in zip(st_t, d_t))
    if with_output_size:
        p_t = as_tuple(padding, n)
        least = [(m - 1) * s - 2 * p + d * (k - 1) + 1
                 for m, s, p, d, k in zip(spatial, st_t, p_t, d_t, kernel)]
        kw["output_size"] = [lo + draw(st.integers(0, s - 1)) for lo, s in zip(least, st_t)]
    elif draw(st.booleans()):
        kw["output_padding"] = opad if len(set(opad)) > 1 or draw(st.booleans()) else opad[0]
    batched = draw(st.booleans())
    dtype = draw(st.sampled_from(dtypes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    c_in, c_out = in_g * groups, out_g * groups
    x_shape = ((draw(st.integers(1, 3)),) if batched else ()) + (c_in, *spatial)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((c_in, out_g) + kernel).astype(dtype)
    b = rng.standard_normal(c_out).astype(dtype) if draw(st.booleans()) else None
    if with_output_size and batched and draw(st.booleans()):
        kw["output_size"] = [x_shape[0], c_out, *kw["output_size"]]  # with the leading N, C
    return x, w, b, kw


def torch_transpose(x, w, b, kw):
    """PyTorch's result as float64 NumPy (float16 computed in float32 and cast back)."""
    n = w.ndim - 2
    compute = np.float32 if x.dtype == np.float16 else x.dtype
    tx, tw = torch.from_numpy(x.astype(compute)), torch.from_numpy(w.astype(compute))
    tb = None if b is None else torch.from_numpy(b.astype(compute))
    if "output_size" in kw:  # only the modules take output_size
        m = TORCH_T_MODULE[n](w.shape[0], w.shape[1] * kw["groups"], w.shape[2:],
                              stride=kw["stride"], padding=kw["padding"],
                              dilation=kw["dilation"], groups=kw["groups"], bias=b is not None)
        m = m.to(tx.dtype)
        with torch.no_grad():
            m.weight.copy_(tw)
            if b is not None:
                m.bias.copy_(tb)
            out = m(tx, output_size=kw["output_size"])
    else:
        out = TORCH_T[n](tx, tw, tb, kw["stride"], kw["padding"], kw.get("output_padding", 0),
                         kw["groups"], kw["dilation"])
    return out.numpy().astype(x.dtype).astype(np.float64)


def check_transpose(x, w, b, kw, use_nd=False):
    n = w.ndim - 2
    out = (cc.conv_transposend if use_nd else CC_T[n])(x, w, b, **kw)
    expect = torch_transpose(x, w, b, kw)
    assert isinstance(out, np.ndarray)
    assert out.dtype == x.dtype and out.shape == expect.shape and out.ndim == x.ndim
    rtol, atol = TOL[x.dtype.type]
    assert_allclose(out.astype(np.float64), expect, rtol=rtol, atol=atol)
    shape_kw = {k: v for k, v in kw.items() if k != "padding_mode"}
    assert cc.transpose_output_shape(x.shape, w.shape, **shape_kw) == expect.shape
    return out


@pytest.mark.parametrize("ndim", [1, 2, 3])
@settings(max_examples=160)
@given(data=st.data())
def test_transpose_matches_torch(ndim, data):
    x, w, b, kw = data.draw(transpose_cases(ndim=ndim))
    check_transpose(x, w, b, kw, use_nd=data.draw(st.booleans()))


@settings(max_examples=100)
@given(case=transpose_cases(with_output_size=True, dtypes=(np.float32, np.float64)))
def test_transpose_output_size_matches_torch(case):
    x, w, b, kw = case
    check_transpose(x, w, b, kw)


@settings(max_examples=60)
@given(case=transpose_cases(dtypes=(np.float16,)))
def test_transpose_float16_accumulates_in_float32(case):
    check_transpose(*case)


# --- gradients -------------------------------------------------------------------------------

def torch_grads(x, w, kw, grad_output):
    """(d input, d weight) by autograd through F.pad + F.conv*d, as float64 NumPy."""
    n = w.ndim - 2
    compute = np.float32 if x.dtype == np.float16 else x.dtype
    tx = torch.from_numpy(x.astype(compute)).requires_grad_()
    tw = torch.from_numpy(w.astype(compute)).requires_grad_()
    batched = x.ndim == n + 2
    xb = tx if batched else tx[None]
    pairs = pad_pairs(kw["padding"], w.shape[2:], as_tuple(kw["dilation"], n))
    flat = [v for lo_hi in reversed(pairs) for v in lo_hi]  # F.pad: last axis first
    mode = kw["padding_mode"]
    xb = F.pad(xb, flat) if mode == "zeros" else F.pad(xb, flat, mode=mode)
    out = TORCH_CONV[n](xb, tw, None, kw["stride"], 0, kw["dilation"], kw["groups"])
    if not batched:
        out = out[0]
    go = torch.from_numpy(grad_output.astype(compute))
    gx, gw = torch.autograd.grad(out, (tx, tw), go)
    cast = x.dtype
    return (gx.numpy().astype(cast).astype(np.float64),
            gw.numpy().astype(cast).astype(np.float64))


def check_grads(x, w, kw, seed):
    out_shape = cc.output_shape(x.shape, w.shape, **{k: kw[k] for k in
                                                     ("stride", "padding", "dilation",
                                                      "groups")})
    go = np.random.default_rng(seed).standard_normal(out_shape).astype(x.dtype)
    expect_x, expect_w = torch_grads(x, w, kw, go)
    gx = cc.conv_grad_input(x.shape, w, go, **kw)
    gw = cc.conv_grad_weight(x, w.shape, go, **kw)
    rtol, atol = TOL[x.dtype.type]
    assert gx.shape == x.shape and gx.dtype == x.dtype
    assert gw.shape == w.shape and gw.dtype == x.dtype
    assert_allclose(gx.astype(np.float64), expect_x, rtol=rtol, atol=atol)
    # grad_w sums over every batch item and output cell: float16 gets one more rounding step
    wtol = (rtol, atol) if x.dtype != np.float16 else (4e-3, 4e-3)
    assert_allclose(gw.astype(np.float64), expect_w, rtol=wtol[0], atol=wtol[1])


@pytest.mark.parametrize("ndim", [1, 2, 3])
@settings(max_examples=150)
@given(data=st.data())
def test_gradients_match_torch_autograd(ndim, data):
    x, w, _, kw = data.draw(conv_cases(ndim=ndim))
    check_grads(x, w, kw, data.draw(st.integers(0, 99)))


@settings(max_examples=60)
@given(case=conv_cases(dtypes=(np.float16,)), seed=st.integers(0, 99))
def test_gradients_float16(case, seed):
    check_grads(*case[:2], case[3], seed)


@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_grad_functions_equal_torch_nn_grad(ndim):
    """``torch.nn.grad.conv{1,2,3}d_input/_weight`` (symmetric zero padding) by name."""
    rng = np.random.default_rng(ndim)
    x = rng.standard_normal((2, 4) + (7, 6, 5)[:ndim])
    w = rng.standard_normal((6, 2) + (3, 2, 3)[:ndim])
    kw = dict(stride=(2, 1, 3)[:ndim], padding=(1, 2, 0)[:ndim], dilation=(1, 2, 1)[:ndim],
              groups=2)
    go = rng.standard_normal(cc.output_shape(x.shape, w.shape, **kw))
    grad = torch.nn.grad
    fi = {1: grad.conv1d_input, 2: grad.conv2d_input, 3: grad.conv3d_input}[ndim]
    fw = {1: grad.conv1d_weight, 2: grad.conv2d_weight, 3: grad.conv3d_weight}[ndim]
    tx, tw, tg = (torch.from_numpy(a) for a in (x, w, go))
    assert_allclose(cc.conv_grad_input(x.shape, w, go, **kw),
                    fi(x.shape, tw, tg, **kw).numpy(), rtol=1e-10, atol=1e-10)
    assert_allclose(cc.conv_grad_weight(x, w.shape, go, **kw),
                    fw(tx, w.shape, tg, **kw).numpy(), rtol=1e-10, atol=1e-10)


# --- identities between the three ------------------------------------------------------------

@settings(max_examples=80)
@given(case=transpose_cases(dtypes=(np.float64,)))
def test_transpose_is_the_adjoint_and_shape_inverse_of_the_forward(case):
    """<conv(z), y> = <z, conv_transpose(y)>, and conv(conv_transpose(y)) has y's shape —
    when output_padding < stride (PyTorch also allows output_padding < dilation, which gives a
    length no forward convolution of this geometry maps back to y's)."""
    y, w, _, kw = case
    n = w.ndim - 2
    assume(all(o < s for o, s in zip(as_tuple(kw.get("output_padding", 0), n),
                                      as_tuple(kw["stride"], n))))
    back = cc.conv_transposend(y, w, **kw)
    fwd_kw = {k: kw[k] for k in ("stride", "padding", "dilation", "groups")}
    assert cc.output_shape(back.shape, w.shape, **fwd_kw) == y.shape
    z = np.random.default_rng(0).standard_normal(back.shape)
    lhs = float(np.vdot(cc.convnd(z, w, **fwd_kw), y))
    rhs = float(np.vdot(z, back))
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)
    # ... which makes the transpose the gradient with respect to the input
    assert_allclose(cc.conv_grad_input(back.shape, w, y, **fwd_kw), back, rtol=1e-12,
                    atol=1e-12)


# --- the loop reference ----------------------------------------------------------------------

def transpose_reference(x, w, b, stride, padding, output_padding, dilation, groups):
    """Stamp by stamp: out[i·s + t·d − p] += x[i] · w[t], for batched float64 x."""
    n_batch, c_in = x.shape[:2]
    cg, og = c_in // groups, w.shape[1]
    spatial, kernel = x.shape[2:], w.shape[2:]
    out_sp = tuple((m - 1) * s - 2 * p + d * (k - 1) + o + 1 for m, s, p, d, k, o in
                   zip(spatial, stride, padding, dilation, kernel, output_padding))
    out = np.zeros((n_batch, og * groups) + out_sp)
    for nb, ci in itertools.product(range(n_batch), range(c_in)):
        g = ci // cg
        for pos in itertools.product(*(range(m) for m in spatial)):
            for o, tap in itertools.product(range(og), itertools.product(*map(range, kernel))):
                at = tuple(i * s + t * d - p for i, t, s, d, p in
                           zip(pos, tap, stride, dilation, padding))
                if all(0 <= a < m for a, m in zip(at, out_sp)):
                    out[(nb, g * og + o) + at] += x[(nb, ci) + pos] * w[(ci, o) + tap]
    if b is not None:
        out += b.reshape((1, -1) + (1,) * len(spatial))
    return out


@settings(max_examples=60)
@given(case=transpose_cases(dtypes=(np.float64,)))
def test_transpose_matches_loop_reference(case):
    x, w, b, kw = case
    n = w.ndim - 2
    xb = x if x.ndim == n + 2 else x[None]
    expect = transpose_reference(xb, w, b, as_tuple(kw["stride"], n), as_tuple(kw["padding"], n),
                                 as_tuple(kw.get("output_padding", 0), n),
                                 as_tuple(kw["dilation"], n), kw["groups"])
    out = cc.conv_transposend(x, w, b, **kw)
    assert_allclose(out if x.ndim == n + 2 else out[None], expect, rtol=1e-10, atol=1e-10)
    assert_allclose(torch_transpose(x, w, b, kw).reshape(expect.shape), expect, rtol=1e-10,
                    atol=1e-10)  # the two oracles vouch for each other


# --- chunking, backends ----------------------------------------------------------------------

@pytest.mark.parametrize("chunk", [1, 200, 5000])
def test_scatter_chunks_equal_one_chunk(monkeypatch, chunk):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4, 6, 5))
    w = rng.standard_normal((4, 3, 3, 2))
    b = rng.standard_normal(6)
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), groups=2, dilation=(1, 2))
    whole = cc.conv_transpose2d(x, w, b, **kw)
    monkeypatch.setattr(tr, "SCATTER_CHUNK_BYTES", chunk)
    assert_allclose(cc.conv_transpose2d(x, w, b, **kw), whole, rtol=1e-12, atol=1e-12)
    assert_allclose(whole, torch_transpose(x, w, b, kw), rtol=1e-10, atol=1e-10)


def test_backends_agree(xp):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    go = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    kw = dict(stride=2, padding=1, groups=2)
    out = cc.conv_transpose2d(xp.asarray(x), xp.asarray(w), stride=2, padding=1, groups=2)
    assert isinstance(out, xp.ndarray)
    assert_allclose(cc.to_numpy(out), cc.conv_transpose2d(x, w, **kw), rtol=1e-5, atol=1e-5)
    wf = rng.standard_normal((4, 2, 3, 3)).astype(np.float32)
    gx = cc.conv_grad_input(x.shape, xp.asarray(wf), xp.asarray(go), padding_mode="reflect",
                            **kw)
    gw = cc.conv_grad_weight(xp.asarray(x), wf.shape, xp.asarray(go), padding_mode="circular",
                             **kw)
    assert isinstance(gx, xp.ndarray) and isinstance(gw, xp.ndarray)
    assert_allclose(cc.to_numpy(gx), cc.conv_grad_input(x.shape, wf, go, padding_mode="reflect",
                                                        **kw), rtol=1e-5, atol=1e-5)
    assert_allclose(cc.to_numpy(gw), cc.conv_grad_weight(x, wf.shape, go,
                                                         padding_mode="circular", **kw),
                    rtol=1e-4, atol=1e-4)


def test_zero_batch_gives_empty_results_like_torch():
    x = np.zeros((0, 2, 5), np.float32)
    w = np.ones((2, 3, 3), np.float32)
    assert cc.conv_transpose1d(x, w, stride=2).shape == tuple(
        F.conv_transpose1d(torch.from_numpy(x), torch.from_numpy(w), stride=2).shape)
    wf = np.ones((3, 2, 3), np.float32)
    go = np.zeros((0, 3, 3), np.float32)
    assert cc.conv_grad_input(x.shape, wf, go).shape == (0, 2, 5)
    assert_allclose(cc.conv_grad_weight(x, wf.shape, go), np.zeros((3, 2, 3)))
