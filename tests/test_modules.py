"""The documented module API: Conv1D/Conv2D/Conv3D, Variable, Sequential."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose, assert_array_equal

import convcore as cc
from convcore import Variable, gpuarray
from convcore.modules import Conv1D, Conv2D, Conv3D, Sequential


def host(a):
    return cc.to_numpy(a)


# --- shapes and variables --------------------------------------------------------------------

@pytest.mark.parametrize(("module", "size", "w_shape"), [
    (Conv1D, 3, (8, 6, 1, 3)),
    (Conv2D, 3, (8, 6, 3, 3)),
    (Conv2D, (2, 4), (8, 6, 2, 4)),
    (Conv3D, 3, (8, 6, 3, 3, 3)),
    (Conv3D, (1, 2, 3), (8, 6, 1, 2, 3)),
])
@pytest.mark.parametrize("groups", [1, 2])
def test_weight_and_bias_shapes(module, size, w_shape, groups):
    conv = module(6, 8, size, groups=groups)
    assert conv.W.shape == (w_shape[0], w_shape[1] // groups) + w_shape[2:]
    assert conv.W.dtype == np.float32
    assert conv.b.shape == (1, 8, 1, 1)
    assert conv.b.dtype == np.float32
    assert_array_equal(host(conv.b), np.zeros((1, 8, 1, 1)))
    assert conv.getVar("W").data is conv.W and conv.getVar("b").data is conv.b
    assert conv.name is None


def test_depthwise_weight_shape():
    assert Conv2D(3, 6, 4, groups=3).W.shape == (6, 1, 4, 4)  # multiplier 2
    assert Conv1D(16, 16, 2, groups=16).W.shape == (16, 1, 1, 2)


def test_setVar_getVar_and_name():
    conv = Conv1D(2, 3, 2, name="layer")
    assert conv.name == "layer"
    w = Variable(gpuarray.to_gpu(np.arange(12, dtype=np.float32).reshape(3, 2, 1, 2)))
    b = Variable(gpuarray.to_gpu(np.array([1., -1., 10.], np.float32).reshape(1, 3, 1, 1)))
    conv.setVar("W", w)
    conv.setVar("b", b)
    assert conv.getVar("W") is w and conv.getVar("b") is b
    assert conv.W is w.data and conv.b is b.data
    x = np.array([[[1., 2., 3.], [0., 1., 0.]]], np.float32)
    out = conv(gpuarray.to_gpu(x))
    assert conv.data is out
    # out[c, j] = sum_ci sum_k W[c, ci, 0, k] * x[ci, j + k] + b[c]
    wk = np.arange(12.).reshape(3, 2, 2)
    expect = [[[sum(wk[c, ci, k] * x[0, ci, j + k] for ci in range(2) for k in range(2))
                + [1., -1., 10.][c] for j in range(2)] for c in range(3)]]
    assert_allclose(host(out), expect)


@pytest.mark.parametrize(("name", "shape", "expected"), [
    ("W", (3, 2, 2), "(3, 2, 1, 2)"),
    ("W", (3, 2, 2, 1), "(3, 2, 1, 2)"),
    ("b", (3,), "(1, 3, 1, 1)"),
    ("b", (1, 3, 1), "(1, 3, 1, 1)"),
])
def test_setVar_wrong_shape(name, shape, expected):
    conv = Conv1D(2, 3, 2)
    with pytest.raises(cc.ConvError) as info:
        conv.setVar(name, Variable(np.zeros(shape, np.float32)))
    assert expected in str(info.value) and str(shape) in str(info.value)
    assert repr(name) in str(info.value)


def test_setVar_rejects_non_variables_and_unknown_names():
    conv = Conv2D(1, 2, 2, useBias=False)
    with pytest.raises(cc.ConvError, match="Variable"):
        conv.setVar("W", np.zeros((2, 1, 2, 2), np.float32))
    with pytest.raises(cc.ConvError, match="'b'"):
        conv.setVar("b", Variable(np.zeros((1, 2, 1, 1), np.float32)))


def test_empty_allocates_nothing():
    conv = Conv2D(4, 8, 3, empty=True)
    assert conv.W is None and conv.b is None
    assert conv.getVar("W") is None and conv.getVar("b") is None
    x = np.ones((1, 4, 5, 5), np.float32)
    with pytest.raises(cc.ConvError, match="setVar"):
        conv(x)
    conv.setVar("W", Variable(np.ones((8, 4, 3, 3), np.float32)))
    assert_allclose(host(conv(x)), np.full((1, 8, 3, 3), 36.0))  # bias None: not added


def test_empty_does_not_draw_random_numbers():
    np.random.seed(5)
    Conv2D(64, 64, 3, empty=True)
    after_empty = np.random.random()
    np.random.seed(5)
    assert np.random.random() == after_empty


def test_use_bias_false():
    conv = Conv2D(1, 2, 1, useBias=False)
    assert conv.b is None
    assert set(conv.vars) == {"W"}
    conv.setVar("W", Variable(np.array([1., 2.], np.float32).reshape(2, 1, 1, 1)))
    assert_allclose(host(conv(np.ones((1, 1, 2, 2), np.float32))),
                    [[np.ones((2, 2)), 2 * np.ones((2, 2))]])


# --- forward passes against PyTorch ----------------------------------------------------------

def with_random_bias(conv, rng):
    conv.setVar("b", Variable(rng.standard_normal((1, conv.outmaps, 1, 1)).astype(np.float32)))
    return host(conv.b).reshape(-1)


def test_conv1d_forward_matches_torch():
    np.random.seed(0)
    rng = np.random.default_rng(0)
    conv = Conv1D(6, 4, 3, stride=2, pad=2, dilation=2, groups=2)
    b = with_random_bias(conv, rng)
    x = rng.standard_normal((3, 6, 17)).astype(np.float32)
    expect = F.conv1d(torch.from_numpy(x), torch.from_numpy(host(conv.W)[:, :, 0, :]),
                      torch.from_numpy(b), stride=2, padding=2, dilation=2, groups=2)
    assert_allclose(host(conv(x)), expect.numpy(), rtol=1e-5, atol=1e-5)


def test_conv2d_forward_matches_torch():
    np.random.seed(1)
    rng = np.random.default_rng(1)
    conv = Conv2D(4, 6, 3, stride=(1, 2), pad=(2, 1), dilation=(2, 1), groups=2)
    b = with_random_bias(conv, rng)
    x = rng.standard_normal((2, 4, 9, 11)).astype(np.float32)
    expect = F.conv2d(torch.from_numpy(x), torch.from_numpy(host(conv.W)), torch.from_numpy(b),
                      stride=(1, 2), padding=(2, 1), dilation=(2, 1), groups=2)
    assert_allclose(host(conv(x)), expect.numpy(), rtol=1e-5, atol=1e-5)


def test_conv3d_forward_matches_torch():
    np.random.seed(2)
    rng = np.random.default_rng(2)
    conv = Conv3D(3, 6, (2, 3, 1), stride=(2, 1, 1), pad=(0, 1, 2), groups=3)
    b = with_random_bias(conv, rng)
    x = rng.standard_normal((2, 3, 5, 4, 3)).astype(np.float32)
    expect = F.conv3d(torch.from_numpy(x), torch.from_numpy(host(conv.W)), torch.from_numpy(b),
                      stride=(2, 1, 1), padding=(0, 1, 2), groups=3)
    assert_allclose(host(conv(x)), expect.numpy(), rtol=1e-5, atol=1e-5)


def test_conv1d_needs_3d_input():
    with pytest.raises(cc.ConvError, match=r"Conv1D.*3-D.*\(1, 1, 1, 10\)"):
        Conv1D(1, 2, 2)(np.zeros((1, 1, 1, 10), np.float32))


def test_wrong_input_channels_are_reported():
    with pytest.raises(cc.ConvError, match="channels"):
        Conv2D(3, 2, 1)(np.zeros((1, 4, 5, 5), np.float32))


# --- initialisation schemes -------------------------------------------------------------------

IN, OUT, K, GROUPS = 64, 128, 5, 4
FAN_IN = IN // GROUPS * K * K  # 400
FAN_OUT = OUT * K * K  # 3200


def draw(initscheme, wscale=1.0, module=Conv2D):
    np.random.seed(1234)
    return host(module(IN, OUT, K, groups=GROUPS, initscheme=initscheme, wscale=wscale).W)


def assert_uniform(w, bound):
    assert np.abs(w).max() <= bound * (1 + 1e-6)
    assert np.abs(w).max() > 0.99 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    # A flat histogram: each tenth of [-bound, bound] holds about a tenth of the values.
    counts, _ = np.histogram(w, bins=10, range=(-bound, bound))
    assert_allclose(counts / w.size, 0.1, atol=0.01)


def assert_normal(w, std):
    assert abs(w.mean()) < 0.01 * std
    assert w.std() == pytest.approx(std, rel=0.02)
    assert np.mean(np.abs(w) < std) == pytest.approx(0.6827, abs=0.01)  # one-sigma mass


@pytest.mark.parametrize("initscheme", [None, "xavier_uniform", ("xavier_uniform", "in")])
def test_xavier_uniform_is_the_default(initscheme):
    assert_uniform(draw(initscheme), math.sqrt(3 / FAN_IN))


def test_xavier_uniform_conv1d_fan_counts_the_kernel_once():
    np.random.seed(1234)
    w = host(Conv1D(IN, OUT, K, groups=GROUPS).W)
    assert_uniform(w, math.sqrt(3 / (IN // GROUPS * K)))


def test_xavier_normal():
    assert_normal(draw("xavier_normal"), math.sqrt(1 / FAN_IN))


def test_he():
    assert_normal(draw("he"), math.sqrt(2 / FAN_IN))


def test_gaussian_uses_wscale():
    assert_normal(draw("gaussian", wscale=0.3), 0.3)
    assert_normal(draw("gaussian"), 1.0)


def test_uniform_uses_wscale():
    assert_uniform(draw("uniform", wscale=0.25), 0.25)


def test_none_gives_zeros():
    assert_array_equal(draw("none"), 0.0)


def test_fan_out_and_avg():
    assert_normal(draw(("he", "out")), math.sqrt(2 / FAN_OUT))
    assert_normal(draw(("xavier_normal", "out")), math.sqrt(1 / FAN_OUT))
    assert_uniform(draw(("xavier_uniform", "avg")), math.sqrt(3 / ((FAN_IN + FAN_OUT) / 2)))
    assert_uniform(draw(("xavier_uniform", "out")), math.sqrt(3 / FAN_OUT))


def test_seed_makes_weights_reproducible():
    assert_array_equal(draw("he"), draw("he"))
    np.random.seed(99)
    assert not np.array_equal(host(Conv2D(IN, OUT, K, groups=GROUPS, initscheme="he").W),
                              draw("he"))


# --- Sequential ------------------------------------------------------------------------------

def make_block():
    np.random.seed(3)
    seq = Sequential()
    seq.append(Conv2D(3, 3, size=2, initscheme="gaussian", groups=3, name="depthwise"))
    seq.append(Conv2D(3, 8, size=1, initscheme="gaussian", name="pointwise"))
    return seq


def test_sequential_lookup():
    seq = make_block()
    assert len(seq) == 2
    assert seq["depthwise"] is seq[0] and seq["pointwise"] is seq[1] and seq[-1] is seq[1]
    assert [m.name for m in seq] == ["depthwise", "pointwise"]
    assert seq.append(Conv2D(8, 1, 1)) is seq and len(seq) == 3
    assert seq[2].name is None


def test_sequential_unknown_name():
    seq = make_block()
    with pytest.raises(KeyError) as info:
        seq["pointwize"]
    message = str(info.value)
    assert "'pointwize'" in message and "'depthwise'" in message and "'pointwise'" in message
    with pytest.raises(IndexError):
        seq[2]


def test_sequential_call():
    seq = make_block()
    x = np.random.default_rng(4).standard_normal((2, 3, 6, 5)).astype(np.float32)
    out = seq(x)
    assert seq.data is out and out.shape == (2, 8, 5, 4)
    expect = F.conv2d(F.conv2d(torch.from_numpy(x), torch.from_numpy(host(seq[0].W)), groups=3),
                      torch.from_numpy(host(seq[1].W)))
    assert_allclose(host(out), expect.numpy(), rtol=1e-5, atol=1e-5)
    assert seq[0].data.shape == (2, 3, 5, 4)  # each module keeps its own output


# --- repr ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("module", "text"), [
    (lambda: Conv2D(3, 8, 3), "Conv2D(3, 8, 3)"),
    (lambda: Conv2D(3, 8, 3, stride=1, pad=0, dilation=1, groups=1, useBias=True),
     "Conv2D(3, 8, 3)"),
    (lambda: Conv2D(3, 8, 3, stride=2, pad=(1, 0), name="c", useBias=False),
     "Conv2D(3, 8, 3, stride=2, pad=(1, 0), useBias=False, name='c')"),
    (lambda: Conv1D(4, 8, 3, groups=2, initscheme=("he", "out"), wscale=0.5, empty=True),
     "Conv1D(4, 8, 3, wscale=0.5, initscheme=('he', 'out'), empty=True, groups=2)"),
    (lambda: Conv3D(1, 1, 1, dilation=2), "Conv3D(1, 1, 1, dilation=2)"),
    (lambda: Sequential(), "Sequential()"),
])
def test_repr_shows_only_non_default_arguments(module, text):
    assert repr(module()) == text


def test_sequential_repr_lists_modules():
    seq = make_block()
    text = repr(seq)
    assert text.startswith("Sequential(")
    assert "Conv2D(3, 3, 2, name='depthwise', initscheme='gaussian', groups=3)" in text
    assert "Conv2D(3, 8, 1, name='pointwise', initscheme='gaussian')" in text
    assert text.index("depthwise") < text.index("pointwise")


# --- invalid constructor arguments -----------------------------------------------------------

@pytest.mark.parametrize(("args", "kwargs", "phrases"), [
    ((0, 2, 3), {}, ["inmaps", "0"]),
    ((2, -1, 3), {}, ["outmaps", "-1"]),
    ((1.5, 2, 3), {}, ["inmaps", "1.5"]),
    ((4, 4, 3), dict(groups=0), ["groups", "0"]),
    ((4, 6, 3), dict(groups=4), ["groups=4", "outmaps=6"]),
    ((6, 4, 3), dict(groups=4), ["groups=4", "inmaps=6"]),
    ((2, 2, 0), {}, ["size", "0"]),
    ((2, 2, 3), dict(stride=0), ["stride", "0"]),
    ((2, 2, 3), dict(stride=(1, 2, 3)), ["stride", "(1, 2, 3)"]),
    ((2, 2, 3), dict(dilation=-2), ["dilation", "-2"]),
    ((2, 2, 3), dict(pad=-1), ["pad", "-1"]),
    ((2, 2, 3), dict(pad="same"), ["pad", "'same'"]),
    ((2, 2, 3), dict(initscheme="glorot"), ["initscheme", "'glorot'"]),
    ((2, 2, 3), dict(initscheme=("he", "sideways")), ["initscheme", "'sideways'"]),
    ((2, 2, 3), dict(initscheme=("he", "in", 2)), ["initscheme", "('he', 'in', 2)"]),
])
def test_invalid_constructor_arguments(args, kwargs, phrases):
    with pytest.raises(cc.ConvError) as info:
        Conv2D(*args, **kwargs)
    for phrase in phrases:
        assert phrase in str(info.value)
