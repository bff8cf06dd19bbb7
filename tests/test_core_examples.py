"""Every worked example of the seed documents, run as the documents write it.

Seeds 000 (PuzzleLib Conv1D) and 002 (PuzzleLib Conv2D) are run through the documented module
API, with the documents' code and only the import lines changed; the outputs they print are
transcribed below as literals, by hand, from the seed files.  Then the MegEngine, R torch and
blog examples (seeds 001, 003, 004), and finally the agreement between these transcriptions and
the registry ``convcore.examples`` that the app shows.
"""

from fractions import Fraction

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from reference import conv_reference

import convcore as cc
from convcore import Variable, gpuarray
from convcore.examples import EXAMPLES, check_example, get_example, printed_values
from convcore.modules import Conv1D, Conv2D, Sequential

# --- the printed outputs, transcribed from the seed files ------------------------------------

PRINTED = {
    # seed 000, PuzzleLib Conv1D
    "puzzlelib-conv1d-basic": [[[1., 3., 5., 7., 9., 11., 13., 15., 17.],
                                [-1., -2., -3., -4., -5., -6., -7., -8., -9.]]],
    "puzzlelib-conv1d-size": [[[3., 6., 9., 12., 15., 18., 21., 24.],
                               [-5., -8., -11., -14., -17., -20., -23., -26.]]],
    "puzzlelib-conv1d-pad": [[[1., 3., 6., 9., 12., 15., 18., 21., 24., 17.],
                              [-2., -5., -8., -11., -14., -17., -20., -23., -26., -9.]]],
    "puzzlelib-conv1d-stride": [[[1., 5., 9., 13., 17.],
                                 [-1., -3., -5., -7., -9.]]],
    "puzzlelib-conv1d-stride-pad": [[[0., 0., 0., 3., 7., 11., 15., 9., 0., 0.],
                                     [0., 0., 0., -2., -4., -6., -8., 0., 0., 0.]]],
    "puzzlelib-conv1d-dilation": [[[2., 4., 6., 8., 10., 12., 14., 16.],
                                   [-2., -3., -4., -5., -6., -7., -8., -9.]]],
    "puzzlelib-conv1d-groups-1": ((32, 16, 1, 2),),
    "puzzlelib-conv1d-groups-4": ((32, 4, 1, 2),),
    "puzzlelib-conv1d-depthwise": ((16, 1, 1, 2), (32, 16, 1, 1)),
    # seed 002, PuzzleLib Conv2D
    "puzzlelib-conv2d-basic": [[[[6., 8., 10., 12.],
                                 [16., 18., 20., 22.],
                                 [26., 28., 30., 32.],
                                 [36., 38., 40., 42.]],
                                [[-11., -14., -17., -20.],
                                 [-26., -29., -32., -35.],
                                 [-41., -44., -47., -50.],
                                 [-56., -59., -62., -65.]]]],
    "puzzlelib-conv2d-size": [[[[18., 21., 24.],
                                [33., 36., 39.],
                                [48., 51., 54.]],
                               [[-44., -50., -56.],
                                [-74., -80., -86.],
                                [-104., -110., -116.]]]],
    "puzzlelib-conv2d-pad": [[[[6., 8., 10., 12., 4.],
                               [16., 18., 21., 24., 12.],
                               [26., 33., 36., 39., 22.],
                               [36., 48., 51., 54., 32.],
                               [20., 36., 38., 40., 42.]],
                              [[0., -17., -22., -27., -32.],
                               [-11., -44., -50., -56., -57.],
                               [-26., -74., -80., -86., -82.],
                               [-41., -104., -110., -116., -107.],
                               [-56., -59., -62., -65., -48.]]]],
    "puzzlelib-conv2d-pad-hw": [[[[8., 10., 12.],
                                  [18., 21., 24.],
                                  [33., 36., 39.],
                                  [48., 51., 54.],
                                  [36., 38., 40.]],
                                 [[-17., -22., -27.],
                                  [-44., -50., -56.],
                                  [-74., -80., -86.],
                                  [-104., -110., -116.],
                                  [-59., -62., -65.]]]],
    "puzzlelib-conv2d-stride": [[[[6., 10.],
                                  [26., 30.]],
                                 [[-11., -17.],
                                  [-41., -47.]]]],
    "puzzlelib-conv2d-stride-pad": [[[[0., 0., 0., 0., 0.],
                                      [0., 0., 2., 4., 0.],
                                      [0., 10., 18., 22., 0.],
                                      [0., 20., 38., 42., 0.],
                                      [0., 0., 0., 0., 0.]],
                                     [[0., 0., 0., 0., 0.],
                                      [0., 0., -2., -6., 0.],
                                      [0., -5., -29., -35., 0.],
                                      [0., -15., -59., -65., 0.],
                                      [0., 0., 0., 0., 0.]]]],
    "puzzlelib-conv2d-stride-hw": [[[[0., 0., 0.],
                                     [0., 2., 0.],
                                     [0., 18., 0.],
                                     [0., 38., 0.],
                                     [0., 0., 0.]],
                                    [[0., 0., 0.],
                                     [0., -2., 0.],
                                     [0., -29., 0.],
                                     [0., -59., 0.],
                                     [0., 0., 0.]]]],
    "puzzlelib-conv2d-dilation": [[[[12., 14., 16.],
                                    [22., 24., 26.],
                                    [32., 34., 36.]],
                                   [[-22., -25., -28.],
                                    [-37., -40., -43.],
                                    [-52., -55., -58.]]]],
    "puzzlelib-conv2d-dilation-hw": [[[[16., 18., 20., 22.],
                                       [26., 28., 30., 32.]],
                                      [[-31., -34., -37., -40.],
                                       [-46., -49., -52., -55.]]]],
    "puzzlelib-conv2d-groups-1": ((32, 16, 2, 2),),
    "puzzlelib-conv2d-groups-4": ((32, 4, 2, 2),),
    "puzzlelib-conv2d-depthwise": ((3, 1, 4, 4), (32, 3, 1, 1)),
    # seed 001, MegEngine: ``oup.numpy().shape``
    "megengine-conv1d": ((2, 1, 2),),
    # seed 004, the blog prints formulas (its weights are random)
    "blog-k1-s1": [[["2 * weight + bias", "3 * weight + bias", "4 * weight + bias"]]],
    "blog-k2-s1": [[["2 * w0 + 3 * w1 + bias", "3 * w0 + 4 * w1 + bias"]]],
    "blog-k2-s2": [[["2 * w0 + 3 * w1 + bias"]]],
    "blog-k2-s2-p1": [[["0 * w0 + 2 * w1 + bias", "3 * w0 + 4 * w1 + bias"]]],
}

