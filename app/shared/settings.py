"""What one explorer page shows: a frozen :class:`Settings` and the page defaults.

Pure data, no Streamlit: the URL codec (:mod:`app.url`), the controls (:mod:`app.controls`), the
model (:mod:`app.model`) and the scene (:mod:`app.scene`) all read and write these fields.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import convcore as cc
from app.shared import sources as src
from app.shared.ranks import rank

PAD_FORMS = {"axis": "per axis", "side": "per side", "same": "same",
             "tfsame": "SAME (TF/JAX)"}
PADDING_MODES = cc.PADDING_MODES  # the core's table (convcore/padding_modes.py)
INPUT_SOURCES = {"arange": "arange (the documents' tensor)", "random": "random (seeded)",
                 "sample": "sample", "typed": "typed values", "upload": "upload a file",
                 "network": "a layer of the trained network (2-D)"}
KERNEL_SOURCES = {"customW": "customW (the documents')", "preset": "preset",
                  "random": "random (init scheme)", "table": "edit as a table",
                  "network": "learned (the trained network's layer, 2-D)"}
# the core's initializations that give weights ("none" leaves them unset: no kernel to show)
INIT_SCHEMES = tuple(name for name in cc.INIT_SCHEMES if name != "none")
SPEEDS = (1, 2, 4, 8, 15, 30, 60)  # Play speed, steps per second
MAX_BATCH = 4
MAX_MAPS = 64
MAX_KERNEL = 31
MAX_DILATION = 64
MAX_TABLE_VALUES = 4096  # table weights travel in the URL up to this many values
# What the browser view changes by itself; everything else needs the core to run again.
VIEW_FIELDS = ("item", "omap", "step", "speed", "reveal", "tview", "predict", "presenter")
TRANSPOSED_VIEWS = ("scatter", "gather")


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
    # "axis" (one value per axis), "side" (low, high per axis), "same" (PyTorch's: stride 1;
    # with a stride > 1 TensorFlow/JAX's SAME is used, with a notice), "tfsame" (that SAME)
    pad_form: str = "axis"
    pad: tuple = ()  # (low, high) per axis; for "axis" low == high
    output_padding: tuple = ()  # transposed page only: which of `stride` input sizes to return
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
    # source / kernel "network" (app/network): which layer of which network on which digit
    layer: int = 1  # 1: conv1 (reads the image), 2: conv2 (reads layer 1's pooled maps)
    image: int = 0  # test image index
    net: int | None = None  # the training seed; None: the shipped weights
    draw: str = ""  # a digit drawn on the network page instead of the test image
    item: int = 0
    omap: int = 0
    step: int = 0
    speed: int = 2
    reveal: bool = False  # True: output cells appear as the window reaches them
    tview: str = "scatter"  # transposed page: "scatter" (input cells) or "gather" (outputs)
    predict: bool = False  # explorers: hide each output cell until the student predicts it
    presenter: bool = False

    @property
    def data_source(self) -> bool:
        """True when the input's shape comes from data (sample, typed, upload, network)."""
        return self.source in ("sample", "typed", "upload", "network")

    @property
    def uses_network(self) -> bool:
        """The input or the kernel is a layer of the trained network (2-D only)."""
        return "network" in (self.source, self.kernel)

    @property
    def kernel_size(self) -> tuple:
        """The kernel's spatial size: a preset and the network's layer bring their own."""
        if self.kernel == "network":
            from app.network.net import KERNEL

            return (KERNEL,) * self.ndim
        if self.kernel == "preset" and self.preset in src.kernel_presets(self.ndim):
            return tuple(int(v) for v in src.kernel_presets(self.ndim)[self.preset].shape)
        return tuple(self.size)

    @property
    def tf_same(self) -> bool:
        """True when the pads are TensorFlow/JAX's SAME: asked for, or asked as PyTorch's
        ``same`` with a stride > 1 (which PyTorch refuses)."""
        return self.pad_form == "tfsame" or (self.pad_form == "same"
                                             and any(v > 1 for v in self.stride))

    @property
    def padding(self):
        """The ``padding`` argument for convcore: ``"same"`` or (low, high) pairs (SAME's
        from ``cc.tf_same_pads``)."""
        if self.tf_same:
            return cc.tf_same_pads(self.shape, self.kernel_size, self.stride, self.dilation)
        return "same" if self.pad_form == "same" else tuple(tuple(p) for p in self.pad)

    @property
    def weight_shape(self) -> tuple:
        return (self.outmaps, self.inmaps // self.groups, *self.size)

    def conv_kwargs(self) -> dict:
        """The convcore keyword arguments of these settings."""
        return dict(stride=tuple(self.stride), padding=self.padding,
                    dilation=tuple(self.dilation), groups=self.groups, padding_mode=self.mode)

    def conv_key(self) -> Settings:
        """These settings without the view fields: what the computation depends on."""
        base = defaults(self.ndim)
        return replace(self, **{f: getattr(base, f) for f in VIEW_FIELDS})


def defaults(ndim: int) -> Settings:
    """The page opens on the documents' first example: arange input, customW, size 2 (the
    rank's entry in :data:`app.shared.ranks.RANKS` gives the shape, sample and typed text)."""
    r = rank(ndim)
    one = (1,) * ndim
    return Settings(
        ndim=ndim, shape=r.shape, size=(2,) * ndim, stride=one,
        dilation=one, pad=((0, 0),) * ndim, output_padding=(0,) * ndim,
        sample=r.samples[0], typed=r.typed, preset=next(iter(src.kernel_presets(ndim))),
    )


def max_extent(ndim: int) -> int:
    return rank(ndim).max_side


def settings_fields() -> tuple[str, ...]:
    return tuple(f.name for f in fields(Settings))
