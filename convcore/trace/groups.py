"""How groups wire input channels to output channels, and the weight in each framework's
layout (PyTorch, PuzzleLib, MegEngine)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..errors import ConvError
from ..params import PerGroup, check_groups, is_int, positive_tuple


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
    check_groups(groups, in_channels, out_channels, "group_map")
    kernel = (kernel_size,) if is_int(kernel_size) else tuple(kernel_size)
    kernel = positive_tuple(kernel, len(kernel), "kernel_size", "group_map")
    cg, og = in_channels // groups, out_channels // groups
    edges = tuple((i, o) for o in range(out_channels)
                  for i in range((o // og) * cg, (o // og + 1) * cg))
    return GroupMap(in_channels, out_channels, groups, kernel, edges)


def to_megengine(w, groups):
    """PyTorch layout ``(C_out, C_in/g, *k)`` → MegEngine grouped ``(g, C_out/g, C_in/g, *k)``."""
    if not is_int(groups) or groups < 1 or w.shape[0] % groups:
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
