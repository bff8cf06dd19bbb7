"""The model: settings in, convcore's results out, cached per configuration.

Nothing here computes a convolution, an output shape or a window position by itself: those come
from ``convcore`` (``conv1d``/``conv2d``, ``padded_input``, ``explain_shape``, ``coverage``,
``trace_step``).  The app only picks the input and the weights.  Results are cached with
``st.cache_resource`` (shared read-only arrays: ``cache_data`` would pickle and copy them on every
rerun), keyed by the settings without their view fields.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import streamlit as st

import convcore as cc
from app.network import model as trained_network
from app.shared import budget
from app.shared import sources as src
from app.shared.settings import Settings


@dataclass(frozen=True)
class Upload:
    """An uploaded file: its bytes travel outside the cache key, its digest inside."""

    name: str
    digest: str
    data: bytes = field(repr=False, compare=False, hash=False)

    @classmethod
    def of(cls, name: str, data: bytes) -> Upload:
        return cls(name, hashlib.sha256(data).hexdigest(), data)


def _upload_key(upload: Upload | None) -> tuple | None:
    return None if upload is None else (upload.name, upload.digest)


# ------------------------------------------------------------------------------ inputs

def with_input_shape(s: Settings, x: np.ndarray) -> Settings:
    """``s`` with the batch, maps and shape of the input a data source brought."""
    if not s.data_source:
        return s
    return replace(s, batch=x.shape[0], inmaps=x.shape[1], shape=tuple(x.shape[2:]))


def load_input(s: Settings, upload: Upload | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """The input ``(N, C, *spatial)`` float32 for the settings' source, and notices.

    A generated input is weighed against the budget before it is made."""
    if s.source in ("arange", "random"):
        budget.check_input((s.batch, s.inmaps, *s.shape))
    network = (s.net, s.layer, s.image, s.draw) if s.source == "network" else None
    return _load_input(s.ndim, s.source, s.seed, s.sample, s.typed, s.batch, s.inmaps,
                       tuple(s.shape), _upload_key(upload), upload, network)


@st.cache_resource(max_entries=16, show_spinner=False)
def _load_input(ndim, source, seed, sample, typed, batch, inmaps, shape, upload_key, _upload,
                network=None):
    upload = _upload
    notices: list[str] = []
    if source == "arange":
        x = src.arange_input(inmaps, *shape, batch=batch)
    elif source == "random":
        x = src.random_input((batch, inmaps, *shape), seed)
    elif source == "sample":
        x = src.load_sample(sample)[None]
        if x.ndim != ndim + 2:
            raise src.SourceError(f"sample {sample!r} is not a {ndim}-D input")
    elif source == "typed":
        x = src.parse_typed_values(typed, ndim)[None]
    elif source == "upload":
        if upload is None:
            raise src.SourceError("upload: no file yet — choose a CSV or .npy file"
                                  + (" or a PNG/JPEG image" if ndim == 2 else ""))
        arr, notes = src.load_upload(upload.name, upload.data, ndim)
        x, notices = arr[None], list(notes)
    elif source == "network" and ndim == 2:
        x, note = trained_network.layer_input(*network)
        notices.append(note)
    else:
        raise src.SourceError(f"unknown input source {source!r}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    x.setflags(write=False)
    return x, tuple(notices)


# ------------------------------------------------------------------------------ weights

def custom_weights(ndim: int, size: tuple, outmaps: int, in_per_group: int) -> np.ndarray:
    """The documents' customW spread over ``(C_out, C_in/g, *size)``: output map j takes
    customW's map ``j % 2`` for every input map.  customW is square; a rectangular size takes
    its top-left corner."""
    base = src.custom_w(ndim, max(size))[:, 0]  # (2, *k)
    base = base[(slice(None),) + tuple(slice(0, k) for k in size)]
    w = base[np.arange(outmaps) % 2][:, None]
    return np.ascontiguousarray(np.broadcast_to(w, (outmaps, in_per_group, *size)),
                                dtype=np.float32)


def build_weights(s: Settings) -> np.ndarray:
    """The weights ``(C_out, C_in/groups, *size)`` for the settings' kernel source."""
    shape = s.weight_shape
    if s.kernel == "customW":
        return custom_weights(s.ndim, s.size, s.outmaps, shape[1])
    if s.kernel == "preset":
        return src.expand_kernel(src.kernel_presets(s.ndim)[s.preset], s.outmaps, shape[1])
    if s.kernel == "random":
        return src.random_kernel(shape, s.scheme, s.kseed, s.groups)
    if s.kernel == "network":
        return trained_network.layer_params(s.net, s.layer)[0]
    if s.weights is None or len(s.weights) != math.prod(shape):
        n = 0 if s.weights is None else len(s.weights)
        raise src.SourceError(f"kernel table: {n} values do not fill the weight shape {shape} "
                              f"({math.prod(shape)} values)")
    return np.asarray(s.weights, dtype=np.float32).reshape(shape)


