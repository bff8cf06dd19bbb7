"""Array backends: NumPy always, CuPy when a CUDA device really works.

The compute path is written once against ``xp`` (the array module of the inputs).  The *active*
backend decides where new arrays go (``gpuarray.to_gpu``, module weights); existing arrays stay on
their device, and mixing NumPy and CuPy arrays in one call is an error.

``CONVCORE_BACKEND=numpy|cupy|auto`` (read once, at first use) overrides the automatic choice.
"""

from __future__ import annotations

import os

import numpy as np

from .errors import ConvError, shown

_BACKEND_CHOICES = ("auto", "numpy", "cupy")
_state: dict = {}


def _probe_cupy():
    """(cupy, None) if a small computation on the device succeeds, else (None, why)."""
    try:
        import cupy

        a = cupy.arange(6, dtype=cupy.float32).reshape(2, 3)
        # A matmul exercises cuBLAS; the elementwise sum exercises kernel compilation (NVRTC).
        total = float((a @ a.T + 1).sum())
        if total != 87.0:
            return None, f"CuPy computed a wrong result on the device ({total} instead of 87.0)"
        return cupy, None
    except Exception as exc:  # any failure (no driver, no device, no NVRTC...) means: no CuPy
        return None, f"{type(exc).__name__}: {exc}"


def _resolve():
    if "name" in _state:
        return
    choice = os.environ.get("CONVCORE_BACKEND", "auto").strip().lower() or "auto"
    if choice not in _BACKEND_CHOICES:
        raise ConvError(
            f"CONVCORE_BACKEND must be one of {', '.join(_BACKEND_CHOICES)}, got {choice!r}"
        )
    cupy, why = (None, "not requested") if choice == "numpy" else _probe_cupy()
    if choice == "cupy" and cupy is None:
        raise ConvError(f"CONVCORE_BACKEND=cupy, but CuPy cannot run here: {why}")
    _state.update(name="cupy" if cupy is not None else "numpy", cupy=cupy, why=why)


def backend_name() -> str:
    """Name of the active backend: ``"numpy"`` or ``"cupy"``."""
    _resolve()
    return _state["name"]


def cupy_unavailable_reason() -> str | None:
    """Why CuPy is not the active backend (None when it is)."""
    _resolve()
    return None if _state["cupy"] is not None else _state["why"]


def active_xp():
    """The array module new arrays are created with (``numpy`` or ``cupy``)."""
    _resolve()
    return _state["cupy"] if _state["cupy"] is not None else np


def available_backends() -> list[str]:
    """Backends that can run here: always ``"numpy"``, plus ``"cupy"`` when it works."""
    _resolve()
    cupy = _state["cupy"] if _state["cupy"] is not None else _probe_cupy()[0]
    return ["numpy", "cupy"] if cupy is not None else ["numpy"]


def xp_by_name(name: str):
    """The array module for a backend name from :func:`available_backends`."""
    if type(name) is str and name == "numpy":
        return np
    if type(name) is str and name == "cupy" and "cupy" in available_backends():
        import cupy

        return cupy
    raise ConvError(f"backend must be one of {available_backends()}, got {shown(name, 80)}")


def _is_cupy_array(a) -> bool:
    return type(a).__module__.split(".")[0] == "cupy"


def array_module(*arrays):
    """The array module shared by ``arrays`` (None entries ignored); mixing raises ConvError."""
    if all(type(a) is np.ndarray or a is None for a in arrays):  # the common case, fast
        return np
    kinds = {"cupy" if _is_cupy_array(a) else "numpy" for a in arrays if a is not None}
    if len(kinds) > 1:
        raise ConvError(
            "all arrays of one call must live on the same backend, got a mix of NumPy and CuPy "
            "arrays; move them with convcore.to_numpy(...) or gpuarray.to_gpu(...)"
        )
    if kinds == {"cupy"}:
        import cupy

        return cupy
    return np


def to_numpy(a) -> np.ndarray:
    """A host (NumPy) copy of a NumPy or CuPy array; NumPy arrays are returned as they are.

    Anything else NumPy can convert (lists, scalars, CPU torch tensors) is converted.
    """
    if type(a) is np.ndarray:
        return a
    if _is_cupy_array(a):
        return a.get()
    try:
        return np.asarray(a)
    except Exception as exc:  # any object may be passed in: its conversion may raise anything
        raise ConvError(f"to_numpy: cannot make a NumPy array of {type(a).__name__} "
                        f"{shown(a, 80)}") from exc


def as_strided(xp, a, shape, strides):
    """A strided view of the array ``a`` starting at its first element (no copy, no checks:
    callers own bounds).  ``a`` may have any strides (a broadcast input has zeros)."""
    if xp is np and a.flags.c_contiguous:
        # np.ndarray over the buffer is several times cheaper than np.lib.stride_tricks here.
        return np.ndarray(shape, a.dtype, buffer=a, strides=strides)
    return xp.lib.stride_tricks.as_strided(a, shape, strides)
