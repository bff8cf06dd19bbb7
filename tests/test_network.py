"""The network convcore trains (app/network): every layer's gradient against PyTorch's autograd,
one epoch of training against PyTorch's own training of the same net from the same weights and
batches, the shipped weights on the held-out split (scored by convcore and by PyTorch), the
data pipeline against PyTorch's bilinear interpolation, drawings, the nearest classic filter,
and the explorer's ``network`` source (a layer's input, kernels and bias) with hostile values.
"""

from __future__ import annotations

import doctest
import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose, assert_array_equal

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.network import data, filters, model, net  # noqa: E402
from app.network import settings as netsettings  # noqa: E402
from app.network.data import digits  # noqa: E402

torch.set_num_threads(1)


# ------------------------------------------------------------------------------ helpers

class TorchNet(torch.nn.Module):
    """The same network in PyTorch, from our parameters."""

    def __init__(self, params: dict):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.fc = torch.nn.Linear(256, 10)
        self.to(torch.from_numpy(np.asarray(params["fc.w"])).dtype)
        with torch.no_grad():
            for name, value in params.items():
                layer, kind = name.split(".")
                getattr(getattr(self, layer), "weight" if kind == "w" else "bias").copy_(
                    torch.tensor(np.asarray(value)))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.flatten(1))

    def params(self) -> dict:
        return {f"{layer}.{'w' if kind == 'weight' else 'b'}": p.detach().numpy().copy()
                for (layer, kind), p in ((n.split("."), p) for n, p in self.named_parameters())}


def grad_of(fn, *arrays):
    """Autograd's gradient of ``fn(*tensors).sum()``-weighted by a fixed random cotangent."""
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    cot = torch.from_numpy(np.random.default_rng(7).standard_normal(out.shape,
                                                                     dtype=np.float32))
    (out * cot).sum().backward()
    return out.detach().numpy(), cot.numpy(), [t.grad.numpy() for t in ts]


@pytest.fixture(scope="module")
def d():
    return digits()


# ------------------------------------------------------------------------------ layers

def test_max_pool_and_its_gradient_match_autograd_including_ties():
    rng = np.random.default_rng(0)
    # small integers: many windows hold their maximum twice; PyTorch sends the gradient to
    # the first one in row-major order, as net.max_pool_backward must
    a = rng.integers(-2, 3, (3, 4, 6, 8)).astype(np.float32)
    out, cot, (g,) = grad_of(lambda t: F.max_pool2d(t, 2), a)
    ours, arg = net.max_pool(a)
    assert_array_equal(ours, out)
    assert_array_equal(net.max_pool_backward(arg, cot), g)
    windows = a.reshape(3, 4, 3, 2, 4, 2).transpose(0, 1, 2, 4, 3, 5).reshape(-1, 4)
    assert (np.sort(windows, axis=1)[:, -1] == np.sort(windows, axis=1)[:, -2]).mean() > 0.2


def test_relu_gradient_matches_autograd_at_zero_too():
    z = np.array([[-1.5, 0.0, 2.0, -0.0, 3.25]], dtype=np.float32)
    out, cot, (g,) = grad_of(F.relu, z)
    assert_array_equal(net.relu(z), out)
    assert_array_equal(net.relu_backward(z, cot), g)


def test_linear_gradients_match_autograd():
    rng = np.random.default_rng(1)
    f = rng.standard_normal((5, 256), dtype=np.float32)
    w = rng.standard_normal((10, 256), dtype=np.float32)
    b = rng.standard_normal(10, dtype=np.float32)
    out, cot, grads = grad_of(F.linear, f, w, b)
    assert_allclose(net.linear(f, w, b), out, rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(net.linear_backward(f, w, cot), grads):
        assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)


def test_cross_entropy_and_its_gradient_match_autograd():
    rng = np.random.default_rng(2)
    logits = rng.standard_normal((7, 10), dtype=np.float32) * 4
    y = rng.integers(0, 10, 7)
    t = torch.tensor(logits, requires_grad=True)
    loss = F.cross_entropy(t, torch.from_numpy(y))
    loss.backward()
    ours, g = net.cross_entropy(logits, y)
    assert_allclose(float(ours), loss.item(), rtol=1e-6)
    assert_allclose(g, t.grad.numpy(), rtol=1e-5, atol=1e-7)
    assert_allclose(net.softmax(logits), F.softmax(t, 1).detach().numpy(), rtol=1e-5, atol=1e-7)


def test_convolution_gradients_through_convcore_match_autograd():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 8, 8, 8), dtype=np.float32)
    w = rng.standard_normal((16, 8, 3, 3), dtype=np.float32)
    b = rng.standard_normal(16, dtype=np.float32)
    out, cot, grads = grad_of(lambda *t: F.conv2d(*t, padding=1), x, w, b)
    assert_allclose(net.conv(x, w, b), out, rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(net.conv_backward(x, w, cot), grads):
        assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4)


