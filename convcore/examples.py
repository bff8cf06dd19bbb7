"""Every worked example of the seed documents, as data: one transcription shared by the tests
and the app's gallery.

Each :class:`Example` keeps the document's code and the output it *prints* (a literal, copied
from the document), plus what we know to be wrong in the document (:class:`Erratum`).
:func:`run_example` computes the example with convcore through the documented module API, and
:func:`check_example` compares.  We never bend the core to a typo: a printed output that
contradicts the document's own formula stays recorded as printed, next to the right answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import gpuarray
from .backend import to_numpy
from .core import conv1d
from .errors import ConvError, shown
from .modules import Conv1D, Conv2D, Deconv1D, Deconv2D, Sequential
from .transposed import conv_transpose1d
from .variable import Variable

DOCUMENTS = {
    "000": "PuzzleLib Conv1D",
    "001": "MegEngine Conv1d",
    "002": "PuzzleLib Conv2D",
    "003": "R torch nn_conv1d",
    "004": "Blog: Convolutions in 1 dimension",
}


@dataclass(frozen=True)
class Erratum:
    """Something a document gets wrong.

    ``kind``: ``"output"`` (the printed output is not what the documented code computes),
    ``"formula"`` (the document's shape formula disagrees with its own printed shape),
    ``"code"`` (the code would not run as printed) or ``"prose"`` (the text misstates a number).
    """

    id: str
    kind: str
    document_says: str
    right: str
    why: str


@dataclass(frozen=True)
class Example:
    """One worked example of a seed document."""

    id: str
    seed: str
    section: str
    code: str
    module: str
    params: dict
    # "values": printed is an array literal; "shapes": printed is a tuple of shapes
    kind: str
    printed: object
    input: str = "arange"  # "arange", "randn" (shape-only examples) or "literal"
    input_shape: tuple = ()
    input_values: tuple | None = None
    weights: object = "customW"  # "customW", "random" or a literal nested list
    bias: tuple | None = None
    errata: tuple = ()
    reproduced_by: dict = field(default_factory=dict)  # params that reproduce a wrong print
    formula_shape: tuple | None = None  # where nothing is printed: the doc's formula's shape
    note: str = ""

    @property
    def document(self) -> str:
        return DOCUMENTS[self.seed]

    @property
    def output_errata(self) -> tuple:
        return tuple(e for e in self.errata if e.kind == "output")


# --- the documents' helpers, as printed ------------------------------------------------------

def custom_w_1d(size):
    """Seed 000's ``customW``: map 0 all ones, map 1 ``[0, -1, ..., -(size-1)]``."""
    w1 = np.ones(shape=(1, 1, 1, size))
    w2 = np.arange(size).reshape((1, 1, 1, size)) * -1
    return np.vstack([w1, w2]).astype(np.float32)


def custom_w_2d(size):
    """Seed 002's ``customW``: map 0 the identity, map 1 the anti-diagonal ``-1, -2, ...``."""
    w1 = np.diag(np.full(size, 1)).reshape((1, 1, size, size))
    w2 = np.flip(np.diag(np.arange(1, size + 1) * (-1)), 1).reshape((1, 1, size, size))
    return np.vstack([w1, w2]).astype(np.float32)


_P1 = "000"
_P2 = "002"
_C1 = "conv = Conv1D(inmaps=inmaps, outmaps=outmaps, {args}, useBias=False)"
_C2 = ("conv = Conv2D(inmaps=inmaps, outmaps=outmaps, {args}, useBias=False)\n"
       "conv(data)\nprint(conv.data)")

_NO_FLOOR_WHY = (
    "The document's shape formula has no floor: (H_in + 2pad - dil(size-1) - 1)/stride + 1 is "
    "{value} here, not a whole number. The printed output has {printed} rows/columns, which is "
    "the floor of the division plus one, as in PyTorch and R torch: the last partial window "
    "step is dropped. The printed output is right; the formula needs the floor."
)


def _floor_erratum(eid, axis_name, numerator, stride, printed):
    value = Fraction(numerator, stride) + 1
    return Erratum(
        id=eid, kind="formula",
        document_says=f"{axis_name}_out = ({numerator})/{stride} + 1 = {float(value):g}",
        right=f"{axis_name}_out = floor({numerator}/{stride}) + 1 = {numerator // stride + 1}",
        why=_NO_FLOOR_WHY.format(value=f"{float(value):g}", printed=printed),
    )


EXAMPLES: tuple[Example, ...] = (
    # ---------------------------------------------------------------- seed 000: PuzzleLib Conv1D
    Example(
        id="puzzlelib-conv1d-basic", seed=_P1, section="Basic convolution example",
        code=("batchsize, inmaps, l = 1, 1, 10\noutmaps = 2\n"
              "data = gpuarray.to_gpu(np.arange(batchsize * inmaps * l).reshape((batchsize, "
              "inmaps, l)).astype(np.float32))\nsize = 2\n"
              "conv = Conv1D(inmaps=inmaps, outmaps=outmaps, size=size, useBias=False)\n"
              'conv.setVar("W", Variable(gpuarray.to_gpu(customW(size))))'),
        module="Conv1D", params=dict(inmaps=1, outmaps=2, size=2), kind="values",
        input_shape=(1, 1, 10),
        printed=[[[1., 3., 5., 7., 9., 11., 13., 15., 17.],
                  [-1., -2., -3., -4., -5., -6., -7., -8., -9.]]],
    ),
    Example(
        id="puzzlelib-conv1d-size", seed=_P1, section="Size parameter",
        code=_C1.format(args="size=3"), module="Conv1D",
        params=dict(inmaps=1, outmaps=2, size=3), kind="values", input_shape=(1, 1, 10),
        printed=[[[3., 6., 9., 12., 15., 18., 21., 24.],
                  [-5., -8., -11., -14., -17., -20., -23., -26.]]],
    ),
    Example(
        id="puzzlelib-conv1d-pad", seed=_P1, section="Pad parameter",
        code=_C1.format(args="size=3, pad=1"), module="Conv1D",
        params=dict(inmaps=1, outmaps=2, size=3, pad=1), kind="values", input_shape=(1, 1, 10),
        printed=[[[1., 3., 6., 9., 12., 15., 18., 21., 24., 17.],
                  [-2., -5., -8., -11., -14., -17., -20., -23., -26., -9.]]],
        errata=(Erratum(
            id="puzzlelib-conv1d-pad-size-of-5", kind="prose",
            document_says="“to preserve the size of 5 we need padding 1”",
            right="the sequence has length 10; padding 1 with size 3 and stride 1 preserves 10",
            why="The sentence was carried over from the 2-D page (5x5 maps). The code, the "
                "padded tensor it shows (12 values) and the printed output (10 per map) all "
                "use length 10, and they are right.",
        ),),
    ),
    Example(
        id="puzzlelib-conv1d-stride", seed=_P1, section="Stride parameter",
        code=_C1.format(args="size=2, stride=2"), module="Conv1D",
        params=dict(inmaps=1, outmaps=2, size=2, stride=2), kind="values",
        input_shape=(1, 1, 10),
        printed=[[[1., 5., 9., 13., 17.], [-1., -3., -5., -7., -9.]]],
    ),
    Example(
        id="puzzlelib-conv1d-stride-pad", seed=_P1, section="Stride parameter (with pad)",
        code=_C1.format(args="size=2, stride=2, pad=2"), module="Conv1D",
        params=dict(inmaps=1, outmaps=2, size=2, stride=2, pad=2), kind="values",
        input_shape=(1, 1, 10),
        printed=[[[0., 0., 0., 3., 7., 11., 15., 9., 0., 0.],
                  [0., 0., 0., -2., -4., -6., -8., 0., 0., 0.]]],
        reproduced_by=dict(pad=5),
        errata=(Erratum(
            id="puzzlelib-conv1d-stride-pad-output", kind="output",
            document_says="with size=2, stride=2, pad=2 the output has 10 values per map: "
                          "[0 0 0 3 7 11 15 9 0 0] and [0 0 0 -2 -4 -6 -8 0 0 0]",
            right="L_out = floor((10 + 2·2 − 1·(2−1) − 1)/2) + 1 = 7: "
                  "[0 1 5 9 13 17 0] and [0 −1 −3 −5 −7 −9 0]",
            why="The document's own formula gives 7 outputs for pad=2, not 10. The printed rows "
                "are exactly what pad=5 computes — and pad=5 is the padding that really keeps "
                "length 10 at stride 2 (floor((10 + 10 − 2)/2) + 1 = 10). The text's claim "
                "“to preserve the shape we have to set the padding to 2” is wrong, and the "
                "output was printed from a run with pad=5.",
        ),),
    ),
    Example(
        id="puzzlelib-conv1d-dilation", seed=_P1, section="Dilation parameter",
        code=_C1.format(args="size=2, stride=1, pad=0, dilation=2"), module="Conv1D",
        params=dict(inmaps=1, outmaps=2, size=2, stride=1, pad=0, dilation=2), kind="values",
        input_shape=(1, 1, 10),
        printed=[[[2., 4., 6., 8., 10., 12., 14., 16.],
                  [-2., -3., -4., -5., -6., -7., -8., -9.]]],
    ),
    Example(
        id="puzzlelib-conv1d-groups-1", seed=_P1, section="Groups parameter (groups=1)",
        code=('batchsize, inmaps, l = 1, 16, 10\noutmaps = 32\ngroups = 1\n'
              'conv = Conv1D(inmaps, outmaps, size=2, initscheme="gaussian", groups=groups)'),
        module="Conv1D", params=dict(inmaps=16, outmaps=32, size=2, initscheme="gaussian",
                                     groups=1),
        kind="shapes", input="randn", input_shape=(1, 16, 10), weights="random",
        printed=((32, 16, 1, 2),),
    ),
    Example(
        id="puzzlelib-conv1d-groups-4", seed=_P1, section="Groups parameter (groups=4)",
        code=('groups = 4\n'
              'conv = Conv1D(inmaps, outmaps, size=2, initscheme="gaussian", groups=groups)'),
        module="Conv1D", params=dict(inmaps=16, outmaps=32, size=2, initscheme="gaussian",
                                     groups=4),
        kind="shapes", input="randn", input_shape=(1, 16, 10), weights="random",
        printed=((32, 4, 1, 2),),
    ),
    Example(
        id="puzzlelib-conv1d-depthwise", seed=_P1, section="Depthwise separable block",
        code=('seq = Sequential()\n'
              'seq.append(Conv1D(inmaps, inmaps, size=size, initscheme="gaussian", '
              'groups=inmaps, name="depthwise"))\n'
              'seq.append(Conv1D(inmaps, outmaps, size=1, initscheme="gaussian", '
              'name="pointwise"))'),
        module="Sequential1D", params=dict(inmaps=16, outmaps=32, size=2), kind="shapes",
        input="randn", input_shape=(1, 16, 10), weights="random",
        printed=((16, 1, 1, 2), (32, 16, 1, 1)),
    ),
    # ---------------------------------------------------------------- seed 002: PuzzleLib Conv2D
    Example(
        id="puzzlelib-conv2d-basic", seed=_P2, section="Basic convolution example",
        code=("batchsize, inmaps, h, w = 1, 1, 5, 5\noutmaps = 2\n"
              "data = gpuarray.to_gpu(np.arange(batchsize * inmaps * h * w).reshape((batchsize,"
              " inmaps, h, w)).astype(np.float32))\nsize = 2\n"
              "conv = Conv2D(inmaps=inmaps, outmaps=outsize, size=size, useBias=False)\n"
              'conv.setVar("W", Variable(gpuarray.to_gpu(customW(size))))\n'
              "conv(data)\nprint(conv.data)"),
        module="Conv2D", params=dict(inmaps=1, outmaps=2, size=2), kind="values",
        input_shape=(1, 1, 5, 5),
        printed=[[[[6., 8., 10., 12.], [16., 18., 20., 22.], [26., 28., 30., 32.],
                   [36., 38., 40., 42.]],
                  [[-11., -14., -17., -20.], [-26., -29., -32., -35.], [-41., -44., -47., -50.],
                   [-56., -59., -62., -65.]]]],
        errata=(
            Erratum(
                id="puzzlelib-conv2d-basic-outsize", kind="code",
                document_says="conv = Conv2D(inmaps=inmaps, outmaps=outsize, ...)",
                right="conv = Conv2D(inmaps=inmaps, outmaps=outmaps, ...)",
                why="No variable `outsize` is defined (NameError as printed); every other "
                    "example passes outmaps=outmaps, and the printed output has 2 maps.",
            ),
            Erratum(
                id="puzzlelib-conv2d-basic-maps", kind="prose",
                document_says="“we will set the number of input and output maps equal to 2 "
                              "and 2”",
                right="1 input map and 2 output maps",
                why="The code sets inmaps = 1 and the printed input has one 5x5 map.",
            ),
        ),
    ),
    Example(
        id="puzzlelib-conv2d-size", seed=_P2, section="Size parameter",
        code=_C2.format(args="size=3"), module="Conv2D",
        params=dict(inmaps=1, outmaps=2, size=3), kind="values", input_shape=(1, 1, 5, 5),
        printed=[[[[18., 21., 24.], [33., 36., 39.], [48., 51., 54.]],
                  [[-44., -50., -56.], [-74., -80., -86.], [-104., -110., -116.]]]],
    ),
    Example(
        id="puzzlelib-conv2d-pad", seed=_P2, section="Pad parameter",
        code=_C2.format(args="size=3, pad=1"), module="Conv2D",
        params=dict(inmaps=1, outmaps=2, size=3, pad=1), kind="values", input_shape=(1, 1, 5, 5),
        printed=[[[[6., 8., 10., 12., 4.], [16., 18., 21., 24., 12.], [26., 33., 36., 39., 22.],
                   [36., 48., 51., 54., 32.], [20., 36., 38., 40., 42.]],
                  [[0., -17., -22., -27., -32.], [-11., -44., -50., -56., -57.],
                   [-26., -74., -80., -86., -82.], [-41., -104., -110., -116., -107.],
                   [-56., -59., -62., -65., -48.]]]],
    ),
    Example(
        id="puzzlelib-conv2d-pad-hw", seed=_P2, section="Pad parameter (per axis)",
        code=_C2.format(args="size=3, pad=(1, 0)"), module="Conv2D",
        params=dict(inmaps=1, outmaps=2, size=3, pad=(1, 0)), kind="values",
        input_shape=(1, 1, 5, 5),
        printed=[[[[8., 10., 12.], [18., 21., 24.], [33., 36., 39.], [48., 51., 54.],
                   [36., 38., 40.]],
                  [[-17., -22., -27.], [-44., -50., -56.], [-74., -80., -86.],
                   [-104., -110., -116.], [-59., -62., -65.]]]],
    ),
    Example(
        id="puzzlelib-conv2d-stride", seed=_P2, section="Stride parameter",
        code=_C2.format(args="size=2, stride=2"), module="Conv2D",
        params=dict(inmaps=1, outmaps=2, size=2, stride=2), kind="values",
        input_shape=(1, 1, 5, 5),
        printed=[[[[6., 10.], [26., 30.]], [[-11., -17.], [-41., -47.]]]],
        errata=(_floor_erratum("puzzlelib-conv2d-stride-floor", "H", 3, 2, 2),),
    ),
    Example(
        id="puzzlelib-conv2d-stride-pad", seed=_P2, section="Stride parameter (with pad)",
        code=_C2.format(args="size=2, stride=2, pad=3"), module="Conv2D",
        params=dict(inmaps=1, outmaps=2, size=2, stride=2, pad=3), kind="values",
        input_shape=(1, 1, 5, 5),
        printed=[[[[0., 0., 0., 0., 0.], [0., 0., 2., 4., 0.], [0., 10., 18., 22., 0.],
                   [0., 20., 38., 42., 0.], [0., 0., 0., 0., 0.]],
                  [[0., 0., 0., 0., 0.], [0., 0., -2., -6., 0.], [0., -5., -29., -35., 0.],
                   [0., -15., -59., -65., 0.], [0., 0., 0., 0., 0.]]]],
        errata=(_floor_erratum("puzzlelib-conv2d-stride-pad-floor", "H", 9, 2, 5),),
    ),
    Example(
        id="puzzlelib-conv2d-stride-hw", seed=_P2, section="Stride parameter (per axis)",
        code=_C2.format(args="size=2, stride=(2, 4), pad=3"), module="Conv2D",
        params=dict(inmaps=1, outmaps=2, size=2, stride=(2, 4), pad=3), kind="values",
        input_shape=(1, 1, 5, 5),
        printed=[[[[0., 0., 0.], [0., 2., 0.], [0., 18., 0.], [0., 38., 0.], [0., 0., 0.]],
                  [[0., 0., 0.], [0., -2., 0.], [0., -29., 0.], [0., -59., 0.], [0., 0., 0.]]]],
        errata=(_floor_erratum("puzzlelib-conv2d-stride-hw-floor-h", "H", 9, 2, 5),
                _floor_erratum("puzzlelib-conv2d-stride-hw-floor-w", "W", 9, 4, 3)),
    ),
    Example(
        id="puzzlelib-conv2d-dilation", seed=_P2, section="Dilation parameter",
        code=_C2.format(args="size=2, stride=1, pad=0, dilation=2"), module="Conv2D",
        params=dict(inmaps=1, outmaps=2, size=2, stride=1, pad=0, dilation=2), kind="values",
        input_shape=(1, 1, 5, 5),
        printed=[[[[12., 14., 16.], [22., 24., 26.], [32., 34., 36.]],
                  [[-22., -25., -28.], [-37., -40., -43.], [-52., -55., -58.]]]],
    ),
    Example(
        id="puzzlelib-conv2d-dilation-hw", seed=_P2, section="Dilation parameter (per axis)",
        code=("conv = Conv2D(inmaps=inmaps, outmaps=outmaps, size=2, stride=1, pad=0, "
              "dilation=(3, 1), useBias=False)\nprint(conv(data))"),
        module="Conv2D", params=dict(inmaps=1, outmaps=2, size=2, stride=1, pad=0,
                                     dilation=(3, 1)),
        kind="values", input_shape=(1, 1, 5, 5),
        printed=[[[[16., 18., 20., 22.], [26., 28., 30., 32.]],
                  [[-31., -34., -37., -40.], [-46., -49., -52., -55.]]]],
    ),
    Example(
        id="puzzlelib-conv2d-groups-1", seed=_P2, section="Groups parameter (groups=1)",
        code=('batchsize, inmaps, h, w = 1, 16, 5, 5\noutmaps = 32\ngroups = 1\n'
              'conv = Conv2D(inmaps, outmaps, size=2, initscheme="gaussian", groups=groups)\n'
              'print(conv.W.shape)'),
        module="Conv2D", params=dict(inmaps=16, outmaps=32, size=2, initscheme="gaussian",
                                     groups=1),
        kind="shapes", input="randn", input_shape=(1, 16, 5, 5), weights="random",
        printed=((32, 16, 2, 2),),
    ),
    Example(
        id="puzzlelib-conv2d-groups-4", seed=_P2, section="Groups parameter (groups=4)",
        code=('groups = 4\n'
              'conv = Conv2D(inmaps, outmaps, size=2, initscheme="gaussian", groups=groups)\n'
              'print(conv.W.shape)'),
        module="Conv2D", params=dict(inmaps=16, outmaps=32, size=2, initscheme="gaussian",
                                     groups=4),
        kind="shapes", input="randn", input_shape=(1, 16, 5, 5), weights="random",
        printed=((32, 4, 2, 2),),
    ),
    Example(
        id="puzzlelib-conv2d-depthwise", seed=_P2, section="Depthwise separable block",
        code=('batchsize, inmaps, h, w = 1, 3, 5, 5\noutmaps = 32\nseq = Sequential()\n'
              'seq.append(Conv2D(inmaps, inmaps, size=4, initscheme="gaussian", groups=inmaps, '
              'name="depthwise"))\n'
              'seq.append(Conv2D(inmaps, outmaps, size=1, initscheme="gaussian", '
              'name="pointwise"))\nprint(seq["depthwise"].W.shape)\n'
              'print(seq["pointwise"].W.shape)'),
        module="Sequential2D", params=dict(inmaps=3, outmaps=32, size=4), kind="shapes",
        input="randn", input_shape=(1, 3, 5, 5), weights="random",
        printed=((3, 1, 4, 4), (32, 3, 1, 1)),
        note="seq(data) is run too; the document prints nothing for it (output (1, 32, 2, 2)).",
    ),
    # ---------------------------------------------------------------- seed 001: MegEngine Conv1d
    Example(
        id="megengine-conv1d", seed="001", section="Examples",
        code=("m = M.Conv1d(in_channels=3, out_channels=1, kernel_size=3)\n"
              'inp = mge.tensor(np.arange(0, 24).astype("float32").reshape(2, 3, 4))\n'
              "oup = m(inp)\noup.numpy().shape"),
        module="conv1d", params=dict(in_channels=3, out_channels=1, kernel_size=3),
        kind="output_shape", input="arange", input_shape=(2, 3, 4), weights="random",
        printed=((2, 1, 2),),
    ),
    # ---------------------------------------------------------------- seed 003: R torch
    Example(
        id="rtorch-nn-conv1d", seed="003", section="Examples",
        code=("m <- nn_conv1d(16, 33, 3, stride = 2)\ninput <- torch_randn(20, 16, 50)\n"
              "output <- m(input)"),
        module="conv1d", params=dict(in_channels=16, out_channels=33, kernel_size=3, stride=2),
        kind="output_shape", input="randn", input_shape=(20, 16, 50), weights="random",
        printed=None, formula_shape=((20, 33, 24),),
        note="The document prints no output; its Shape formula gives "
             "floor((50 − 2 − 1)/2) + 1 = 24, so the output is (20, 33, 24).",
    ),
    # ---------------------------------------------------------------- seed 004: the blog
    # The blog's weights are random; it prints formulas. We fix w and b and transcribe its
    # formulas with those numbers: w = 0.5 (size 1), w0 = 0.5, w1 = -2 (size 2), b = 0.25.
    Example(
        id="blog-k1-s1", seed="004", section="Kernel Size = 1 , Stride = 1",
        code=("m = nn.Conv1d(in_channels = 1, out_channels = 1, kernel_size = 1, stride=1)\n"
              "input = torch.tensor([[[2.,3.,4.,]]])"),
        module="conv1d", params=dict(stride=1, padding=0), kind="values", input="literal",
        input_values=(2., 3., 4.), weights=[[[0.5]]], bias=(0.25,),
        printed=[[["2 * weight + bias", "3 * weight + bias", "4 * weight + bias"]]],
        note="2·0.5+0.25 = 1.25, 3·0.5+0.25 = 1.75, 4·0.5+0.25 = 2.25",
    ),
    Example(
        id="blog-k2-s1", seed="004", section="Kernel Size = 2 , Stride = 1",
        code="m = nn.Conv1d(in_channels = 1, out_channels = 1, kernel_size = 2, stride=1)",
        module="conv1d", params=dict(stride=1, padding=0), kind="values", input="literal",
        input_values=(2., 3., 4.), weights=[[[0.5, -2.0]]], bias=(0.25,),
        printed=[[["2 * w0 + 3 * w1 + bias", "3 * w0 + 4 * w1 + bias"]]],
        note="2·0.5 + 3·(−2) + 0.25 = −4.75, 3·0.5 + 4·(−2) + 0.25 = −6.25",
    ),
    Example(
        id="blog-k2-s2", seed="004", section="Kernel Size = 2 , Stride = 2",
        code="m = nn.Conv1d(in_channels = 1, out_channels = 1, kernel_size = 2, stride=2)",
        module="conv1d", params=dict(stride=2, padding=0), kind="values", input="literal",
        input_values=(2., 3., 4.), weights=[[[0.5, -2.0]]], bias=(0.25,),
        printed=[[["2 * w0 + 3 * w1 + bias"]]],
        note="The kernel moves 2 slots and cannot operate on 4: one output, −4.75.",
    ),
    Example(
        id="blog-k2-s2-p1", seed="004", section="Kernel Size = 2 , Stride = 2 , Padding = 1",
        code=("m = nn.Conv1d(in_channels = 1, out_channels = 1, kernel_size = 2, stride=2,"
              "padding = 1)"),
        module="conv1d", params=dict(stride=2, padding=1), kind="values", input="literal",
        input_values=(2., 3., 4.), weights=[[[0.5, -2.0]]], bias=(0.25,),
        printed=[[["0 * w0 + 2 * w1 + bias", "3 * w0 + 4 * w1 + bias"]]],
        note="0·0.5 + 2·(−2) + 0.25 = −3.75, 3·0.5 + 4·(−2) + 0.25 = −6.25",
    ),
)

# The blog's printed formulas evaluated with the fixed weights above (transcribed by hand).
BLOG_VALUES = {
    "blog-k1-s1": [[[1.25, 1.75, 2.25]]],
    "blog-k2-s1": [[[-4.75, -6.25]]],
    "blog-k2-s2": [[[-4.75]]],
    "blog-k2-s2-p1": [[[-3.75, -6.25]]],
}


class ExampleNotFoundError(ConvError, KeyError):
    """No documented example has that id (a KeyError, as a lookup by key)."""

    __str__ = BaseException.__str__


def get_example(example_id: str) -> Example:
    for ex in EXAMPLES:
        if type(example_id) is str and ex.id == example_id:
            return ex
    raise ExampleNotFoundError(f"no documented example {shown(example_id)}")


def example_input(ex: Example, seed: int = 0) -> np.ndarray:
    """The example's input on the host, as the document builds it."""
    if ex.input == "literal":
        return np.asarray(ex.input_values, dtype=np.float32).reshape(1, 1, -1)
    if ex.input == "randn":
        return np.random.default_rng(seed).standard_normal(ex.input_shape).astype(np.float32)
    return np.arange(int(np.prod(ex.input_shape))).reshape(ex.input_shape).astype(np.float32)


def example_weights(ex: Example, size: int | None = None) -> np.ndarray | None:
    """The example's explicit weights (None for randomly initialised ones)."""
    if ex.weights == "customW":
        size = ex.params["size"] if size is None else size
        return custom_w_1d(size) if ex.module == "Conv1D" else custom_w_2d(size)
    if ex.weights == "random":
        return None
    return np.asarray(ex.weights, dtype=np.float32)


def printed_values(ex: Example) -> np.ndarray | None:
    """The printed output as numbers (the blog's formulas evaluated), or None."""
    if ex.kind != "values":
        return None
    if ex.seed == "004":
        return np.asarray(BLOG_VALUES[ex.id], dtype=np.float32)
    return np.asarray(ex.printed, dtype=np.float32)


def _build_module(ex: Example, **overrides):
    params = {**ex.params, **overrides}
    if ex.module in ("Sequential1D", "Sequential2D"):
        conv = Conv1D if ex.module == "Sequential1D" else Conv2D
        seq = Sequential()
        seq.append(conv(params["inmaps"], params["inmaps"], size=params["size"],
                        initscheme="gaussian", groups=params["inmaps"], name="depthwise"))
        seq.append(conv(params["inmaps"], params["outmaps"], size=1, initscheme="gaussian",
                        name="pointwise"))
        return seq
    conv = Conv1D if ex.module == "Conv1D" else Conv2D
    module = conv(useBias=False, **params) if ex.weights == "customW" else conv(**params)
    w = example_weights(ex)
    if w is not None:
        module.setVar("W", Variable(gpuarray.to_gpu(w)))
    return module


def run_example(ex: Example, **overrides):
    """What convcore computes for ``ex`` (``overrides`` replace documented parameters).

    Returns a NumPy array for "values" examples and a tuple of shapes otherwise.
    """
    x = gpuarray.to_gpu(example_input(ex))
    if ex.module == "conv1d":
        p = {**ex.params, **overrides}
        w = example_weights(ex)
        if w is None:
            rng = np.random.default_rng(0)
            w = rng.standard_normal((p["out_channels"], p["in_channels"], p["kernel_size"]))
            w = w.astype(np.float32)
        b = None if ex.bias is None else gpuarray.to_gpu(np.asarray(ex.bias, np.float32))
        out = conv1d(x, gpuarray.to_gpu(w), b, stride=p.get("stride", 1),
                     padding=p.get("padding", 0))
        return to_numpy(out) if ex.kind == "values" else (tuple(out.shape),)
    module = _build_module(ex, **overrides)
    if ex.kind == "shapes":
        module(x)  # the documents run the layer too; it must work
        if isinstance(module, Sequential):
            return tuple(tuple(m.W.shape) for m in module)
        return (tuple(module.W.shape),)
    return to_numpy(module(x))


@dataclass(frozen=True)
class ExampleCheck:
    """The verdict on one example: ``status`` is "match", "erratum" or "mismatch"."""

    example: Example
    computed: object
    printed: object
    status: str
    reproduced: bool | None  # for output errata: does ``reproduced_by`` give the printed output?


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-5, atol=1e-5))
    return tuple(map(tuple, a)) == tuple(map(tuple, b))


