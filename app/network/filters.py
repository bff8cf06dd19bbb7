"""Which classic filter a learned 3×3 kernel is closest to.

The candidates are the explorer's 3×3 presets (identity, box blur, Gaussian, Sobel x and y,
Laplacian, sharpen) plus the two diagonal Sobels, each with either sign (a kernel and its
negation detect opposite edges).  Edge and Laplacian kernels sum to zero, so they are
compared with the learned kernel minus its mean (its pattern, whatever its offset); the
others by plain cosine similarity.  The score is that cosine, from −1 to 1.
"""

from __future__ import annotations

import functools

import numpy as np

from app.shared.sources import kernel_presets

DIAGONAL = np.array([[0, 1, 2], [-1, 0, 1], [-2, -1, 0]], dtype=np.float32)


@functools.cache
def classic_filters() -> dict[str, np.ndarray]:
    """Name → 3×3 kernel (float64), both signs of each."""
    base = {name.removesuffix(" 3x3"): k for name, k in kernel_presets(2).items()
            if k.shape == (3, 3)}
    base["sobel ↗"] = DIAGONAL
    base["sobel ↘"] = np.ascontiguousarray(DIAGONAL[::-1])
    out = {}
    for name, k in base.items():
        out[name] = k.astype(np.float64)
        out["−" + name] = -k.astype(np.float64)
    return out


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float((a * b).sum() / (na * nb)) if na > 0 and nb > 0 else 0.0


def nearest_filter(kernel) -> tuple[str, float]:
    """The classic filter closest to a 3×3 ``kernel`` and the cosine similarity.

    Examples::

        >>> nearest_filter([[1, 0, -1], [2, 0, -2], [1, 0, -1]])
        ('−sobel x', 1.0)
        >>> nearest_filter(np.full((3, 3), 0.2))[0]
        'box blur'
    """
    k = np.asarray(kernel, dtype=np.float64).reshape(3, 3)
    centred = k - k.mean()
    best = ("", -2.0)
    for name, f in classic_filters().items():
        zero_sum = abs(f.sum()) < 1e-9
        score = _cosine(centred if zero_sum else k, f)
        if score > best[1] + 1e-12:
            best = (name, score)
    return best[0], round(best[1], 6)
