"""The teaching model: what meets at every output cell, why the output has its shape, and how
groups wire channels — as plain host (NumPy) data for figure builders and tests.

Nothing here re-derives the convolution's rules: parameters go through the same checks as the
core (:func:`convcore.params.make_spec`), and padded values come from the core's own padding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .backend import to_numpy
from .core import _prepare, pad_input
from .errors import ConvError
from .params import (
    PerGroup,
    _check_groups,
    _check_mode_legal,
    _is_int,
    dilated_extent,
    make_spec,
    ntuple,
    positive_tuple,
    resolve_padding,
)

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _fmt(v) -> str:
    """A number as a learner would write it: 2, -1.5, 0.333."""
    v = float(v)
    if v == 0:
        return "0"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v)).replace("-", "−")
    return f"{v:.4g}".replace("-", "−")


def _idx(t) -> str:
    return ",".join(str(int(i)) for i in t)


# --------------------------------------------------------------------------- single steps

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
        where = f"x[{self.in_channel},{_idx(self.input_index)}]"
        if self.is_padding:
            src = ("0" if self.source_index is None
                   else f"x[{self.in_channel},{_idx(self.source_index)}]")
            where += f"(pad←{src})"
        return (f"Tap({where}={_fmt(self.x)} · w[{_idx(self.weight_index)}]={_fmt(self.w)} "
                f"→ {_fmt(self.product)})")


@dataclass(frozen=True)
class Step:
    """One output cell: its value, its bias and every tap that was summed."""

    out_index: tuple
    value: float
    bias: float
    taps: tuple = field(repr=False)

    def __repr__(self):
        return (f"Step(out[{_idx(self.out_index)}] = {_fmt(self.value)}, "
                f"{len(self.taps)} taps, bias {_fmt(self.bias)})")


def source_map(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """For each padded position along one axis, the unpadded index it copies (-1: zero pad)."""
    i = np.arange(-lo, n + hi)
    inside = (i >= 0) & (i < n)
    if mode == "zeros":
        return np.where(inside, i, -1)
    if mode == "reflect":
        period = 2 * (n - 1)
        if period == 0:
            return np.zeros_like(i)
        j = np.abs(i) % period
        return np.where(j < n, j, period - j)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    return i % n  # circular


def trace_step(x, weight, bias=None, *, out_index, stride=1, padding=0, dilation=1, groups=1,
               padding_mode="zeros") -> Step:
    """Every product summed into one output cell.

    Args:
        x, weight, bias, stride, padding, dilation, groups, padding_mode: as for
            :func:`convcore.convnd` (checked by the same rules).
        out_index: ``(n, c_out, *spatial)`` for batched ``x``, ``(c_out, *spatial)`` unbatched.

    Returns a :class:`Step` whose ``value`` is the sum of the tap products plus the bias, which
    equals ``convnd(...)`` at ``out_index`` up to floating-point rounding.

    Examples:
        >>> import numpy as np, convcore as cc
        >>> x = np.array([[[2., 3., 4.]]]); w = np.array([[[0.5, -2.]]])
        >>> s = cc.trace_step(x, w, np.array([0.25]), out_index=(0, 0, 1), stride=2, padding=1)
        >>> [t.x for t in s.taps], s.value
        ([3.0, 4.0], -6.25)
    """
    _, spec, x, weight, bias = _prepare(
        "trace_step", x, weight, bias, "default", stride=stride, padding=padding,
        dilation=dilation, groups=groups, padding_mode=padding_mode,
    )
    x, weight = to_numpy(x), to_numpy(weight)
    bias = None if bias is None else to_numpy(bias)
    lead = 2 if spec.batched else 1
    expected = (spec.batch, spec.out_channels) if spec.batched else (spec.out_channels,)
    limits = expected + spec.out_spatial
    if (not isinstance(out_index, (tuple, list)) or len(out_index) != len(limits)
            or not all(_is_int(i) and 0 <= i < m for i, m in zip(out_index, limits))):
        names = "(n, c_out, *spatial)" if spec.batched else "(c_out, *spatial)"
        raise ConvError(f"trace_step: out_index must be {names} within the output shape "
                        f"{limits}, got {out_index!r}")
    out_index = tuple(int(i) for i in out_index)
    n = out_index[0] if spec.batched else 0
    c_out = out_index[lead - 1]
    pos = np.asarray(out_index[lead:])
    xb = x if spec.batched else x[None]
    g = c_out // spec.out_per_group
    channels = np.arange(g * spec.in_per_group, (g + 1) * spec.in_per_group)
    offsets = np.indices(spec.kernel).reshape(spec.ndim, -1).T  # (K, ndim) raster order
    lo = np.array([p[0] for p in spec.pads])
    unpadded = pos * np.array(spec.stride) - lo + offsets * np.array(spec.dilation)  # (K, ndim)
    sizes = np.array(spec.in_spatial)
    inside = np.all((unpadded >= 0) & (unpadded < sizes), axis=1)
    if spec.padding_mode == "zeros":
        src = np.where(inside[:, None], unpadded, 0)
    else:
        src = np.stack([source_map(sizes[a], spec.pads[a][0], spec.pads[a][1],
                                   spec.padding_mode)[unpadded[:, a] + lo[a]]
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
    """The step's arithmetic as one line of text.

    ``out[0,1,3] = b(0.5) + x[0,4]·w[1,0,0] (2·−1) + … = 7``; padding cells read
    ``pad[0,-1]``; beyond ``max_terms`` taps the rest is summarized with its count and sum.
    """
    terms = [f"b({_fmt(step.bias)})"]
    shown = step.taps[:max_terms]
    for t in shown:
        name = "pad" if t.is_padding else "x"
        terms.append(f"{name}[{t.in_channel},{_idx(t.input_index)}]·w[{_idx(t.weight_index)}] "
                     f"({_fmt(t.x)}·{_fmt(t.w)})")
    rest = step.taps[max_terms:]
    if rest:
        terms.append(f"… {len(rest)} more terms (Σ {_fmt(sum(t.product for t in rest))})")
    return f"out[{_idx(step.out_index)}] = " + " + ".join(terms) + f" = {_fmt(step.value)}"


# --------------------------------------------------------------------------- whole animations

def _spatial_spec(op, in_spatial, kernel_size, stride, padding, dilation):
    """A ConvSpec for one channel: the spatial rules alone, checked like the core's."""
    in_spatial = (in_spatial,) if _is_int(in_spatial) else tuple(in_spatial)
    kernel = positive_tuple(kernel_size, len(in_spatial), "kernel_size", op)
    return make_spec(op, (1, 1, *in_spatial), (1, 1, *kernel), None, stride, padding, dilation)


