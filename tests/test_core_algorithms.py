"""Every algorithm (im2col, direct, FFT) against PyTorch and the loop reference, over the same
hypothesis space as test_core_oracle.py (every rank, groups, stride, dilation, padding form and
mode, batched or not, every dtype); the FFT's float32 accuracy; and what ``auto`` chooses."""

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from test_core_oracle import TOL, conv_cases, reference_call, torch_conv

import convcore as cc
import convcore.im2col as im2col
from convcore.params import make_spec

ALGORITHMS = ["im2col", "direct", "fft"]
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")
CC_CONV = {1: cc.conv1d, 2: cc.conv2d, 3: cc.conv3d}


def run(x, w, b, kw, algorithm, compute_mode="default", use_convnd=False):
    conv = cc.convnd if use_convnd else CC_CONV[w.ndim - 2]
    return conv(x, w, b, compute_mode=compute_mode, algorithm=algorithm, **kw)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=150)
@given(case=conv_cases(), data=st.data())
def test_every_algorithm_matches_torch(algorithm, case, data):
    x, w, b, kw = case
    out = run(x, w, b, kw, algorithm, data.draw(st.sampled_from(["default", "float32"])),
              data.draw(st.booleans()))
    expect = torch_conv(x, w, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"],
                        kw["padding_mode"])
    assert type(out) is np.ndarray and out.dtype == x.dtype and out.shape == expect.shape
    rtol, atol = TOL[x.dtype.type]
    assert_allclose(out.astype(np.float64), expect, rtol=rtol, atol=atol)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=60)
@given(case=conv_cases(max_size=5, dtypes=(np.float64,)))
def test_every_algorithm_matches_the_loop_reference(algorithm, case):
    x, w, b, kw = case
    assert_allclose(run(x, w, b, kw, algorithm), reference_call(x, w, b, kw), rtol=1e-10,
                    atol=1e-10)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=40)
@given(case=conv_cases(depthwise=True, dtypes=(np.float32,)))
def test_every_algorithm_on_depthwise_layers(algorithm, case):
    x, w, b, kw = case
    expect = torch_conv(x, w, b, kw["stride"], kw["padding"], kw["dilation"], kw["groups"],
                        kw["padding_mode"])
    assert_allclose(run(x, w, b, kw, algorithm), expect, rtol=1e-4, atol=1e-4)


# --- the FFT's float32 accuracy ---------------------------------------------------------------

FFT_CASES = [  # x shape, w shape, kwargs: large kernels, where auto picks the FFT
    ((1, 1, 256, 256), (1, 1, 31, 31), dict(padding=15)),
    ((2, 3, 96, 80), (4, 3, 21, 17), dict(padding=(10, 8), padding_mode="reflect")),
    ((1, 4, 120, 90), (8, 2, 15, 15), dict(groups=2, dilation=2, stride=(1, 3))),
    ((3, 2, 5000), (2, 2, 127), dict(padding="same", padding_mode="circular")),
    ((1, 2, 24, 28, 20), (2, 2, 9, 11, 7), dict(padding=3)),
]