def check_example(ex: Example) -> ExampleCheck:
    """Compute ``ex`` and compare with what the document prints.

    "match": equal (or nothing printed and the shape agrees with the formula); "erratum": they
    differ and the example records an output erratum; "mismatch": they differ unexplained — a
    bug in convcore or a missing erratum.
    """
    computed = run_example(ex)
    printed = printed_values(ex) if ex.kind == "values" else ex.printed
    if printed is None:
        same = ex.formula_shape is not None and _same(computed, ex.formula_shape)
        return ExampleCheck(ex, computed, None, "match" if same else "mismatch", None)
    same = _same(computed, printed)
    reproduced = None
    if ex.reproduced_by:
        reproduced = _same(run_example(ex, **ex.reproduced_by), printed)
    if same:
        status = "match" if not ex.output_errata else "mismatch"
    else:
        status = "erratum" if ex.output_errata else "mismatch"
    return ExampleCheck(ex, computed, printed, status, reproduced)


# --- transposed counterparts -----------------------------------------------------------------
# For every documented 1-D and 2-D layer: the transpose of that layer (same weights, stride,
# padding, dilation and groups) applied to the layer's own output.  It returns an array of the
# layer's input shape (``postpad`` picks that length where the stride makes it ambiguous) and is
# the gradient of the layer with respect to its input, for ``grad_output`` = the output.  The
# documents print nothing for it: the tests compute the expected values with PyTorch.