@dataclass(frozen=True)
class WindowMap:
    """Padded-frame coordinates of every tap of every window, in raster order of the output."""

    out_spatial: tuple
    kernel: tuple
    pads: tuple
    padded_spatial: tuple
    out_coords: np.ndarray = field(repr=False)  # (P, ndim)
    starts: np.ndarray = field(repr=False)  # (P, ndim)
    coords: np.ndarray = field(repr=False)  # (P, K, ndim)

    @property
    def steps(self) -> int:
        return int(self.out_coords.shape[0])


def window_map(in_spatial, kernel_size, stride=1, padding=0, dilation=1, steps=None
               ) -> WindowMap:
    """The index map an animation is built from (vectorized; memory ~ steps × taps).

    ``steps`` (optional): the raster-order step numbers to map, e.g. the frames of a capped
    animation; by default every step.

    Examples:
        >>> m = window_map(5, 2, stride=2, padding=1)
        >>> m.coords[:, :, 0].tolist()
        [[0, 1], [2, 3], [4, 5]]
    """
    spec = _spatial_spec("window_map", in_spatial, kernel_size, stride, padding, dilation)
    nd = spec.ndim
    if steps is None:
        out_coords = np.indices(spec.out_spatial, dtype=np.int32).reshape(nd, -1).T
    else:
        steps = np.asarray(steps, dtype=np.int64).reshape(-1)
        total = math.prod(spec.out_spatial)
        if steps.size and (steps.min() < 0 or steps.max() >= total):
            raise ConvError(f"window_map: steps must lie in 0..{total - 1} (the output has "
                            f"{total} positions), got {steps.min()}..{steps.max()}")
        out_coords = np.stack(np.unravel_index(steps, spec.out_spatial), axis=1).astype(np.int32)
    starts = out_coords * np.asarray(spec.stride, dtype=np.int32)
    offsets = (np.indices(spec.kernel, dtype=np.int32).reshape(nd, -1).T
               * np.asarray(spec.dilation, dtype=np.int32))
    coords = starts[:, None, :] + offsets[None, :, :]
    return WindowMap(spec.out_spatial, spec.kernel, spec.pads, spec.padded_spatial,
                     out_coords, starts, coords)


