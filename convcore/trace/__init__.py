"""The teaching model: what meets at every output cell, why the output has its shape, and how
groups wire channels — as plain host (NumPy) data for figure builders and tests.

Nothing here re-derives the convolution's rules: parameters go through the same checks as the
core (:func:`convcore.params.make_spec`), window positions come from
:mod:`convcore.geometry`, and padded values from the core's own padding.  Each public function
resolves its arguments once and hands the resolved :class:`~convcore.params.ConvSpec` to a
``*_of(spec, ...)`` function, which an app holding a spec can call directly.

One module per idea: :mod:`.steps` (one output cell and its equation), :mod:`.windows` (window
map and coverage), :mod:`.shape` (the shape formula explained), :mod:`.groups` (wiring and
framework layouts), :mod:`.padding` (padding sources and the dilated kernel), :mod:`.cost`
(multiply-adds).

Examples:
    >>> import convcore.trace as tr
    >>> tr.explain_shape(5, 3, padding=1).out_spatial
    (5,)
"""

from ..params import ntuple
from .cost import multiply_adds, multiply_adds_of
from .groups import (
    GroupMap,
    from_megengine,
    from_puzzlelib_1d,
    group_map,
    to_megengine,
    to_puzzlelib_1d,
)
from .padding import PaddedInput, dilated_kernel, padded_input, source_map
from .shape import AXIS_NAMES, AxisShape, ShapeExplanation, explain_shape
from .steps import Step, Tap, equation, trace_step, trace_step_of
from .windows import (
    AxisCoverage,
    Coverage,
    WindowMap,
    coverage,
    coverage_of,
    window_map,
    window_map_of,
)

__all__ = [
    "AXIS_NAMES", "AxisCoverage", "AxisShape", "Coverage", "GroupMap", "PaddedInput",
    "ShapeExplanation", "Step", "Tap", "WindowMap", "coverage", "coverage_of", "dilated_kernel",
    "equation", "explain_shape", "from_megengine", "from_puzzlelib_1d", "group_map",
    "multiply_adds", "multiply_adds_of", "ntuple", "padded_input", "source_map", "to_megengine",
    "to_puzzlelib_1d", "trace_step", "trace_step_of", "window_map", "window_map_of",
]
