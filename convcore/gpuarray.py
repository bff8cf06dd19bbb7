"""``gpuarray.to_gpu``: put host data on the active backend, as the documents' code expects."""

from __future__ import annotations

import numpy as np

from .backend import active_xp, to_numpy


def to_gpu(a):
    """Copy ``a`` onto the active backend (a CuPy array on a working GPU, else a NumPy array)."""
    return active_xp().asarray(a)


def to_host(a) -> np.ndarray:
    """The inverse of :func:`to_gpu`: a NumPy copy."""
    return to_numpy(a)