@dataclass(frozen=True)
class AxisCoverage:
    """Which indices of one input axis no window reads, and why."""

    axis: int
    never_read: tuple  # unpadded indices
    dropped_tail: tuple  # past the last window: the floor in the shape formula drops them
    skipped: tuple  # between windows or dilation gaps: stride jumps over them


@dataclass(frozen=True)
class Coverage:
    """How many windows read each input cell."""

    counts: np.ndarray = field(repr=False)  # shape in_spatial
    axes: tuple = ()  # AxisCoverage per axis

    @property
    def never_read(self) -> tuple:
        """Index tuples of the cells no window reads (built on demand: it can be long)."""
        return tuple(tuple(int(i) for i in idx) for idx in np.argwhere(self.counts == 0))

    @property
    def dropped_tail(self):
        return tuple(a.dropped_tail for a in self.axes)

    @property
    def skipped(self):
        return tuple(a.skipped for a in self.axes)


def _axis_coverage(axis, n, k, s, d, lo, out):
    """Read counts of one axis's unpadded indices, and an :class:`AxisCoverage`."""
    taps = (np.arange(out)[:, None] * s + np.arange(k)[None, :] * d).ravel() - lo
    counts = np.bincount(taps[(taps >= 0) & (taps < n)], minlength=n)
    last = (out - 1) * s + d * (k - 1) - lo  # the last unpadded index any window reaches
    unread = np.flatnonzero(counts == 0)
    return counts, AxisCoverage(axis, tuple(unread.tolist()),
                                tuple(unread[unread > last].tolist()),
                                tuple(unread[unread <= last].tolist()))


def coverage(in_spatial, kernel_size, stride=1, padding=0, dilation=1) -> Coverage:
    """For every input cell, how many windows read it; cells never read, with the reason."""
    spec = _spatial_spec("coverage", in_spatial, kernel_size, stride, padding, dilation)
    per_axis = [_axis_coverage(a, spec.in_spatial[a], spec.kernel[a], spec.stride[a],
                               spec.dilation[a], spec.pads[a][0], spec.out_spatial[a])
                for a in range(spec.ndim)]
    # Windows form a product over axes, so the N-d count is the outer product of axis counts.
    total = per_axis[0][0]
    for counts, _ in per_axis[1:]:
        total = np.multiply.outer(total, counts)
    return Coverage(total, tuple(axis for _, axis in per_axis))


@dataclass(frozen=True)
class AxisShape:
    """The output-length formula of one axis, with the user's numbers in it."""

    axis: str
    in_size: int
    pad: tuple
    kernel: int
    dilation: int
    stride: int
    numerator: int
    out_size: int  # 0 when the output would be empty
    remainder: int  # what the floor discards
    text: str
    latex: str
    warnings: tuple


@dataclass(frozen=True)
class ShapeExplanation:
    axes: tuple
    out_spatial: tuple
    text: str
    latex: str
    warnings: tuple