# The one example whose printed output is not what its code computes (see test below).
OUTPUT_ERRATA = {"puzzlelib-conv1d-stride-pad"}


def printed(example_id):
    return np.array(PRINTED[example_id], dtype=np.float32)


def assert_prints(conv, example_id):
    """``conv.data`` (the module's last output) is exactly what the document prints."""
    assert_array_equal(cc.to_numpy(conv.data), printed(example_id))


# --- seed 000: PuzzleLib Conv1D --------------------------------------------------------------

def customW_1d(size):
    w1 = np.ones(shape=(1, 1, 1, size))
    w2 = np.arange(size).reshape((1, 1, 1, size)) * -1
    w = np.vstack([w1, w2]).astype(np.float32)

    return w


@pytest.fixture
def data_1d():
    batchsize, inmaps, l = 1, 1, 10  # noqa: E741 - the document's names
    data = gpuarray.to_gpu(np.arange(batchsize * inmaps * l).reshape((batchsize, inmaps, l))
                           .astype(np.float32))
    assert_array_equal(cc.to_numpy(data), [[[0., 1., 2., 3., 4., 5., 6., 7., 8., 9.]]])
    return data


inmaps, outmaps = 1, 2


def run_1d(conv, data, size):
    conv.setVar("W", Variable(gpuarray.to_gpu(customW_1d(size))))
    conv(data)
    return conv


def test_conv1d_customW_is_printed():
    assert_array_equal(customW_1d(2), [[[[1., 1.]]], [[[0., -1.]]]])


def test_conv1d_basic(data_1d):
    size = 2
    conv = Conv1D(inmaps=inmaps, outmaps=outmaps, size=size, useBias=False)
    assert_prints(run_1d(conv, data_1d, size), "puzzlelib-conv1d-basic")