@pytest.mark.parametrize(("xs", "ws", "kw"), FFT_CASES)
def test_fft_float32_error_is_below_1e_5_of_the_output_norm(xs, ws, kw):
    """float32 FFT against float64 PyTorch: ‖error‖ / ‖output‖ < 1e-5 (measured: ~1e-6)."""
    rng = np.random.default_rng(sum(xs))
    x = rng.standard_normal(xs)
    w = rng.standard_normal(ws)
    exact = torch_conv(x, w, None, kw.get("stride", 1), kw.get("padding", 0),
                       kw.get("dilation", 1), kw.get("groups", 1), kw.get("padding_mode", "zeros"))
    out = cc.convnd(x.astype(np.float32), w.astype(np.float32), algorithm="fft", **kw)
    error = np.linalg.norm(out - exact) / np.linalg.norm(exact)
    assert error < 1e-5
    direct = cc.convnd(x.astype(np.float32), w.astype(np.float32), algorithm="im2col", **kw)
    assert np.linalg.norm(direct - exact) / np.linalg.norm(exact) < 1e-5  # the same class


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan, 3e38])
def test_non_finite_or_huge_values_keep_auto_off_the_fft(bad):
    x = np.ones((1, 1, 64, 64), np.float32)
    x[0, 0, 3, 5] = bad
    w = np.ones((1, 1, 31, 31), np.float32)
    assert cc.choose_algorithm(x.shape, w.shape)[0] == "fft"
    with pytest.raises(cc.ConvError, match=r"algorithm='fft'.*finite"):
        cc.conv2d(x, w, algorithm="fft")
    auto = cc.conv2d(x, w)
    assert_allclose(auto, torch_conv(x, w, None, 1, 0, 1, 1, "zeros"), rtol=1e-5)
    assert np.isfinite(auto[0, 0, 6:, 6:]).all()  # windows that never read the cell


# --- what auto chooses -------------------------------------------------------------------------

@pytest.mark.parametrize(("xs", "ws", "kw", "name", "words"), [
    ((8, 64, 56, 56), (64, 64, 3, 3), dict(padding=1), "im2col", "one GEMM per chunk"),
    ((8, 64, 28, 28), (128, 64, 1, 1), {}, "im2col", "one GEMM per chunk"),
    ((8, 64, 56, 56), (64, 1, 3, 3), dict(padding=1, groups=64), "direct",
     "1 input channel per group"),
    ((1, 1, 256, 256), (1, 1, 31, 31), dict(stride=2), "im2col", "one GEMM per chunk"),
    ((8, 64, 56, 56), (64, 1, 3, 3), dict(padding=1, groups=64, stride=2), "im2col",
     "one GEMM per chunk"),
    ((1, 3, 256, 256), (8, 3, 31, 31), dict(padding=15), "fft", "31x31 kernel at stride 1"),
    ((1, 1, 65536), (1, 1, 255), {}, "fft", "255 kernel"),
])
def test_auto_choice_and_reason(xs, ws, kw, name, words):
    chosen, reason = cc.choose_algorithm(xs, ws, **kw)
    assert chosen == name
    assert words in reason and "estimated" in reason and "ms" in reason


def test_the_fft_is_not_a_candidate_at_stride_2():
    chosen, reason = cc.choose_algorithm((1, 3, 256, 256), (8, 3, 31, 31), stride=2)
    assert chosen != "fft" and "fft" not in reason


def test_auto_leaves_an_algorithm_that_does_not_fit_the_budget():
    shapes = ((1, 3, 256, 256), (8, 3, 31, 31))
    fft_bytes = cc.estimate_memory(*shapes, algorithm="fft").total
    others = min(cc.estimate_memory(*shapes, algorithm=a).total for a in ("im2col", "direct"))
    assert others < fft_bytes
    assert cc.choose_algorithm(*shapes, max_bytes=fft_bytes)[0] == "fft"
    assert cc.choose_algorithm(*shapes, max_bytes=fft_bytes - 1)[0] != "fft"


def test_explicit_algorithm_is_checked():
    x, w = np.zeros((1, 1, 5), np.float32), np.zeros((1, 1, 2), np.float32)
    for bad in ("winograd", None, 1, ["fft"]):
        with pytest.raises(cc.ConvError, match="algorithm must be one of"):
            cc.conv1d(x, w, algorithm=bad)


# --- im2col chunks inside one output row --------------------------------------------------------