def explain_shape(in_spatial, kernel_size, stride=1, padding=0, dilation=1) -> ShapeExplanation:
    r"""Per axis: ``L_out = floor((L_in + pad_lo + pad_hi − dilation·(size−1) − 1) / stride) + 1``
    with the numbers substituted, the remainder the floor discards, and warnings in plain words.

    Unlike the core, an empty output is explained (``out_size`` 0 and a warning), not raised.
    """
    op = "explain_shape"
    in_spatial = (in_spatial,) if _is_int(in_spatial) else tuple(in_spatial)
    nd = len(in_spatial)
    if not all(_is_int(n) and n >= 1 for n in in_spatial):
        raise ConvError(f"{op}: in_spatial must be ints >= 1, got {in_spatial!r}")
    kernel = positive_tuple(kernel_size, nd, "kernel_size", op)
    strides = positive_tuple(stride, nd, "stride", op)
    dils = positive_tuple(dilation, nd, "dilation", op)
    pads = resolve_padding(padding, nd, kernel, dils, strides, op)
    names = AXIS_NAMES.get(nd, tuple(f"S{i}" for i in range(nd)))
    axes = []
    for name, n, k, s, d, (lo, hi) in zip(names, in_spatial, kernel, strides, dils, pads):
        span = dilated_extent(k, d)
        num = n + lo + hi - d * (k - 1) - 1
        warnings = []
        if num < 0:
            out, rem = 0, 0
            warnings.append(f"{name}: the dilated kernel spans {span} cells but the padded input "
                            f"has only {n + lo + hi}: the output would be empty.")
        else:
            out, rem = num // s + 1, num % s
            _, cov = _axis_coverage(len(axes), n, k, s, d, lo, out)
            if rem:
                lost = cov.dropped_tail
                cells = (f"input cell{'s' if len(lost) > 1 else ''} {_span_text(lost)} "
                         f"{'are' if len(lost) > 1 else 'is'} never read" if lost
                         else "only padding is lost")
                warnings.append(f"{name}: the floor discards a remainder of {rem}: the window "
                                f"cannot take one more step of {s}, so the last {rem} padded "
                                f"cell{'s' if rem > 1 else ''} fit no window ({cells}).")
            if cov.skipped:
                why = (f"stride {s} is larger than the window span {span}" if s > span
                       else f"dilation {d} leaves gaps that stride {s} never fills")
                many = len(cov.skipped) > 1
                warnings.append(f"{name}: {why}: {len(cov.skipped)} input cell"
                                f"{'s' if many else ''} between windows {'are' if many else 'is'}"
                                f" never read (ind{'ices' if many else 'ex'} "
                                f"{_list_text(cov.skipped)}).")
            if max(lo, hi) >= span:
                warnings.append(f"{name}: padding {max(lo, hi)} ≥ window span {span}: some "
                                f"outputs see nothing but padding.")
        text = (f"{name}_out = floor(({n} + {lo} + {hi} − {d}·({k}−1) − 1) / {s}) + 1 = "
                f"floor({num}/{s}) + 1 = {out}" if num >= 0 else
                f"{name}_out: {n} + {lo} + {hi} − {d}·({k}−1) − 1 = {num} < 0 → empty")
        latex = (rf"{name}_{{out}} = \left\lfloor \frac{{{n} + {lo} + {hi} - {d}\cdot({k}-1) - 1}}"
                 rf"{{{s}}} \right\rfloor + 1 = \left\lfloor \frac{{{num}}}{{{s}}} \right\rfloor"
                 rf" + 1 = {out}")
        axes.append(AxisShape(name, n, (lo, hi), k, d, s, num, out, rem, text, latex,
                              tuple(warnings)))
    return ShapeExplanation(
        axes=tuple(axes), out_spatial=tuple(a.out_size for a in axes),
        text="\n".join(a.text for a in axes), latex=r" \\ ".join(a.latex for a in axes),
        warnings=tuple(w for a in axes for w in a.warnings),
    )


def _span_text(idx) -> str:
    return f"{idx[0]}" if len(idx) == 1 else f"{idx[0]}–{idx[-1]}"


def _list_text(idx, most=8) -> str:
    shown = ", ".join(str(i) for i in idx[:most])
    return shown + (f", … ({len(idx) - most} more)" if len(idx) > most else "")


# --------------------------------------------------------------------------- groups

