"""N-d cross-correlation ("convolution" in deep learning), one implementation for every rank.

The fast path is im2col: the padded input is viewed (no copy) as every window, the view is
gathered into a column buffer ``(N, groups, C_in/groups * prod(kernel), positions)``, and one
batched ``matmul`` per chunk contracts it with the weights.  The column buffer is bounded by
:data:`COLUMN_BUDGET_BYTES`: bigger problems are computed in chunks of batch items and, inside
one item, of rows of the first output axis — which also keeps each chunk in cache, faster than
one big buffer streamed through memory twice.  Everything is written against ``xp`` (NumPy or
CuPy), so the GPU runs the same code the CPU tests exercise.
"""

from __future__ import annotations

import functools

import numpy as np

from .backend import array_module, as_strided
from .errors import ConvError
from .geometry import tap_position
from .params import COMPUTE_MODES, ConvSpec, check_dtype, make_spec, prod

COLUMN_BUDGET_BYTES = 4 * 2**20  # CPU: cache-sized chunks
GPU_COLUMN_BUDGET_BYTES = 256 * 2**20  # GPU: few, large kernel launches

_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _as_array(xp, a, name, op):
    if a is None:
        return None
    if not hasattr(a, "dtype") or not hasattr(a, "shape"):
        try:  # nested lists and scalars: float32, the default dtype
            a = xp.asarray(a, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise ConvError(f"{op}: {name} must be an array of numbers, got {a!r:.80}") from exc
    check_dtype(name, a.dtype, op)
    return a


def prepare(op, x, weight, bias, compute_mode, **params):
    """Check everything; return (xp, spec, x, weight, bias) with one common floating dtype."""
    xp = array_module(x, weight, bias)
    x = _as_array(xp, x, "input", op)
    weight = _as_array(xp, weight, "weight", op)
    bias = _as_array(xp, bias, "bias", op)
    if compute_mode not in COMPUTE_MODES:
        raise ConvError(
            f"{op}: compute_mode must be one of {', '.join(repr(m) for m in COMPUTE_MODES)}, "
            f"got {compute_mode!r}"
        )
    for name, a in (("weight", weight), ("bias", bias)):
        if a is not None and a.dtype != x.dtype:
            raise ConvError(
                f"{op}: input and {name} must have the same dtype, got input {x.dtype} and "
                f"{name} {a.dtype}"
            )
    spec = make_spec(op, x.shape, weight.shape, None if bias is None else bias.shape, **params)
    return xp, spec, x, weight, bias


_prepare = prepare  # the name other modules used before it was public


def pad_input(xp, x, pads, mode):
    """Pad the spatial axes of ``x`` (N, C, *spatial) by ``(low, high)`` pairs in ``mode``."""
    if not any(lo or hi for lo, hi in pads):
        return xp.ascontiguousarray(x)
    if mode == "zeros":
        shape = x.shape[:2] + tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
        out = xp.zeros(shape, dtype=x.dtype)
        inner = (slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, (lo, _) in zip(x.shape[2:], pads)
        )
        out[inner] = x
        return out
    return xp.ascontiguousarray(xp.pad(x, ((0, 0), (0, 0)) + tuple(pads),
                                       mode=_NUMPY_PAD_MODES[mode]))


@functools.lru_cache(maxsize=512)
def _window_geometry(spec: ConvSpec, n_batch: int, strides: tuple):
    """Shape and strides of the window view (pure arithmetic, cached: it runs on every call).

    The byte strides are :func:`~convcore.geometry.tap_position` per unit step of the kernel
    offset (``d``) and of the output index (``s``); a length-1 axis gets stride 0, so a huge
    stride or dilation that only one window or tap ever uses cannot overflow the view.
    """
    spatial = strides[2:]
    shape = (n_batch, spec.groups, spec.in_per_group, *spec.kernel, *spec.out_spatial)
    taps = tuple(st * tap_position(0, 1, s, d) if k > 1 else 0
                 for st, k, s, d in zip(spatial, spec.kernel, spec.stride, spec.dilation))
    outs = tuple(st * tap_position(1, 0, s, d) if n > 1 else 0
                 for st, n, s, d in zip(spatial, spec.out_spatial, spec.stride, spec.dilation))
    return shape, (strides[0], spec.in_per_group * strides[1], strides[1]) + taps + outs


def window_view(xp, xpad, spec: ConvSpec):
    """View the padded input as ``(N, groups, C_in/groups, *kernel, *out_spatial)`` windows."""
    return as_strided(xp, xpad, *_window_geometry(spec, xpad.shape[0], xpad.strides))


def correlate_padded(xp, xpad, weight, spec: ConvSpec, budget=None):
    """Cross-correlate an already padded, batched input; returns ``(N, C_out, *out_spatial)``.

    The column buffer of one chunk stays under ``budget`` bytes (default
    :data:`COLUMN_BUDGET_BYTES`): whole batch items while they fit, else runs of rows of the
    first output axis inside one item.  Small chunks also keep the buffer in cache, which is
    faster than one big buffer streamed through memory twice.
    """
    if budget is None:
        budget = COLUMN_BUDGET_BYTES if xp is np else GPU_COLUMN_BUDGET_BYTES
    n_batch = xpad.shape[0]
    g, og = spec.groups, spec.out_per_group
    taps = spec.in_per_group * prod(spec.kernel)
    out_sp = spec.out_spatial
    positions = prod(out_sp)
    wmat = weight.reshape(g, og, taps)
    win = window_view(xp, xpad, spec)
    item_bytes = g * taps * positions * xpad.dtype.itemsize
    if item_bytes * n_batch <= budget:
        cols = win.reshape(n_batch, g, taps, positions)
        return xp.matmul(wmat, cols).reshape((n_batch, spec.out_channels) + out_sp)
    out = xp.empty((n_batch, g, og, positions), dtype=xpad.dtype)
    rest = positions // out_sp[0]  # positions per row of the first output axis
    items = max(1, budget // item_bytes)
    rows = out_sp[0] if items > 1 else max(1, budget // (item_bytes // out_sp[0]))
    tail = (slice(None),) * (len(out_sp) - 1)
    for n0 in range(0, n_batch, items):
        n1 = min(n_batch, n0 + items)
        for r0 in range(0, out_sp[0], rows):
            r1 = min(out_sp[0], r0 + rows)
            cols = win[(slice(n0, n1), Ellipsis, slice(r0, r1), *tail)]
            cols = cols.reshape(n1 - n0, g, taps, (r1 - r0) * rest)
            xp.matmul(wmat, cols, out=out[n0:n1, :, :, r0 * rest:r1 * rest])
    return out.reshape((n_batch, spec.out_channels) + out_sp)


def _compute(op, x, weight, bias, stride, padding, dilation, groups, padding_mode, compute_mode,
             spatial_dims):
    xp, spec, x, weight, bias = prepare(
        op, x, weight, bias, compute_mode, stride=stride, padding=padding, dilation=dilation,
        groups=groups, padding_mode=padding_mode, spatial_dims=spatial_dims,
    )
    out_dtype = x.dtype
    if out_dtype == np.float16:  # accumulate half precision in float32 (compute_mode="float32")
        x, weight = x.astype(np.float32), weight.astype(np.float32)
        bias = None if bias is None else bias.astype(np.float32)
    xb = x if spec.batched else x[None]
    out = correlate_padded(xp, pad_input(xp, xb, spec.pads, spec.padding_mode), weight, spec)
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

    Shape:
        per spatial axis
        ``L_out = floor((L_in + pad_lo + pad_hi - dilation*(k-1) - 1) / stride) + 1``.

    Returns an array on the input's device with the input's dtype.  Raises ConvError on any
    invalid argument, naming the parameter.
{example}"""


def convnd(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", compute_mode="default"):
    return _compute("convnd", x, weight, bias, stride, padding, dilation, groups, padding_mode,
                    compute_mode, None)


def conv1d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", compute_mode="default"):
    return _compute("conv1d", x, weight, bias, stride, padding, dilation, groups, padding_mode,
                    compute_mode, 1)


def conv2d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", compute_mode="default"):
    return _compute("conv2d", x, weight, bias, stride, padding, dilation, groups, padding_mode,
                    compute_mode, 2)


def conv3d(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1,
           padding_mode="zeros", compute_mode="default"):
    return _compute("conv3d", x, weight, bias, stride, padding, dilation, groups, padding_mode,
                    compute_mode, 3)


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
