"""A small CNN that convcore trains by itself: layers, forward, backward, Adam, training.

The network (3,818 parameters)::

    input (N, 1, 16, 16)
    conv1: 1 → 8 maps, 3×3, padding 1   z1 (N, 8, 16, 16)   ─ convcore
    ReLU, 2×2 max-pool                  p1 (N, 8, 8, 8)
    conv2: 8 → 16 maps, 3×3, padding 1  z2 (N, 16, 8, 8)    ─ convcore
    ReLU, 2×2 max-pool                  p2 (N, 16, 4, 4)
    linear: 256 → 10                    logits (N, 10)
    softmax cross-entropy (mean over the batch)

Every convolution — forward and both gradients — is convcore's (``cc.conv2d``,
``cc.conv_grad_input``, ``cc.conv_grad_weight``); ReLU, max-pool, the linear layer, the loss
and Adam are a few lines of array code each, written against ``xp`` (NumPy, or CuPy when the
arrays live on a GPU: the same code path).  The tests check each gradient against PyTorch's
autograd and one epoch of training against PyTorch's own (same initial weights, same batches).

Training is deterministic: the seed fixes the initial weights (PyTorch's default
``U(−1/√fan_in, 1/√fan_in)``, drawn with NumPy) and the order of the batches.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import convcore as cc
from convcore.backend import array_module

PAD = 1
POOL = 2
CONVS = (("conv1", 1, 8), ("conv2", 8, 16))  # name, input maps, output maps
KERNEL = 3
FEATURES = 16 * 4 * 4
CLASSES = 10
SHAPES = {  # parameter -> shape, in the order they are initialized
    "conv1.w": (8, 1, KERNEL, KERNEL), "conv1.b": (8,),
    "conv2.w": (16, 8, KERNEL, KERNEL), "conv2.b": (16,),
    "fc.w": (CLASSES, FEATURES), "fc.b": (CLASSES,),
}
FAN_IN = {"conv1": 1 * KERNEL * KERNEL, "conv2": 8 * KERNEL * KERNEL, "fc": FEATURES}
PARAMETERS = sum(math.prod(s) for s in SHAPES.values())  # 3,818


@dataclass(frozen=True)
class TrainConfig:
    """How the network is trained (the seed aside).  Adam's defaults are PyTorch's."""

    epochs: int = 15
    lr: float = 1e-2  # the first epoch's; cosine-annealed towards 0 (learning_rate)
    batch: int = 64
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


CONFIG = TrainConfig()


# ------------------------------------------------------------------------------ layers

def init_params(seed: int) -> dict[str, np.ndarray]:
    """PyTorch's default initialization of ``Conv2d`` and ``Linear`` (weights and biases
    uniform in ±1/√fan_in), drawn from ``np.random.default_rng(seed)`` in :data:`SHAPES`
    order; float32."""
    rng = np.random.default_rng(seed)
    params = {}
    for name, shape in SHAPES.items():
        bound = 1 / math.sqrt(FAN_IN[name.split(".")[0]])
        params[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
    return params


def conv(x, w, b):
    """One of the network's convolutions (3×3, padding 1), by convcore."""
    return cc.conv2d(x, w, b, padding=PAD)


def conv_backward(x, w, g):
    """Gradients of :func:`conv` w.r.t. its input, weight and bias, given ``g`` = dL/dout."""
    gx = cc.conv_grad_input(x.shape, w, g, padding=PAD)
    gw = cc.conv_grad_weight(x, w.shape, g, padding=PAD)
    return gx, gw, g.sum(axis=(0, 2, 3))


def relu(z):
    xp = array_module(z)
    return xp.maximum(z, 0)


def relu_backward(z, g):
    """dL/dz from dL/drelu(z); the derivative at 0 is 0, as PyTorch's."""
    return g * (z > 0)


def _corners(a):
    """The four cells of every 2×2 window, in row-major order: strided views, no copies."""
    return a[..., 0::POOL, 0::POOL], a[..., 0::POOL, 1::POOL], a[..., 1::POOL, 0::POOL], \
        a[..., 1::POOL, 1::POOL]


def max_pool(a):
    """2×2 max-pool, stride 2: ``(out, arg)`` where ``arg`` (0..3, row-major in the window)
    is the first position holding the maximum — where PyTorch sends the gradient."""
    xp = array_module(a)
    corners = _corners(a)
    out = xp.maximum(xp.maximum(corners[0], corners[1]), xp.maximum(corners[2], corners[3]))
    arg = xp.full(out.shape, 3, dtype=np.int8)
    for k in (2, 1, 0):  # the earliest cell holding the maximum wins
        arg = xp.where(corners[k] == out, np.int8(k), arg)
    return out, arg