def test_conv1d_size(data_1d):
    conv = Conv1D(inmaps=inmaps, outmaps=outmaps, size=3, useBias=False)
    assert_prints(run_1d(conv, data_1d, 3), "puzzlelib-conv1d-size")


def test_conv1d_pad(data_1d):
    conv = Conv1D(inmaps=inmaps, outmaps=outmaps, size=3, pad=1, useBias=False)
    assert_prints(run_1d(conv, data_1d, 3), "puzzlelib-conv1d-pad")


def test_conv1d_stride(data_1d):
    conv = Conv1D(inmaps=inmaps, outmaps=outmaps, size=2, stride=2, useBias=False)
    assert_prints(run_1d(conv, data_1d, 2), "puzzlelib-conv1d-stride")


def test_conv1d_stride_pad_is_an_erratum(data_1d):
    """The document prints 10 columns for pad=2; its own formula gives 7.  pad=5 prints that."""
    conv = Conv1D(inmaps=inmaps, outmaps=outmaps, size=2, stride=2, pad=2, useBias=False)
    run_1d(conv, data_1d, 2)
    assert_array_equal(cc.to_numpy(conv.data), [[[0., 1., 5., 9., 13., 17., 0.],
                                                 [0., -1., -3., -5., -7., -9., 0.]]])
    assert cc.output_size(10, 2, stride=2, padding=2) == 7

    conv = Conv1D(inmaps=inmaps, outmaps=outmaps, size=2, stride=2, pad=5, useBias=False)
    assert_prints(run_1d(conv, data_1d, 2), "puzzlelib-conv1d-stride-pad")

    check = check_example(get_example("puzzlelib-conv1d-stride-pad"))
    assert check.status == "erratum"
    assert check.reproduced is True
    assert_array_equal(check.computed, [[[0., 1., 5., 9., 13., 17., 0.],
                                         [0., -1., -3., -5., -7., -9., 0.]]])


def test_conv1d_dilation(data_1d):
    conv = Conv1D(inmaps=inmaps, outmaps=outmaps, size=2, stride=1, pad=0, dilation=2,
                  useBias=False)
    assert_prints(run_1d(conv, data_1d, 2), "puzzlelib-conv1d-dilation")


def test_conv1d_groups_and_depthwise():
    np.random.seed(0)
    batchsize, inmaps, l = 1, 16, 10  # noqa: E741
    outmaps = 32
    size = 2
    groups = 1
    conv = Conv1D(inmaps, outmaps, size=2, initscheme="gaussian", groups=groups)
    assert conv.W.shape == PRINTED["puzzlelib-conv1d-groups-1"][0]

    groups = 4
    conv = Conv1D(inmaps, outmaps, size=2, initscheme="gaussian", groups=groups)
    assert conv.W.shape == PRINTED["puzzlelib-conv1d-groups-4"][0]

    seq = Sequential()
    seq.append(Conv1D(inmaps, inmaps, size=size, initscheme="gaussian", groups=inmaps,
                      name="depthwise"))
    seq.append(Conv1D(inmaps, outmaps, size=1, initscheme="gaussian", name="pointwise"))
    assert (seq["depthwise"].W.shape, seq["pointwise"].W.shape) == \
        PRINTED["puzzlelib-conv1d-depthwise"]
    data = gpuarray.to_gpu(np.random.randn(batchsize, inmaps, l).astype(np.float32))

    # The groups=4 layer: 4 input maps -> 8 output maps per group, checked by the loop oracle.
    x = cc.to_numpy(data)
    w4 = cc.to_numpy(conv.W)[:, :, 0, :]
    expect = conv_reference(x, w4, None, (1,), ((0, 0),), (1,), groups=4)
    assert_allclose(cc.to_numpy(conv(data)), expect, rtol=1e-5, atol=1e-5)

    out = seq(data)
    assert out.shape == (1, 32, 9)
    wd = cc.to_numpy(seq["depthwise"].W)[:, :, 0, :]
    wp = cc.to_numpy(seq["pointwise"].W)[:, :, 0, :]
    mid = conv_reference(x, wd, None, (1,), ((0, 0),), (1,), groups=16)
    expect = conv_reference(mid, wp, None, (1,), ((0, 0),), (1,))
    assert_allclose(cc.to_numpy(out), expect, rtol=1e-4, atol=1e-4)


