"""N-d cross-correlation ("convolution" in deep learning), one implementation for every rank.

The entry points check every argument (:func:`prepare`), pad the input once
(:func:`pad_input`), and hand the padded input to one of three algorithms (:func:`correlate`):
im2col (:mod:`convcore.im2col`), direct (:mod:`convcore.direct`) or FFT (:mod:`convcore.fft`),
picked by ``algorithm="auto"`` from a cost model of the shapes (:mod:`convcore.algorithms`).
Before anything is allocated, the buffers the call needs are checked against the memory budget
(:mod:`convcore.budget`).  Everything is written against ``xp`` (NumPy or CuPy), so the GPU runs
the same code the CPU tests exercise.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from .algorithms import check_algorithm, plan_of
from .backend import array_module
from .budget import check, memory_budget
from .direct import correlate_direct
from .errors import ConvError, shown
from .fft import correlate_fft, fft_safe
from .geometry import window_view  # noqa: F401 - public here before it moved to geometry
from .im2col import COLUMN_BUDGET_BYTES, GPU_COLUMN_BUDGET_BYTES, correlate_padded
from .padding_modes import pad as pad_input
from .params import COMPUTE_MODES, ConvSpec, check_dtype, spec_of

OPTIONAL_ARRAYS = ("bias",)  # array arguments that may be None


def as_array(xp, a, name, op):
    """``a`` as an array of ``xp`` with a floating dtype (None stays None), else ConvError.

    NumPy and CuPy arrays pass as they are (any strides: nothing is copied); other array
    objects (a CPU torch tensor, anything with ``__array__``) are converted keeping their
    dtype; nested lists and scalars of ints and floats become float32, the default dtype, as
    ``torch.tensor`` reads them — strings, bools and other objects are refused, as PyTorch does.
    """
    if a is None:
        return None
    if not isinstance(a, xp.ndarray):
        array_like = hasattr(a, "__array__") or hasattr(a, "__array_interface__")
        try:
            values = np.asarray(a)
            if not array_like:
                if values.dtype.kind not in "iuf":
                    raise TypeError(f"not numbers: dtype {values.dtype}")
                with np.errstate(over="ignore"):  # beyond float32: inf, as torch.tensor gives
                    values = values.astype(np.float32)
            a = xp.asarray(values)
        except Exception as exc:  # any object may be passed in: its conversion may raise anything
            raise ConvError(f"{op}: {name} must be an array of numbers (ints or floats), got "
                            f"{type(a).__name__} {shown(a, 80)}") from exc
    check_dtype(name, a.dtype, op)
    return a


def as_arrays(op, **arrays):
    """``(xp, *arrays)``: each keyword argument by :func:`as_array`, all on one backend with one
    dtype, named by its keyword in messages; only :data:`OPTIONAL_ARRAYS` may be None."""
    out = list(arrays.values())
    dtype = out[0].dtype if type(out[0]) is np.ndarray else None
    if dtype is None or dtype.char not in "efd" or not all(
            (type(a) is np.ndarray and a.dtype == dtype) or (a is None and name in OPTIONAL_ARRAYS)
            for name, a in arrays.items()):  # else: NumPy arrays of one float dtype, as they are
        for name, a in arrays.items():
            if a is None and name not in OPTIONAL_ARRAYS:
                raise ConvError(f"{op}: {name} must be an array of numbers, got None")
        xp = array_module(*out)
        out = [as_array(xp, a, name, op) for name, a in arrays.items()]
        first_name, first = next(iter(arrays)), out[0]
        for name, a in zip(arrays, out):
            if a is not None and a.dtype != first.dtype:
                raise ConvError(f"{op}: {first_name} and {name} must have the same dtype, got "
                                f"{first_name} {first.dtype} and {name} {a.dtype}")
        return (xp, *out)
    return (np, *out)


def prepare(op, x, weight, bias, compute_mode, **params):
    """Check everything; return (xp, spec, x, weight, bias) with one common floating dtype."""
    xp, x, weight, bias = as_arrays(op, input=x, weight=weight, bias=bias)
    if type(compute_mode) is not str or compute_mode not in COMPUTE_MODES:
        raise ConvError(
            f"{op}: compute_mode must be one of {', '.join(repr(m) for m in COMPUTE_MODES)}, "
            f"got {shown(compute_mode, 80)}"
        )
    spec = spec_of(op, x.shape, weight.shape, None if bias is None else bias.shape,
                   params["stride"], params["padding"], params["dilation"], params["groups"],
                   params["padding_mode"], params.get("spatial_dims"))
    return xp, spec, x, weight, bias


_prepare = prepare  # the name other modules used before it was public


def correlate(xp, xpad, weight, spec: ConvSpec, algorithm: str = "im2col"):
    """Cross-correlate a padded, batched input with ``algorithm``: ``(N, C_out, *out_spatial)``.

    No checks: ``spec`` describes ``xpad`` and ``weight`` (see :func:`prepare`).
    """
    if xpad.shape[0] == 0:  # an empty batch, as PyTorch allows
        return xp.zeros((0, spec.out_channels, *spec.out_spatial), dtype=xpad.dtype)
    if not weight.flags.c_contiguous:
        weight = xp.ascontiguousarray(weight)  # weighed by copy_bytes
    if algorithm == "direct":
        if _flat_layout(spec):
            xpad = xp.ascontiguousarray(xpad)  # weighed by copy_bytes
        return correlate_direct(xp, xpad, weight, spec)
    if algorithm == "fft":
        return correlate_fft(xp, xpad, weight, spec)
    budget = COLUMN_BUDGET_BYTES if xp is np else GPU_COLUMN_BUDGET_BYTES
    return correlate_padded(xp, xpad, weight, spec, budget)


def _flat_layout(spec: ConvSpec) -> bool:
    """The direct algorithm at stride 1 reads the padded input as flat rows: it must be
    C-contiguous.  The other algorithms read any strides through a window view."""
    return all(s == 1 for s in spec.stride)


def copy_bytes(spec: ConvSpec, xpad, weight, algorithm: str, itemsize: int) -> int:
    """Bytes :func:`correlate` copies besides the algorithm's buffers: a C-contiguous copy of a
    strided (e.g. broadcast) weight, and of an unpadded strided input for the flat layout.

    ``xpad`` is the input as the algorithm will see it (padding allocates a contiguous one).
    """
    if weight.flags.c_contiguous and (algorithm != "direct" or xpad.flags.c_contiguous):
        return 0
    n = 0
    if not weight.flags.c_contiguous:
        n += spec.out_channels * spec.in_per_group * math.prod(spec.kernel) * itemsize
    if (algorithm == "direct" and _flat_layout(spec) and not xpad.flags.c_contiguous
            and not any(lo or hi for lo, hi in spec.pads)):
        n += spec.batch * spec.in_channels * math.prod(spec.in_spatial) * itemsize
    return n


def _compute(op, x, weight, bias, stride, padding, dilation, groups, padding_mode, compute_mode,
             spatial_dims, algorithm, max_bytes):
    xp, spec, x, weight, bias = prepare(
        op, x, weight, bias, compute_mode, stride=stride, padding=padding, dilation=dilation,
        groups=groups, padding_mode=padding_mode, spatial_dims=spatial_dims,
    )
    if type(algorithm) is not str or algorithm != "auto":
        check_algorithm(algorithm, op)
    budget = memory_budget(max_bytes, op)
    out_dtype = x.dtype
    half = out_dtype == np.float16
    itemsize = 8 if out_dtype == np.float64 else 4
    on_cpu = xp is np
    chosen, estimate = plan_of(spec, algorithm, itemsize, half, on_cpu, budget)
    if chosen == "fft" and not fft_safe(xp, x, weight):
        if algorithm == "fft":
            raise ConvError(f"{op}: algorithm='fft' needs finite input and weight values of "
                            f"moderate size (a spectrum mixes every cell, so one inf, nan or "
                            f"overflow would spoil every output); use algorithm='im2col' or "
                            f"'direct'")
        chosen, estimate = plan_of(spec, algorithm, itemsize, half, on_cpu, budget, False)
    # float16 inputs are copied to float32: weighed in the estimate's input copies
    extra = 0 if half else copy_bytes(spec, x, weight, chosen, itemsize)
    if estimate.total + extra > budget:
        check(op, dataclasses.replace(estimate, input_copies=estimate.input_copies + extra),
              budget)
    if half:  # accumulate half precision in float32 (compute_mode="float32")
        x, weight = x.astype(np.float32), weight.astype(np.float32)
        bias = None if bias is None else bias.astype(np.float32)
    xb = x if spec.batched else x[None]
    out = correlate(xp, pad_input(xp, xb, spec.pads, spec.padding_mode), weight, spec, chosen)
    if bias is not None:
        out += bias.reshape((1, -1) + (1,) * spec.ndim)
    if not spec.batched:
        out = out[0]
    return out.astype(out_dtype, copy=False)


_DOC = """{n}-D cross-correlation of ``x`` with ``weight`` ("convolution" in deep learning).

    .. math:: out(N_i, C_{{out_j}}) = bias(C_{{out_j}}) +
              \\sum_{{k}} weight(C_{{out_j}}, k) \\star input(N_i, k)

    with ``k`` running over the ``C_in/groups`` input channels of output channel ``j``'s group.

    Args:
        x: input {xshape}, or unbatched (the batch axis left out; the result is unbatched too).
        weight: {wshape}.
        bias: ``(C_out,)`` or None.
        stride: int or one int per spatial axis (>= 1).
        padding: int; one int per axis; one ``(low, high)`` pair per axis; ``"valid"``; or
            ``"same"`` (stride 1 only; an odd total puts the extra cell on the high side).
        dilation: int or one int per spatial axis (>= 1): spacing between kernel taps.
        groups: split input and output channels into this many independent convolutions.
        padding_mode: ``"zeros"``, ``"reflect"``, ``"replicate"`` or ``"circular"``.
        compute_mode: ``"default"`` or ``"float32"``; float16 inputs always accumulate in float32.
        algorithm: ``"auto"`` (default: the cheapest by :func:`convcore.choose_algorithm`),
            ``"im2col"``, ``"direct"`` or ``"fft"``.  Each computes every configuration;
            ``"fft"`` refuses non-finite or huge values (``"auto"`` then avoids it).
        max_bytes: memory budget of this call in bytes (default ``CONVCORE_MAX_BYTES`` or
            2 GiB), checked from shapes before anything is allocated.

    Shape:
        per spatial axis
        ``L_out = floor((L_in + pad_lo + pad_hi - dilation*(k-1) - 1) / stride) + 1``.

    Returns an array on the input's device with the input's dtype.  Raises ConvError on any
    invalid argument, naming the parameter, and when the call would exceed the memory budget.
{example}"""


def convnd(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", compute_mode="default", algorithm="auto", max_bytes=None):
    return _compute("convnd", x, weight, bias, stride, padding, dilation, groups, padding_mode,
                    compute_mode, None, algorithm, max_bytes)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", compute_mode="default", algorithm="auto", max_bytes=None):
    return _compute("conv1d", x, weight, bias, stride, padding, dilation, groups, padding_mode,
                    compute_mode, 1, algorithm, max_bytes)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", compute_mode="default", algorithm="auto", max_bytes=None):
    return _compute("conv2d", x, weight, bias, stride, padding, dilation, groups, padding_mode,
                    compute_mode, 2, algorithm, max_bytes)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", compute_mode="default", algorithm="auto", max_bytes=None):
    return _compute("conv3d", x, weight, bias, stride, padding, dilation, groups, padding_mode,
                    compute_mode, 3, algorithm, max_bytes)


convnd.__doc__ = _DOC.format(
    n="N", xshape="``(N, C_in, *spatial)``", wshape="``(C_out, C_in/groups, *kernel)``; the "
    "number of spatial axes is ``weight.ndim - 2``", example="")
conv1d.__doc__ = _DOC.format(n="1", xshape="``(N, C_in, L)``", wshape="``(C_out, C_in/groups, k)``",
                             example="""
    Examples:
        >>> import numpy as np, convcore as cc
        >>> x = np.arange(10, dtype=np.float32).reshape(1, 1, 10)
        >>> w = np.array([[[1, 1]], [[0, -1]]], dtype=np.float32)
        >>> cc.conv1d(x, w, stride=2)
        array([[[ 1.,  5.,  9., 13., 17.],
                [-1., -3., -5., -7., -9.]]], dtype=float32)
""")
conv2d.__doc__ = _DOC.format(n="2", xshape="``(N, C_in, H, W)``",
                             wshape="``(C_out, C_in/groups, kH, kW)``", example="""
    Examples:
        >>> import numpy as np, convcore as cc
        >>> x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
        >>> w = np.eye(2, dtype=np.float32).reshape(1, 1, 2, 2)
        >>> cc.conv2d(x, w, stride=2)
        array([[[[ 6., 10.],
                 [26., 30.]]]], dtype=float32)
""")
conv3d.__doc__ = _DOC.format(n="3", xshape="``(N, C_in, D, H, W)``",
                             wshape="``(C_out, C_in/groups, kD, kH, kW)``", example="")