def max_pool_backward(arg, g):
    """dL/da from dL/dpool: each window's gradient goes to its ``arg`` cell, others get 0."""
    xp = array_module(g)
    n, c, h, w = g.shape
    grad = xp.zeros((n, c, h * POOL, w * POOL), dtype=g.dtype)
    for k, cell in enumerate(_corners(grad)):
        cell[...] = g * (arg == k)
    return grad


def linear(f, w, b):
    return f @ w.T + b


def linear_backward(f, w, g):
    """Gradients of :func:`linear` w.r.t. its input, weight and bias."""
    return g @ w, g.T @ f, g.sum(axis=0)


def softmax(logits):
    xp = array_module(logits)
    e = xp.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits, y):
    """Mean softmax cross-entropy and its gradient w.r.t. the logits (as PyTorch's
    ``F.cross_entropy``)."""
    xp = array_module(logits)
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
    rows = xp.arange(n)
    loss = -log_p[rows, y].mean()
    g = xp.exp(log_p)
    g[rows, y] -= 1
    return loss, g / n


# ------------------------------------------------------------------------------ the network

def forward(params: dict, x) -> dict:
    """Every activation of the network for inputs ``x`` ``(N, 1, 16, 16)``: ``z1``, ``p1``,
    ``z2``, ``p2`` (see the module docstring), ``logits``, ``probs``, and the pooling
    arguments ``arg1``, ``arg2`` the backward pass needs."""
    z1 = conv(x, params["conv1.w"], params["conv1.b"])
    p1, arg1 = max_pool(relu(z1))
    z2 = conv(p1, params["conv2.w"], params["conv2.b"])
    p2, arg2 = max_pool(relu(z2))
    logits = linear(p2.reshape(len(x), FEATURES), params["fc.w"], params["fc.b"])
    return dict(x=x, z1=z1, p1=p1, arg1=arg1, z2=z2, p2=p2, arg2=arg2, logits=logits,
                probs=softmax(logits))


def backward(params: dict, acts: dict, y) -> tuple[float, dict]:
    """The mean loss over the batch and the gradient of every parameter."""
    loss, g = cross_entropy(acts["logits"], y)
    n = len(y)
    g_f, g_fcw, g_fcb = linear_backward(acts["p2"].reshape(n, FEATURES), params["fc.w"], g)
    g = relu_backward(acts["z2"], max_pool_backward(acts["arg2"], g_f.reshape(acts["p2"].shape)))
    g_p1, g_w2, g_b2 = conv_backward(acts["p1"], params["conv2.w"], g)
    g = relu_backward(acts["z1"], max_pool_backward(acts["arg1"], g_p1))
    _, g_w1, g_b1 = conv_backward(acts["x"], params["conv1.w"], g)
    grads = {"conv1.w": g_w1, "conv1.b": g_b1, "conv2.w": g_w2, "conv2.b": g_b2,
             "fc.w": g_fcw, "fc.b": g_fcb}
    return float(loss), grads


class Adam:
    """Adam as ``torch.optim.Adam`` computes it (single-tensor form, no weight decay)."""

    def __init__(self, params: dict, config: TrainConfig = CONFIG):
        xp = array_module(*params.values())
        self.config = config
        self.m = {k: xp.zeros_like(v) for k, v in params.items()}
        self.v = {k: xp.zeros_like(v) for k, v in params.items()}
        self.t = 0

    def step(self, params: dict, grads: dict, lr: float | None = None) -> None:
        c = self.config
        self.t += 1
        step_size = (c.lr if lr is None else lr) / (1 - c.beta1 ** self.t)
        root2 = math.sqrt(1 - c.beta2 ** self.t)
        xp = array_module(*params.values())
        for k, p in params.items():
            g, m, v = grads[k], self.m[k], self.v[k]
            m += (g - m) * (1 - c.beta1)
            v *= c.beta2
            v += (1 - c.beta2) * g * g
            p -= step_size * m / (xp.sqrt(v) / root2 + c.eps)


# ------------------------------------------------------------------------------ training

def learning_rate(config: TrainConfig, epoch: int) -> float:
    """Epoch ``epoch``'s learning rate: cosine annealing from ``lr`` towards 0 over the
    epochs (``torch.optim.lr_scheduler.CosineAnnealingLR`` with ``T_max=epochs``), which lets
    the last epochs settle instead of jumping around an optimum."""
    return config.lr * (1 + math.cos(math.pi * epoch / config.epochs)) / 2


def batches(n: int, batch: int, rng: np.random.Generator):
    """One epoch's batches: a permutation of ``range(n)`` cut into ``batch``-sized pieces
    (the last one shorter)."""
    order = rng.permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def predict(params: dict, x, chunk: int = 512) -> np.ndarray:
    """Class probabilities ``(N, 10)`` on the host, in chunks."""
    return np.concatenate([cc.to_numpy(forward(params, x[i:i + chunk])["probs"])
                           for i in range(0, len(x), chunk)])


