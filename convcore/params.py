"""Normalizing and checking convolution arguments.

Every public entry point funnels its arguments through :func:`make_spec`, which checks each user
mistake up front and returns a :class:`ConvSpec` in which every per-axis value is an explicit
tuple and every padding form has become ``(low, high)`` pairs.  Past this boundary the core only
ever sees explicit pairs.
"""

from __future__ import annotations

import functools
import math
import numbers
from dataclasses import dataclass

from .errors import ConvError
from .geometry import dilated_extent, length_numerator, output_length

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
PADDING_STRINGS = ("valid", "same")
COMPUTE_MODES = ("default", "float32")
FLOAT_DTYPES = ("float16", "float32", "float64")


def is_int(v) -> bool:
    """True for Python and NumPy integers, False for bools (``True`` is not a stride)."""
    return type(v) is int or (isinstance(v, numbers.Integral) and not isinstance(v, bool))


_is_int = is_int  # the name other modules used before it was public


def ntuple(value, n: int, name: str, op: str = "conv") -> tuple[int, ...]:
    """``value`` as a tuple of ``n`` ints: an int is repeated, a sequence must have length ``n``."""
    if is_int(value):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise ConvError(
        f"{op}: {name} must be an int or a tuple of {n} int{'s' if n > 1 else ''} "
        f"(one per spatial axis), got {value!r}"
    )


def positive_tuple(value, n: int, name: str, op: str = "conv") -> tuple[int, ...]:
    """Like :func:`ntuple`, and every entry must be >= 1 (stride, dilation, kernel size)."""
    t = ntuple(value, n, name, op)
    if any(v < 1 for v in t):
        raise ConvError(f"{op}: {name} must be >= 1 on every axis, got {value!r}")
    return t


def same_pads(kernel, dilation) -> tuple[tuple[int, int], ...]:
    """Pads that keep the length at stride 1: total ``d*(k-1)``, the odd extra on the high side."""
    pairs = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def resolve_padding(padding, n: int, kernel, dilation, stride, op: str = "conv"):
    """Turn every accepted padding form into ``n`` explicit ``(low, high)`` pairs.

    Accepted: an int; one int per axis; one ``(low, high)`` pair per axis (ints and pairs may be
    mixed); ``"valid"`` (no padding); ``"same"`` (stride 1 only).
    """
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ConvError(
                    f"{op}: padding='same' is not supported for strided convolutions "
                    f"(needs stride 1 on every axis), got stride={tuple(stride)}"
                )
            return same_pads(kernel, dilation)
        raise ConvError(
            f"{op}: invalid padding string {padding!r}, should be one of "
            f"{{'valid', 'same'}} or an int / per-axis ints / (low, high) pairs"
        )
    bad = ConvError(
        f"{op}: padding must be an int, a tuple of {n} ints, a tuple of {n} (low, high) pairs, "
        f"'valid' or 'same', got {padding!r}"
    )
    if is_int(padding):
        pairs = ((int(padding), int(padding)),) * n
    elif isinstance(padding, (tuple, list)) and len(padding) == n:
        pairs = []
        for p in padding:
            if is_int(p):
                pairs.append((int(p), int(p)))
            elif isinstance(p, (tuple, list)) and len(p) == 2 and all(is_int(v) for v in p):
                pairs.append((int(p[0]), int(p[1])))
            else:
                raise bad
        pairs = tuple(pairs)
    else:
        raise bad
    if any(v < 0 for pair in pairs for v in pair):
        raise ConvError(f"{op}: padding must be >= 0 on every side, got {padding!r}")
    return pairs


def _pad_pair(padding, op):
    if is_int(padding):
        return int(padding), int(padding)
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(map(is_int, padding)):
        return int(padding[0]), int(padding[1])
    raise ConvError(f"{op}: padding must be an int or a (low, high) pair, got {padding!r}")


def output_size(in_size, kernel_size, stride=1, padding=0, dilation=1) -> int:
    r"""Length of one output axis.

    .. math::
        L_{out} = \left\lfloor \frac{L_{in} + p_{lo} + p_{hi} - d\,(k-1) - 1}{s}
                  \right\rfloor + 1

    Args:
        in_size: input length ``L_in`` (>= 1).
        kernel_size: number of kernel taps ``k`` (>= 1).
        stride: ``s`` (>= 1).
        padding: an int (both sides) or a ``(low, high)`` pair.
        dilation: ``d`` (>= 1).

    Raises ConvError when an argument breaks its rule or the output would be empty.

    Examples:
        >>> output_size(10, 2, stride=2, padding=2)
        7
        >>> output_size(5, 3, padding=(1, 0))
        4
    """
    lo, hi = _pad_pair(padding, "output_size")
    if lo < 0 or hi < 0:
        raise ConvError(f"output_size: padding must be >= 0 on every side, got {padding!r}")
    (k,) = positive_tuple(kernel_size, 1, "kernel_size", "output_size")
    (s,) = positive_tuple(stride, 1, "stride", "output_size")
    (d,) = positive_tuple(dilation, 1, "dilation", "output_size")
    if not is_int(in_size) or in_size < 1:
        raise ConvError(f"output_size: in_size must be an int >= 1, got {in_size!r}")
    if length_numerator(in_size, k, d, lo, hi) < 0:
        raise ConvError(
            f"output_size: the dilated kernel extent dilation*(kernel_size-1)+1 = "
            f"{dilated_extent(k, d)} is larger than the padded input {in_size}+{lo}+{hi} = "
            f"{in_size + lo + hi}; output would be empty"
        )
    return output_length(in_size, k, s, d, lo, hi)


