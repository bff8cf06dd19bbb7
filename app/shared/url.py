"""The shareable URL of an explorer view: :class:`~app.settings.Settings` <-> query parameters.

Pure functions.  :func:`to_query` leaves out values equal to the page defaults, so a default
view has a short URL; :func:`from_query` never raises: a value it cannot read is reported and
the default kept (the controls then report any value they have to clamp).

``step`` counts from 1, as the view does: ``step=9`` opens "step 9 of 16" (the settings hold
the 0-based raster index, 8).  A link from before this rule wrote the first step as
``step=0``: the page moves it to step 1 with a notice; any other old link opens one step
later than it did.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from app.network.data import check_drawing
from app.shared import sources as src
from app.shared.ranks import RANKS, rank
from app.shared.settings import (
    INIT_SCHEMES,
    INPUT_SOURCES,
    KERNEL_SOURCES,
    MAX_TABLE_VALUES,
    PADDING_MODES,
    SPEEDS,
    TRANSPOSED_VIEWS,
    Settings,
    defaults,
)

TRUE_WORDS = ("1", "true", "yes", "on")
# The URL paths of the pages that show Settings, by page ("e" explorer, "t" transposed, as the
# session keys of app.controls) and rank; app.navigation registers the pages under them.
ADDRESSES = {"e": {n: r.address for n, r in RANKS.items()},
             "t": {n: "transposed" for n in RANKS}}


class Problem(str):
    """A sentence about a URL value that could not be used, which knows the parameter it is
    about (the scene API answers it as a 400 naming that parameter)."""

    parameter: str

    def __new__(cls, text: str, parameter: str):
        self = super().__new__(cls, text)
        self.parameter = parameter
        return self


def _ints(t) -> str:
    return str(t[0]) if len(set(t)) == 1 else ",".join(str(int(v)) for v in t)


def _floats(t) -> str:
    return ",".join(f"{float(v):.10g}" for v in t)


def _pad_text(s: Settings) -> str:
    if s.pad_form in ("same", "tfsame"):
        return s.pad_form
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
    if s.kernel not in ("preset", "network"):  # these bring their own size
        put("size", s.size, d.size, _ints)
    put("stride", s.stride, d.stride, _ints)
    put("dilation", s.dilation, d.dilation, _ints)
    if (s.pad_form, s.pad) != (d.pad_form, d.pad):
        q["pad"] = _pad_text(s)
    put("opad", s.output_padding, d.output_padding, _ints)
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
    if s.uses_network:
        put("layer", s.layer, d.layer, str)
        put("image", s.image, d.image, str)
        if s.net is not None:
            q["net"] = str(s.net)
        if s.draw:
            q["draw"] = s.draw
    for name in ("item", "omap", "speed"):
        put(name, getattr(s, name), getattr(d, name), str)
    put("step", s.step + 1, d.step + 1, str)  # as the view counts: "step 9 of 16" is step=9
    if s.reveal:
        q["reveal"] = "1"
    if s.predict:
        q["predict"] = "1"
    put("tview", s.tview, d.tview, str)
    if s.presenter:
        q["presenter"] = "1"
    return q


def page_query(s: Settings, page: str = "e") -> dict[str, str]:
    """The query of ``s`` on its page: the transposed page serves both ranks and says which."""
    q = to_query(s)
    if page == "t" and s.ndim != 1:  # the transposed page opens on 1-D
        q["ndim"] = str(s.ndim)
    return q


def link(s: Settings, page: str = "e") -> str:
    """A link to ``s`` on its page, relative to the app's root, so that it works under any
    base path: ``explorer_2d?shape=4&size=3``."""
    query = urlencode(page_query(s, page), safe=",:")
    return ADDRESSES[page][s.ndim] + (f"?{query}" if query else "")


def _integer(text) -> int:
    """A whole number from the URL; a ValueError in the page's words otherwise (not int()'s
    "invalid literal for int() with base 10")."""
    try:
        return int(str(text).strip())
    except ValueError:
        raise ValueError(f"expected a whole number, got {str(text)[:40]!r}") from None


def _parse_ints(text: str, ndim: int) -> tuple:
    parts = [p for p in str(text).replace(" ", "").split(",") if p]
    vals = tuple(_integer(p) for p in parts)
    if len(vals) == 1:
        vals = vals * ndim
    if len(vals) != ndim:
        raise ValueError(f"expected 1 or {ndim} integers")
    return vals


def _parse_pad(text: str, ndim: int) -> tuple[str, tuple]:
    text = str(text).strip().lower()
    if text in ("same", "tfsame"):
        return text, ((0, 0),) * ndim
    if text == "valid":
        return "axis", ((0, 0),) * ndim
    if ":" in text:
        pairs = tuple(tuple(_integer(v) for v in p.split(":")) for p in text.split(","))
        if len(pairs) == 1:
            pairs = pairs * ndim
        if len(pairs) != ndim or any(len(p) != 2 for p in pairs):
            raise ValueError(f"expected {ndim} low:high pairs")
        return "side", pairs
    return "axis", tuple((v, v) for v in _parse_ints(text, ndim))


def parse_floats(text: str) -> tuple:
    """Numbers separated by commas (or semicolons).  ``inf``, ``-inf`` and ``nan`` are numbers
    too: the page draws them and explains where they come from."""
    vals = tuple(float(v) for v in str(text).replace(";", ",").split(",") if v.strip())
    if not vals:
        raise ValueError("expected numbers separated by commas")
    return vals


def _choice(options):
    def parse(text):
        if text not in options:
            raise ValueError(f"expected one of {', '.join(map(str, options))}")
        return text
    return parse


def _flag(text) -> bool:
    return str(text).lower() in TRUE_WORDS


def _parsers(ndim: int) -> dict:
    """Query key -> (Settings field(s), parser of its text)."""
    count = _integer
    return {
        "batch": ("batch", count), "inmaps": ("inmaps", count),
        "outmaps": ("outmaps", count), "shape": ("shape", lambda t: _parse_ints(t, ndim)),
        "size": ("size", lambda t: _parse_ints(t, ndim)),
        "stride": ("stride", lambda t: _parse_ints(t, ndim)),
        "dilation": ("dilation", lambda t: _parse_ints(t, ndim)),
        "pad": (("pad_form", "pad"), lambda t: _parse_pad(t, ndim)),
        "opad": ("output_padding", lambda t: _parse_ints(t, ndim)),
        "mode": ("mode", _choice(PADDING_MODES)), "groups": ("groups", count),
        "bias": ("bias", parse_floats), "src": ("source", _choice(tuple(INPUT_SOURCES))),
        "seed": ("seed", count), "sample": ("sample", str), "typed": ("typed", str),
        "kernel": ("kernel", _choice(tuple(KERNEL_SOURCES))), "preset": ("preset", str),
        "scheme": ("scheme", _choice(INIT_SCHEMES)), "kseed": ("kseed", count),
        "w": ("weights", parse_floats), "item": ("item", count), "omap": ("omap", count),
        "step": ("step", lambda t: _integer(t) - 1),  # from 1 in the URL, as the view counts
        "speed": ("speed", lambda t: _choice(SPEEDS)(_integer(t))),
        "reveal": ("reveal", _flag), "presenter": ("presenter", _flag),
        "predict": ("predict", _flag),
        "tview": ("tview", _choice(TRANSPOSED_VIEWS)),
        "layer": ("layer", count), "image": ("image", count), "net": ("net", count),
        "draw": ("draw", check_drawing),
    }


QUERY_KEYS = tuple(_parsers(1))  # every key an explorer URL may hold


def from_query(query, ndim: int) -> tuple[Settings, list[str]]:
    """Settings from query parameters (missing ones take the defaults), and what was ignored.

    Values that cannot be read are ignored, each with a message for the page (a
    :class:`Problem` naming its parameter); values that can be read but break a bound are
    clamped later by the controls (which say so).
    """
    s = defaults(ndim)
    problems: list[str] = []
    changes: dict = {}
    parsers = _parsers(ndim)
    for key in query:
        text = query[key]
        if key not in parsers:
            continue
        name, parse = parsers[key]
        try:
            value = parse(text)
        except (ValueError, TypeError, OverflowError) as e:
            problems.append(Problem(f"ignored {key}={str(text)[:80]!r}: {e}", key))
            continue
        if isinstance(name, tuple):
            changes.update(zip(name, value))
        else:
            changes[name] = value
    s = replace(s, **changes)
    if s.source == "sample" and s.sample not in src.samples(ndim):
        problems.append(Problem(f"ignored sample={s.sample[:80]!r}: no such sample", "sample"))
        s = replace(s, sample=defaults(ndim).sample)
    if not rank(ndim).network and s.uses_network:
        for key, field in (("src", "source"), ("kernel", "kernel")):
            if getattr(s, field) == "network":
                problems.append(Problem(f"ignored {key}=network: the trained network's "
                                        "layers are 2-D (open them on the 2-D explorer)", key))
                s = replace(s, **{field: getattr(defaults(ndim), field)})
    if s.kernel == "preset" and s.preset not in src.kernel_presets(ndim):
        problems.append(Problem(f"ignored preset={s.preset[:80]!r}: no such preset", "preset"))
        s = replace(s, preset=defaults(ndim).preset)
    return s, problems