@dataclass(frozen=True)
class TransposedExample:
    """The transposed counterpart of one documented example."""

    id: str
    forward_id: str
    code: str
    note: str = ""

    @property
    def forward(self) -> Example:
        return get_example(self.forward_id)


@dataclass(frozen=True)
class TransposedLayer:
    """One layer of a transposed run: the forward layer's weight and geometry."""

    weight: np.ndarray  # (C_out, C_in/groups, *kernel) of the forward layer
    stride: tuple
    padding: tuple
    dilation: tuple
    groups: int
    output_padding: tuple  # chosen so that the transpose returns the forward input's shape


@dataclass(frozen=True)
class TransposedRun:
    """What :func:`run_transposed_example` computed: forward, then transposed back."""

    example: TransposedExample
    input: np.ndarray  # the forward input
    layers: tuple  # TransposedLayer per forward layer, in forward order
    forward_output: np.ndarray
    output: np.ndarray  # the transposed layers (in reverse order) applied to forward_output


def _per_axis(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def back_padding(in_spatial, kernel, stride, padding, dilation) -> tuple:
    """``output_padding`` that makes the transpose return ``in_spatial``: the remainder the
    forward layer's floor discards, ``(L + 2p − d·(k−1) − 1) mod s``, per axis."""
    return tuple((n + 2 * p - d * (k - 1) - 1) % s
                 for n, k, s, p, d in zip(in_spatial, kernel, stride, padding, dilation))


def _layer_geometry(ex: Example, nd: int) -> list:
    """``[(size, stride, pad, dilation, groups)]`` of the example's layers, per axis tuples."""
    p = ex.params
    if ex.module == "conv1d":
        k = p["kernel_size"] if "kernel_size" in p else np.shape(ex.weights)[-1]
        return [((k,), (p.get("stride", 1),), (p.get("padding", 0),), (1,), 1)]
    if ex.module in ("Sequential1D", "Sequential2D"):
        return [(_per_axis(p["size"], nd), (1,) * nd, (0,) * nd, (1,) * nd, p["inmaps"]),
                ((1,) * nd, (1,) * nd, (0,) * nd, (1,) * nd, 1)]
    return [(_per_axis(p["size"], nd), _per_axis(p.get("stride", 1), nd),
             _per_axis(p.get("pad", 0), nd), _per_axis(p.get("dilation", 1), nd),
             p.get("groups", 1))]


def _transposed_code(ex: Example) -> str:
    in_spatial = example_input(ex).shape[2:]
    nd = len(in_spatial)
    size, stride, pad, dil, _ = _layer_geometry(ex, nd)[0]
    back = back_padding(in_spatial, size, stride, pad, dil)
    postpad = back[0] if nd == 1 else back
    if ex.module == "conv1d":
        s, p = stride[0], pad[0]
        return (f"y = F.conv1d(x, w{', b' if ex.bias else ''}, stride={s}, padding={p})\n"
                f"back = F.conv_transpose1d(y, w, stride={s}, padding={p}, "
                f"output_padding={postpad})  # the transpose has no bias")
    deconv = "Deconv1D" if ex.module in ("Conv1D", "Sequential1D") else "Deconv2D"
    if ex.module.startswith("Sequential"):
        return (f'pointwise = {deconv}(outmaps, inmaps, size=1, useBias=False)\n'
                f'pointwise.setVar("W", seq["pointwise"].getVar("W"))\n'
                f'depthwise = {deconv}(inmaps, inmaps, size=size, groups=inmaps, '
                f'useBias=False)\n'
                f'depthwise.setVar("W", seq["depthwise"].getVar("W"))\n'
                f'back = depthwise(pointwise(seq.data))')
    args = ", ".join(f"{k}={v!r}" for k, v in ex.params.items()
                     if k in ("size", "stride", "pad", "dilation", "groups"))
    return (f"deconv = {deconv}(inmaps=outmaps, outmaps=inmaps, {args}, postpad={postpad!r}, "
            f"useBias=False)\n"
            f'deconv.setVar("W", conv.getVar("W"))\n'
            f"deconv(conv.data)  # the shape of data again")


TRANSPOSED_EXAMPLES: tuple[TransposedExample, ...] = tuple(
    TransposedExample(id=f"{ex.id}-transposed", forward_id=ex.id, code=_transposed_code(ex),
                      note="The transpose of the documented layer, applied to its output; "
                           "postpad/output_padding restores the input length.")
    for ex in EXAMPLES
)


def get_transposed_example(example_id: str) -> TransposedExample:
    for tex in TRANSPOSED_EXAMPLES:
        if tex.id == example_id:
            return tex
    raise KeyError(f"no transposed example {example_id!r}")


def _forward_weights(ex: Example, nd: int, geometry, c_in: int, rng) -> list:
    """The forward layers' weights ``(C_out, C_in/groups, *kernel)``, 1-D without the height."""
    w = example_weights(ex)
    if w is not None:
        if ex.module == "Conv1D":
            w = w[:, :, 0, :]
        return [w]
    p = ex.params
    if ex.module.startswith("Sequential"):
        shapes = [(p["inmaps"], 1, *geometry[0][0]), (p["outmaps"], p["inmaps"], *(1,) * nd)]
    elif ex.module == "conv1d":
        shapes = [(p["out_channels"], p["in_channels"], p["kernel_size"])]
    else:
        shapes = [(p["outmaps"], c_in // p.get("groups", 1), *geometry[0][0])]
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


def run_transposed_example(tex: TransposedExample, seed: int = 0) -> TransposedRun:
    """Run the documented layer(s) forward, then their transposes back (module API for the
    PuzzleLib examples, ``conv1d`` / ``conv_transpose1d`` for the functional ones).

    Random weights come from ``numpy.random.default_rng(seed)``.
    """
    ex = tex.forward
    x = example_input(ex)
    nd = x.ndim - 2
    rng = np.random.default_rng(seed)
    geometry = _layer_geometry(ex, nd)
    weights = _forward_weights(ex, nd, geometry, x.shape[1], rng)
    layers, shapes, h = [], [], x
    for w, (size, stride, pad, dil, groups) in zip(weights, geometry):
        shapes.append(h.shape[2:])
        if ex.module == "conv1d":  # the functional examples, with the document's bias
            bias = None if ex.bias is None else np.asarray(ex.bias, np.float32)
            h = to_numpy(conv1d(h, w, bias, stride=stride, padding=pad))
        else:
            h = to_numpy(_module_forward(h, w, stride, pad, dil, groups, nd))
        layers.append(TransposedLayer(w, stride, pad, dil, groups,
                                      back_padding(shapes[-1], size, stride, pad, dil)))
    y, back = h, h
    for layer in reversed(layers):
        if ex.module == "conv1d":
            back = conv_transpose1d(back, layer.weight, stride=layer.stride,
                                    padding=layer.padding, output_padding=layer.output_padding)
            continue
        deconv_cls = Deconv1D if nd == 1 else Deconv2D
        c_in_t, og = layer.weight.shape[:2]
        deconv = deconv_cls(c_in_t, og * layer.groups, layer.weight.shape[2:], layer.stride,
                            layer.padding, layer.dilation, useBias=False, empty=True,
                            groups=layer.groups, postpad=layer.output_padding)
        w = layer.weight[:, :, None, :] if nd == 1 else layer.weight
        deconv.setVar("W", Variable(gpuarray.to_gpu(w)))
        back = to_numpy(deconv(gpuarray.to_gpu(back)))
    return TransposedRun(tex, x, tuple(layers), y, to_numpy(back))


def _module_forward(h, w, stride, pad, dilation, groups, nd):
    """The documented forward layer through the module API (Conv1D / Conv2D)."""
    conv_cls = Conv1D if nd == 1 else Conv2D
    conv = conv_cls(h.shape[1], w.shape[0], w.shape[2:], stride, pad, dilation, useBias=False,
                    empty=True, groups=groups)
    conv.setVar("W", Variable(gpuarray.to_gpu(w[:, :, None, :] if nd == 1 else w)))
    return conv(gpuarray.to_gpu(h))
