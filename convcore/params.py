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
from dataclasses import dataclass, fields

from .errors import ConvError, shown
from .geometry import dilated_extent, length_numerator, output_length
from .padding_modes import PADDING_MODES, check_pads, mode_of  # noqa: F401 - public here

PADDING_STRINGS = ("valid", "same")
COMPUTE_MODES = ("default", "float32")
FLOAT_DTYPES = ("float16", "float32", "float64")


def is_int(v) -> bool:
    """True for Python and NumPy integers, False for bools (``True`` is not a stride)."""
    return type(v) is int or (isinstance(v, numbers.Integral) and not isinstance(v, bool))


_is_int = is_int  # the name other modules used before it was public

MAX_SPATIAL_DIMS = 32  # NumPy arrays have at most 64 axes; a convolution's weight has 2 + this


def ntuple(value, n: int, name: str, op: str = "conv") -> tuple[int, ...]:
    """``value`` as a tuple of ``n`` ints: an int is repeated, a sequence must have length ``n``."""
    if not is_int(n) or not 0 <= n <= MAX_SPATIAL_DIMS:
        raise ConvError(f"{op}: the number of spatial axes must be an int in "
                        f"0..{MAX_SPATIAL_DIMS}, got {shown(n)}")
    if is_int(value):
        return (int(value),) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(is_int(v) for v in value):
        return tuple(int(v) for v in value)
    raise ConvError(
        f"{op}: {name} must be an int or a tuple of {n} int{'s' if n > 1 else ''} "
        f"(one per spatial axis), got {shown(value)}"
    )


def positive_tuple(value, n: int, name: str, op: str = "conv") -> tuple[int, ...]:
    """Like :func:`ntuple`, and every entry must be >= 1 (stride, dilation, kernel size)."""
    t = ntuple(value, n, name, op)
    if any(v < 1 for v in t):
        raise ConvError(f"{op}: {name} must be >= 1 on every axis, got {shown(value)}")
    return t


def as_shape(value, name: str, op: str, least: int = 0) -> tuple[int, ...]:
    """``value`` (an int or a sequence of ints, each >= ``least``) as a tuple of Python ints."""
    if is_int(value):
        value = (value,)
    try:
        shape = tuple(value)
    except TypeError:
        shape = None
    if (shape is None or not 1 <= len(shape) <= 2 + MAX_SPATIAL_DIMS
            or not all(is_int(v) and v >= least for v in shape)):
        raise ConvError(f"{op}: {name} must be an int or a sequence of ints >= {least}, "
                        f"got {shown(value)}")
    return tuple(int(v) for v in shape)


def check_padding_mode(mode, op: str) -> str:
    """``mode`` if it is one of :data:`PADDING_MODES`, else ConvError."""
    return mode_of(mode, op).name


