"""Which algorithm computes a convolution: a cost model from shapes, and the memory each needs.

Three algorithms compute the same cross-correlation (tested against PyTorch and a loop
reference over the same configurations):

- ``"im2col"`` (:mod:`convcore.im2col`): gather every window into a column buffer, one GEMM per
  chunk.  Best for dense layers: the GEMM is BLAS-fast when each group has many input channels.
- ``"direct"`` (:mod:`convcore.direct`): accumulate one kernel tap at a time, no column buffer.
  Best when a group has few input channels (depthwise, small groups): im2col's GEMM is then too
  thin to pay for its buffer.
- ``"fft"`` (:mod:`convcore.fft`): products of spectra.  Best for large kernels at stride 1:
  its cost does not grow with the kernel.

``"auto"`` estimates each one's time with the model below and takes the cheapest that fits the
memory budget; :func:`choose_algorithm` returns that choice and the reason.  The model counts
the work each algorithm does and weighs it with per-operation costs measured on a 2-core AVX-512
CPU (``python benchmarks/bench_core.py --calibrate`` re-measures them):

- im2col: ``gathered·C_GATHER + max(GEMM, gathered·C_THIN_GEMM)`` — a GEMM with few output rows
  per group is bound by reading its columns, not by arithmetic; a GEMM costs ``MACs·C_GEMM``
  (twice that on the one thread thin GEMMs get), times ``K_FULL / K`` when it sums over fewer
  than ``K_FULL`` terms;
- direct: per tap, a product (one broadcast multiply over all taps for one input channel per
  group, else a GEMM over the group's ``C_in/groups`` channels) and its sum, each a pass over
  the output (``C_PASS``; slower for strided views and for thousands of taps); strided layers
  with several channels gather each tap's input first;
- fft: ``transforms · L·log2(L) · C_FFT + multiply-adds of spectra · C_SPECTRUM`` for
  ``N·C_in + C_out·C_in/g + N·C_out`` transforms of ``L`` points.

Each algorithm also has a fixed cost per call (``C_BASE``).  The FFT is only a candidate at
stride 1 (its cost does not shrink with the stride).  At run time
``auto`` also leaves the FFT for inputs with non-finite or huge values (a spectrum mixes every
input cell; see :func:`convcore.fft.fft_safe`).
"""

from __future__ import annotations

import functools
import math

from . import blas, direct, fft, im2col
from .backend import array_module
from .budget import MemoryEstimate, check, memory_budget
from .errors import ConvError, shown
from .params import ConvSpec, make_spec

ALGORITHMS = ("auto", "im2col", "direct", "fft")

# Seconds per operation, measured on the 2-vCPU development VM (AMD EPYC, AVX-512), float32,
# with benchmarks/bench_core.py --calibrate and --algorithms.
C_GATHER = 1.7e-10  # copy one element into an im2col column chunk (strided view -> buffer)
C_THIN_GEMM = 3.2e-10  # read one column element in a GEMM with few rows (depthwise: 1)
C_GEMM = 1.5e-11  # one multiply-add of a large BLAS GEMM on both cores (twice that on one)
K_FULL = 13  # a GEMM summing over K < K_FULL terms costs K_FULL / K times more per multiply-add
C_PASS = 2.2e-10  # one element of one elementwise pass (multiply or add) over the output
STRIDED_PASS = 4  # ... when the innermost view is strided (stride > 1): no contiguous runs
TAPS_PASS = 1000  # products of this many taps or more make a pass twice as slow (short runs)
C_FFT = 2.5e-10  # per point and log2(point count) of one real FFT
C_SPECTRUM = 1.0e-9  # one complex multiply-add of spectra
C_CALL = 4e-6  # one NumPy call on a chunk (Python and dispatch overhead)
C_BASE = {"im2col": 15e-6, "direct": 40e-6, "fft": 100e-6}  # fixed cost of one call