def kernel_size(s: Settings) -> tuple:
    """The kernel's spatial size: a preset and the network bring their own."""
    return s.kernel_size


def build_bias(s: Settings) -> np.ndarray | None:
    """One bias per output map; fewer values than maps are repeated in order (the network's
    layer brings its learned bias)."""
    if s.kernel == "network":
        return trained_network.layer_params(s.net, s.layer)[1]
    if s.bias is None:
        return None
    with np.errstate(over="ignore"):  # beyond float32's range is ±inf, shown and explained
        return np.resize(np.asarray(s.bias, dtype=np.float32), s.outmaps)


# ------------------------------------------------------------------------------ computation

class OutputCells:
    """Steps and spatial shape of a computation's output ``out`` (N, C, *spatial)."""

    algorithm: tuple = ("", "")  # the core's algorithm and why, where it chooses one

    @property
    def steps(self) -> int:
        return int(math.prod(self.out.shape[2:]))

    @property
    def out_spatial(self) -> tuple:
        return tuple(self.out.shape[2:])


@dataclass(frozen=True)
class Computation(OutputCells):
    """Everything that depends on the configuration (not on the view), from convcore."""

    x: np.ndarray = field(repr=False)
    weight: np.ndarray = field(repr=False)
    bias: np.ndarray | None = field(repr=False)
    out: np.ndarray = field(repr=False)
    padded: cc.PaddedInput = field(repr=False)
    shape: cc.ShapeExplanation
    axes: tuple  # cc.AxisCoverage per axis
    conv_ms: float = 0.0
    trace_ms: float = 0.0
    notices: tuple = ()
    algorithm: tuple = ("", "")  # the core's choice and its reason (cc.choose_algorithm)


