"""One description per rank: what a 1-D, 2-D or 3-D page needs to know about its axes.

Pure data, no Streamlit and no imports from the app: settings, sources, the URL codec, the
controls, the scene, the code panel, the exports and the browser view (through the scene's
``layout``) read these entries instead of branching on ``ndim``.  Adding a rank is adding an
entry here (plus its samples, kernel presets and customW in :mod:`app.shared.sources`, and a
page script registered in :mod:`app.shared.navigation`).

=====  ========  ===========  =========  ================================  ===========  =======
rank   axes      default      max side   samples                           view layout  exact
=====  ========  ===========  =========  ================================  ===========  =======
1      L         10           100,000    chirp, step, noisy sine, spikes   strip        400,000
2      H, W      5×5          1,024      checkerboard, letter F, ...       grid         400,000
3      D, H, W   4×5×5        64         sphere, moving bar (a clip)       slices       660,000
=====  ========  ===========  =========  ================================  ===========  =======

*exact*: the values a scene sends cell for cell (the group's padded input maps and the output
maps drawn; beyond, every n-th cell per axis, said).  3-D draws one output map (its slices), so
its scene sends only that one, and its budget holds a 64³ input map padded by up to 3 per side
with a 3³ kernel and its output (at most 657,000 values: 3.5 MB of JSON).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rank:
    """What one rank's pages know about their axes."""

    ndim: int
    axes: tuple[str, ...]  # short names, in the order of the array's spatial axes
    words: tuple[str, ...]  # the same axes in words (messages)
    shape: tuple[int, ...]  # the default generated input's shape
    typed: str  # the default typed values
    max_side: int  # the longest side of an input
    samples: tuple[str, ...]  # sample inputs by name (app.shared.sources loads them)
    upload_types: tuple[str, ...]
    layout: str  # how the browser view lays the maps out: strip | grid | slices
    shape_label: str  # the size control's label
    typed_help: str  # how typed rows become maps
    network: bool = False  # the trained network's layers (2-D) are offered
    images: bool = False  # PNG/JPEG uploads
    transposed: bool = True  # the transposed page offers this rank
    exact_values: int = 400_000  # values a scene sends cell for cell (see the table)
    shown_outputs: int = 16  # output maps the view draws side by side

    @property
    def spatial(self) -> str:
        """``"L"``, ``"H, W"``, ``"D, H, W"``."""
        return ", ".join(self.axes)

    @property
    def one_item(self) -> str:
        """The shape of one input item: ``(C, D, H, W)``."""
        return f"(C, {self.spatial})"

    @property
    def upload_shapes(self) -> str:
        """The .npy shapes an upload may have."""
        return (f"({self.spatial}{',' if self.ndim == 1 else ''}), {self.one_item} or "
                f"(1, C, {self.spatial})")

    @property
    def torch(self) -> str:
        """PyTorch's functional name suffix and module suffix: ``3d``."""
        return f"{self.ndim}d"

    @property
    def address(self) -> str:
        """The explorer page's URL path."""
        return f"explorer_{self.ndim}d"

    def label(self, text: str, axis: int) -> str:
        """A per-axis control's name: ``Stride W`` (no axis name with one axis)."""
        return f"{text} {self.axes[axis]}" if self.ndim > 1 else text


RANKS: dict[int, Rank] = {
    1: Rank(1, ("L",), ("length",), (10,), "2, 3, 4", 100_000,
            ("chirp", "step", "noisy sine", "spike train"), (".csv", ".npy"), "strip",
            "Length", "; every row is one input map"),
    2: Rank(2, ("H", "W"), ("height", "width"), (5, 5), "1 2 3; 4 5 6; 7 8 9", 1024,
            ("checkerboard", "letter F", "gradient blob", "rgb scene"),
            (".csv", ".npy", ".png", ".jpg", ".jpeg"), "grid", "Size",
            "; a blank line starts the next input map", network=True, images=True),
    3: Rank(3, ("D", "H", "W"), ("depth", "height", "width"), (4, 5, 5),
            "[[[1, 2], [3, 4]], [[5, 6], [7, 8]]]", 64, ("sphere", "moving bar (clip)"),
            (".npy", ".csv"), "slices", "Size",
            "; a blank line starts the next depth slice (one input map), or type a nested "
            "list [[[...]]]", exact_values=660_000, shown_outputs=1),
}


def transposed_ranks() -> tuple[int, ...]:
    """The ranks the transposed page offers (their entries say ``transposed``)."""
    return tuple(n for n, r in RANKS.items() if r.transposed)


def rank(ndim) -> Rank:
    """The entry of ``ndim``; a ValueError naming the ranks there are otherwise."""
    try:
        return RANKS[ndim]
    except (KeyError, TypeError):
        raise ValueError(f"ndim must be one of {', '.join(map(str, RANKS))}, got {ndim!r}"
                         ) from None