def check_algorithm(algorithm, op: str) -> str:
    """``algorithm`` if it is one of :data:`ALGORITHMS`, else ConvError."""
    if type(algorithm) is not str or algorithm not in ALGORITHMS:
        raise ConvError(f"{op}: algorithm must be one of "
                        f"{', '.join(repr(a) for a in ALGORITHMS)}, got {shown(algorithm, 80)}")
    return algorithm


def _f(count: int) -> float:
    """A count as a float, capped far beyond any budget (shapes may be any Python int)."""
    return float(min(count, 10**300))


def gemm_seconds(macs: float, k: int, rows: int) -> float:
    """A GEMM's multiply-adds at the BLAS rate, slower when it sums over few terms ``k``, and
    on one thread when it has few ``rows`` per group (:mod:`convcore.blas`)."""
    threads = 2 if rows >= blas.THIN_ROWS else 1
    return macs * C_GEMM * (2 / threads) * max(1.0, K_FULL / k)


def estimated_seconds(spec: ConvSpec, itemsize: int = 4) -> dict[str, float]:
    """The model's time for each algorithm (see the module docstring), in seconds."""
    n = spec.batch
    g, cg, og = spec.groups, spec.in_per_group, spec.out_per_group
    taps = math.prod(spec.kernel)
    positions = math.prod(spec.out_spatial)
    scale = itemsize / 4  # memory traffic grows with the element size
    macs = _f(n * g * og * cg * taps * positions)
    gathered = _f(n * g * cg * taps * positions)  # im2col's column buffer, in elements
    chunks = max(1.0, gathered * itemsize / im2col.COLUMN_BUDGET_BYTES)
    strided = spec.stride[-1] > 1  # the innermost copies are strided
    costs = {"im2col": scale * gathered * C_GATHER * (2 if strided else 1) + chunks * C_CALL
             + max(gemm_seconds(macs, cg * taps, og), scale * gathered * C_THIN_GEMM)}
    stride1 = all(s == 1 for s in spec.stride)
    outputs = _f(n * spec.out_channels * (direct.flat_length(spec)[0] if stride1 else positions))
    passes = scale * (2 * taps - 1) * outputs * C_PASS  # per tap: a product, added to the sum
    if cg == 1:  # products of all taps at once, then their sum
        work = passes * (1 + taps / TAPS_PASS) * (STRIDED_PASS if strided else 1)
        calls = 2 * max(1.0, taps * outputs * itemsize / direct.STACK_BYTES)
    else:  # a GEMM over the group's channels per tap, added up
        gather = 0.0 if stride1 else scale * gathered * C_GATHER  # strided taps are gathered
        work = gemm_seconds(macs, cg, min(og, cg)) + passes + gather
        calls = 2 * taps * max(1.0, outputs * itemsize / direct.CHUNK_BYTES)
    costs["direct"] = work + calls * C_CALL
    if stride1:
        lengths = fft.fft_lengths(spec)
        points = _f(math.prod(lengths))
        transforms = _f(n * spec.in_channels + spec.out_channels * cg + n * spec.out_channels)
        spectra = _f(n * spec.out_channels * cg * fft.spectrum_size(lengths))
        costs["fft"] = scale * (transforms * points * math.log2(max(points, 2.0)) * C_FFT
                                + spectra * C_SPECTRUM) + transforms * C_CALL
    for name in costs:
        costs[name] += C_BASE[name]
    return costs


