"""What one page run may cost, checked from shapes before anything is computed.

Every control is bounded, but their product is not: 4 items × 64 maps × 1024² with a 31×31
kernel would keep a server busy for minutes while every other student waits.  So before the
model computes, :func:`check` weighs the configuration — input and output values, the core's
multiply-adds (``cc.multiply_adds``), the bytes the core would allocate
(``cc.estimate_memory``) — and refuses with a :class:`BudgetError` that names the
parameter, the rule, the value and a concrete way back under the budget.  Pure: no Streamlit.
"""

from __future__ import annotations

import math

import convcore as cc
from app.shared.sources import SourceError

MAX_INPUT_VALUES = 4 * 1024 * 1024  # N · C_in · spatial, as for uploads
MAX_OUTPUT_VALUES = 4 * 1024 * 1024  # N · C_out · spatial
MAX_MULTIPLY_ADDS = 2_000_000_000  # about 0.1–0.3 s of im2col on one core of this class
# What one page run's convolution may allocate (the core's own default budget is 2 GiB per
# call): the core chooses its algorithm within it, and a layer that fits nowhere is refused.
# Within the controls' limits the largest estimate is ~156 MiB (an FFT of 4·1024² by 31×31).
MAX_BYTES = 256 * 2**20
# The transposed view's scene travels cell for cell (no subsampling): the values it may hold.
# The forward scenes' budgets are the rank table's (ranks.Rank.exact_values: 400,000, 660,000
# in 3-D for its one output map); the transposed 3-D view was measured at up to 400,000.
MAX_TRANSPOSED_VALUES = 400_000


class BudgetError(SourceError):
    """A configuration that would cost more than one page run may; the message says why and
    what to change."""


def _shape_text(shape) -> str:
    return "·".join(str(int(v)) for v in shape)


def _count(n: float) -> str:
    return f"{n:,.0f}" if n < 1e7 else f"{n:.3g}"


