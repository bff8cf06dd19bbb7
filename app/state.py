"""The explorer's state: one frozen :class:`Settings`, its URL form, control bounds, and the
cached computation that turns settings into convcore's trace.

Nothing here computes a convolution, an output shape or a window position: those come from
``convcore`` (``conv1d/conv2d``, ``padded_input``, ``window_map``, ``trace_step``,
``coverage``, ``explain_shape``).  The app only picks what to show.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field, fields, replace

import numpy as np
import streamlit as st

import convcore as cc
from app import figures
from app import sources as src

PAD_FORMS = {"axis": "per axis", "side": "per side", "same": "same"}
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
INPUT_SOURCES = {"arange": "arange (the documents' tensor)", "random": "random (seeded)",
                 "sample": "sample", "typed": "typed values", "upload": "upload a file"}
KERNEL_SOURCES = {"customW": "customW (the documents')", "preset": "preset",
                  "random": "random (init scheme)", "table": "edit as a table"}
INIT_SCHEMES = ("xavier_uniform", "xavier_normal", "he", "gaussian", "uniform")
SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)
BASE_FRAME_MS = 500
MAX_BATCH = 4
MAX_MAPS = 64
MAX_KERNEL = 31
MAX_DILATION = 64
MAX_TABLE_VALUES = 4096  # table weights travel in the URL up to this many values
VIEW_FIELDS = ("item", "omap", "imap", "step", "speed", "presenter")


@dataclass(frozen=True)
class Settings:
    """Every setting of one explorer page; the URL holds exactly these."""

    ndim: int
    batch: int = 1
    inmaps: int = 1
    outmaps: int = 2
    shape: tuple = ()
    size: tuple = ()
    stride: tuple = ()
    dilation: tuple = ()
    pad_form: str = "axis"  # "axis" (one value per axis), "side" (low, high per axis), "same"
    pad: tuple = ()  # (low, high) per axis; for "axis" low == high
    mode: str = "zeros"
    groups: int = 1
    bias: tuple | None = None  # one value per output map (recycled), None: no bias
    source: str = "arange"
    seed: int = 0
    sample: str = ""
    typed: str = ""
    kernel: str = "customW"
    preset: str = ""
    scheme: str = "xavier_uniform"
    kseed: int = 0
    weights: tuple | None = None  # kernel "table": every weight, flat, (C_out, C_in/g, *k)
    item: int = 0
    omap: int = 0
    imap: int = 0  # the shown input map, counted inside the output map's group
    step: int = 0
    speed: float = 1.0
    presenter: bool = False

    @property
    def data_source(self) -> bool:
        """True when the input's shape comes from data (sample, typed, upload)."""
        return self.source in ("sample", "typed", "upload")

    @property
    def padding(self):
        """The ``padding`` argument for convcore: ``"same"`` or (low, high) pairs."""
        return "same" if self.pad_form == "same" else tuple(tuple(p) for p in self.pad)

    @property
    def frame_ms(self) -> int:
        return int(BASE_FRAME_MS / self.speed)

    def conv_key(self) -> Settings:
        """These settings without the view fields: what the computation depends on."""
        base = defaults(self.ndim)
        return replace(self, **{f: getattr(base, f) for f in VIEW_FIELDS})


def defaults(ndim: int) -> Settings:
    """The page opens on the documents' first example: arange input, customW, size 2."""
    if ndim not in (1, 2):
        raise ValueError(f"the explorer has 1-D and 2-D pages, got ndim={ndim!r}")
    one = (1,) * ndim
    return Settings(
        ndim=ndim, shape=(10,) if ndim == 1 else (5, 5), size=(2,) * ndim, stride=one,
        dilation=one, pad=((0, 0),) * ndim,
        sample=next(iter(src.SAMPLE_SIGNALS if ndim == 1 else src.SAMPLE_IMAGES)),
        typed="2, 3, 4" if ndim == 1 else "1 2 3; 4 5 6; 7 8 9",
        preset=next(iter(src.kernel_presets(ndim))),
    )


def max_extent(ndim: int) -> int:
    return src.MAX_SAMPLES_1D if ndim == 1 else src.MAX_SIDE_2D


# ------------------------------------------------------------------------------ bounds
# The rules are the core's (cc.max_padding, cc.max_kernel_size, cc.max_dilation); the app only
# caps what the core leaves unbounded, to keep the controls usable.

def pad_limit(mode: str, extent: int) -> int:
    """Largest padding per side offered: the mode's limit, else the extent itself."""
    limit = cc.max_padding(extent, mode)
    return extent if limit is None else max(0, limit)