@functools.lru_cache(maxsize=512)
def estimate_of(spec: ConvSpec, algorithm: str, itemsize: int, half: bool = False,
                on_cpu: bool = True) -> MemoryEstimate:
    """Bytes ``algorithm`` allocates for ``spec`` with ``itemsize``-byte floats.

    ``half``: the inputs are float16 (computed in float32: ``itemsize`` is then 4, and copies of
    the inputs and of the output are counted).
    """
    n = spec.batch
    x_elems = n * spec.in_channels * math.prod(spec.in_spatial)
    w_elems = spec.out_channels * spec.in_per_group * math.prod(spec.kernel)
    out_elems = n * spec.out_channels * math.prod(spec.out_spatial)
    padded = 0
    if any(lo or hi for lo, hi in spec.pads):
        padded = n * spec.in_channels * math.prod(spec.padded_spatial) * itemsize
    if algorithm == "im2col":
        budget = im2col.COLUMN_BUDGET_BYTES if on_cpu else im2col.GPU_COLUMN_BUDGET_BYTES
        work = im2col.workspace_bytes(spec, n, itemsize, budget)
    elif algorithm == "direct":
        work = direct.workspace_bytes(spec, n, itemsize, on_cpu)
    else:
        work = fft.workspace_bytes(spec, n, itemsize, on_cpu)
    copies = (x_elems + w_elems + spec.out_channels) * itemsize if half else 0
    return MemoryEstimate(algorithm, copies, padded, work,
                          out_elems * itemsize + (out_elems * 2 if half else 0))


@functools.lru_cache(maxsize=512)
def choose_of(spec: ConvSpec, itemsize: int = 4, half: bool = False, on_cpu: bool = True,
              budget: int | None = None, allow_fft: bool = True) -> tuple[str, str]:
    """(algorithm, reason) for a resolved spec: the cheapest estimate that fits ``budget``."""
    costs = estimated_seconds(spec, itemsize)
    if not allow_fft:
        costs.pop("fft", None)
    if budget is not None:
        fits = {a: c for a, c in costs.items()
                if estimate_of(spec, a, itemsize, half, on_cpu).total <= budget}
        costs = fits or costs  # none fits: keep the fastest, the budget check will refuse it
    ranked = sorted(costs, key=costs.get)
    best = ranked[0]
    shown = ", ".join(f"{a} {_ms(costs[a])}" for a in ranked)
    why = {
        "im2col": "im2col: the windows gathered into columns, one GEMM per chunk",
        "direct": (f"direct: {spec.in_per_group} input channel"
                   f"{'s' if spec.in_per_group > 1 else ''} per group, taps summed without a "
                   f"column buffer"),
        "fft": (f"fft: a {'x'.join(map(str, spec.kernel))} kernel at stride 1, whose spectra "
                f"cost the same for any kernel size"),
    }[best]
    return best, f"{why} (estimated {shown})"


@functools.lru_cache(maxsize=512)
def plan_of(spec: ConvSpec, algorithm: str, itemsize: int, half: bool, on_cpu: bool,
            budget: int, allow_fft: bool = True) -> tuple[str, MemoryEstimate]:
    """(algorithm to run, its memory estimate): ``algorithm``, or the choice for ``"auto"``."""
    if algorithm == "auto":
        algorithm = choose_of(spec, itemsize, half, on_cpu, budget, allow_fft)[0]
    return algorithm, estimate_of(spec, algorithm, itemsize, half, on_cpu)


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


