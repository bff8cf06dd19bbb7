"""The transposed module API: Deconv1D/Deconv2D/Deconv3D against torch.nn.ConvTranspose*d."""

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal

import convcore as cc
from convcore import Variable, gpuarray
from convcore.modules import Conv1D, Conv2D, Deconv1D, Deconv2D, Deconv3D


@pytest.mark.parametrize(("module", "size", "w_shape"), [
    (Deconv1D, 3, (6, 8, 1, 3)),
    (Deconv2D, 3, (6, 8, 3, 3)),
    (Deconv2D, (2, 4), (6, 8, 2, 4)),
    (Deconv3D, 3, (6, 8, 3, 3, 3)),
])
@pytest.mark.parametrize("groups", [1, 2])
def test_weight_and_bias_shapes(module, size, w_shape, groups):
    deconv = module(6, 8, size, groups=groups)
    assert deconv.W.shape == (w_shape[0], w_shape[1] // groups) + w_shape[2:]
    assert deconv.W.dtype == np.float32
    assert deconv.b.shape == (1, 8, 1, 1)
    assert_array_equal(cc.to_numpy(deconv.b), np.zeros((1, 8, 1, 1)))
    assert module(6, 8, size, useBias=False).b is None


TORCH = {1: torch.nn.ConvTranspose1d, 2: torch.nn.ConvTranspose2d, 3: torch.nn.ConvTranspose3d}
CASES = [  # module, inmaps, outmaps, size, kwargs, input spatial
    (Deconv1D, 4, 6, 3, dict(stride=2, pad=1, postpad=1, groups=2), (7,)),
    (Deconv1D, 2, 3, 4, dict(stride=3, dilation=2, postpad=2), (5,)),
    (Deconv2D, 4, 2, 3, dict(stride=2, pad=1, postpad=1), (5, 4)),
    (Deconv2D, 3, 6, (2, 3), dict(stride=(2, 1), pad=(0, 1), dilation=(1, 2), groups=3,
                                  postpad=(1, 0)), (4, 5)),
    (Deconv3D, 2, 2, 2, dict(stride=2, postpad=1), (3, 2, 3)),
]


@pytest.mark.parametrize(("module", "inmaps", "outmaps", "size", "kw", "spatial"), CASES)
def test_forward_equals_torch(module, inmaps, outmaps, size, kw, spatial):
    np.random.seed(7)
    deconv = module(inmaps, outmaps, size, initscheme="gaussian", **kw)
    rng = np.random.default_rng(1)
    b = rng.standard_normal(outmaps).astype(np.float32)
    deconv.setVar("b", Variable(gpuarray.to_gpu(b.reshape(1, outmaps, 1, 1))))
    x = rng.standard_normal((2, inmaps) + spatial).astype(np.float32)
    out = deconv(gpuarray.to_gpu(x))
    assert deconv.data is out
    nd = len(spatial)
    w = cc.to_numpy(deconv.W)
    if nd == 1:
        w = w[:, :, 0, :]
    m = TORCH[nd](inmaps, outmaps, w.shape[2:], stride=kw.get("stride", 1),
                  padding=kw.get("pad", 0), output_padding=kw.get("postpad", 0),
                  groups=kw.get("groups", 1), dilation=kw.get("dilation", 1))
    with torch.no_grad():
        m.weight.copy_(torch.from_numpy(w))
        m.bias.copy_(torch.from_numpy(b))
        expect = m(torch.from_numpy(x)).numpy()
    assert_allclose(cc.to_numpy(out), expect, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("conv_cls", "deconv_cls", "spatial"), [
    (Conv1D, Deconv1D, (11,)), (Conv2D, Deconv2D, (9, 8))])
def test_deconv_with_the_conv_weights_restores_the_shape(conv_cls, deconv_cls, spatial):
    """The documented use: the deconvolution of a layer takes the layer's own ``W``."""
    conv = conv_cls(4, 6, 3, stride=2, pad=1, groups=2, useBias=False)
    x = np.random.default_rng(0).standard_normal((1, 4) + spatial).astype(np.float32)
    y = conv(x)
    postpad = tuple((n + 2 - 2 - 1) % 2 for n in spatial)
    deconv = deconv_cls(6, 4, 3, stride=2, pad=1, groups=2, useBias=False,
                        postpad=postpad[0] if len(spatial) == 1 else postpad)
    deconv.setVar("W", conv.getVar("W"))
    back = deconv(y)
    assert back.shape == x.shape
    # ... and is the gradient of the layer with respect to its input, for grad_output = y
    w = cc.to_numpy(conv.W)
    w = w[:, :, 0, :] if len(spatial) == 1 else w
    assert_allclose(back, cc.conv_grad_input(x.shape, w, y, stride=2, padding=1, groups=2),
                    rtol=1e-5, atol=1e-5)


def test_repr_and_set_var():
    deconv = Deconv2D(2, 4, 3, stride=2, postpad=1, useBias=False, name="up")
    assert repr(deconv) == "Deconv2D(2, 4, 3, stride=2, useBias=False, name='up', postpad=1)"
    assert repr(Deconv1D(1, 1, 2)) == "Deconv1D(1, 1, 2)"
    with pytest.raises(cc.ConvError, match=r"expects shape \(2, 4, 3, 3\)"):
        deconv.setVar("W", Variable(np.zeros((4, 2, 3, 3), np.float32)))
    deconv.setVar("W", Variable(np.ones((2, 4, 3, 3), np.float32)))
    out = deconv(np.ones((1, 2, 2, 2), np.float32))
    assert out.shape == (1, 4, 6, 6)  # (2−1)·2 + 3 + 1
    assert float(out[0, 0, 2, 2]) == 8.0  # two input maps, two stamps each overlap here
