"""What one call costs in arithmetic: multiply-adds, from shapes alone."""

from __future__ import annotations

import math

from ..errors import ConvError
from ..params import ConvSpec, make_spec, shown


def multiply_adds(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1) -> int:
    """Multiply-adds of one call: N · C_out · prod(out_spatial) · C_in/groups · prod(kernel).

    Examples:
        >>> multiply_adds((1, 4, 10), (6, 2, 3), groups=2)
        288
    """
    spec = make_spec("multiply_adds", x_shape, weight_shape, None, stride, padding, dilation,
                     groups)
    return multiply_adds_of(spec)


def multiply_adds_of(spec: ConvSpec) -> int:
    """:func:`multiply_adds` of a resolved spec."""
    if not isinstance(spec, ConvSpec):
        raise ConvError(f"multiply_adds: spec must be a ConvSpec, got {shown(spec)}")
    return (spec.batch * spec.out_channels * math.prod(spec.out_spatial) * spec.in_per_group
            * math.prod(spec.kernel))