def compute(s: Settings, upload: Upload | None = None) -> Computation:
    """The cached computation for ``s`` (view fields do not matter), weighed against the
    budget first (:func:`app.budget.check` raises ``BudgetError``, a ``SourceError``)."""
    x, _ = load_input(s, upload)
    s = with_input_shape(s, x)
    kw = s.conv_kwargs()
    budget.check(x.shape, (s.outmaps, max(1, x.shape[1] // s.groups), *kernel_size(s)),
                 kw["stride"], kw["padding"], kw["dilation"], s.groups, s.mode)
    return _compute(s.conv_key(), _upload_key(upload), upload)


@st.cache_resource(max_entries=24, show_spinner="Computing…")
def _compute(s: Settings, upload_key: tuple | None, _upload: Upload | None) -> Computation:
    x, notices = load_input(s, _upload)
    weight = build_weights(s)
    bias = build_bias(s)
    conv = cc.conv1d if s.ndim == 1 else cc.conv2d
    kw = s.conv_kwargs()
    # (with the values: an input holding inf or nan is never given to the FFT)
    algorithm = cc.choose_algorithm(x.shape, weight.shape, **kw, max_bytes=budget.MAX_BYTES,
                                    values=(x, weight))
    t0 = time.perf_counter()
    out = cc.to_numpy(conv(cc.gpuarray.to_gpu(x), cc.gpuarray.to_gpu(weight),
                           None if bias is None else cc.gpuarray.to_gpu(bias), **kw,
                           algorithm=algorithm[0], max_bytes=budget.MAX_BYTES))
    t1 = time.perf_counter()
    geo = dict(stride=kw["stride"], padding=kw["padding"], dilation=kw["dilation"])
    size = weight.shape[2:]  # the weights decide (a preset brings its own size)
    padded = cc.padded_input(x, kw["padding"], s.mode, kernel_size=size,
                             dilation=kw["dilation"], stride=kw["stride"])
    spatial = x.shape[2:]
    shape = cc.explain_shape(spatial, size, **geo)
    axes = cc.coverage(spatial, size, **geo).axes  # per axis: which indices, and why
    t2 = time.perf_counter()
    for a in (out, padded.values, padded.is_padding, padded.source, weight):
        a.setflags(write=False)
    return Computation(x, weight, bias, out, padded, shape, axes,
                       (t1 - t0) * 1e3, (t2 - t1) * 1e3, notices, algorithm)


def step_trace(comp: Computation, s: Settings, step: int) -> cc.Step:
    """The core's trace of one output cell (raster ``step``) of the shown item and map."""
    cell = np.unravel_index(step, comp.out_spatial)
    return cc.trace_step(comp.x, comp.weight, comp.bias,
                         out_index=(s.item, s.omap, *(int(i) for i in cell)),
                         **s.conv_kwargs())


# ------------------------------------------------------------------------------ transposed

def transposed_kwargs(s: Settings) -> dict:
    """The ``cc.conv_transpose*`` keyword arguments: symmetric padding per axis, zeros only."""
    return dict(stride=tuple(s.stride), padding=tuple(lo for lo, _ in s.pad),
                output_padding=tuple(s.output_padding), groups=s.groups,
                dilation=tuple(s.dilation))


def transposed_weights(s: Settings) -> np.ndarray:
    """The weights ``(C_in, C_out/groups, *size)`` of the transposed layer: the weight of the
    forward layer it transposes (``C_out`` of that one is this one's ``C_in``)."""
    return build_weights(replace(s, inmaps=s.outmaps, outmaps=s.inmaps))


@dataclass(frozen=True)
class TransposedComputation(OutputCells):
    """A transposed convolution and what explains it, all from convcore."""

    x: np.ndarray = field(repr=False)  # (N, C_in, *in_spatial)
    weight: np.ndarray = field(repr=False)  # (C_in, C_out/groups, *k)
    bias: np.ndarray | None = field(repr=False)
    out: np.ndarray = field(repr=False)  # (N, C_out, *out_spatial)
    gather: cc.GatherForm = field(repr=False)
    overlap: object = field(repr=False)  # cc.overlap_counts(...)
    colliding: tuple  # per axis: forward input lengths that give this input length
    grad_input_diff: float  # max |conv_grad_input(forward) − conv_transpose|
    conv_ms: float = 0.0
    trace_ms: float = 0.0  # gather form, overlaps and the backward check
    notices: tuple = ()


def compute_transposed(s: Settings, upload: Upload | None = None) -> TransposedComputation:
    """The cached transposed computation for ``s``, weighed against the budget first."""
    x, _ = load_input(s, upload)
    kw = transposed_kwargs(s)
    budget.check_transposed(x.shape, (x.shape[1], max(1, s.outmaps // s.groups),
                                      *kernel_size(s)),
                            kw["stride"], kw["padding"], kw["output_padding"], kw["dilation"],
                            s.groups)
    return _compute_transposed(s.conv_key(), _upload_key(upload), upload)


@st.cache_resource(max_entries=16, show_spinner="Computing…")
def _compute_transposed(s: Settings, upload_key, _upload) -> TransposedComputation:
    x, notices = load_input(s, _upload)
    weight = transposed_weights(s)
    bias = build_bias(s)
    kw = transposed_kwargs(s)
    conv = cc.conv_transpose1d if s.ndim == 1 else cc.conv_transpose2d
    t0 = time.perf_counter()
    out = cc.to_numpy(conv(x, weight, bias, **kw))
    t1 = time.perf_counter()
    spatial = x.shape[2:]
    gather = cc.gather_form(x, weight, **kw)
    overlap = cc.overlap_counts(spatial, weight.shape[2:], kw["stride"], kw["padding"],
                                kw["output_padding"], kw["dilation"])
    colliding = tuple(cc.colliding_input_sizes(n, k, st_, p, d) for n, k, st_, p, d in zip(
        spatial, weight.shape[2:], kw["stride"], kw["padding"], kw["dilation"]))
    # the backward of the forward layer this transposes: its gradient w.r.t. its input, given
    # x as the gradient of its output, is this very transposed convolution
    plain = cc.to_numpy(conv(x, weight, None, **kw))
    grad = cc.to_numpy(cc.conv_grad_input(plain.shape[:1] + (s.outmaps,) + plain.shape[2:],
                                          weight, x, kw["stride"], kw["padding"],
                                          kw["dilation"], s.groups))
    diff = float(np.max(np.abs(grad - plain))) if grad.size else 0.0
    t2 = time.perf_counter()
    for a in (x, weight, out):
        a.setflags(write=False)
    return TransposedComputation(x, weight, bias, out, gather, overlap, colliding, diff,
                                 (t1 - t0) * 1e3, (t2 - t1) * 1e3, notices)


def view_steps(s: Settings, comp) -> int:
    """Steps of the view: output cells; in the transposed scatter view, the input cells of
    the output map's group (its input maps × their cells)."""
    if isinstance(comp, TransposedComputation) and s.tview == "scatter":
        return comp.x.shape[1] // comp.gather.groups * int(np.prod(comp.x.shape[2:]))
    return comp.steps


def transposed_step(comp: TransposedComputation, s: Settings, step: int):
    """The core's trace of one output cell (raster ``step``) of the shown item and map."""
    cell = np.unravel_index(step, comp.out_spatial)
    return cc.trace_transposed(comp.x, comp.weight, comp.bias,
                               out_index=(s.item, s.omap, *(int(i) for i in cell)),
                               **transposed_kwargs(s))


# ------------------------------------------------------------------------------ algorithms

# Three layers, one per algorithm's home ground: (label, input shape, weight shape, keywords).
ALGORITHM_CASES = (
    ("dense 3×3: 16→16 maps, 64²", (1, 16, 64, 64), (16, 16, 3, 3), dict(padding=1)),
    ("depthwise 3×3: 64 maps, 64²", (1, 64, 64, 64), (64, 1, 3, 3), dict(padding=1, groups=64)),
    ("large kernel 31×31: 1 map, 256²", (1, 1, 256, 256), (1, 1, 31, 31), dict(padding=15)),
)
ALGORITHMS = ("im2col", "direct", "fft")


@st.cache_data(show_spinner="Timing the three algorithms on this server…")
def algorithm_timings(rounds: int = 5) -> list[dict]:
    """Per case: the core's choice and each algorithm's median time (ms) over ``rounds``
    interleaved rounds after one untimed warm-up round, measured here once per server process
    (about 0.3 s in all on a 2-vCPU VM)."""
    rng = np.random.default_rng(0)
    rows = []
    for label, x_shape, w_shape, kw in ALGORITHM_CASES:
        x = rng.standard_normal(x_shape, dtype=np.float32)
        w = rng.standard_normal(w_shape, dtype=np.float32)
        times = {name: [] for name in ALGORITHMS}
        for r in range(rounds + 1):
            for name in ALGORITHMS:
                t0 = time.perf_counter()
                cc.conv2d(x, w, algorithm=name, **kw)
                if r:  # round 0 warms caches, plans and BLAS threads up
                    times[name].append((time.perf_counter() - t0) * 1e3)
        rows.append({"layer": label,
                     "auto chooses": cc.choose_algorithm(x_shape, w_shape, **kw)[0],
                     **{f"{n} ms": round(float(np.median(t)), 2) for n, t in times.items()}})
    return rows
