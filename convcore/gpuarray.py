"""``gpuarray.to_gpu``: put host data on the active backend, as the documents' code expects."""

from __future__ import annotations

import numpy as np

from .backend import active_xp, to_numpy
from .errors import ConvError, shown


def to_gpu(a):
    """Copy ``a`` onto the active backend (a CuPy array on a working GPU, else a NumPy array)."""
    xp = active_xp()
    try:
        return xp.asarray(a)
    except Exception as exc:  # any object may be passed in: its conversion may raise anything
        raise ConvError(f"to_gpu: cannot make an array of {type(a).__name__} "
                        f"{shown(a, 80)}") from exc


def to_host(a) -> np.ndarray:
    """The inverse of :func:`to_gpu`: a NumPy copy."""
    return to_numpy(a)