def choose_algorithm(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1,
                     padding_mode="zeros", dtype="float32", max_bytes=None, *,
                     values=None) -> tuple[str, str]:
    """The algorithm ``algorithm="auto"`` uses for these shapes, and why.

    Args:
        x_shape, weight_shape, stride, padding, dilation, groups, padding_mode: as for
            :func:`convcore.convnd` (shapes instead of arrays; checked by the same rules).
        dtype: ``"float16"``, ``"float32"`` or ``"float64"`` (float16 is computed in float32).
        max_bytes: memory budget (default: ``CONVCORE_MAX_BYTES`` or 2 GiB); an algorithm whose
            buffers do not fit is not chosen.
        values: optional ``(x, weight)``, the arrays of those shapes: the answer is then the
            algorithm a call on them runs.  A call whose input or weight holds non-finite or
            huge values does not use the FFT (a spectrum would spread one inf or nan to every
            output); without ``values`` the shapes alone decide.

    Returns ``(name, reason)``: ``name`` is ``"im2col"``, ``"direct"`` or ``"fft"``; ``reason``
    is one sentence for a user, with the model's estimate for each candidate.

    Examples:
        >>> choose_algorithm((8, 64, 56, 56), (64, 64, 3, 3), padding=1)[0]
        'im2col'
        >>> choose_algorithm((8, 64, 56, 56), (64, 1, 3, 3), padding=1, groups=64)[0]
        'direct'
        >>> choose_algorithm((1, 1, 256, 256), (1, 1, 31, 31), padding=15)[0]
        'fft'
        >>> import numpy as np
        >>> x, w = np.full((1, 1, 256, 256), np.inf, np.float32), np.ones((1, 1, 31, 31))
        >>> choose_algorithm(x.shape, w.shape, padding=15, values=(x, w))[0]
        'im2col'
    """
    op = "choose_algorithm"
    itemsize, half = dtype_size(dtype, op)
    spec = make_spec(op, x_shape, weight_shape, None, stride, padding, dilation, groups,
                     padding_mode)
    allow_fft = True
    if values is not None:
        if not (isinstance(values, (tuple, list)) and len(values) == 2
                and all(hasattr(a, "dtype") and hasattr(a, "size") for a in values)):
            raise ConvError(f"{op}: values must be the arrays (x, weight), got "
                            f"{shown(values, 80)}")
        allow_fft = fft.fft_safe(array_module(*values), *values)
    return choose_of(spec, itemsize, half, True, memory_budget(max_bytes, op), allow_fft)


def dtype_size(dtype, op: str) -> tuple[int, bool]:
    """(bytes per computed element, is float16) of a floating dtype name or NumPy dtype."""
    names = {"float16": (4, True), "float32": (4, False), "float64": (8, False)}
    key = getattr(dtype, "name", dtype)
    if type(key) is not str or key not in names:
        if hasattr(dtype, "__name__") and dtype.__name__ in names:  # np.float32 and friends
            return names[dtype.__name__]
        raise ConvError(f"{op}: dtype must be one of {', '.join(names)}, got {shown(dtype, 80)}")
    return names[key]


def estimate_memory(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1,
                    padding_mode="zeros", dtype="float32", algorithm="auto",
                    max_bytes=None) -> MemoryEstimate:
    """Bytes a convolution would allocate, by buffer, from shapes alone.

    Arguments as for :func:`choose_algorithm`, plus ``algorithm`` (``"auto"`` estimates the one
    ``auto`` would choose).  Nothing is allocated.

    Examples:
        >>> e = estimate_memory((1, 1, 1, 1), (1, 1, 1, 1), padding=30000)
        >>> e.padded_input, e.total > 2**30
        (14400480004, True)
    """
    op = "estimate_memory"
    itemsize, half = dtype_size(dtype, op)
    check_algorithm(algorithm, op)
    spec = make_spec(op, x_shape, weight_shape, None, stride, padding, dilation, groups,
                     padding_mode)
    if algorithm == "auto":
        algorithm = choose_of(spec, itemsize, half, True, memory_budget(max_bytes, op))[0]
    return estimate_of(spec, algorithm, itemsize, half)


def check_budget(x_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1,
                 padding_mode="zeros", dtype="float32", algorithm="auto",
                 max_bytes=None) -> MemoryEstimate:
    """:func:`estimate_memory`, raising ConvError (with every buffer's size) over the budget.

    The app asks this before computing; the conv functions run the same check themselves.

    Examples:
        >>> check_budget((1, 3, 64, 64), (8, 3, 3, 3)).algorithm
        'im2col'
    """
    estimate = estimate_memory(x_shape, weight_shape, stride, padding, dilation, groups,
                               padding_mode, dtype, algorithm, max_bytes)
    return check("check_budget", estimate, memory_budget(max_bytes, "check_budget"))