def accuracy(params: dict, x, y) -> float:
    return float((predict(params, x).argmax(axis=1) == cc.to_numpy(y)).mean())


@dataclass
class Trained:
    """Weights and how they came about: per epoch the mean training loss, the test loss and
    the test accuracy; the training time (seconds, evaluation excluded)."""

    params: dict
    seed: int
    config: TrainConfig = CONFIG
    history: dict = field(default_factory=lambda: {"train_loss": [], "test_loss": [],
                                                   "test_accuracy": []})
    seconds: float = 0.0
    backend: str = "numpy"

    @property
    def test_accuracy(self) -> float:
        return self.history["test_accuracy"][-1] if self.history["test_accuracy"] else 0.0


def train(seed: int, data, config: TrainConfig = CONFIG, xp=np,
          on_epoch: Callable[[int, Trained], None] | None = None,
          epochs: int | None = None, dtype=np.float32) -> Trained:
    """Train from ``seed`` on ``data`` (an :class:`app.network.data.Digits`) with Adam.

    Deterministic: the seed draws the initial weights, then each epoch's batch order.  ``xp``
    (``numpy`` or ``cupy``) is where the arrays live; the code path is the same.
    ``on_epoch(epoch, trained)`` runs after each epoch (for a progress bar); ``epochs``
    overrides the configuration's (the tests train one); ``dtype`` float64 trains in double
    precision (the tests compare with PyTorch there, where float32 rounding cannot decide
    which of two equal values a max-pool picks).

    Examples::

        >>> from app.network.data import digits
        >>> t = train(0, digits(), epochs=1)
        >>> round(t.test_accuracy, 2) > 0.8
        True
    """
    rng = np.random.default_rng(seed)
    params = {k: xp.asarray(v, dtype=dtype) for k, v in init_params(seed).items()}
    x_train, y_train = xp.asarray(data.x_train, dtype=dtype), xp.asarray(data.y_train)
    x_test = xp.asarray(data.x_test, dtype=dtype)
    opt = Adam(params, config)
    trained = Trained(params, seed, config, backend="cupy" if xp is not np else "numpy")
    for epoch in range(config.epochs if epochs is None else epochs):
        t0 = time.perf_counter()
        lr = learning_rate(config, epoch)
        losses = []
        for idx in batches(len(data.y_train), config.batch, rng):
            sel = xp.asarray(idx)
            acts = forward(params, x_train[sel])
            loss, grads = backward(params, acts, y_train[sel])
            opt.step(params, grads, lr)
            losses.append(loss * len(idx))
        trained.seconds += time.perf_counter() - t0
        probs = predict(params, x_test)
        right = probs[np.arange(len(data.y_test)), data.y_test]
        trained.history["train_loss"].append(sum(losses) / len(data.y_train))
        trained.history["test_loss"].append(float(-np.log(np.maximum(right, 1e-30)).mean()))
        trained.history["test_accuracy"].append(
            float((probs.argmax(axis=1) == data.y_test).mean()))
        if on_epoch is not None:
            on_epoch(epoch, trained)
    trained.params = {k: cc.to_numpy(v) for k, v in params.items()}
    return trained


# ------------------------------------------------------------------------------ weights file

def to_bytes(trained: Trained) -> bytes:
    """The weights and their record as a compressed ``.npz``."""
    buf = io.BytesIO()
    c = trained.config
    np.savez_compressed(
        buf, **{k: v.astype(np.float32) for k, v in trained.params.items()},
        seed=np.int64(trained.seed), epochs=np.int64(c.epochs), lr=np.float64(c.lr),
        batch=np.int64(c.batch), seconds=np.float64(trained.seconds),
        **{k: np.asarray(v, dtype=np.float64) for k, v in trained.history.items()})
    return buf.getvalue()


def from_bytes(data: bytes) -> Trained:
    """A :class:`Trained` from :func:`to_bytes`'s ``.npz`` (never unpickled)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as f:
        params = {k: f[k].astype(np.float32) for k in SHAPES}
        for k, shape in SHAPES.items():
            if params[k].shape != shape:
                raise ValueError(f"weights file: {k} has shape {params[k].shape}, expected "
                                 f"{shape}")
        config = TrainConfig(epochs=int(f["epochs"]), lr=float(f["lr"]), batch=int(f["batch"]))
        history = {k: [float(v) for v in f[k]] for k in ("train_loss", "test_loss",
                                                          "test_accuracy")}
        return Trained(params, int(f["seed"]), config, history, float(f["seconds"]))