def size_limit(extent: int, pad_total: int) -> int:
    """Largest kernel size offered: the window must fit in the padded input."""
    return max(1, min(MAX_KERNEL, cc.max_kernel_size(extent, (pad_total, 0))))


def dilation_limit(size: int, padded_extent: int) -> int:
    """Largest dilation whose dilated kernel still fits in the padded input."""
    d = cc.max_dilation(padded_extent, size)
    return MAX_DILATION if d is None else max(1, min(MAX_DILATION, d))


# ------------------------------------------------------------------------------ URL codec

def _ints(t) -> str:
    return str(t[0]) if len(set(t)) == 1 else ",".join(str(int(v)) for v in t)


def _floats(t) -> str:
    return ",".join(f"{float(v):.10g}" for v in t)


def _pad_text(s: Settings) -> str:
    if s.pad_form == "same":
        return "same"
    if s.pad_form == "side":
        return ",".join(f"{lo}:{hi}" for lo, hi in s.pad)
    return _ints([lo for lo, _ in s.pad])


def to_query(s: Settings) -> dict[str, str]:
    """The settings as query parameters; values equal to the page defaults are left out."""
    d = defaults(s.ndim)
    q: dict[str, str] = {}

    def put(name, value, default, text):
        if value != default:
            q[name] = text(value)

    if not s.data_source:
        put("batch", s.batch, d.batch, str)
        put("inmaps", s.inmaps, d.inmaps, str)
        put("shape", s.shape, d.shape, _ints)
    put("outmaps", s.outmaps, d.outmaps, str)
    if s.kernel != "preset":
        put("size", s.size, d.size, _ints)
    put("stride", s.stride, d.stride, _ints)
    put("dilation", s.dilation, d.dilation, _ints)
    if (s.pad_form, s.pad) != (d.pad_form, d.pad):
        q["pad"] = _pad_text(s)
    put("mode", s.mode, d.mode, str)
    put("groups", s.groups, d.groups, str)
    if s.bias is not None:
        q["bias"] = _floats(s.bias)
    put("src", s.source, d.source, str)
    if s.source == "random":
        put("seed", s.seed, d.seed, str)
    if s.source == "sample":
        q["sample"] = s.sample
    if s.source == "typed":
        q["typed"] = s.typed
    put("kernel", s.kernel, d.kernel, str)
    if s.kernel == "preset":
        q["preset"] = s.preset
    if s.kernel == "random":
        put("scheme", s.scheme, d.scheme, str)
        put("kseed", s.kseed, d.kseed, str)
    if s.kernel == "table" and s.weights is not None and len(s.weights) <= MAX_TABLE_VALUES:
        q["w"] = _floats(s.weights)
    for name in ("item", "omap", "imap", "step"):
        put(name, getattr(s, name), getattr(d, name), str)
    put("speed", s.speed, d.speed, lambda v: f"{v:g}")
    if s.presenter:
        q["presenter"] = "1"
    return q


def _parse_ints(text: str, ndim: int) -> tuple:
    parts = [p for p in str(text).replace(" ", "").split(",") if p]
    vals = tuple(int(p) for p in parts)
    if len(vals) == 1:
        vals = vals * ndim
    if len(vals) != ndim:
        raise ValueError(f"expected 1 or {ndim} integers")
    return vals


def _parse_pad(text: str, ndim: int) -> tuple[str, tuple]:
    text = str(text).strip().lower()
    if text == "same":
        return "same", ((0, 0),) * ndim
    if ":" in text:
        pairs = tuple(tuple(int(v) for v in p.split(":")) for p in text.split(","))
        if len(pairs) == 1:
            pairs = pairs * ndim
        if len(pairs) != ndim or any(len(p) != 2 for p in pairs):
            raise ValueError(f"expected {ndim} low:high pairs")
        return "side", pairs
    return "axis", tuple((v, v) for v in _parse_ints(text, ndim))


def _parse_floats(text: str) -> tuple:
    vals = tuple(float(v) for v in str(text).split(",") if v.strip())
    if not vals or not all(math.isfinite(v) for v in vals):
        raise ValueError("expected finite numbers separated by commas")
    return vals


def _choice(options):
    def parse(text):
        if text not in options:
            raise ValueError(f"expected one of {', '.join(map(str, options))}")
        return text
    return parse


