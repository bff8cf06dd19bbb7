"""``Variable``: the container the documented module API stores weights in."""

from __future__ import annotations

from .errors import ConvError, shown


class Variable:
    """Holds one array (NumPy or CuPy) as ``.data``, like PuzzleLib's ``Variable``."""

    def __init__(self, data):
        self.data = data

    def _array(self):
        if not (hasattr(self.data, "shape") and hasattr(self.data, "dtype")):
            raise ConvError(f"Variable: data must be an array (NumPy or CuPy), got "
                            f"{shown(self.data)}")
        return self.data

    @property
    def shape(self):
        return tuple(self._array().shape)

    @property
    def dtype(self):
        return self._array().dtype

    def __repr__(self):
        if not (hasattr(self.data, "shape") and hasattr(self.data, "dtype")):
            return f"Variable({shown(self.data)})"
        return f"Variable(shape={self.shape}, dtype={self.dtype})"
