"""One output cell, taken apart: every input cell and weight that meet in it, and its arithmetic
as one line of text."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..backend import to_numpy
from ..budget import require
from ..core import prepare
from ..errors import ConvError
from ..geometry import tap_position
from ..params import ConvSpec, is_int, shown
from ..text import format_equation, format_index, format_number
from .padding import source_of
from .windows import check_spec, index_steps

TAP_BYTES = 1024  # one Tap in Python: the object, its tuples and floats (measured ~600 B)


@dataclass(frozen=True)
class Tap:
    """One input cell meeting one weight inside a window."""

    in_channel: int
    input_index: tuple  # spatial index in the unpadded input; out of bounds for padding
    source_index: tuple | None  # in-bounds cell whose value is used; None for zero padding
    is_padding: bool
    weight_index: tuple  # (c_out, c_in within the group, *kernel position)
    x: float
    w: float
    product: float

    def __repr__(self):
        where = f"x[{self.in_channel},{format_index(self.input_index)}]"
        if self.is_padding:
            src = ("0" if self.source_index is None
                   else f"x[{self.in_channel},{format_index(self.source_index)}]")
            where += f"(pad←{src})"
        return (f"Tap({where}={format_number(self.x)} · w[{format_index(self.weight_index)}]="
                f"{format_number(self.w)} → {format_number(self.product)})")


@dataclass(frozen=True)
class OutputCell:
    """One output cell of a trace: its value, its bias and the terms summed into it (the
    subclass's field named :attr:`terms_name`: a forward step's taps, a transposed one's
    stamps)."""

    out_index: tuple
    value: float
    bias: float
    terms_name = "taps"

    @property
    def terms(self) -> tuple:
        return getattr(self, self.terms_name)

    def __repr__(self):
        return (f"{type(self).__name__}(out[{format_index(self.out_index)}] = "
                f"{format_number(self.value)}, {len(self.terms)} {self.terms_name}, bias "
                f"{format_number(self.bias)})")


@dataclass(frozen=True, repr=False)
class Step(OutputCell):
    """One output cell: its value, its bias and every tap that was summed."""

    taps: tuple = field(repr=False)


def trace_step(x, weight, bias=None, *, out_index, stride=1, padding=0, dilation=1, groups=1,
               padding_mode="zeros", max_bytes=None) -> Step:
    """Every product summed into one output cell.

    Args:
        x, weight, bias, stride, padding, dilation, groups, padding_mode: as for
            :func:`convcore.convnd` (checked by the same rules).
        out_index: ``(n, c_out, *spatial)`` for batched ``x``, ``(c_out, *spatial)`` unbatched.
        max_bytes: memory budget of the call (default :func:`convcore.memory_budget`).

    Returns a :class:`Step` whose ``value`` is the sum of the tap products plus the bias, which
    equals ``convnd(...)`` at ``out_index`` up to floating-point rounding.

    Examples:
        >>> import numpy as np, convcore as cc
        >>> x = np.array([[[2., 3., 4.]]]); w = np.array([[[0.5, -2.]]])
        >>> s = cc.trace_step(x, w, np.array([0.25]), out_index=(0, 0, 1), stride=2, padding=1)
        >>> [t.x for t in s.taps], s.value
        ([3.0, 4.0], -6.25)
    """
    _, spec, x, weight, bias = prepare(
        "trace_step", x, weight, bias, "default", stride=stride, padding=padding,
        dilation=dilation, groups=groups, padding_mode=padding_mode,
    )
    return trace_step_of(spec, x, weight, bias, out_index, max_bytes=max_bytes)


def trace_step_of(spec: ConvSpec, x, weight, bias, out_index, *, max_bytes=None) -> Step:
    """:func:`trace_step` for a resolved spec and arrays of its shapes (NumPy or CuPy)."""
    op = "trace_step"
    check_spec(spec, op)
    taps = spec.in_per_group * math.prod(spec.kernel)
    # device arrays come to the host whole (NumPy arrays are read in place)
    host = sum(a.nbytes for a in (x, weight) if type(a).__module__.split(".")[0] == "cupy")
    require(op, f"a step of {taps} taps", taps * TAP_BYTES + host, max_bytes)
    stride, dilation = index_steps(spec, op)  # every coordinate fits int64
    x, weight = to_numpy(x), to_numpy(weight)
    bias = None if bias is None else to_numpy(bias)
    w_shape = (spec.out_channels, spec.in_per_group, *spec.kernel)
    x_shape = ((spec.batch,) if spec.batched else ()) + (spec.in_channels, *spec.in_spatial)
    if (x.shape != x_shape or weight.shape != w_shape
            or (bias is not None and bias.shape != (spec.out_channels,))
            or any(a.dtype.kind not in "biuf" for a in (x, weight) if a is not None)):
        raise ConvError(f"{op}: x, weight and bias must be real arrays of shapes {x_shape}, "
                        f"{w_shape} and ({spec.out_channels},) for this spec, got "
                        f"{x.shape}, {weight.shape} and {None if bias is None else bias.shape}")
    lead = 2 if spec.batched else 1
    expected = (spec.batch, spec.out_channels) if spec.batched else (spec.out_channels,)
    limits = expected + spec.out_spatial
    if (not isinstance(out_index, (tuple, list)) or len(out_index) != len(limits)
            or not all(is_int(i) and 0 <= i < m for i, m in zip(out_index, limits))):
        names = "(n, c_out, *spatial)" if spec.batched else "(c_out, *spatial)"
        raise ConvError(f"trace_step: out_index must be {names} within the output shape "
                        f"{limits}, got {shown(out_index)}")
    out_index = tuple(int(i) for i in out_index)
    n = out_index[0] if spec.batched else 0
    c_out = out_index[lead - 1]
    pos = np.asarray(out_index[lead:], dtype=np.int64)
    xb = x if spec.batched else x[None]
    g = c_out // spec.out_per_group
    channels = np.arange(g * spec.in_per_group, (g + 1) * spec.in_per_group)
    offsets = np.indices(spec.kernel, dtype=np.int64).reshape(spec.ndim, -1).T  # raster order
    lo = np.array([p[0] for p in spec.pads], dtype=np.int64)
    unpadded = tap_position(pos, offsets, stride, dilation) - lo  # (K, ndim)
    sizes = spec.in_spatial
    inside = np.all((unpadded >= 0) & (unpadded < np.array(sizes, dtype=np.int64)), axis=1)
    if spec.padding_mode == "zeros":
        src = np.where(inside[:, None], unpadded, 0)
    else:
        src = np.stack([source_of(unpadded[:, a], sizes[a], spec.padding_mode)
                        for a in range(spec.ndim)], axis=1)
    # values: (C_group, K)
    xv = xb[(n, channels[:, None]) + tuple(src[None, :, a] for a in range(spec.ndim))]
    xv = xv.astype(np.float64)
    if spec.padding_mode == "zeros":
        xv = np.where(inside[None, :], xv, 0.0)
    wv = weight[c_out].reshape(spec.in_per_group, -1).astype(np.float64)
    products = xv * wv
    b = 0.0 if bias is None else float(bias[c_out])
    value = float(products.sum()) + b
    taps = []
    for ci, c in enumerate(channels.tolist()):
        for k in range(offsets.shape[0]):
            pad = not inside[k]
            taps.append(Tap(
                in_channel=c,
                input_index=tuple(unpadded[k].tolist()),
                source_index=None if pad and spec.padding_mode == "zeros"
                else tuple(src[k].tolist()),
                is_padding=bool(pad),
                weight_index=(c_out, ci, *offsets[k].tolist()),
                x=float(xv[ci, k]), w=float(wv[ci, k]), product=float(products[ci, k]),
            ))
    return Step(out_index=out_index, value=value, bias=b, taps=tuple(taps))


def equation(step: Step, max_terms: int = 24) -> str:
    """The step's arithmetic as one line of text (:func:`convcore.text.format_equation`).

    ``out[0,1,3] = b(0.5) + x[0,4]·w[1,0,0] (2·−1) + … = 7``; padding cells read
    ``pad[0,-1]``; beyond ``max_terms`` taps the rest is summarized with its count and sum.
    """
    if not isinstance(step, Step):
        raise ConvError(f"equation: step must be a Step (from trace_step), got {shown(step)}")
    return format_equation(
        step.out_index, step.bias, step.taps, step.value,
        lambda t: (f"{'pad' if t.is_padding else 'x'}[{t.in_channel},"
                   f"{format_index(t.input_index)}]·w[{format_index(t.weight_index)}]"),
        max_terms, "equation")