def from_query(query, ndim: int) -> tuple[Settings, list[str]]:
    """Settings from query parameters (missing ones take the defaults).

    Values that cannot be read are ignored, each with a message for the page; values that
    can be read but break a bound are clamped later by the controls.
    """
    s = defaults(ndim)
    problems: list[str] = []
    changes: dict = {}
    nonneg = int  # bounds are applied by the controls

    parsers = {
        "batch": ("batch", nonneg), "inmaps": ("inmaps", nonneg),
        "outmaps": ("outmaps", nonneg), "shape": ("shape", lambda t: _parse_ints(t, ndim)),
        "size": ("size", lambda t: _parse_ints(t, ndim)),
        "stride": ("stride", lambda t: _parse_ints(t, ndim)),
        "dilation": ("dilation", lambda t: _parse_ints(t, ndim)),
        "mode": ("mode", _choice(PADDING_MODES)), "groups": ("groups", nonneg),
        "bias": ("bias", _parse_floats), "src": ("source", _choice(tuple(INPUT_SOURCES))),
        "seed": ("seed", nonneg), "sample": ("sample", str), "typed": ("typed", str),
        "kernel": ("kernel", _choice(tuple(KERNEL_SOURCES))), "preset": ("preset", str),
        "scheme": ("scheme", _choice(INIT_SCHEMES)), "kseed": ("kseed", nonneg),
        "w": ("weights", _parse_floats), "item": ("item", nonneg), "omap": ("omap", nonneg),
        "imap": ("imap", nonneg), "step": ("step", nonneg),
        "speed": ("speed", lambda t: _choice(SPEEDS)(float(t))),
    }
    for key in query:
        text = query[key]
        if key == "pad":
            try:
                changes["pad_form"], changes["pad"] = _parse_pad(text, ndim)
            except ValueError as e:
                problems.append(f"ignored pad={text!r}: {e}")
            continue
        if key == "presenter":
            changes["presenter"] = str(text).lower() in ("1", "true", "yes", "on")
            continue
        if key not in parsers:
            continue
        name, parse = parsers[key]
        try:
            changes[name] = parse(text)
        except (ValueError, TypeError) as e:
            problems.append(f"ignored {key}={text!r}: {e}")
    s = replace(s, **changes)
    if s.source == "sample" and s.sample not in (src.SAMPLE_SIGNALS if ndim == 1
                                                  else src.SAMPLE_IMAGES):
        problems.append(f"ignored sample={s.sample!r}: no such sample")
        s = replace(s, sample=defaults(ndim).sample)
    if s.kernel == "preset" and s.preset not in src.kernel_presets(ndim):
        problems.append(f"ignored preset={s.preset!r}: no such preset")
        s = replace(s, preset=defaults(ndim).preset)
    return s, problems


# ------------------------------------------------------------------------------ inputs

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


