"""Numbers, indices and index lists as a learner reads them: one spelling for the whole project.

Numbers use the typographic minus sign "−" (U+2212) and at most four significant digits;
non-finite values are written ``inf``, ``−inf`` and ``nan``.  Indices are written as Python
writes them (``x[0,-2]``: ASCII hyphen), because they are code a reader may copy.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal

from .errors import ConvError, shown

MINUS = "−"


def format_number(value, digits: int = 4) -> str:
    """A number as a learner would write it.

    Args:
        value: any real number (Python, NumPy or a 0-d array).
        digits: significant digits for non-integers (1..30).

    Integers below 10**15 are written in full, zero (also ``-0.0``) as ``0``.

    Examples:
        >>> [format_number(v) for v in (2.0, -1.5, 1 / 3, -0.0, 1e20, float("-inf"))]
        ['2', '−1.5', '0.3333', '0', '1e+20', '−inf']
    """
    if type(digits) is not int or not 1 <= digits <= 30:
        raise ConvError(f"format_number: digits must be an int in 1..30, got {shown(digits)}")
    if isinstance(value, (bool, complex)) or not _is_real(value):
        raise ConvError(f"format_number: value must be a real number, got {shown(value, 80)}")
    try:
        v = float(value)
    except OverflowError:  # an exact number beyond float range (a huge int or Fraction)
        exact = (Decimal(value.numerator) / Decimal(value.denominator)).normalize()
        return format(exact, f".{digits}g").replace("-", MINUS)
    if v == 0:
        return "0"
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else f"{MINUS}inf"
    if v.is_integer() and abs(v) < 1e15:
        return str(int(v)).replace("-", MINUS)
    return f"{v:.{digits}g}".replace("-", MINUS)


def _is_real(value) -> bool:
    if isinstance(value, numbers.Real):
        return True
    dtype = getattr(value, "dtype", None)
    return getattr(value, "shape", None) == () and getattr(dtype, "kind", "") in "biuf"


def _indices(indices, op: str, least: int = 0) -> list:
    """``indices`` as a list of ints (a ``range`` stays lazy), else ConvError."""
    if isinstance(indices, range):
        if len(indices) < least:
            raise ConvError(f"{op}: needs at least {least} index, got {indices!r}")
        return indices
    try:
        values = list(indices)
    except TypeError:
        values = None
    if (values is None or len(values) < least
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                       for v in values)):
        raise ConvError(f"{op}: indices must be a sequence of ints"
                        f"{' (not empty)' if least else ''}, got {shown(indices)}")
    return values


def format_index(index) -> str:
    """An index tuple as it appears inside brackets: ``(0, -2, 3)`` -> ``0,-2,3``.

    Examples:
        >>> format_index((0, -2, 3))
        '0,-2,3'
    """
    return ",".join(str(int(i)) for i in _indices(index, "format_index"))


def format_span(indices) -> str:
    """The first and last of a non-empty run of indices: ``3`` or ``3–7`` (an en dash).

    ``indices`` is any sequence (a ``range`` too, so a long run costs nothing).

    Examples:
        >>> format_span([4]), format_span(range(3, 8))
        ('4', '3–7')
    """
    values = _indices(indices, "format_span", least=1)
    if len(values) == 1:
        return f"{int(values[0])}"
    return f"{int(values[0])}–{int(values[-1])}"


def format_list(indices, most: int = 8) -> str:
    """At most ``most`` indices, then how many more: ``0, 2, 4, … (5 more)``.

    Examples:
        >>> format_list(range(0, 20, 2), most=3)
        '0, 2, 4, … (7 more)'
    """
    if type(most) is not int or most < 0:
        raise ConvError(f"format_list: most must be an int >= 0, got {shown(most)}")
    values = _indices(indices, "format_list")
    shown_part = ", ".join(str(int(i)) for i in values[:most])
    return shown_part + (f", … ({len(values) - most} more)" if len(values) > most else "")


def format_equation(out_index, bias, terms, value, label, max_terms: int = 24,
                    op: str = "equation") -> str:
    """One output cell's arithmetic as one line: ``out[0,2] = b(0.5) + x[0,1]·w[0,0,2] (1·3)
    + … = 13.5``.

    Args:
        out_index: the output cell's index.
        bias, value: the bias added and the cell's value.
        terms: the products summed, each with ``x``, ``w`` and ``product`` (a trace's taps or
            stamps); ``label(term)`` writes what it multiplies (``x[0,1]·w[0,0,2]``).
        max_terms: terms written out; the rest is one term with its count and sum.

    Examples:
        >>> from types import SimpleNamespace as T
        >>> terms = [T(x=1, w=3, product=3), T(x=10, w=1, product=10)]
        >>> format_equation((0, 2), 0.5, terms, 13.5, lambda t: f"x·w", max_terms=1)
        'out[0,2] = b(0.5) + x·w (1·3) + … 1 more terms (Σ 10) = 13.5'
    """
    if type(max_terms) is bool or not isinstance(max_terms, numbers.Integral) or max_terms < 0:
        raise ConvError(f"{op}: max_terms must be an int >= 0, got {shown(max_terms)}")
    shown_terms = [f"b({format_number(bias)})"]
    shown_terms += [f"{label(t)} ({format_number(t.x)}·{format_number(t.w)})"
                    for t in terms[:int(max_terms)]]
    rest = terms[int(max_terms):]
    if rest:
        shown_terms.append(f"… {len(rest)} more terms "
                           f"(Σ {format_number(sum(t.product for t in rest))})")
    return (f"out[{format_index(out_index)}] = " + " + ".join(shown_terms)
            + f" = {format_number(value)}")