def max_padding(in_size: int, padding_mode: str = "zeros") -> int | None:
    """Largest padding per side ``padding_mode`` allows on an axis of ``in_size`` cells.

    reflect: ``in_size - 1`` (a border cell is not repeated); circular: ``in_size`` (wraps at
    most once); zeros and replicate: None (no limit).
    """
    if padding_mode not in PADDING_MODES:
        raise ConvError(f"max_padding: padding_mode must be one of "
                        f"{', '.join(repr(m) for m in PADDING_MODES)}, got {padding_mode!r}")
    return {"reflect": in_size - 1, "circular": in_size}.get(padding_mode)


def max_kernel_size(in_size: int, padding=0, dilation: int = 1) -> int:
    """Largest kernel size whose dilated extent ``d*(k-1)+1`` fits the padded axis."""
    lo, hi = _pad_pair(padding, "max_kernel_size")
    return (in_size + lo + hi - 1) // dilation + 1


def max_dilation(in_size: int, kernel_size: int, padding=0) -> int | None:
    """Largest dilation for which the kernel still fits the padded axis (None: any, k = 1)."""
    lo, hi = _pad_pair(padding, "max_dilation")
    if kernel_size == 1:
        return None
    return (in_size + lo + hi - 1) // (kernel_size - 1)


def valid_groups(in_channels: int, out_channels: int) -> list[int]:
    """Every ``groups`` the core accepts: the common divisors of both channel counts."""
    g = math.gcd(in_channels, out_channels)
    return [d for d in range(1, g + 1) if g % d == 0]


class PerGroup:
    """Channels per group, for a class with ``in_channels``, ``out_channels`` and ``groups``."""

    @property
    def in_per_group(self) -> int:
        return self.in_channels // self.groups

    @property
    def out_per_group(self) -> int:
        return self.out_channels // self.groups


@dataclass(frozen=True)
class ConvSpec(PerGroup):
    """A fully checked convolution: shapes and per-axis parameters as explicit tuples."""

    op: str
    batched: bool
    batch: int
    in_channels: int
    out_channels: int
    groups: int
    in_spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]
    dilation: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    padding_mode: str
    out_spatial: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.kernel)

    @property
    def padded_spatial(self) -> tuple[int, ...]:
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.in_spatial, self.pads))

    @property
    def out_shape(self) -> tuple[int, ...]:
        lead = (self.batch, self.out_channels) if self.batched else (self.out_channels,)
        return lead + self.out_spatial


def check_groups(groups, in_channels, out_channels, op):
    """``groups`` as PyTorch checks it: a positive int dividing both channel counts."""
    if not is_int(groups) or groups < 1:
        raise ConvError(f"{op}: groups must be a positive integer, got {groups!r}")
    if in_channels % groups:
        raise ConvError(
            f"{op}: in_channels must be divisible by groups, but {in_channels} input channels "
            f"do not divide into groups={groups}"
        )
    if out_channels % groups:
        raise ConvError(
            f"{op}: out_channels must be divisible by groups, but {out_channels} output channels "
            f"(weight.shape[0]) do not divide into groups={groups}"
        )


def check_mode_legal(mode, in_spatial, pads, op):
    """``mode`` is a known padding mode, and reflect/circular padding fits every axis."""
    if mode not in PADDING_MODES:
        raise ConvError(
            f"{op}: padding_mode must be one of {', '.join(repr(m) for m in PADDING_MODES)}, "
            f"got {mode!r}"
        )
    for axis, (n, (lo, hi)) in enumerate(zip(in_spatial, pads)):
        if mode == "reflect" and max(lo, hi) >= n:
            raise ConvError(
                f"{op}: padding_mode='reflect' needs padding < input extent on every side; "
                f"spatial axis {axis} has extent {n} but padding ({lo}, {hi})"
            )
        if mode == "circular" and max(lo, hi) > n:
            raise ConvError(
                f"{op}: padding_mode='circular' needs padding <= input extent on every side "
                f"(it may wrap around at most once); spatial axis {axis} has extent {n} "
                f"but padding ({lo}, {hi})"
            )


# The names other modules used before these helpers were public.
_check_groups, _check_mode_legal = check_groups, check_mode_legal


def _plain(v) -> bool:
    """True for values made only of exact ints, strings, None and tuples of those."""
    t = type(v)
    if t is int or t is str or v is None:
        return True
    return t is tuple and all(_plain(e) for e in v)