# --- seed 002: PuzzleLib Conv2D --------------------------------------------------------------

def customW_2d(size):
    w1 = np.diag(np.full(size, 1)).reshape((1, 1, size, size))
    w2 = np.flip(np.diag(np.arange(1, size + 1) * (-1)), 1).reshape((1, 1, size, size))
    w = np.vstack([w1, w2]).astype(np.float32)

    return w


@pytest.fixture
def data_2d():
    batchsize, inmaps, h, w = 1, 1, 5, 5
    data = gpuarray.to_gpu(np.arange(batchsize * inmaps * h * w).reshape((batchsize, inmaps, h, w))
                           .astype(np.float32))
    assert_array_equal(cc.to_numpy(data), np.arange(25.).reshape(1, 1, 5, 5))
    return data


def set_2d(conv, size):
    conv.setVar("W", Variable(gpuarray.to_gpu(customW_2d(size))))
    return conv


def test_conv2d_customW_is_printed():
    assert_array_equal(customW_2d(2), [[[[1., 0.], [0., 1.]]], [[[0., -1.], [-2., 0.]]]])


def test_conv2d_basic(data_2d):
    size = 2
    # The document writes outmaps=outsize, an undefined name (a recorded erratum).
    conv = set_2d(Conv2D(inmaps=inmaps, outmaps=outmaps, size=size, useBias=False), size)
    conv(data_2d)
    assert_prints(conv, "puzzlelib-conv2d-basic")


def test_conv2d_size(data_2d):
    conv = set_2d(Conv2D(inmaps=inmaps, outmaps=outmaps, size=3, useBias=False), 3)
    conv(data_2d)
    assert_prints(conv, "puzzlelib-conv2d-size")


def test_conv2d_pad(data_2d):
    conv = set_2d(Conv2D(inmaps=inmaps, outmaps=outmaps, size=3, pad=1, useBias=False), 3)
    conv(data_2d)
    assert_prints(conv, "puzzlelib-conv2d-pad")


def test_conv2d_pad_hw(data_2d):
    conv = set_2d(Conv2D(inmaps=inmaps, outmaps=outmaps, size=3, pad=(1, 0), useBias=False), 3)
    conv(data_2d)
    assert_prints(conv, "puzzlelib-conv2d-pad-hw")


def test_conv2d_stride(data_2d):
    conv = set_2d(Conv2D(inmaps=inmaps, outmaps=outmaps, size=2, stride=2, useBias=False), 2)
    conv(data_2d)
    assert_prints(conv, "puzzlelib-conv2d-stride")


def test_conv2d_stride_pad(data_2d):
    conv = set_2d(Conv2D(inmaps=inmaps, outmaps=outmaps, size=2, stride=2, pad=3,
                         useBias=False), 2)
    conv(data_2d)
    assert_prints(conv, "puzzlelib-conv2d-stride-pad")


def test_conv2d_stride_hw(data_2d):
    conv = set_2d(Conv2D(inmaps=inmaps, outmaps=outmaps, size=2, stride=(2, 4), pad=3,
                         useBias=False), 2)
    conv(data_2d)
    assert_prints(conv, "puzzlelib-conv2d-stride-hw")


def test_conv2d_dilation(data_2d):
    conv = set_2d(Conv2D(inmaps=inmaps, outmaps=outmaps, size=2, stride=1, pad=0, dilation=2,
                         useBias=False), 2)
    conv(data_2d)
    assert_prints(conv, "puzzlelib-conv2d-dilation")


def test_conv2d_dilation_hw(data_2d):
    conv = set_2d(Conv2D(inmaps=inmaps, outmaps=outmaps, size=2, stride=1, pad=0,
                         dilation=(3, 1), useBias=False), 2)
    # This example prints the call's return value rather than conv.data: both must agree.
    assert_array_equal(cc.to_numpy(conv(data_2d)), printed("puzzlelib-conv2d-dilation-hw"))
    assert_prints(conv, "puzzlelib-conv2d-dilation-hw")


