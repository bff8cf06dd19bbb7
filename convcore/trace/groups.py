"""How groups wire input channels to output channels, and the weight in each framework's
layout (PyTorch, PuzzleLib, MegEngine)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..backend import to_numpy
from ..budget import require
from ..errors import ConvError
from ..params import MAX_SPATIAL_DIMS, PerGroup, as_shape, check_groups, is_int, shown

EDGE_BYTES = 120  # one (in, out) pair: a 2-tuple of ints, in a tuple


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


def group_map(in_channels, out_channels, groups, kernel_size=(3,), *, max_bytes=None) -> GroupMap:
    """The wiring of a grouped convolution (checked like the core checks ``groups``).

    Examples:
        >>> group_map(4, 2, 2).inputs_of(1)
        (2, 3)
    """
    op = "group_map"
    for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
        if not is_int(v) or v < 1:
            raise ConvError(f"{op}: {name} must be an int >= 1, got {shown(v)}")
    in_channels, out_channels = int(in_channels), int(out_channels)
    check_groups(groups, in_channels, out_channels, op)
    groups = int(groups)
    kernel = as_shape(kernel_size, "kernel_size", op, least=1)
    if len(kernel) > MAX_SPATIAL_DIMS:
        raise ConvError(f"{op}: kernel_size may have at most {MAX_SPATIAL_DIMS} axes, got "
                        f"{len(kernel)}")
    cg, og = in_channels // groups, out_channels // groups
    require(op, f"the wiring of {out_channels * cg} (input, output) channel pairs",
            out_channels * cg * EDGE_BYTES, max_bytes)
    edges = tuple((i, o) for o in range(out_channels)
                  for i in range((o // og) * cg, (o // og + 1) * cg))
    return GroupMap(in_channels, out_channels, groups, kernel, edges)


def _weight(w, op: str, least_ndim: int):
    """``w`` as an array (NumPy and CuPy arrays as they are) with at least ``least_ndim`` axes."""
    if type(w).__module__.split(".")[0] not in ("numpy", "cupy"):
        w = to_numpy(w)
    if getattr(w, "ndim", -1) < least_ndim:
        raise ConvError(f"{op}: weight must be an array with at least {least_ndim} axes, got "
                        f"{shown(getattr(w, 'shape', w))}")
    return w


def to_megengine(w, groups):
    """PyTorch layout ``(C_out, C_in/g, *k)`` → MegEngine grouped ``(g, C_out/g, C_in/g, *k)``."""
    w = _weight(w, "to_megengine", 3)
    if not is_int(groups) or groups < 1 or w.shape[0] % groups:
        raise ConvError(f"to_megengine: groups must divide C_out = {w.shape[0]}, got "
                        f"{shown(groups)}")
    groups = int(groups)
    return w.reshape((groups, w.shape[0] // groups) + tuple(w.shape[1:]))


def from_megengine(w):
    """MegEngine grouped ``(g, C_out/g, C_in/g, *k)`` → PyTorch ``(C_out, C_in/g, *k)``."""
    w = _weight(w, "from_megengine", 4)
    return w.reshape((w.shape[0] * w.shape[1],) + tuple(w.shape[2:]))


def to_puzzlelib_1d(w):
    """PyTorch 1-D ``(C_out, C_in/g, k)`` → PuzzleLib ``(C_out, C_in/g, 1, k)``."""
    w = _weight(w, "to_puzzlelib_1d", 0)
    if w.ndim != 3:
        raise ConvError(f"to_puzzlelib_1d: weight must be 3-D (C_out, C_in/g, k), got {w.shape}")
    return w[:, :, None, :]


def from_puzzlelib_1d(w):
    """PuzzleLib ``(C_out, C_in/g, 1, k)`` → PyTorch 1-D ``(C_out, C_in/g, k)``."""
    w = _weight(w, "from_puzzlelib_1d", 0)
    if w.ndim != 4 or w.shape[2] != 1:
        raise ConvError(f"from_puzzlelib_1d: weight must be (C_out, C_in/g, 1, k), got {w.shape}")
    return w[:, :, 0, :]