@pytest.mark.parametrize("budget", [1, 200, 5000])
def test_im2col_chunks_never_exceed_the_budget_or_one_position(monkeypatch, budget):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 7, 9, 6))
    w = rng.standard_normal((4, 2, 2, 3, 2))
    kw = dict(groups=2, padding=(1, 0, 1), stride=(1, 2, 1))
    spec = make_spec("t", x.shape, w.shape, None, kw["stride"], kw["padding"], 1, 2)
    xpad = cc.core.pad_input(np, x, spec.pads, "zeros")
    sizes = []
    matmul = np.matmul

    def recording(a, b, **kwargs):
        sizes.append(b.nbytes)
        return matmul(a, b, **kwargs)

    monkeypatch.setattr(np, "matmul", recording)
    out = im2col.correlate_padded(np, xpad, w, spec, budget=budget)
    monkeypatch.undo()
    one_position = 2 * 2 * math.prod(w.shape[2:]) * 8
    assert max(sizes) <= max(budget, one_position)
    assert len(sizes) >= math.prod(spec.out_spatial) * 2 * one_position // max(budget, one_position)
    expect = torch_conv(x, w, None, kw["stride"], kw["padding"], 1, 2, "zeros")
    assert_allclose(out, expect, rtol=1e-10, atol=1e-10)


# --- the memory estimate is an upper bound of what a call allocates ------------------------------

SLACK = 256 * 2**10  # Python's own objects (tracemalloc sees them too; ~70 KiB on a first call)

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@settings(max_examples=25)
@given(case=conv_cases(max_size=9, dtypes=(np.float32, np.float64, np.float16)))
def test_memory_estimate_bounds_the_allocations(algorithm, case):
    x, w, b, kw = case
    estimate = cc.estimate_memory(x.shape, w.shape, kw["stride"], kw["padding"], kw["dilation"],
                                  kw["groups"], kw["padding_mode"], x.dtype.name, algorithm)
    run(x, w, b, kw, algorithm)  # once first: one-time set-up (the thread pool) is not per call
    tracemalloc.start()
    try:
        run(x, w, b, kw, algorithm)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= estimate.total + SLACK


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(("xs", "ws", "kw"), [
    ((2, 6, 70, 90), (9, 2, 7, 5), dict(padding=(3, 2), groups=3)),
    ((3, 48, 30, 40), (48, 48, 3, 3), dict(padding=2, dilation=2, stride=(2, 1))),
    ((1, 32, 40, 50), (32, 1, 9, 9), dict(padding=4, groups=32, padding_mode="reflect")),
])
def test_memory_estimate_bounds_a_large_call(algorithm, xs, ws, kw):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(xs).astype(np.float32)
    w = rng.standard_normal(ws).astype(np.float32)
    estimate = cc.estimate_memory(x.shape, w.shape, **kw, algorithm=algorithm)
    cc.conv2d(x, w, algorithm=algorithm, **kw)  # once first: one-time set-up is not per call
    tracemalloc.start()
    try:
        cc.conv2d(x, w, algorithm=algorithm, **kw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert estimate.total // 4 <= peak <= estimate.total + SLACK
    with pytest.raises(cc.ConvError, match="over the memory budget") as info:
        cc.conv2d(x, w, algorithm=algorithm, max_bytes=estimate.total - 1, **kw)
    assert "padded input" in str(info.value) and "output" in str(info.value)


def test_choose_algorithm_on_values_is_what_auto_runs():
    x = np.ones((1, 1, 64, 64), np.float32)
    w = np.ones((1, 1, 31, 31), np.float32)
    assert cc.choose_algorithm(x.shape, w.shape, padding=15, values=(x, w))[0] == "fft"
    for bad in (np.inf, np.nan, 3e38):
        xb = x.copy()
        xb[0, 0, 5, 5] = bad
        name = cc.choose_algorithm(x.shape, w.shape, padding=15, values=(xb, w))[0]
        assert name != "fft"
        # what auto runs on these values is that algorithm: the same numbers, bit for bit
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(cc.conv2d(xb, w, padding=15),
                                          cc.conv2d(xb, w, padding=15, algorithm=name))
    for values in ("x", (x,), (x, "w"), [1, 2]):
        with pytest.raises(cc.ConvError, match=r"choose_algorithm: values must be"):
            cc.choose_algorithm(x.shape, w.shape, values=values)
