"""The network view's scene: everything the browser needs to run the network by itself.

Pure, no Streamlit.  The view runs the forward pass in the browser (a drawn digit must
update every map within a frame, with no round trip), so the scene carries the weights
(3,818 float32 values, written as the shortest decimal that reads back as the same float32),
the upsampling matrix the data uses, the digit to show first (8×8 counts), the nearest
classic filter of every kernel, and the explorer links of both convolutions.  The tests
hold the browser's maps and probabilities to :func:`app.network.net.forward`.
"""

from __future__ import annotations

import numpy as np

from app.network import net
from app.network.data import LEVELS, RAW_SIDE, SIDE, upsample_matrix
from app.network.filters import nearest_filter

SCENE_VERSION = 1


def float32_list(a) -> list[float]:
    """Values as the shortest decimals that read back as the same float32."""
    return [float(np.format_float_positional(v, unique=True, trim="-"))
            for v in np.asarray(a, dtype=np.float32).ravel()]


def kernel_names(w: np.ndarray) -> list[list]:
    """Per output map, per input map: ``[name, cosine]`` of the nearest classic filter."""
    return [[list(nearest_filter(w[o, i])) for i in range(w.shape[1])]
            for o in range(w.shape[0])]


def build_scene(trained: net.Trained, raw: np.ndarray, label: int | None, image: int,
                links: dict[str, str]) -> dict:
    """The scene for the network ``trained`` showing the digit ``raw`` (8×8 counts; test
    image ``image`` with ``label``, or a drawing when ``label`` is None).  ``links`` gives,
    per convolution (``conv1``, ``conv2``), the explorer's relative URL for that layer
    (the view adds the output map and the drawing)."""
    p = trained.params
    return {
        "version": SCENE_VERSION,
        "params": {k: {"shape": list(v.shape), "data": float32_list(v)} for k, v in p.items()},
        "up": upsample_matrix(RAW_SIDE, SIDE).tolist(),
        "levels": LEVELS,
        "raw_side": RAW_SIDE,
        "side": SIDE,
        "digit": {"raw": np.asarray(raw, dtype=np.int64).ravel().tolist(),
                  "label": label, "image": image},
        "filters": {name: kernel_names(p[f"{name}.w"]) for name, _, _ in net.CONVS},
        "links": links,
        "accuracy": trained.test_accuracy,
    }