def test_conv2d_groups_and_depthwise():
    np.random.seed(1)
    batchsize, inmaps, h, w = 1, 16, 5, 5
    outmaps = 32
    groups = 1
    conv = Conv2D(inmaps, outmaps, size=2, initscheme="gaussian", groups=groups)
    assert conv.W.shape == PRINTED["puzzlelib-conv2d-groups-1"][0]

    groups = 4
    conv = Conv2D(inmaps, outmaps, size=2, initscheme="gaussian", groups=groups)
    assert conv.W.shape == PRINTED["puzzlelib-conv2d-groups-4"][0]
    x = np.random.randn(batchsize, inmaps, h, w).astype(np.float32)
    expect = conv_reference(x, cc.to_numpy(conv.W), None, (1, 1), ((0, 0),) * 2, (1, 1),
                            groups=4)
    assert_allclose(cc.to_numpy(conv(gpuarray.to_gpu(x))), expect, rtol=1e-4, atol=1e-4)

    batchsize, inmaps, h, w = 1, 3, 5, 5
    outmaps = 32
    seq = Sequential()
    seq.append(Conv2D(inmaps, inmaps, size=4, initscheme="gaussian", groups=inmaps,
                      name="depthwise"))
    seq.append(Conv2D(inmaps, outmaps, size=1, initscheme="gaussian", name="pointwise"))
    assert (seq["depthwise"].W.shape, seq["pointwise"].W.shape) == \
        PRINTED["puzzlelib-conv2d-depthwise"]
    data = gpuarray.to_gpu(np.random.randn(batchsize, inmaps, h, w).astype(np.float32))
    out = seq(data)
    assert out.shape == (1, 32, 2, 2)
    x = cc.to_numpy(data)
    mid = conv_reference(x, cc.to_numpy(seq["depthwise"].W), None, (1, 1), ((0, 0),) * 2,
                         (1, 1), groups=3)
    expect = conv_reference(mid, cc.to_numpy(seq["pointwise"].W), None, (1, 1), ((0, 0),) * 2,
                            (1, 1))
    assert_allclose(cc.to_numpy(out), expect, rtol=1e-4, atol=1e-4)


# --- seed 001: MegEngine, seed 003: R torch --------------------------------------------------

def test_megengine_conv1d_shape():
    inp = np.arange(0, 24).astype("float32").reshape(2, 3, 4)
    m = Conv1D(3, 1, 3)  # M.Conv1d(in_channels=3, out_channels=1, kernel_size=3)
    assert m(gpuarray.to_gpu(inp)).shape == PRINTED["megengine-conv1d"][0]
    # With all-ones weights each output is the sum of a 3x3 window: 108n + 45 + 9j.
    oup = cc.conv1d(inp, np.ones((1, 3, 3), np.float32))
    assert_array_equal(oup, [[[45., 54.]], [[153., 162.]]])


def test_rtorch_nn_conv1d_shape():
    rng = np.random.default_rng(3)
    inp = rng.standard_normal((20, 16, 50)).astype(np.float32)
    w = rng.standard_normal((33, 16, 3)).astype(np.float32)
    b = rng.standard_normal(33).astype(np.float32)
    assert cc.conv1d(inp, w, b, stride=2).shape == (20, 33, 24)
    assert cc.output_shape((20, 16, 50), (33, 16, 3), stride=2) == (20, 33, 24)
    assert cc.output_size(50, 3, stride=2) == 24
    assert Conv1D(16, 33, 3, stride=2)(inp).shape == (20, 33, 24)


# --- seed 004: the blog, input [2, 3, 4], with fixed weights and bias -------------------------

W0, W1, BIAS = 0.5, -2.0, 0.25
BLOG_CASES = [  # id, weights, stride, padding
    ("blog-k1-s1", [W0], 1, 0),
    ("blog-k2-s1", [W0, W1], 1, 0),
    ("blog-k2-s2", [W0, W1], 2, 0),
    ("blog-k2-s2-p1", [W0, W1], 2, 1),
]