def load_input(s: Settings, upload: Upload | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """The input ``(N, C, *spatial)`` float32 for the settings' source, and notices."""
    return _load_input(s.ndim, s.source, s.seed, s.sample, s.typed, s.batch, s.inmaps,
                       tuple(s.shape), _upload_key(upload), upload)


@st.cache_resource(max_entries=16, show_spinner=False)
def _load_input(ndim, source, seed, sample, typed, batch, inmaps, shape, upload_key, _upload):
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
    else:
        raise src.SourceError(f"unknown input source {source!r}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    x.setflags(write=False)
    return x, tuple(notices)


def preset_kernel(s: Settings) -> np.ndarray:
    return src.kernel_presets(s.ndim)[s.preset]


def custom_weights(ndim: int, size: tuple, outmaps: int, in_per_group: int) -> np.ndarray:
    """The documents' customW spread over ``(C_out, C_in/g, *size)``: output map j takes
    customW's map ``j % 2`` for every input map.  customW is square; a rectangular size takes
    its top-left corner."""
    base = src.custom_w(ndim, max(size))[:, 0]  # (2, *k)
    base = base[(slice(None),) + tuple(slice(0, k) for k in size)]
    w = base[np.arange(outmaps) % 2][:, None]
    return np.ascontiguousarray(np.broadcast_to(w, (outmaps, in_per_group, *size)),
                                dtype=np.float32)


def weight_shape(s: Settings) -> tuple:
    return (s.outmaps, s.inmaps // s.groups, *s.size)


def build_weights(s: Settings) -> np.ndarray:
    """The weights ``(C_out, C_in/groups, *size)`` for the settings' kernel source."""
    shape = weight_shape(s)
    if s.kernel == "customW":
        return custom_weights(s.ndim, s.size, s.outmaps, shape[1])
    if s.kernel == "preset":
        return src.expand_kernel(preset_kernel(s), s.outmaps, shape[1])
    if s.kernel == "random":
        return src.random_kernel(shape, s.scheme, s.kseed, s.groups)
    if s.weights is None or len(s.weights) != math.prod(shape):
        n = 0 if s.weights is None else len(s.weights)
        raise src.SourceError(f"kernel table: {n} values do not fill the weight shape {shape} "
                              f"({math.prod(shape)} values)")
    return np.asarray(s.weights, dtype=np.float32).reshape(shape)


def build_bias(s: Settings) -> np.ndarray | None:
    """One bias per output map; fewer values than maps are repeated in order."""
    if s.bias is None:
        return None
    return np.resize(np.asarray(s.bias, dtype=np.float32), s.outmaps)


# ------------------------------------------------------------------------------ computation

@dataclass(frozen=True)
class Computation:
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

    @property
    def steps(self) -> int:
        return int(math.prod(self.out.shape[2:]))


def conv_kwargs(s: Settings) -> dict:
    return dict(stride=tuple(s.stride), padding=s.padding, dilation=tuple(s.dilation),
                groups=s.groups, padding_mode=s.mode)


def compute(s: Settings, upload: Upload | None = None) -> Computation:
    """The cached computation for ``s`` (view fields do not matter)."""
    return _compute(s.conv_key(), _upload_key(upload), upload)


@st.cache_resource(max_entries=24, show_spinner="Computing…")
def _compute(s: Settings, upload_key: tuple | None, _upload: Upload | None) -> Computation:
    # cache_resource rather than cache_data: results hold big arrays that cache_data would
    # pickle and copy on every rerun; they are made read-only below, so sharing is safe.
    x, notices = load_input(s, _upload)
    weight = build_weights(s)
    bias = build_bias(s)
    conv = cc.conv1d if s.ndim == 1 else cc.conv2d
    kw = conv_kwargs(s)
    t0 = time.perf_counter()
    out = cc.to_numpy(conv(cc.gpuarray.to_gpu(x), cc.gpuarray.to_gpu(weight),
                           None if bias is None else cc.gpuarray.to_gpu(bias), **kw))
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
                       (t1 - t0) * 1e3, (t2 - t1) * 1e3, notices)


def step_trace(comp: Computation, s: Settings, step: int) -> cc.Step:
    """The core's trace of one output cell of the shown (item, output map)."""
    cell = np.unravel_index(step, comp.out.shape[2:])
    return cc.trace_step(comp.x, comp.weight, comp.bias,
                         out_index=(s.item, s.omap, *(int(i) for i in cell)),
                         **conv_kwargs(s))


@st.cache_resource(max_entries=24, show_spinner=False)
def _frame_taps(geometry: tuple, cap: int, steps_total: int):
    # Keyed by the geometry alone: where windows sit does not depend on any value.
    spatial, size, stride, padding, dilation = geometry
    steps = figures.frame_steps(steps_total, cap)
    wmap = cc.window_map(spatial, size, stride, padding, dilation, steps=steps)
    taps = wmap.coords - np.array([lo for lo, _ in wmap.pads])
    for a in (steps, taps):
        a.setflags(write=False)
    return steps, taps


def frame_taps(comp: Computation, s: Settings, cap: int = figures.MAX_FRAMES):
    """Steps shown by Play and their taps, in input coordinates (the core's window map)."""
    geometry = (comp.x.shape[2:], comp.weight.shape[2:], tuple(s.stride), s.padding,
                tuple(s.dilation))
    return _frame_taps(geometry, cap, comp.steps)


def shown_input_channel(s: Settings) -> int:
    """The absolute input map shown: the ``imap``-th input of the output map's group."""
    gmap = cc.group_map(s.inmaps, s.outmaps, s.groups)
    return gmap.inputs_of(s.omap)[s.imap]


def make_scene(comp: Computation, s: Settings, step: cc.Step) -> figures.Scene:
    """What the figure draws for the view (item, output map, input map, step)."""
    c_in = shown_input_channel(s)
    lo = tuple(p[0] for p in comp.padded.pads)
    taps = np.array([t.input_index for t in step.taps if t.in_channel == c_in])
    steps, ftaps = frame_taps(comp, s)
    kernel = comp.weight[s.omap, s.imap]
    dilation = tuple(s.dilation)
    return figures.Scene(
        padded=comp.padded.values[s.item, c_in], is_padding=comp.padded.is_padding,
        source=None if s.mode == "zeros" else comp.padded.source, lo=lo,
        in_shape=tuple(comp.x.shape[2:]), mode=s.mode,
        kernel=cc.dilated_kernel(kernel, dilation),
        kernel_taps=cc.dilated_kernel(np.ones_like(kernel), dilation) != 0,
        output=comp.out[s.item, s.omap], step=s.step, taps=taps, frame_steps=steps,
        frame_taps=ftaps, never_read=tuple(a.never_read for a in comp.axes),
        in_label=f"x[{c_in}]", out_label=f"out[{s.item},{s.omap}]",
        k_label=f"w[{s.omap},{s.imap}]",
    )


def settings_fields() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Settings))
