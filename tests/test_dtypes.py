"""Every public convolution keeps the caller's dtype, as PyTorch does, and agrees with PyTorch.

Forward, transposed and both gradients, in float16, float32 and float64, given NumPy arrays or
CPU torch tensors: the result is a NumPy array of the input's dtype (float64 stays float64 —
the transposed side used to return float32 for float64 tensors), and its values are PyTorch's
(computed in float64 from the same values) within that dtype's tolerance.  Nested lists are
float32, as ``torch.tensor`` makes them.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convcore as cc

DTYPES = [np.float16, np.float32, np.float64]
TOL = {np.float16: 2e-2, np.float32: 1e-5, np.float64: 1e-12}
KW = dict(stride=2, padding=1, dilation=1, groups=2)
T_KW = dict(stride=2, padding=1, output_padding=1, groups=2, dilation=1)


def shapes(n):
    """(input, weight, forward output) shapes of an n-D layer: 4 -> 6 channels in 2 groups."""
    x = (2, 4) + (7, 6, 5)[:n]
    w = (6, 2) + (3, 2, 3)[:n]
    return x, w, cc.output_shape(x, w, **KW)


def torch_ref(name, n, arrays):
    """PyTorch's answer in float64 for the same (rounded) values."""
    t = [torch.from_numpy(a.astype(np.float64)) for a in arrays]
    if name.startswith("conv_transpose"):
        return getattr(F, f"conv_transpose{n}d")(*t, **T_KW).numpy()
    if name == "conv_grad_input":
        return getattr(torch.nn.grad, f"conv{n}d_input")(shapes(n)[0], *t, **KW).numpy()
    if name == "conv_grad_weight":
        return getattr(torch.nn.grad, f"conv{n}d_weight")(t[0], shapes(n)[1], t[1], **KW).numpy()
    return getattr(F, f"conv{n}d")(*t, **KW).numpy()


CASES = ([(f"conv{n}d", n) for n in (1, 2, 3)] + [("convnd", 2)]
         + [(f"conv_transpose{n}d", n) for n in (1, 2, 3)] + [("conv_transposend", 2)]
         + [("conv_grad_input", n) for n in (1, 2, 3)]
         + [("conv_grad_weight", n) for n in (1, 2, 3)])


def call(name, n, arrays):
    fn = getattr(cc, name)
    if name.startswith("conv_transpose"):
        return fn(*arrays, **T_KW)
    if name == "conv_grad_input":
        return fn(shapes(n)[0], *arrays, **KW)
    if name == "conv_grad_weight":
        return fn(arrays[0], shapes(n)[1], arrays[1], **KW)
    return fn(*arrays, **KW)


def inputs(name, n, dtype, rng):
    x, w, out = shapes(n)
    if name.startswith("conv_transpose"):  # the forward layer's output back to its input
        specs = [out, w, (x[1],)]
    elif name == "conv_grad_input":
        specs = [w, out]
    elif name == "conv_grad_weight":
        specs = [x, out]
    else:
        specs = [x, w, (w[0],)]
    return [rng.standard_normal(s).astype(dtype) for s in specs]


@pytest.mark.parametrize("form", ["numpy", "torch"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize(("name", "n"), CASES, ids=[f"{c[0]}-{c[1]}d" for c in CASES])
def test_dtype_is_kept_and_values_are_pytorchs(name, n, dtype, form):
    arrays = inputs(name, n, dtype, np.random.default_rng(n))
    given = arrays if form == "numpy" else [torch.from_numpy(a) for a in arrays]
    out = call(name, n, given)
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    expect = torch_ref(name, n, arrays)
    assert out.shape == expect.shape
    scale = max(1.0, float(np.abs(expect).max()))
    np.testing.assert_allclose(out.astype(np.float64), expect, rtol=TOL[dtype],
                               atol=TOL[dtype] * scale)


@pytest.mark.parametrize("fn", [cc.conv1d, cc.conv_transpose1d])
def test_nested_lists_are_float32_like_torch_tensor(fn):
    out = fn([[[1, 2, 3, 4]]], [[[1.0, -1.0]]])
    assert out.dtype == np.float32 and out.dtype == torch.tensor([[[1, 2.0]]]).numpy().dtype


@pytest.mark.parametrize("bad", [[[["1", "2", "3"]]], [[[True, False, True]]],
                                 [[[1 + 2j, 2, 3]]], [[[10**40, 1, 2]]]],
                         ids=["strings", "bools", "complex", "int beyond 64 bits"])
def test_non_numbers_are_refused_like_torch(bad):
    for fn in (cc.conv1d, cc.conv_transpose1d):
        with pytest.raises(cc.ConvError, match="input must be an array of numbers"):
            fn(bad, [[[1.0]]])
    with pytest.raises((TypeError, RuntimeError, ValueError, OverflowError)):
        F.conv1d(torch.tensor(bad), torch.tensor([[[1.0]]]))