@pytest.mark.parametrize(("example_id", "weights", "stride", "padding"), BLOG_CASES)
def test_blog_formulas(example_id, weights, stride, padding):
    x = np.array([[[2., 3., 4.]]], dtype=np.float32)
    w = np.array([[weights]], dtype=np.float32)
    out = cc.conv1d(x, w, np.array([BIAS], np.float32), stride=stride, padding=padding)
    names = {"weight": W0, "w0": W0, "w1": W1, "bias": BIAS}
    expect = [[[eval(f, {}, names) for f in PRINTED[example_id][0][0]]]]
    assert_allclose(out, expect, rtol=0, atol=1e-6)
    assert_allclose(printed_values(get_example(example_id)), expect, rtol=0, atol=1e-6)


def test_blog_values_by_hand():
    """The formulas above, evaluated by hand, so a wrong formula table cannot pass silently."""
    x = np.array([[[2., 3., 4.]]], dtype=np.float32)
    w2 = np.array([[[W0, W1]]], dtype=np.float32)
    b = np.array([BIAS], np.float32)
    assert_allclose(cc.conv1d(x, w2[..., :1], b), [[[1.25, 1.75, 2.25]]])
    assert_allclose(cc.conv1d(x, w2, b), [[[-4.75, -6.25]]])
    assert_allclose(cc.conv1d(x, w2, b, stride=2), [[[-4.75]]])
    assert_allclose(cc.conv1d(x, w2, b, stride=2, padding=1), [[[-3.75, -6.25]]])


# --- the registry convcore.examples agrees ---------------------------------------------------

@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda ex: ex.id)
def test_registry_status(ex):
    check = check_example(ex)
    expected = "erratum" if ex.id in OUTPUT_ERRATA else "match"
    assert check.status == expected
    assert bool(ex.output_errata) == (ex.id in OUTPUT_ERRATA)


def test_registry_covers_every_transcribed_example():
    ids = {ex.id for ex in EXAMPLES}
    assert set(PRINTED) <= ids
    assert ids - set(PRINTED) == {"rtorch-nn-conv1d"}  # the R page prints no output
    assert get_example("rtorch-nn-conv1d").printed is None
    assert {ex.id for ex in EXAMPLES if ex.seed in ("000", "002")} <= set(PRINTED)


@pytest.mark.parametrize("example_id", sorted(PRINTED))
def test_registry_printed_equals_transcription(example_id):
    ex = get_example(example_id)
    if ex.kind == "values" and ex.seed != "004":
        assert_array_equal(np.asarray(ex.printed, np.float32), printed(example_id))
    else:  # shapes, and the blog's formulas
        assert ex.printed == PRINTED[example_id]


def _document_formula(ex):
    """The document's un-floored shape formula, per spatial axis of the (first) layer."""
    p = ex.params
    spatial = ex.input_shape[2:]
    n = len(spatial)

    def per_axis(v):
        return tuple(v) if isinstance(v, tuple) else (v,) * n

    return [
        Fraction(size + 2 * pad - dil * (k - 1) - 1, stride) + 1
        for size, k, stride, pad, dil in zip(spatial, per_axis(p["size"]),
                                             per_axis(p.get("stride", 1)),
                                             per_axis(p.get("pad", 0)),
                                             per_axis(p.get("dilation", 1)))
    ]


@pytest.mark.parametrize("ex", [ex for ex in EXAMPLES if ex.seed in ("000", "002")],
                         ids=lambda ex: ex.id)
def test_formula_errata_exactly_where_the_formula_is_fractional(ex):
    values = _document_formula(ex)
    fractional = {v for v in values if v.denominator != 1}
    formula_errata = [e for e in ex.errata if e.kind == "formula"]
    assert bool(formula_errata) == bool(fractional)
    # One erratum per distinct fractional value; each states it, and the floored right value.
    said = {float(e.document_says.rsplit("=", 1)[1]) for e in formula_errata}
    assert said == {float(v) for v in fractional}
    assert len(formula_errata) == len(fractional)
    for e in formula_errata:
        value = Fraction(e.document_says.rsplit("=", 1)[1].strip())
        assert int(e.right.rsplit("=", 1)[1]) == int(value)  # floor, as printed


def test_fractional_formula_examples_are_the_strided_conv2d_ones():
    fractional = {ex.id for ex in EXAMPLES if ex.seed in ("000", "002")
                  and any(v.denominator != 1 for v in _document_formula(ex))}
    assert fractional == {"puzzlelib-conv2d-stride", "puzzlelib-conv2d-stride-pad",
                          "puzzlelib-conv2d-stride-hw"}
