"""Why the output has its shape: the output-length formula with the user's numbers in it, the
remainder the floor discards, and what that costs, in plain words."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConvError
from ..geometry import dilated_extent, length_numerator, output_length
from ..params import MAX_SPATIAL_DIMS, as_shape, positive_tuple, resolve_padding
from ..text import format_list, format_span
from .windows import unread_cells

AXIS_NAMES = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


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
    Memory does not grow with the input: unread cells are counted block by block.

    Examples:
        >>> explain_shape(10, 2, stride=2, padding=2).text
        'L_out = floor((10 + 2 + 2 − 1·(2−1) − 1) / 2) + 1 = floor(12/2) + 1 = 7'
    """
    op = "explain_shape"
    in_spatial = as_shape(in_spatial, "in_spatial", op, least=1)
    nd = len(in_spatial)
    if nd > MAX_SPATIAL_DIMS:
        raise ConvError(f"{op}: in_spatial may have at most {MAX_SPATIAL_DIMS} axes, got {nd}")
    kernel = positive_tuple(kernel_size, nd, "kernel_size", op)
    strides = positive_tuple(stride, nd, "stride", op)
    dils = positive_tuple(dilation, nd, "dilation", op)
    pads = resolve_padding(padding, nd, kernel, dils, strides, op)
    names = AXIS_NAMES.get(nd, tuple(f"S{i}" for i in range(nd)))
    axes = [explain_axis(name, int(n), k, s, d, lo, hi)
            for name, n, k, s, d, (lo, hi) in zip(names, in_spatial, kernel, strides, dils, pads)]
    return ShapeExplanation(
        axes=tuple(axes), out_spatial=tuple(a.out_size for a in axes),
        text="\n".join(a.text for a in axes), latex=r" \\ ".join(a.latex for a in axes),
        warnings=tuple(w for a in axes for w in a.warnings),
    )


def explain_axis(name: str, n: int, k: int, s: int, d: int, lo: int, hi: int) -> AxisShape:
    """The :class:`AxisShape` of one axis with checked, resolved values."""
    span = dilated_extent(k, d)
    num = length_numerator(n, k, d, lo, hi)
    out = output_length(n, k, s, d, lo, hi)
    warnings = []
    if num < 0:
        rem = 0
        warnings.append(f"{name}: the dilated kernel spans {span} cells but the padded input "
                        f"has only {n + lo + hi}: the output would be empty.")
    else:
        rem = num % s
        cells = unread_cells(n, k, s, d, lo, out)
        if rem:
            lost = cells.dropped_tail
            many = len(lost) > 1
            what = (f"input cell{'s' if many else ''} {format_span(lost)} "
                    f"{'are' if many else 'is'} never read" if lost else "only padding is lost")
            warnings.append(f"{name}: the floor discards a remainder of {rem}: the window "
                            f"cannot take one more step of {s}, so the last {rem} padded "
                            f"cell{'s' if rem > 1 else ''} fit no window ({what}).")
        why = (f"stride {s} is larger than the window span {span}" if s > span
               else f"dilation {d} leaves gaps that stride {s} never fills")
        if cells.skipped:
            many = cells.skipped > 1
            shown = format_list(cells.first_skipped) + (
                f", … ({cells.skipped - len(cells.first_skipped)} more)"
                if cells.skipped > len(cells.first_skipped) else "")
            warnings.append(f"{name}: {why}: {cells.skipped} input cell{'s' if many else ''} "
                            f"between windows {'are' if many else 'is'} never read "
                            f"(ind{'ices' if many else 'ex'} {shown}).")
        elif cells.skipped is None:
            warnings.append(f"{name}: {why} may leave input cells between windows unread; an "
                            f"axis of {n} cells is too long to list them.")
        if max(lo, hi) >= span:
            warnings.append(f"{name}: padding {max(lo, hi)} ≥ window span {span}: some "
                            f"outputs see nothing but padding.")
    text = (f"{name}_out = floor(({n} + {lo} + {hi} − {d}·({k}−1) − 1) / {s}) + 1 = "
            f"floor({num}/{s}) + 1 = {out}" if num >= 0 else
            f"{name}_out: {n} + {lo} + {hi} − {d}·({k}−1) − 1 = {num} < 0 → empty")
    latex = (rf"{name}_{{out}} = \left\lfloor \frac{{{n} + {lo} + {hi} - {d}\cdot({k}-1) - 1}}"
             rf"{{{s}}} \right\rfloor + 1 = \left\lfloor \frac{{{num}}}{{{s}}} \right\rfloor"
             rf" + 1 = {out}")
    return AxisShape(name, n, (lo, hi), k, d, s, num, out, rem, text, latex, tuple(warnings))
