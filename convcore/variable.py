"""``Variable``: the container the documented module API stores weights in."""

from __future__ import annotations


class Variable:
    """Holds one array (NumPy or CuPy) as ``.data``, like PuzzleLib's ``Variable``."""

    def __init__(self, data):
        self.data = data

    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def dtype(self):
        return self.data.dtype

    def __repr__(self):
        return f"Variable(shape={self.shape}, dtype={self.dtype})"