def test_whole_backward_pass_matches_autograd(d):
    params = net.init_params(5)
    x, y = d.x_train[:40].copy(), d.y_train[:40].copy()
    loss, grads = net.backward(params, net.forward(params, x), y)
    tnet = TorchNet(params)
    tloss = F.cross_entropy(tnet(torch.from_numpy(x)), torch.from_numpy(y))
    tloss.backward()
    assert abs(loss - tloss.item()) < 1e-6
    for name, p in tnet.named_parameters():
        layer, kind = name.split(".")
        ours = grads[f"{layer}.{'w' if kind == 'weight' else 'b'}"]
        assert_allclose(ours, p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_init_follows_pytorch_default_bounds():
    p = net.init_params(0)
    assert sum(v.size for v in p.values()) == net.PARAMETERS == 3818
    for name, v in p.items():
        bound = 1 / np.sqrt(net.FAN_IN[name.split(".")[0]])
        assert v.dtype == np.float32 and v.shape == net.SHAPES[name]
        assert np.abs(v).max() <= bound and np.abs(v).max() > 0.8 * bound
    assert_array_equal(net.init_params(0)["fc.w"], p["fc.w"])
    assert not np.array_equal(net.init_params(1)["fc.w"], p["fc.w"])


# ------------------------------------------------------------------------------ training

@pytest.mark.parametrize("seed", [0, 3])
def test_one_epoch_from_a_seed_equals_pytorch_training_the_same_net(d, seed):
    """Same initial weights, same 23 batches, torch.optim.Adam: the weights agree after an
    epoch.  In float64: in float32 the two libraries round sums in different orders, so where
    a 2×2 window holds two mathematically equal values the max-pool may pick either, and
    Adam's first steps magnify that into whole learning-rate steps (seed 3 in float32 moves
    one conv1 weight by 2·lr in the first step; float64 sums of these inputs are exact, so
    ties stay ties).  The float32 layers are checked against autograd above."""
    ours = net.train(seed, d, epochs=1, dtype=np.float64)
    tnet = TorchNet({k: v.astype(np.float64) for k, v in net.init_params(seed).items()})
    opt = torch.optim.Adam(tnet.parameters(), lr=net.CONFIG.lr)
    x, y = torch.from_numpy(d.x_train.astype(np.float64)), torch.tensor(d.y_train)
    steps = 0
    for idx in net.batches(len(d.y_train), net.CONFIG.batch, np.random.default_rng(seed)):
        opt.zero_grad()
        F.cross_entropy(tnet(x[idx]), y[idx]).backward()
        opt.step()
        steps += 1
    assert steps == 23  # 1,437 images in batches of 64
    theirs = tnet.params()
    worst = max(float(np.abs(ours.params[k] - theirs[k]).max()) for k in theirs)
    assert worst < 1e-10, worst  # the issue asks for 1e-5
    start = net.init_params(seed)
    moved = min(float(np.abs(ours.params[k] - start[k]).max()) for k in theirs)
    assert moved > 1e-2  # the weights really trained
    assert ours.history["test_accuracy"][0] > 0.7


def test_training_is_deterministic_and_the_same_on_every_backend(d, xp):
    """The same seed trains the same weights: again on NumPy, and through the same code on
    CuPy where a GPU runs it (float64: no summation-order ties, see above)."""
    a = net.train(11, d, epochs=1, dtype=np.float64)
    b = net.train(11, d, epochs=1, dtype=np.float64, xp=xp)
    assert b.backend == ("numpy" if xp is np else "cupy")
    for k in a.params:
        assert type(b.params[k]) is np.ndarray
        if xp is np:
            assert_array_equal(a.params[k], b.params[k])
        else:
            assert_allclose(b.params[k], a.params[k], rtol=0, atol=1e-9)
    assert a.history["test_accuracy"] == b.history["test_accuracy"]


def test_learning_rate_anneals_as_pytorch_cosine_schedule():
    c = net.CONFIG
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=c.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=c.epochs)
    for epoch in range(c.epochs):
        assert abs(net.learning_rate(c, epoch) - opt.param_groups[0]["lr"]) < 1e-12
        opt.step()
        sched.step()


def test_shipped_weights_reach_97_percent_on_the_held_out_split(d):
    shipped = model.shipped()
    acc = net.accuracy(shipped.params, d.x_test, d.y_test)
    assert acc >= 0.97, acc
    # PyTorch scores the same weights the same way (an independent forward pass)
    with torch.no_grad():
        pred = TorchNet(shipped.params)(torch.tensor(d.x_test)).argmax(1).numpy()
    assert_array_equal(pred, net.predict(shipped.params, d.x_test).argmax(1))
    record = json.loads((ROOT / "assets" / "network.json").read_text())
    assert record["test_correct"] == int((pred == d.y_test).sum()) == round(acc * 360)
    assert abs(shipped.test_accuracy - acc) < 1e-9 and abs(record["test_accuracy"] - acc) < 1e-6
    assert record["seed"] == shipped.seed == 0 and record["parameters"] == 3818
    size = (ROOT / "assets" / "network.npz").stat().st_size
    assert record["weights_file_bytes"] == size and 12_000 < size < 24_000
    assert_array_equal(model.confusion(None).diagonal().sum(), record["test_correct"])
    assert model.confusion(None).sum() == 360