def check_input(x_shape: tuple) -> None:
    """Raise :class:`BudgetError` when an input of ``x_shape`` (N, C, *spatial) is too big to
    make (checked before an arange or random input is generated)."""
    values = math.prod(x_shape)
    if values > MAX_INPUT_VALUES:
        n, c, *spatial = x_shape
        side = math.isqrt(MAX_INPUT_VALUES // max(1, n * c)) if len(spatial) == 2 else None
        hint = (f"e.g. size {side}×{side}" if side else
                f"e.g. length {MAX_INPUT_VALUES // max(1, n * c):,}")
        raise BudgetError(
            f"input: N·C_in·{'·'.join('HW' if len(spatial) == 2 else 'L')} = "
            f"{_shape_text(x_shape)} = {_count(values)} values; the explorer holds at most "
            f"{_count(MAX_INPUT_VALUES)} per input. Use fewer items or maps, or a smaller "
            f"input ({hint} with N={n}, C_in={c}).")


def check_memory(x_shape: tuple, w_shape: tuple, stride, padding, dilation, groups,
                 padding_mode: str = "zeros") -> cc.MemoryEstimate:
    """The core's estimate of what the convolution allocates, with the algorithm it would
    choose within :data:`MAX_BYTES`; :class:`BudgetError` when no algorithm fits."""
    estimate = cc.estimate_memory(x_shape, w_shape, stride, padding, dilation, groups,
                                  padding_mode, max_bytes=MAX_BYTES)
    if estimate.total > MAX_BYTES:
        raise BudgetError(
            f"memory: this layer would allocate {cc.format_bytes(estimate.total)} "
            f"({estimate.describe()}); one page run may use {cc.format_bytes(MAX_BYTES)}. "
            "Use less padding, a smaller input or fewer items.")
    return estimate


def check(x_shape: tuple, w_shape: tuple, stride, padding, dilation, groups,
          padding_mode: str = "zeros") -> int:
    """Raise :class:`BudgetError` when the convolution of ``x_shape`` (N, C, *spatial) with
    ``w_shape`` is over budget; return its multiply-adds otherwise.  Invalid layers are left to
    the core (``cc.ConvError``)."""
    check_input(x_shape)
    out_shape = cc.output_shape(x_shape, w_shape, stride, padding, dilation, groups)
    outs = math.prod(out_shape)
    if outs > MAX_OUTPUT_VALUES:
        raise BudgetError(
            f"output: N·C_out·spatial = {_shape_text(out_shape)} = {_count(outs)} values; the "
            f"explorer shows at most {_count(MAX_OUTPUT_VALUES)}. Use fewer output maps "
            f"(at most {max(1, MAX_OUTPUT_VALUES // max(1, outs // out_shape[1]))}), or a "
            "larger stride.")
    macs = cc.multiply_adds(x_shape, w_shape, stride, padding, dilation, groups)
    if macs > MAX_MULTIPLY_ADDS:
        factor = macs / MAX_MULTIPLY_ADDS
        cout, cin_g, *kernel = w_shape
        ideas = []
        if cout > 1:
            ideas.append(f"output maps {max(1, int(cout / factor))}")
        if any(k > 1 for k in kernel):
            smaller = [max(1, int(k / factor ** (1 / len(kernel)))) for k in kernel]
            ideas.append(f"kernel size {'×'.join(map(str, smaller))}")
        options = [g for g in cc.valid_groups(x_shape[1], cout) if g >= factor * groups]
        if options:
            ideas.append(f"groups={options[0]}")
        raise BudgetError(
            f"compute: N·C_out·outputs·(C_in/groups)·taps = {_count(macs)} multiply-adds "
            f"({_shape_text(out_shape)} outputs × {cin_g}·{'·'.join(map(str, kernel))} taps); "
            f"one page run may do {_count(MAX_MULTIPLY_ADDS)}, {factor:.1f}× less. Try "
            + (", or ".join(ideas) if ideas else "a smaller input") + ".")
    check_memory(x_shape, w_shape, stride, padding, dilation, groups, padding_mode)
    return macs


def check_transposed(x_shape: tuple, w_shape: tuple, stride, padding, output_padding, dilation,
                     groups) -> int:
    """:func:`check` for ``cc.conv_transposend``: ``w_shape`` is ``(C_in, C_out/groups, *k)``.
    Returns the multiply-adds: every input cell stamps every tap on every output map of its
    group, N·C_in·spatial·(C_out/groups)·taps."""
    check_input(x_shape)
    out_shape = cc.transpose_output_shape(x_shape, w_shape, stride, padding, output_padding,
                                          groups, dilation)
    outs = math.prod(out_shape)
    if outs > MAX_OUTPUT_VALUES:
        raise BudgetError(
            f"output: N·C_out·spatial = {_shape_text(out_shape)} = {_count(outs)} values; the "
            f"explorer shows at most {_count(MAX_OUTPUT_VALUES)}. Use a smaller stride, input "
            "or fewer output maps.")
    check_transposed_scene(x_shape, w_shape, stride, padding, output_padding, dilation, groups)
    macs = math.prod(x_shape) * math.prod(w_shape[1:])
    if macs > MAX_MULTIPLY_ADDS:
        raise BudgetError(
            f"compute: N·C_in·inputs·(C_out/groups)·taps = {_count(macs)} multiply-adds; one "
            f"page run may do {_count(MAX_MULTIPLY_ADDS)}, {macs / MAX_MULTIPLY_ADDS:.1f}× "
            "less. Use a smaller kernel, fewer maps or a smaller input.")
    return macs


def transposed_scene_values(x_shape: tuple, w_shape: tuple, stride, padding, output_padding,
                            dilation, groups: int) -> tuple[int, int, int, int, tuple, tuple]:
    """What the transposed view's scene sends cell for cell (:func:`app.shared.scene.
    build_transposed_scene`, never subsampled): the input maps of one group, the gather form's
    zero-inserted, padded input of that group (:func:`convcore.gather_form_shape`), and the
    output map with its stamp counts.  Returns ``(total, inputs, gather, output, canvas,
    out)``: the counts, and the gather form's and the output's spatial shapes."""
    cg = x_shape[1] // max(1, groups)
    out = cc.transpose_output_shape(x_shape, w_shape, stride, padding, output_padding, groups,
                                    dilation)[2:]
    canvas = cc.gather_form_shape(x_shape, w_shape, stride, padding, output_padding, groups,
                                  dilation)[2:]
    inputs = cg * math.prod(x_shape[2:])
    gather = cg * math.prod(canvas)
    output = 2 * math.prod(out)
    return inputs + gather + output, inputs, gather, output, canvas, out


def check_transposed_scene(x_shape: tuple, w_shape: tuple, stride, padding, output_padding,
                           dilation, groups: int) -> None:
    """Raise :class:`BudgetError` when the transposed view's scene (every cell of the input
    maps of a group, of their zero-inserted, padded form and of the output: it grows like
    stride^ndim) would exceed :data:`MAX_TRANSPOSED_VALUES`."""
    total, inputs, gather, output, canvas, out = transposed_scene_values(
        x_shape, w_shape, stride, padding, output_padding, dilation, groups)
    if total <= MAX_TRANSPOSED_VALUES:
        return
    spatial = x_shape[2:]
    cg = x_shape[1] // max(1, groups)
    factor = (total / MAX_TRANSPOSED_VALUES) ** (1 / len(spatial))
    smaller = [max(1, int(n / factor)) for n in spatial]
    raise BudgetError(
        f"scene: the transposed view shows every cell — the input maps of a group "
        f"({_shape_text((cg, *spatial))} = {_count(inputs)}), the zero-inserted, padded input "
        f"of the gather view ({_shape_text((cg, *canvas))} = {_count(gather)}) and the output "
        f"with its stamp counts (2·{_shape_text(out)} = {_count(output)}): "
        f"{_count(total)} values; it shows at most {_count(MAX_TRANSPOSED_VALUES)}. The "
        f"zero-inserted input grows like the stride to the power {len(spatial)}: use a "
        f"smaller stride or dilation, fewer input maps, or a smaller input (e.g. size "
        f"{'×'.join(map(str, smaller))}).")