@dataclass(frozen=True)
class GroupMap(PerGroup):
    """Which input channels feed which output channels, and the weight in each layout."""

    in_channels: int
    out_channels: int
    groups: int
    kernel: tuple
    edges: tuple = field(repr=False)  # (in_ch, out_ch) pairs

    def group_of_in(self, c: int) -> int:
        return c // self.in_per_group

    def group_of_out(self, c: int) -> int:
        return c // self.out_per_group

    def inputs_of(self, out_ch: int) -> tuple:
        g = self.group_of_out(out_ch)
        return tuple(range(g * self.in_per_group, (g + 1) * self.in_per_group))

    def outputs_of(self, in_ch: int) -> tuple:
        g = self.group_of_in(in_ch)
        return tuple(range(g * self.out_per_group, (g + 1) * self.out_per_group))

    @property
    def weight_shape_pytorch(self) -> tuple:
        return (self.out_channels, self.in_per_group, *self.kernel)

    @property
    def weight_shape_puzzlelib(self) -> tuple:
        k = (1, *self.kernel) if len(self.kernel) == 1 else self.kernel
        return (self.out_channels, self.in_per_group, *k)

    @property
    def weight_shape_megengine(self) -> tuple:
        if self.groups == 1:
            return self.weight_shape_pytorch
        return (self.groups, self.out_per_group, self.in_per_group, *self.kernel)

    @property
    def params_count(self) -> int:
        """Weights (without bias): C_out · C_in/groups · prod(kernel)."""
        return self.out_channels * self.in_per_group * math.prod(self.kernel)