def same_pads(kernel, dilation) -> tuple[tuple[int, int], ...]:
    """Pads that keep the length at stride 1: total ``d*(k-1)``, the odd extra on the high side."""
    pairs = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pairs.append((total // 2, total - total // 2))
    return tuple(pairs)


def tf_same_pads(in_spatial, kernel_size, stride=1, dilation=1) -> tuple[tuple[int, int], ...]:
    r"""TensorFlow's and JAX's ``padding="SAME"`` as explicit ``(low, high)`` pairs, any stride.

    Per axis, with input length :math:`n`, kernel :math:`k`, stride :math:`s`, dilation
    :math:`d`:

    .. math::
        L_{out} = \lceil n / s \rceil, \qquad
        p = \max\bigl((L_{out} - 1)\,s + d(k - 1) + 1 - n,\ 0\bigr), \qquad
        p_{lo} = \lfloor p / 2 \rfloor, \quad p_{hi} = p - p_{lo}

    (the odd pad goes on the high side).  At stride 1 these are PyTorch's ``padding='same'``
    pads; PyTorch refuses ``'same'`` with a stride > 1, where these pads, given explicitly,
    compute what TensorFlow and JAX compute.

    Args:
        in_spatial: the input's spatial shape (one length >= 1 per axis).
        kernel_size, stride, dilation: an int or one per axis, each >= 1.

    Examples:
        >>> tf_same_pads((6,), 3, stride=2)      # out = 3: 2*2 + 3 - 6 = 1 cell of padding
        ((0, 1),)
        >>> tf_same_pads((5, 7), (3, 2), stride=2, dilation=(1, 3))
        ((1, 1), (1, 2))
    """
    op = "tf_same_pads"
    shape = as_shape(in_spatial, "in_spatial", op, least=1)
    n = len(shape)
    kernel = positive_tuple(kernel_size, n, "kernel_size", op)
    strides = positive_tuple(stride, n, "stride", op)
    dilations = positive_tuple(dilation, n, "dilation", op)
    pairs = []
    for size, k, s, d in zip(shape, kernel, strides, dilations):
        out = -(-size // s)
        total = max((out - 1) * s + dilated_extent(k, d) - size, 0)
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
            f"{op}: invalid padding string {shown(padding)}, should be one of "
            f"{{'valid', 'same'}} or an int / per-axis ints / (low, high) pairs"
        )
    bad = ConvError(
        f"{op}: padding must be an int, a tuple of {n} ints, a tuple of {n} (low, high) pairs, "
        f"'valid' or 'same', got {shown(padding)}"
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
        raise ConvError(f"{op}: padding must be >= 0 on every side, got {shown(padding)}")
    return pairs


def _pad_pair(padding, op):
    if is_int(padding):
        return int(padding), int(padding)
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(map(is_int, padding)):
        return int(padding[0]), int(padding[1])
    raise ConvError(f"{op}: padding must be an int or a (low, high) pair, got {shown(padding)}")


def _axis_args(op, in_size, padding, size_name="in_size", **positive):
    """Checked ``in_size`` (>= 1, called ``size_name``), padding pair (>= 0) and named positive
    ints of one axis."""
    if not is_int(in_size) or in_size < 1:
        raise ConvError(f"{op}: {size_name} must be an int >= 1, got {shown(in_size)}")
    lo, hi = _pad_pair(padding, op)
    if lo < 0 or hi < 0:
        raise ConvError(f"{op}: padding must be >= 0 on every side, got {shown(padding)}")
    values = [positive_tuple(v, 1, name, op)[0] for name, v in positive.items()]
    return (int(in_size), lo, hi, *values)


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
        raise ConvError(f"output_size: padding must be >= 0 on every side, got {shown(padding)}")
    (k,) = positive_tuple(kernel_size, 1, "kernel_size", "output_size")
    (s,) = positive_tuple(stride, 1, "stride", "output_size")
    (d,) = positive_tuple(dilation, 1, "dilation", "output_size")
    if not is_int(in_size) or in_size < 1:
        raise ConvError(f"output_size: in_size must be an int >= 1, got {shown(in_size)}")
    in_size = int(in_size)
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
    most once); zeros and replicate: None (no limit) — see :mod:`convcore.padding_modes`.
    """
    row = mode_of(padding_mode, "max_padding")
    return row.max_pad(_axis_args("max_padding", in_size, 0)[0])


def max_kernel_size(in_size: int, padding=0, dilation: int = 1) -> int:
    """Largest kernel size whose dilated extent ``d*(k-1)+1`` fits the padded axis.

    Examples:
        >>> max_kernel_size(6, 2, dilation=3)
        4
    """
    in_size, lo, hi, d = _axis_args("max_kernel_size", in_size, padding, dilation=dilation)
    return (in_size + lo + hi - 1) // d + 1


def max_dilation(in_size: int, kernel_size: int, padding=0) -> int | None:
    """Largest dilation for which the kernel still fits the padded axis.

    None when any dilation fits (``kernel_size`` 1); 0 when not even dilation 1 does.

    Examples:
        >>> max_dilation(6, 3), max_dilation(6, 8), max_dilation(6, 1)
        (2, 0, None)
    """
    in_size, lo, hi, k = _axis_args("max_dilation", in_size, padding, kernel_size=kernel_size)
    if k == 1:
        return None
    return (in_size + lo + hi - 1) // (k - 1)


MAX_GROUP_DIVISOR_SEARCH = 10**10  # divisors are found by trial division up to its square root


def valid_groups(in_channels: int, out_channels: int) -> list[int]:
    """Every ``groups`` the core accepts: the common divisors of both channel counts.

    Examples:
        >>> valid_groups(12, 18)
        [1, 2, 3, 6]
    """
    for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
        if not is_int(v) or v < 1:
            raise ConvError(f"valid_groups: {name} must be an int >= 1, got {shown(v)}")
    g = math.gcd(int(in_channels), int(out_channels))
    if g > MAX_GROUP_DIVISOR_SEARCH:
        raise ConvError(f"valid_groups: channel counts with a common divisor above "
                        f"{MAX_GROUP_DIVISOR_SEARCH} are not supported, got gcd({in_channels}, "
                        f"{out_channels}) = {g}")
    small = [d for d in range(1, math.isqrt(g) + 1) if g % d == 0]
    return sorted(set(small + [g // d for d in small]))


class PerGroup:
    """Channels per group, for a class with ``in_channels``, ``out_channels`` and ``groups``."""

    @property
    def in_per_group(self) -> int:
        return self.in_channels // self.groups

    @property
    def out_per_group(self) -> int:
        return self.out_channels // self.groups


@dataclass(frozen=True)
class LayerSpec(PerGroup):
    """What a checked convolution and a checked transposed one (``TransposeSpec``) share:
    the call, its shapes and strides; each adds its own padding and ``out_spatial``."""

    op: str
    batched: bool
    batch: int
    in_channels: int
    out_channels: int
    groups: int
    in_spatial: tuple[int, ...]
    kernel: tuple[int, ...]
    stride: tuple[int, ...]

    @property
    def ndim(self) -> int:
        return len(self.kernel)

    @property
    def out_shape(self) -> tuple[int, ...]:
        lead = (self.batch, self.out_channels) if self.batched else (self.out_channels,)
        return lead + self.out_spatial


@dataclass(frozen=True)
class ConvSpec(LayerSpec):
    """A fully checked convolution: shapes and per-axis parameters as explicit tuples."""

    dilation: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    padding_mode: str
    out_spatial: tuple[int, ...]

    @property
    def padded_spatial(self) -> tuple[int, ...]:
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.in_spatial, self.pads))

    def __hash__(self):
        # Specs key several caches on every call: hash the fields once, not at every lookup.
        try:
            return self.__dict__["_hash"]
        except KeyError:
            value = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_hash", value)
            return value

    def __getstate__(self):
        state = dict(self.__dict__)
        state.pop("_hash", None)  # string hashes differ between processes
        return state


def check_groups(groups, in_channels, out_channels, op):
    """``groups`` as PyTorch checks it: a positive int dividing both channel counts."""
    if not is_int(groups) or groups < 1:
        raise ConvError(f"{op}: groups must be a positive integer, got {shown(groups)}")
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


check_mode_legal = check_pads  # ``mode`` is known and its most padding holds on every axis


# The names other modules used before these helpers were public.
_check_groups, _check_mode_legal = check_groups, check_mode_legal


def _plain(v, depth: int = 2) -> bool:
    """True for exact ints, strings, None and tuples of those (nested at most ``depth`` deep)."""
    t = type(v)
    if t is int or t is str or v is None:
        return True
    return t is tuple and depth > 0 and all(_plain(e, depth - 1) for e in v)


def make_spec(op, x_shape, w_shape, bias_shape=None, stride=1, padding=0, dilation=1,
              groups=1, padding_mode="zeros", spatial_dims=None) -> ConvSpec:
    """Check every argument of a convolution and return its :class:`ConvSpec`.

    ``spatial_dims`` fixes the number of spatial axes (1, 2, 3 for conv1d/2d/3d); None takes it
    from ``len(w_shape) - 2`` (convnd).  Results are cached for plain arguments (ints, strings,
    tuples): checking costs more than a small convolution.  Floats and bools are never cached,
    so ``1.0`` or ``True`` cannot borrow the entry of ``1`` and always reach the checks.
    """
    if not (_int_tuple(x_shape) and _int_tuple(w_shape)
            and (bias_shape is None or _int_tuple(bias_shape))):  # array shapes always are
        x_shape, w_shape = as_shape(x_shape, "input shape", op), as_shape(w_shape, "weight shape",
                                                                           op)
        bias_shape = None if bias_shape is None else _bias_shape(bias_shape, op)
    return spec_of(op, x_shape, w_shape, bias_shape, stride, padding, dilation, groups,
                   padding_mode, spatial_dims)


def spec_of(op, x_shape, w_shape, bias_shape, stride, padding, dilation, groups, padding_mode,
            spatial_dims) -> ConvSpec:
    """:func:`make_spec` for shapes that are tuples of Python ints (the shapes of arrays)."""
    args = (op, x_shape, w_shape, bias_shape, stride, padding, dilation, groups, padding_mode,
            spatial_dims)
    if all(_plain(a) for a in args[4:]):
        return _make_spec_cached(*args)
    return _make_spec(*args)


def _int_tuple(shape) -> bool:
    return type(shape) is tuple and all(type(v) is int and v >= 0 for v in shape)


def _bias_shape(shape, op):
    """A bias shape may be ``()`` (a 0-d bias, refused later with its shape in the message)."""
    return () if isinstance(shape, tuple) and shape == () else as_shape(shape, "bias shape", op)


def _make_spec(op, x_shape, w_shape, bias_shape, stride, padding, dilation, groups,
               padding_mode, spatial_dims) -> ConvSpec:
    if spatial_dims is not None and (not is_int(spatial_dims)
                                     or not 1 <= spatial_dims <= MAX_SPATIAL_DIMS):
        raise ConvError(f"{op}: spatial_dims must be None or an int in 1..{MAX_SPATIAL_DIMS}, "
                        f"got {shown(spatial_dims)}")
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
    check_padding_mode(padding_mode, op)
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
