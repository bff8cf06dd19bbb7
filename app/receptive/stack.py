"""What the receptive-field page shows: a stack of convolutions (:class:`StackSettings`), its
presets, its limits and its shareable URL.

Pure data and pure functions, no Streamlit.  In the URL a stack reads like its layers::

    ?nd=1&in=32&layers=k2,k2d2,k2d4,k2d8        # a WaveNet-style dilated stack
    ?in=32,32&layers=k7s2p3,k3s2p1&cell=3,4     # a strided stem, output cell (3, 4) pinned

Each layer is ``k<kernel>`` followed by ``s<stride>``, ``d<dilation>``, ``p<padding>`` when they
differ from 1, 1 and 0; in 2-D a layer's values hold on both axes.  :func:`from_query` never
raises: what it cannot read is reported and the default kept; values it can read but that
break a limit are clamped later by the page's controls, which say so.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from app.shared.layer import clamp_int
from app.shared.url import Problem

MAX_LAYERS = 8
MAX_IN = {1: 1024, 2: 128}  # input cells per axis (the browser draws every level)
LIMITS = {"kernel": (1, 31), "stride": (1, 16), "dilation": (1, 64), "padding": (0, 64)}
LAYER_FIELDS = tuple(LIMITS)
TRUE_WORDS = ("1", "true", "yes", "on")
QUERY_KEYS = ("nd", "in", "layers", "cell", "presenter")  # every key the page's URL may hold
_LAYER = re.compile(r"k([0-9]{1,9})(?:s([0-9]{1,9}))?(?:d([0-9]{1,9}))?(?:p([0-9]{1,9}))?")


@dataclass(frozen=True)
class Layer:
    """One convolution of the stack; in 2-D each value holds on both axes."""

    kernel: int = 3
    stride: int = 1
    dilation: int = 1
    padding: int = 0

    def token(self) -> str:
        """The layer as the URL writes it: ``k3``, ``k7s2p3``, ``k2d4``."""
        text = f"k{self.kernel}"
        for letter, value, default in (("s", self.stride, 1), ("d", self.dilation, 1),
                                       ("p", self.padding, 0)):
            if value != default:
                text += f"{letter}{value}"
        return text

    def as_core(self) -> dict:
        """The layer as :func:`convcore.receptive_field` takes it."""
        return dict(kernel_size=self.kernel, stride=self.stride, dilation=self.dilation,
                    padding=self.padding)


@dataclass(frozen=True)
class StackSettings:
    """Every setting of the receptive-field page; the URL holds exactly these."""

    ndim: int = 2
    in_shape: tuple = (16, 16)
    layers: tuple = (Layer(3), Layer(3), Layer(3))
    cell: tuple | None = None  # the pinned output cell of the last layer (None: the centre)
    presenter: bool = False

    def core_layers(self) -> list[dict]:
        return [layer.as_core() for layer in self.layers]


PRESETS = {
    "three 3×3 layers": StackSettings(2, (16, 16), (Layer(3),) * 3),
    "dilated 1-D stack (WaveNet / TCN)": StackSettings(
        1, (40,), tuple(Layer(2, dilation=2**i) for i in range(5))),
    "strided stem (7×7 s2 + 3×3 s2)": StackSettings(
        2, (32, 32), (Layer(7, stride=2, padding=3), Layer(3, stride=2, padding=1))),
}
DEFAULT = StackSettings()


def default_in_shape(ndim: int, like: tuple = ()) -> tuple:
    """An input shape of ``ndim`` axes, from ``like`` where it has values."""
    first = like[0] if like else DEFAULT.in_shape[0]
    return (first,) * ndim if len(like) != ndim else tuple(like)


# ------------------------------------------------------------------------------ URL

def _ints(values) -> str:
    return str(values[0]) if len(set(values)) == 1 else ",".join(str(v) for v in values)


def to_query(s: StackSettings) -> dict[str, str]:
    """The settings as query parameters; values equal to the defaults are left out."""
    q: dict[str, str] = {}
    if s.ndim != DEFAULT.ndim:
        q["nd"] = str(s.ndim)
    if s.in_shape != default_in_shape(s.ndim):
        q["in"] = _ints(s.in_shape)
    if s.layers != DEFAULT.layers:
        q["layers"] = ",".join(layer.token() for layer in s.layers)
    if s.cell is not None:
        q["cell"] = ",".join(str(v) for v in s.cell)
    if s.presenter:
        q["presenter"] = "1"
    return q


def parse_layers(text: str) -> tuple[Layer, ...]:
    """``"k3,k3s2p1"`` as layers; raises ValueError naming the token it cannot read."""
    tokens = [t for t in str(text).replace(" ", "").lower().split(",") if t]
    if not tokens:
        raise ValueError("expected layers such as k3,k3s2p1")
    layers = []
    for token in tokens:
        m = _LAYER.fullmatch(token)
        if not m:
            raise ValueError(f"cannot read layer {token[:20]!r}: expected k<kernel> then "
                             f"optional s<stride>, d<dilation>, p<padding> (e.g. k3s2p1)")
        k, s, d, p = (None if v is None else int(v) for v in m.groups())
        layers.append(Layer(k, 1 if s is None else s, 1 if d is None else d,
                            0 if p is None else p))
    return tuple(layers)


def _parse_ints(text: str, count: int | None = None) -> tuple[int, ...]:
    parts = [p for p in str(text).replace(" ", "").split(",") if p]
    if not parts or not all(p.isascii() and p.isdigit() and len(p) <= 9 for p in parts):
        raise ValueError("expected whole numbers separated by commas")
    values = tuple(int(p) for p in parts)
    if count is not None:
        if len(values) == 1:
            values = values * count
        if len(values) != count:
            raise ValueError("expected 1 number" if count == 1 else f"expected 1 or {count} "
                             "numbers")
    return values


def from_query(query) -> tuple[StackSettings, list[str]]:
    """Settings from query parameters (missing ones take the defaults), and what was ignored
    or cut, each as a sentence for the page."""
    problems: list[str] = []

    def read(key, parse, default):
        if key not in query:
            return default
        text = query[key]
        try:
            return parse(text)
        except ValueError as e:
            problems.append(Problem(f"ignored {key}={str(text)[:80]!r}: {e}", key))
            return default

    def nd(text):
        if str(text).strip() not in ("1", "2"):
            raise ValueError("expected 1 or 2")
        return int(text)

    ndim = read("nd", nd, DEFAULT.ndim)
    in_shape = read("in", lambda t: _parse_ints(t, ndim), default_in_shape(ndim))
    layers = read("layers", parse_layers, DEFAULT.layers)
    if len(layers) > MAX_LAYERS:
        problems.append(f"layers: asked {len(layers)} layers, using the first {MAX_LAYERS} "
                        f"(the page's limit)")
        layers = layers[:MAX_LAYERS]
    cell = read("cell", lambda t: _parse_ints(t, ndim), None)
    presenter = str(query.get("presenter", "")).lower() in TRUE_WORDS
    return replace(DEFAULT, ndim=ndim, in_shape=in_shape, layers=layers, cell=cell,
                   presenter=presenter), problems


def clamp(s: StackSettings, notices) -> StackSettings:
    """The stack within the page's limits (input cells per axis, each layer's values), with
    a notice for each value moved, as the page's controls do (``notices``: an
    :class:`app.layer.Notices`)."""
    rule = "the page's limit"
    names = ("Input length",) if s.ndim == 1 else ("Input H", "Input W")
    in_shape = tuple(clamp_int(v, 1, MAX_IN[s.ndim], notices, name, rule)
                     for v, name in zip(s.in_shape, names))
    layers = tuple(
        Layer(**{name: clamp_int(getattr(layer, name), lo, hi, notices,
                                 f"layer {i + 1} {name}", rule)
                 for name, (lo, hi) in LIMITS.items()})
        for i, layer in enumerate(s.layers))
    return replace(s, in_shape=in_shape, layers=layers)


def scene_id(s: StackSettings) -> str:
    """Names the stack's scene (its geometry; the pinned cell is the view's)."""
    key = repr((s.ndim, s.in_shape, s.layers))
    return hashlib.sha1(key.encode()).hexdigest()[:16]