def group_map(in_channels, out_channels, groups, kernel_size=(3,)) -> GroupMap:
    """The wiring of a grouped convolution (checked like the core checks ``groups``)."""
    _check_groups(groups, in_channels, out_channels, "group_map")
    kernel = (kernel_size,) if _is_int(kernel_size) else tuple(kernel_size)
    kernel = positive_tuple(kernel, len(kernel), "kernel_size", "group_map")
    cg, og = in_channels // groups, out_channels // groups
    edges = tuple((i, o) for o in range(out_channels)
                  for i in range((o // og) * cg, (o // og + 1) * cg))
    return GroupMap(in_channels, out_channels, groups, kernel, edges)


def to_megengine(w, groups):
    """PyTorch layout ``(C_out, C_in/g, *k)`` → MegEngine grouped ``(g, C_out/g, C_in/g, *k)``."""
    if not _is_int(groups) or groups < 1 or w.shape[0] % groups:
        raise ConvError(f"to_megengine: groups must divide C_out = {w.shape[0]}, got {groups!r}")
    return w.reshape((groups, w.shape[0] // groups) + tuple(w.shape[1:]))


def from_megengine(w):
    """MegEngine grouped ``(g, C_out/g, C_in/g, *k)`` → PyTorch ``(C_out, C_in/g, *k)``."""
    return w.reshape((w.shape[0] * w.shape[1],) + tuple(w.shape[2:]))


def to_puzzlelib_1d(w):
    """PyTorch 1-D ``(C_out, C_in/g, k)`` → PuzzleLib ``(C_out, C_in/g, 1, k)``."""
    if w.ndim != 3:
        raise ConvError(f"to_puzzlelib_1d: weight must be 3-D (C_out, C_in/g, k), got {w.shape}")
    return w[:, :, None, :]


def from_puzzlelib_1d(w):
    """PuzzleLib ``(C_out, C_in/g, 1, k)`` → PyTorch 1-D ``(C_out, C_in/g, k)``."""
    if w.ndim != 4 or w.shape[2] != 1:
        raise ConvError(f"from_puzzlelib_1d: weight must be (C_out, C_in/g, 1, k), got {w.shape}")
    return w[:, :, 0, :]


def multiply_adds(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1) -> int:
    """Multiply-adds of one call: N · C_out · prod(out_spatial) · C_in/groups · prod(kernel)."""
    spec = make_spec("multiply_adds", x_shape, weight_shape, None, stride, padding, dilation,
                     groups)
    return (spec.batch * spec.out_channels * math.prod(spec.out_spatial) * spec.in_per_group
            * math.prod(spec.kernel))


# --------------------------------------------------------------------------- kernel & padding

def dilated_kernel(weight, dilation):
    """The kernel with the zeros dilation inserts between taps (on its trailing spatial axes).

    ``weight`` is ``(C_out, C_in/groups, *kernel)``, or a bare kernel when ``dilation`` is a
    tuple with one entry per axis of it.

    Examples:
        >>> dilated_kernel(np.array([[[1., 2., 3.]]]), 2).tolist()
        [[[1.0, 0.0, 2.0, 0.0, 3.0]]]
    """
    w = to_numpy(weight)
    nd = len(dilation) if isinstance(dilation, (tuple, list)) else max(w.ndim - 2, 1)
    d = positive_tuple(dilation, nd, "dilation", "dilated_kernel")
    k = w.shape[w.ndim - nd:]
    out = np.zeros(w.shape[:w.ndim - nd] + tuple(dilated_extent(a, b) for a, b in zip(k, d)),
                   dtype=w.dtype)
    out[(Ellipsis,) + tuple(slice(None, None, b) for b in d)] = w
    return out


@dataclass(frozen=True)
class PaddedInput:
    """The padded input, which cells are padding, and where each padding cell's value came from."""

    values: np.ndarray = field(repr=False)  # padded array, leading axes as x
    is_padding: np.ndarray = field(repr=False)  # bool, padded spatial shape
    source: np.ndarray = field(repr=False)  # (ndim, *padded_spatial); -1 for zero padding
    pads: tuple = ()
    padding_mode: str = "zeros"


def padded_input(x, padding, padding_mode="zeros", kernel_size=None, dilation=1, stride=1,
                 spatial_dims=None) -> PaddedInput:
    """Pad ``x`` exactly as the core does, with a padding mask and each cell's source.

    ``x`` is ``(N, C, *spatial)``; ``spatial_dims`` (default ``x.ndim - 2``) allows an
    unbatched ``(C, *spatial)``.  ``kernel_size`` and ``dilation`` are needed for ``"same"``.
    """
    op = "padded_input"
    x = to_numpy(x)
    nd = x.ndim - 2 if spatial_dims is None else spatial_dims
    if nd < 1 or x.ndim not in (nd + 1, nd + 2):
        raise ConvError(f"{op}: x must be (N, C, *spatial) or (C, *spatial), got {x.shape}")
    in_sp = x.shape[-nd:]
    kernel = positive_tuple(1 if kernel_size is None else kernel_size, nd, "kernel_size", op)
    dils = positive_tuple(dilation, nd, "dilation", op)
    strides = positive_tuple(stride, nd, "stride", op)
    pads = resolve_padding(padding, nd, kernel, dils, strides, op)
    _check_mode_legal(padding_mode, in_sp, pads, op)
    xb = x.reshape((-1, x.shape[-nd - 1]) + in_sp)
    values = pad_input(np, xb, pads, padding_mode).reshape(
        x.shape[:-nd] + tuple(n + lo + hi for n, (lo, hi) in zip(in_sp, pads)))
    maps = [source_map(n, lo, hi, padding_mode) for n, (lo, hi) in zip(in_sp, pads)]
    inside = [np.arange(-lo, n + hi) for n, (lo, hi) in zip(in_sp, pads)]
    grids = np.meshgrid(*inside, indexing="ij")
    is_pad = np.zeros(grids[0].shape, dtype=bool)
    for g, n in zip(grids, in_sp):
        is_pad |= (g < 0) | (g >= n)
    source = np.stack(np.meshgrid(*maps, indexing="ij"))
    if padding_mode == "zeros":
        source[:, is_pad] = -1
    return PaddedInput(values, is_pad, source, pads, padding_mode)


__all__ = [
    "AxisCoverage", "AxisShape", "Coverage", "GroupMap", "PaddedInput", "ShapeExplanation",
    "Step", "Tap", "WindowMap", "coverage", "dilated_kernel", "equation", "explain_shape",
    "from_megengine", "from_puzzlelib_1d", "group_map", "multiply_adds", "ntuple",
    "padded_input", "source_map", "to_megengine", "to_puzzlelib_1d", "trace_step",
    "window_map",
]
