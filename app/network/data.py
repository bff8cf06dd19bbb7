"""The digits the network learns: scikit-learn's bundled ``load_digits`` (no download).

1,797 handwritten digits, 8×8 pixels with values 0–16: each pixel counts the ink of a 4×4
block of a 32×32 bitmap (the UCI "optdigits" preprocessing).  The network sees them
bilinearly upsampled to 16×16 and scaled to [0, 1], so that two 3×3 convolutions with a
2×2 max-pool after each have room to work.  A stratified 80/20 split with a fixed seed
gives 1,437 training and 360 test images; a test image is named by its index in the test
split everywhere (page, explorer, URLs).

A digit drawn in the browser becomes the same 8×8 counts (the view rasterizes strokes into
a 32×32 bitmap and counts each block), travels as 64 characters (:func:`encode_drawing`)
and goes through the same upsampling.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

RAW_SIDE = 8  # load_digits' images are 8×8
SIDE = 16  # what the network sees
LEVELS = 16  # a pixel counts 0..16 inked bitmap cells
TEST_FRACTION = 0.2
SPLIT_SEED = 0
CLASSES = 10
DRAW_DIGITS = "0123456789abcdefg"  # one character per pixel: its count 0..16, base 17


def upsample_matrix(n_in: int = RAW_SIDE, n_out: int = SIDE) -> np.ndarray:
    """``(n_out, n_in)`` bilinear interpolation weights with half-pixel centres, as
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``: output cell
    ``i`` reads the input at ``(i + 0.5) · n_in / n_out − 0.5``, clamped to the edges.  An
    image ``a`` is upsampled as ``U @ a @ U.T``.

    Examples::

        >>> upsample_matrix(2, 4)
        array([[1.  , 0.  ],
               [0.75, 0.25],
               [0.25, 0.75],
               [0.  , 1.  ]])
    """
    u = np.zeros((n_out, n_in))
    for i in range(n_out):
        pos = min(max((i + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, n_in - 1)
        u[i, lo] += 1 - (pos - lo)
        u[i, hi] += pos - lo
    return u


def to_input(raw) -> np.ndarray:
    """8×8 counts ``(N, 8, 8)`` (or one ``(8, 8)``) → the network's input ``(N, 1, 16, 16)``
    float32 in [0, 1]."""
    raw = np.asarray(raw, dtype=np.float64)
    if raw.ndim == 2:
        raw = raw[None]
    u = upsample_matrix()
    x = u @ (raw / LEVELS) @ u.T
    return np.ascontiguousarray(x[:, None], dtype=np.float32)


@dataclass(frozen=True)
class Digits:
    """The split, ready for the network: inputs ``(N, 1, 16, 16)`` float32, labels int64,
    and the test images' 8×8 counts (what the page shows and the URL names)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    raw_test: np.ndarray  # (360, 8, 8) uint8, 0..16

    @property
    def test_size(self) -> int:
        return len(self.y_test)


@functools.cache
def digits() -> Digits:
    """scikit-learn's digits, split 80/20 stratified by class with ``random_state=0``."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    raw = data.images.astype(np.uint8)
    raw_train, raw_test, y_train, y_test = train_test_split(
        raw, data.target, test_size=TEST_FRACTION, stratify=data.target,
        random_state=SPLIT_SEED)
    arrays = (to_input(raw_train), y_train.astype(np.int64), to_input(raw_test),
              y_test.astype(np.int64), np.ascontiguousarray(raw_test))
    for a in arrays:
        a.setflags(write=False)
    return Digits(*arrays)


def encode_drawing(raw) -> str:
    """8×8 counts 0..16 as 64 characters (row by row, base 17: ``0``–``9``, ``a``–``g``)."""
    raw = np.asarray(raw)
    return "".join(DRAW_DIGITS[int(v)] for v in raw.ravel())


def decode_drawing(text: str) -> np.ndarray:
    """The inverse of :func:`encode_drawing`: ``(8, 8)`` uint8.  Raises ``ValueError``
    naming the rule and what was received.

    Examples::

        >>> decode_drawing("0" * 63 + "g")[7, 7]
        np.uint8(16)
    """
    text = str(text).strip().lower()
    n = RAW_SIDE * RAW_SIDE
    if len(text) != n:
        raise ValueError(f"a drawing is {n} characters (8×8 pixels, 0–9 and a–g), got "
                         f"{len(text)}")
    bad = sorted({c for c in text if c not in DRAW_DIGITS})
    if bad:
        raise ValueError(f"a drawing's characters are 0–9 and a–g (counts 0–16), got "
                         f"{''.join(bad)[:20]!r}")
    values = [DRAW_DIGITS.index(c) for c in text]
    return np.array(values, dtype=np.uint8).reshape(RAW_SIDE, RAW_SIDE)


def check_drawing(text) -> str:
    """``text`` as a drawing's 64 characters (lower case, no blanks around); raises
    ``ValueError`` as :func:`decode_drawing` does."""
    decode_drawing(text)
    return str(text).strip().lower()
