"""The convolution arithmetic gallery: the canonical cases of Dumoulin & Visin, "A guide to
convolution arithmetic for deep learning" (arXiv:1603.07285; the animations of the
conv_arithmetic repository), each with its transposed twin, as data.

Pure: no Streamlit.  A case is a row of :data:`CASES` holding the guide's own numbers — input
``i``, kernel ``k``, stride ``s``, padding ``p``, dilation ``d``, the output size ``o`` the guide
prints, and for the twin the padding ``p'`` of the guide's equivalent direct convolution.  The
app computes none of them: the shapes, the formulas with their numbers, the twin's
``output_padding`` and its equivalent convolution come from convcore (``explain_shape``,
``transpose_output_size``, ``gather_form``), the pages' settings and links from the app's URL
codec; the tests hold convcore's answers to the guide's numbers and to PyTorch's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

import convcore as cc
from app.drill import questions as drill
from app.shared import settings, url


@dataclass(frozen=True)
class Case:
    """One of the guide's square 2-D examples and what it says about it."""

    slug: str  # the animation's name in conv_arithmetic: gif/<slug>.gif, gif/<slug>_transposed.gif
    title: str  # as the guide's figure captions and the repository's README name it
    rule: int  # the guide's Relationship for the convolution
    formula: str  # that relationship (LaTeX)
    twin_rule: int | None  # the guide's Relationship for the transposed twin (None: not in it)
    twin_formula: str  # that relationship, or PyTorch's ConvTranspose2d formula where it has none
    i: int
    k: int
    s: int
    p: int
    d: int
    o: int  # the output size the guide gives
    p_eq: int | None  # padding p' of the guide's equivalent direct convolution of the twin

    # ------------------------------------------------------------------ the convolution

    def forward(self) -> settings.Settings:
        """The explorer's settings: one input map of i×i (arange), one output map."""
        return replace(settings.defaults(2), outmaps=1, shape=(self.i,) * 2,
                       size=(self.k,) * 2, stride=(self.s,) * 2, pad=((self.p, self.p),) * 2,
                       dilation=(self.d,) * 2)

    def shape(self) -> cc.ShapeExplanation:
        """The core's shape arithmetic of the convolution, with the numbers in it."""
        return cc.explain_shape((self.i,) * 2, self.k, self.s, self.p, self.d)

    def out_size(self) -> int:
        return self.shape().out_spatial[0]

    # ------------------------------------------------------------------ the transposed twin

    def output_padding(self) -> int:
        """The ``output_padding`` that gives the twin back the convolution's input size: the
        one, of the ``s`` input sizes the floor sends to one output size, the core returns
        as ``i`` (the guide's ``a``)."""
        o = self.out_size()
        return next(a for a in range(max(self.s, self.d))
                    if cc.transpose_output_size(o, self.k, self.s, self.p, a, self.d) == self.i)

    def twin(self) -> settings.Settings:
        """The transposed page's settings: the convolution's output size in, the same kernel,
        stride, padding and dilation, shown as the guide draws it (gather: a direct
        convolution over the zero-inserted input)."""
        a = self.output_padding()
        return replace(self.forward(), shape=(self.out_size(),) * 2, output_padding=(a, a),
                       tview="gather")

    def twin_size(self) -> int:
        return cc.transpose_output_size(self.out_size(), self.k, self.s, self.p,
                                        self.output_padding(), self.d)

    def equivalent(self) -> cc.GatherForm:
        """The twin as the guide draws it: the direct convolution (stride 1, kernel flipped)
        over the input with ``s − 1`` zeros between cells and ``gather_form.pads`` around it."""
        n, a = self.out_size(), self.output_padding()
        return cc.gather_form(np.zeros((1, 1, n, n), np.float32),
                              np.zeros((1, 1, self.k, self.k), np.float32), stride=self.s,
                              padding=self.p, output_padding=a, dilation=self.d)

    # ------------------------------------------------------------------ both

    def questions(self) -> tuple[drill.Question, drill.Question]:
        """The two layers as the shape drill writes them (PyTorch spelling, formulas)."""
        common = dict(number=0, ndim=2, batch=1, in_channels=1, out_channels=1,
                      kernel=(self.k,) * 2, stride=(self.s,) * 2, padding=(self.p,) * 2,
                      dilation=(self.d,) * 2)
        return (drill.Question(kind="forward", in_spatial=(self.i,) * 2,
                               output_padding=(0, 0), **common),
                drill.Question(kind="transposed", in_spatial=(self.out_size(),) * 2,
                               output_padding=(self.output_padding(),) * 2, **common))

    def links(self) -> tuple[str, str]:
        """Links to the explorer and to the transposed page with exactly this case."""
        return url.link(self.forward()), url.link(self.twin(), "t")


# The guide's relationships, as it writes them (LaTeX).
_PAD_STRIDE = r"o = \left\lfloor \frac{i + 2p - k}{s} \right\rfloor + 1"
_PAD_STRIDE_T = r"o' = s\,(i' - 1) + k - 2p"

CASES = (
    Case("no_padding_no_strides", "No padding, unit strides", 1, r"o = (i - k) + 1",
         8, r"o' = i' + (k - 1)", i=4, k=3, s=1, p=0, d=1, o=2, p_eq=2),
    Case("arbitrary_padding_no_strides", "Arbitrary padding, unit strides", 2,
         r"o = (i - k) + 2p + 1", 9, r"o' = i' + (k - 1) - 2p",
         i=5, k=4, s=1, p=2, d=1, o=6, p_eq=1),
    Case("same_padding_no_strides", "Half (same) padding, unit strides", 3,
         r"o = i + 2 \lfloor k/2 \rfloor - (k - 1) = i", 10, r"o' = i' + (k - 1) - 2p = i'",
         i=5, k=3, s=1, p=1, d=1, o=5, p_eq=1),
    Case("full_padding_no_strides", "Full padding, unit strides", 4,
         r"o = i + 2(k - 1) - (k - 1) = i + (k - 1)", 11, r"o' = i' - (k - 1)",
         i=5, k=3, s=1, p=2, d=1, o=7, p_eq=0),
    Case("no_padding_strides", "No padding, strides", 5,
         r"o = \left\lfloor \frac{i - k}{s} \right\rfloor + 1", 12, r"o' = s\,(i' - 1) + k",
         i=5, k=3, s=2, p=0, d=1, o=2, p_eq=2),
    Case("padding_strides", "Padding, strides", 6, _PAD_STRIDE, 13, _PAD_STRIDE_T,
         i=5, k=3, s=2, p=1, d=1, o=3, p_eq=1),
    Case("padding_strides_odd", "Padding, strides (odd)", 6, _PAD_STRIDE, 14,
         r"o' = s\,(i' - 1) + a + k - 2p, \quad a = (i + 2p - k) \bmod s",
         i=6, k=3, s=2, p=1, d=1, o=3, p_eq=1),
    Case("dilation", "Dilation", 15,
         r"o = \left\lfloor \frac{i + 2p - k - (k - 1)(d - 1)}{s} \right\rfloor + 1", None,
         r"o' = (i' - 1)\,s - 2p + d\,(k - 1) + 1", i=7, k=3, s=1, p=0, d=2, o=3, p_eq=None),
)
