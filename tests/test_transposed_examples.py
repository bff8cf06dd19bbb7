"""The transposed counterpart of every documented 1-D and 2-D example, checked against PyTorch.

For each documented layer: run it forward and transpose it back with convcore
(``run_transposed_example``), and compute the same with PyTorch from the same input and
weights: ``F.conv{1,2}d`` forward, ``F.conv_transpose{1,2}d`` back with the output_padding this
test derives from the shapes.  The expected numbers never come from convcore.
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose, assert_array_equal
from test_core_examples import customW_1d, customW_2d

import convcore as cc
from convcore import Variable, gpuarray
from convcore.examples import (
    EXAMPLES,
    TRANSPOSED_EXAMPLES,
    get_transposed_example,
    run_transposed_example,
)
from convcore.modules import Conv1D, Conv2D, Deconv1D, Deconv2D


def torch_forward_and_back(x, layers, bias):
    """PyTorch's forward pass through the layers, then their transposes in reverse order."""
    h = torch.from_numpy(x.astype(np.float64))
    nd = x.ndim - 2
    conv = F.conv1d if nd == 1 else F.conv2d
    conv_t = F.conv_transpose1d if nd == 1 else F.conv_transpose2d
    shapes = []
    for i, (w, layer) in enumerate(layers):
        shapes.append(tuple(h.shape[2:]))
        b = torch.tensor(bias, dtype=torch.float64) if bias is not None and i == 0 else None
        h = conv(h, torch.from_numpy(w.astype(np.float64)), b, stride=layer.stride,
                 padding=layer.padding, dilation=layer.dilation, groups=layer.groups)
    y = h
    for (w, layer), want in zip(reversed(layers), reversed(shapes)):
        k = w.shape[2:]
        least = [(n - 1) * s - 2 * p + d * (kk - 1) + 1 for n, s, p, d, kk in
                 zip(h.shape[2:], layer.stride, layer.padding, layer.dilation, k)]
        opad = [a - b for a, b in zip(want, least)]
        h = conv_t(h, torch.from_numpy(w.astype(np.float64)), stride=layer.stride,
                   padding=layer.padding, output_padding=opad, groups=layer.groups,
                   dilation=layer.dilation)
    return y.numpy(), h.numpy()


def documented_weights(tex):
    """The document's own customW, transcribed in test_core_examples (None: random weights)."""
    ex = tex.forward
    if ex.weights != "customW":
        return None
    size = ex.params["size"]
    return customW_1d(size)[:, :, 0, :] if ex.module == "Conv1D" else customW_2d(size)


def test_every_documented_layer_has_a_transposed_counterpart():
    ids = {t.forward_id for t in TRANSPOSED_EXAMPLES}
    assert ids == {ex.id for ex in EXAMPLES}  # every example of the seeds is 1-D or 2-D
    assert all(t.id == t.forward_id + "-transposed" for t in TRANSPOSED_EXAMPLES)
    assert get_transposed_example("blog-k2-s2-transposed").forward.seed == "004"
    with pytest.raises(KeyError):
        get_transposed_example("nope")


@pytest.mark.parametrize("tex", TRANSPOSED_EXAMPLES, ids=lambda t: t.id)
def test_transposed_example_matches_torch(tex):
    run = run_transposed_example(tex)
    ex = tex.forward
    w_doc = documented_weights(tex)
    if w_doc is not None:  # the documented weights were used, as the document prints them
        assert_array_equal(run.layers[0].weight, w_doc)
    layers = [(layer.weight, layer) for layer in run.layers]
    y, back = torch_forward_and_back(run.input, layers, ex.bias)
    assert_allclose(run.forward_output, y, rtol=1e-5, atol=1e-4)
    assert run.output.shape == run.input.shape  # the transpose restores the input's shape
    assert_allclose(run.output, back, rtol=1e-5, atol=1e-3 if abs(back).max() > 100 else 1e-4)


def test_printed_outputs_run_back():
    """Two examples by hand: the printed forward outputs of seed 000, transposed back."""
    run = run_transposed_example(get_transposed_example("puzzlelib-conv1d-stride-transposed"))
    # forward (printed): [1 5 9 13 17] with w0 = [1, 1], [-1 -3 -5 -7 -9] with w1 = [0, -1];
    # back: cell 2i gets y0[i]·1 + y1[i]·0, cell 2i+1 gets y0[i]·1 + y1[i]·(−1)
    assert_array_equal(run.forward_output, [[[1, 5, 9, 13, 17], [-1, -3, -5, -7, -9]]])
    assert_array_equal(run.output, [[[1, 2, 5, 8, 9, 14, 13, 20, 17, 26]]])
    blog = run_transposed_example(get_transposed_example("blog-k2-s2-transposed"))
    # y = [2·0.5 + 3·(−2) + 0.25] = [−4.75]; back = [−4.75·0.5, −4.75·(−2), 0]
    assert_allclose(blog.output, [[[-2.375, 9.5, 0.0]]])
    assert blog.layers[0].output_padding == (1,)


@pytest.mark.parametrize("tex", [t for t in TRANSPOSED_EXAMPLES
                                 if t.forward.module in ("Conv1D", "Conv2D")
                                 and t.forward.weights == "customW"], ids=lambda t: t.id)
def test_shown_code_runs(tex):
    """The code the registry shows runs as written after the document's own code."""
    ex = tex.forward
    inmaps, outmaps = ex.params["inmaps"], ex.params["outmaps"]
    conv_cls = Conv1D if ex.module == "Conv1D" else Conv2D
    conv = conv_cls(useBias=False, **ex.params)
    size = ex.params["size"]
    w = customW_1d(size) if ex.module == "Conv1D" else customW_2d(size)
    conv.setVar("W", Variable(gpuarray.to_gpu(w)))
    data = gpuarray.to_gpu(np.arange(int(np.prod(ex.input_shape)), dtype=np.float32)
                           .reshape(ex.input_shape))
    conv(data)
    scope = dict(conv=conv, inmaps=inmaps, outmaps=outmaps, Deconv1D=Deconv1D,
                 Deconv2D=Deconv2D)
    exec(tex.code, scope)
    back = scope["deconv"].data
    assert back.shape == data.shape
    assert_allclose(cc.to_numpy(back), run_transposed_example(tex).output, rtol=1e-6)
