"""Memory budgets: what a call would allocate, from shapes alone, checked before it allocates.

Every buffer a convolution allocates is known from its shapes: a float32 copy of float16 inputs,
the padded input, the algorithm's workspace (one im2col column chunk, the direct algorithm's
accumulator, the FFT's spectra) and the output.  Their sum is checked against a budget before
anything is allocated; over it, :class:`~convcore.ConvError` names every size.

The budget is ``max_bytes=`` when a call passes it, else ``CONVCORE_MAX_BYTES`` from the
environment (bytes, read at each call), else :data:`DEFAULT_MAX_BYTES` (2 GiB).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import ConvError, shown
from .params import is_int

DEFAULT_MAX_BYTES = 2 * 2**30


def memory_budget(max_bytes=None, op: str = "memory_budget") -> int:
    """The budget in bytes: ``max_bytes`` if given, else ``CONVCORE_MAX_BYTES``, else 2 GiB.

    Examples:
        >>> memory_budget(10**6)
        1000000
    """
    if max_bytes is not None:
        if not is_int(max_bytes) or max_bytes < 1:
            raise ConvError(f"{op}: max_bytes must be an int >= 1 (bytes), got "
                            f"{shown(max_bytes, 80)}")
        return int(max_bytes)
    text = os.environ.get("CONVCORE_MAX_BYTES", "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise ConvError(f"CONVCORE_MAX_BYTES must be a whole number of bytes >= 1, got {text!r}")
    return value


def format_bytes(n: int) -> str:
    """Bytes in binary units: ``512 B``, ``3.0 MiB``, ``7.45 GiB``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            if n >= 10**300:  # beyond float: keep the order of magnitude
                return f"about 10^{len(str(n // size)) - 1} {unit}"
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one call allocates, by buffer (from shapes; an upper bound of the peak)."""

    algorithm: str  # im2col, direct, fft; scatter for transposed convolutions and gradients
    input_copies: int  # float32 copies of float16 arrays; contiguous copies of strided ones
    padded_input: int
    workspace: int  # im2col: one column chunk; direct: accumulator; fft: spectra; scatter: stamps
    output: int  # the result, plus its float16 copy
    padded_name: str = "padded input"  # what the padded buffer holds (a gradient's, for one)

    @property
    def total(self) -> int:
        return self.input_copies + self.padded_input + self.workspace + self.output

    def describe(self) -> str:
        parts = [("input copies", self.input_copies), (self.padded_name, self.padded_input),
                 (f"{self.algorithm} workspace", self.workspace), ("output", self.output)]
        return ", ".join(f"{name} {format_bytes(b)}" for name, b in parts if b)


def over_budget(budget: int) -> str:
    """How every refusal names the budget: its size and where it came from."""
    return (f"over the memory budget of {format_bytes(budget)} (max_bytes={budget}, from "
            f"max_bytes= or CONVCORE_MAX_BYTES)")


def check(op: str, estimate: MemoryEstimate, budget: int) -> MemoryEstimate:
    """``estimate`` if its total fits ``budget``, else ConvError naming every buffer."""
    if estimate.total > budget:
        raise ConvError(
            f"{op}: this call would allocate {format_bytes(estimate.total)} "
            f"({estimate.describe()}), {over_budget(budget)}; use a smaller input, padding, "
            f"stride or kernel"
        )
    return estimate


def require(op: str, what: str, nbytes: int, max_bytes=None) -> None:
    """ConvError when one buffer of ``nbytes`` (described by ``what``) is over the budget."""
    budget = memory_budget(max_bytes, op)
    if nbytes > budget:
        raise ConvError(f"{op}: {what} would take {format_bytes(nbytes)}, "
                        f"{over_budget(budget)}")


def require_parts(op: str, parts: dict, max_bytes=None) -> None:
    """ConvError when buffers allocated together (``{name: bytes}``) are over the budget."""
    total = sum(parts.values())
    budget = memory_budget(max_bytes, op)
    if total > budget:
        listed = ", ".join(f"{name} {format_bytes(b)}" for name, b in parts.items() if b)
        raise ConvError(f"{op}: this call would allocate {format_bytes(total)} ({listed}), "
                        f"{over_budget(budget)}")