def make_spec(op, x_shape, w_shape, bias_shape=None, stride=1, padding=0, dilation=1,
              groups=1, padding_mode="zeros", spatial_dims=None) -> ConvSpec:
    """Check every argument of a convolution and return its :class:`ConvSpec`.

    ``spatial_dims`` fixes the number of spatial axes (1, 2, 3 for conv1d/2d/3d); None takes it
    from ``len(w_shape) - 2`` (convnd).  Results are cached for plain arguments (ints, strings,
    tuples): checking costs more than a small convolution.  Floats and bools are never cached,
    so ``1.0`` or ``True`` cannot borrow the entry of ``1`` and always reach the checks.
    """
    args = (op, tuple(x_shape), tuple(w_shape), None if bias_shape is None else tuple(bias_shape),
            stride, padding, dilation, groups, padding_mode, spatial_dims)
    if all(_plain(a) for a in args[4:]):
        return _make_spec_cached(*args)
    return _make_spec(*args)


def _make_spec(op, x_shape, w_shape, bias_shape, stride, padding, dilation, groups,
               padding_mode, spatial_dims) -> ConvSpec:
    if spatial_dims is None:
        if len(w_shape) < 3:
            raise ConvError(
                f"{op}: weight must have shape (C_out, C_in/groups, *kernel) with at least one "
                f"spatial axis, got weight of shape {w_shape}"
            )
        spatial_dims = len(w_shape) - 2
    n = spatial_dims
    if len(w_shape) != n + 2:
        raise ConvError(
            f"{op}: weight must be {n + 2}-D (C_out, C_in/groups, {n} kernel axes), "
            f"got weight of shape {w_shape}"
        )
    if len(x_shape) not in (n + 1, n + 2):
        raise ConvError(
            f"{op}: input must be {n + 2}-D (N, C_in, {n} spatial axes) or {n + 1}-D unbatched "
            f"(C_in, {n} spatial axes), got input of shape {x_shape}"
        )
    batched = len(x_shape) == n + 2
    batch = x_shape[0] if batched else 1
    in_channels = x_shape[-n - 1]
    in_spatial = x_shape[-n:]
    out_channels, w_in = w_shape[:2]
    kernel = w_shape[2:]
    if out_channels < 1 or w_in < 1 or any(k < 1 for k in kernel):
        raise ConvError(f"{op}: every weight dimension must be >= 1, got weight of shape {w_shape}")
    check_groups(groups, in_channels, out_channels, op)
    if w_in * groups != in_channels:
        raise ConvError(
            f"{op}: weight of shape {w_shape} with groups={groups} expects "
            f"{w_in}*{groups} = {w_in * groups} input channels, but the input has "
            f"{in_channels} channels (shape {x_shape})"
        )
    if bias_shape is not None and tuple(bias_shape) != (out_channels,):
        raise ConvError(
            f"{op}: bias must have shape ({out_channels},) (one value per output channel), "
            f"got bias of shape {tuple(bias_shape)}"
        )
    stride_t = positive_tuple(stride, n, "stride", op)
    dilation_t = positive_tuple(dilation, n, "dilation", op)
    pads = resolve_padding(padding, n, kernel, dilation_t, stride_t, op)
    if padding_mode not in PADDING_MODES:
        raise ConvError(
            f"{op}: padding_mode must be one of {', '.join(repr(m) for m in PADDING_MODES)}, "
            f"got {padding_mode!r}"
        )
    if any(s < 1 for s in in_spatial):
        raise ConvError(f"{op}: every spatial extent of the input must be >= 1, got {x_shape}")
    check_mode_legal(padding_mode, in_spatial, pads, op)
    out_spatial = []
    for axis, (size, k, s, d, (lo, hi)) in enumerate(
        zip(in_spatial, kernel, stride_t, dilation_t, pads)
    ):
        if length_numerator(size, k, d, lo, hi) < 0:
            raise ConvError(
                f"{op}: on spatial axis {axis} the dilated kernel extent "
                f"dilation*(kernel_size-1)+1 = {d}*({k}-1)+1 = {dilated_extent(k, d)} is larger "
                f"than the padded input {size}+{lo}+{hi} = {size + lo + hi}; output would be empty"
            )
        out_spatial.append(output_length(size, k, s, d, lo, hi))
    return ConvSpec(op, batched, batch, in_channels, out_channels, groups, tuple(in_spatial),
                    tuple(kernel), stride_t, dilation_t, pads, padding_mode, tuple(out_spatial))


_make_spec_cached = functools.lru_cache(maxsize=512)(_make_spec)


def output_shape(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1) -> tuple:
    """Shape of ``convnd(x, weight, ...)`` from shapes alone (batched or unbatched ``x_shape``).

    Examples:
        >>> output_shape((1, 1, 10), (2, 1, 2), stride=2, padding=2)
        (1, 2, 7)
    """
    return make_spec("output_shape", x_shape, weight_shape, None, stride, padding, dilation,
                     groups).out_shape


def check_dtype(name, dtype, op):
    if dtype.char not in "efd":  # float16, float32, float64
        raise ConvError(
            f"{op}: {name} must have a floating dtype ({', '.join(FLOAT_DTYPES)}), got {dtype}"
        )


def prod(values) -> int:
    return math.prod(values)