def test_weights_file_round_trips_and_refuses_wrong_shapes(tmp_path):
    t = model.shipped()
    back = net.from_bytes(net.to_bytes(t))
    for k in t.params:
        assert_array_equal(back.params[k], t.params[k])
    assert back.history == t.history and back.config == t.config
    bad = dict(t.params)
    bad["fc.w"] = bad["fc.w"][:, :100]
    with pytest.raises(ValueError, match=r"fc.w has shape \(10, 100\), expected \(10, 256\)"):
        net.from_bytes(net.to_bytes(replace(t, params=bad)))


# ------------------------------------------------------------------------------ data

def test_split_is_stratified_and_upsampling_is_pytorch_bilinear(d):
    assert d.x_train.shape == (1437, 1, 16, 16) and d.x_test.shape == (360, 1, 16, 16)
    assert np.bincount(d.y_test).min() >= 35 and np.bincount(d.y_test).max() <= 37
    assert d.raw_test.max() == 16 and d.raw_test.dtype == np.uint8
    theirs = F.interpolate(torch.from_numpy(d.raw_test[:50, None].astype(np.float32) / 16),
                           size=(16, 16), mode="bilinear", align_corners=False).numpy()
    assert_allclose(d.x_test[:50], theirs, atol=1e-6)


def test_drawings_round_trip_and_bad_ones_say_why():
    raw = np.arange(64).reshape(8, 8) % 17
    code = data.encode_drawing(raw)
    assert len(code) == 64 and code[:17] == "0123456789abcdefg"
    assert_array_equal(data.decode_drawing(code), raw)
    assert data.check_drawing(" " + code.upper() + " ") == code
    with pytest.raises(ValueError, match=r"64 characters .* got 3"):
        data.decode_drawing("abc")
    with pytest.raises(ValueError, match=r"0–9 and a–g .* got 'hz'"):
        data.decode_drawing("z" + "h" + "0" * 62)


def test_nearest_classic_filter():
    sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float32)
    assert filters.nearest_filter(sobel_x) == ("sobel x", 1.0)
    assert filters.nearest_filter(-sobel_x.T + 0.3)[0] == "−sobel y"  # an offset is no edge
    name, score = filters.nearest_filter(np.outer([1, 2, 1], [1, 2, 1]) / 16 + 0.01)
    assert name == "gaussian" and score > 0.99
    assert filters.nearest_filter(np.zeros((3, 3))) == ("identity", 0.0)
    for k in model.shipped().params["conv1.w"][:, 0]:
        name, score = filters.nearest_filter(k)
        assert name in filters.classic_filters() and -1 <= score <= 1


# ----------------------------------------------------------------- the explorer's source

def test_layer_input_weights_and_bias_give_the_stored_activation():
    import convcore as cc

    raw, label = model.digit(17)
    acts = model.activations(None, raw)
    for layer, (_, reads, writes) in model.LAYERS.items():
        x, text = model.layer_input(None, layer, 17)
        w, b = model.layer_params(None, layer)
        assert_array_equal(x, acts[reads])
        assert_array_equal(cc.conv2d(x, w, b, padding=1), acts[writes])
        assert f"test image 17 (a {label})" in text and writes in text
    drawn = data.encode_drawing(raw)
    x, text = model.layer_input(None, 2, 0, drawn)
    assert_array_equal(x, acts["p1"]) and "drawn digit" in text


@pytest.mark.parametrize("call, message", [
    (lambda: model.layer_input(None, 99, 0), "layer must be one of 1, 2 .* got 99"),
    (lambda: model.layer_input(None, 1, -1), "image must be .* from 0 to 359, got -1"),
    (lambda: model.layer_input(None, 1, 360), "from 0 to 359, got 360"),
    (lambda: model.layer_input(None, 1, 0, "xyz"), "draw: a drawing is 64 characters"),
    (lambda: model.trained(2**31), "seed must be an integer from 0 to 2147483647"),
    (lambda: model.trained(-1), "got -1"),
])
def test_hostile_network_values_are_refused_with_the_rule(call, message):
    with pytest.raises(model.NetworkError, match=message):
        call()


def test_network_page_url_round_trips_and_reports_what_it_ignores():
    s = netsettings.NetworkSettings(seed=7, image=17, draw="0" * 64, presenter=True)
    back, problems = netsettings.from_query(netsettings.to_query(s))
    assert back == s and problems == []
    assert netsettings.to_query(netsettings.NetworkSettings()) == {}
    back, problems = netsettings.from_query({"seed": "x", "image": "-1", "draw": "q"})
    assert back.seed is None and back.image == -1 and back.draw == ""  # -1: the page clamps
    assert [p.split("=")[0] for p in problems] == ["ignored seed", "ignored draw"]


@pytest.mark.parametrize("module", [data, filters, net])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
