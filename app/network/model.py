"""The network as the app uses it: which weights, one image's activations, one layer.

Weights are either the shipped ones (``assets/network.npz``, written by
:mod:`app.network.train` from seed 0) or trained in this process from a seed — about 2 s on
two cores, deterministic, so a link naming a seed shows the same network to everyone on
the same server.  Trained networks are kept (the last :data:`MAX_TRAINED` seeds) and one
training runs at a time per process: a burst of links with new seeds queues instead of
taking every core.

The explorer's ``network`` source reads a layer here: the layer's input activations for a
test image (or a drawn digit) and its learned kernels and bias, so the explorer's output
*is* the network's activation before ReLU.  No Streamlit in this module.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

import numpy as np

from app.network import net
from app.network.data import decode_drawing, digits, encode_drawing, to_input
from app.shared.sources import SourceError
from convcore.backend import active_xp

SHIPPED = Path(__file__).resolve().parents[2] / "assets" / "network.npz"
MAX_TRAINED = 8
MAX_SEED = 2**31 - 1
KERNEL_SIZE = (net.KERNEL, net.KERNEL)
LAYERS = {  # explorer layer -> (parameters, the activation it reads, the one it writes)
    1: ("conv1", "x", "z1"),
    2: ("conv2", "p1", "z2"),
}

_trained: OrderedDict[int, net.Trained] = OrderedDict()
_training = threading.Lock()


class NetworkError(SourceError):
    """A network parameter (seed, layer, image, drawing) breaks a rule; the message says
    which, the rule and the value (a ``SourceError``: the explorer shows it inline)."""


@functools.cache
def shipped() -> net.Trained:
    """The shipped weights (read once per process)."""
    return net.from_bytes(SHIPPED.read_bytes())


def is_trained(seed: int) -> bool:
    return seed in _trained


def trained(seed: int, on_epoch: Callable[[int, net.Trained], None] | None = None
            ) -> net.Trained:
    """The network trained here from ``seed`` (trained now, on the active backend — the GPU
    where CuPy runs — with ``on_epoch`` called after each epoch, unless it already was)."""
    check_seed(seed)
    with _training:
        if seed not in _trained:
            _trained[seed] = net.train(seed, digits(), on_epoch=on_epoch, xp=active_xp())
            while len(_trained) > MAX_TRAINED:
                _trained.popitem(last=False)
        _trained.move_to_end(seed)
        return _trained[seed]


def weights(seed: int | None) -> net.Trained:
    """The shipped network (``seed`` None) or the one trained here from ``seed``."""
    return shipped() if seed is None else trained(seed)


def weights_name(seed: int | None) -> str:
    return "shipped weights (seed 0)" if seed is None else f"trained here from seed {seed}"


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= seed <= MAX_SEED):
        raise NetworkError(f"network seed must be an integer from 0 to {MAX_SEED}, got "
                           f"{seed!r}")
    return int(seed)


def check_image(image) -> int:
    n = digits().test_size
    if isinstance(image, bool) or not isinstance(image, (int, np.integer)) or not (
            0 <= image < n):
        raise NetworkError(f"image must be a test image's index from 0 to {n - 1}, got "
                           f"{image!r}")
    return int(image)


def check_layer(layer) -> int:
    if layer not in LAYERS:
        raise NetworkError(f"layer must be one of {', '.join(map(str, LAYERS))} (the "
                           f"network's convolutions), got {layer!r}")
    return int(layer)


def digit(image: int, draw: str = "") -> tuple[np.ndarray, int | None]:
    """The 8×8 counts shown: the drawing when there is one, else test image ``image``; and
    its label (None for a drawing)."""
    if draw:
        try:
            return decode_drawing(draw), None
        except ValueError as e:
            raise NetworkError(f"draw: {e}") from None
    d = digits()
    i = check_image(image)
    return d.raw_test[i], int(d.y_test[i])


def activations(seed: int | None, raw: np.ndarray) -> dict[str, np.ndarray]:
    """Every activation of one digit (8×8 counts) on host arrays, batch axis kept."""
    return _activations(seed, encode_drawing(raw))


@functools.lru_cache(maxsize=64)
def _activations(seed: int | None, code: str) -> dict[str, np.ndarray]:
    from convcore import to_numpy

    acts = net.forward(weights(seed).params, to_input(decode_drawing(code)))
    out = {k: to_numpy(v) for k, v in acts.items()}
    for a in out.values():
        a.setflags(write=False)
    return out


def layer_input(seed: int | None, layer: int, image: int, draw: str = ""
                ) -> tuple[np.ndarray, str]:
    """Layer ``layer``'s input activations ``(1, C, H, W)`` for the digit, and a sentence
    saying what they are."""
    _, reads, writes = LAYERS[check_layer(layer)]
    raw, label = digit(image, draw)
    x = activations(seed, raw)[reads]
    what = "the drawn digit" if label is None else f"test image {image} (a {label})"
    source = ("the 16×16 image itself" if reads == "x"
              else "layer 1's maps after ReLU and 2×2 max-pool")
    return x, (f"Layer {layer} of the network, {weights_name(seed)}, on {what}: the input is "
               f"{source}; with the learned kernels, bias and padding 1 the output is the "
               f"network's activation before ReLU ({writes}).")


def layer_params(seed: int | None, layer: int) -> tuple[np.ndarray, np.ndarray]:
    """Layer ``layer``'s learned weights ``(C_out, C_in, 3, 3)`` and bias ``(C_out,)``."""
    name = LAYERS[check_layer(layer)][0]
    p = weights(seed).params
    return p[f"{name}.w"], p[f"{name}.b"]


def layer_maps(layer: int) -> tuple[int, int]:
    """``(C_in, C_out)`` of layer ``layer``."""
    _, c_in, c_out = net.CONVS[check_layer(layer) - 1]
    return c_in, c_out


def confusion(seed: int | None) -> np.ndarray:
    """``(10, 10)`` counts on the test split: row = true class, column = predicted."""
    return _confusion(seed).copy()


@functools.lru_cache(maxsize=MAX_TRAINED + 1)
def _confusion(seed: int | None) -> np.ndarray:
    d = digits()
    pred = net.predict(weights(seed).params, d.x_test).argmax(axis=1)
    m = np.zeros((net.CLASSES, net.CLASSES), dtype=np.int64)
    np.add.at(m, (d.y_test, pred), 1)
    return m
