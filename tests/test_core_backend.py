"""Backends: results stay where the input lives, and the backend choice follows its rules.

Tests taking ``xp`` run once per backend (conftest.py); CuPy cases skip without a working GPU.
"""

import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import convcore as cc
import convcore.backend as backend
from convcore import gpuarray
from convcore.modules import Conv1D, Conv2D


def fresh_resolver(monkeypatch, choice=None, probe=None):
    """Forget the resolved backend (restored after the test); optionally set the env / probe."""
    monkeypatch.setattr(backend, "_state", {})
    if choice is None:
        monkeypatch.delenv("CONVCORE_BACKEND", raising=False)
    else:
        monkeypatch.setenv("CONVCORE_BACKEND", choice)
    if probe is not None:
        monkeypatch.setattr(backend, "_probe_cupy", probe)


def no_gpu():
    return None, "RuntimeError: simulated: no CUDA device"


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_output_stays_on_the_input_backend(xp, dtype):
    rng = np.random.default_rng(0)
    x_host = rng.standard_normal((2, 4, 6, 5)).astype(dtype)
    w_host = rng.standard_normal((6, 2, 3, 2)).astype(dtype)
    b_host = rng.standard_normal(6).astype(dtype)
    x, w, b = xp.asarray(x_host), xp.asarray(w_host), xp.asarray(b_host)
    out = cc.conv2d(x, w, b, padding=((1, 0), 2), groups=2, padding_mode="reflect")
    assert isinstance(out, xp.ndarray)
    assert out.dtype == np.dtype(dtype)
    host = cc.to_numpy(out)
    assert type(host) is np.ndarray
    assert host.shape == (2, 6, 5, 8)  # H: 6+1+0-3+1, W: 5+2+2-2+1
    expect = cc.conv2d(x_host, w_host, b_host, padding=((1, 0), 2), groups=2,
                       padding_mode="reflect")
    tol = 2e-3 if dtype == "float16" else 1e-5
    assert_allclose(host.astype(np.float64), expect.astype(np.float64), rtol=tol, atol=tol)


def test_unbatched_and_every_rank_on_each_backend(xp):
    x = xp.asarray(np.arange(2 * 4 * 4 * 4, dtype=np.float64).reshape(2, 4, 4, 4))
    w = xp.ones((1, 2, 2, 2, 2))
    out = cc.conv3d(x, w, stride=2)
    assert isinstance(out, xp.ndarray) and out.shape == (1, 2, 2, 2)
    # An all-ones kernel sums each 2x2x2 block over both channels.
    assert cc.to_numpy(out)[0, 1, 0, 1] == float(cc.to_numpy(x)[:, 2:, :2, 2:].sum())
    assert isinstance(cc.conv1d(x[0], xp.ones((3, 4, 2))), xp.ndarray)


def test_to_numpy(xp):
    a = xp.arange(6, dtype=xp.float32).reshape(2, 3)
    host = cc.to_numpy(a)
    assert type(host) is np.ndarray
    assert_array_equal(host, np.arange(6, dtype=np.float32).reshape(2, 3))
    n = np.ones(3)
    assert cc.to_numpy(n) is n  # NumPy arrays pass through without a copy


def test_modules_run_on_each_backend(xp):
    data = xp.asarray(np.arange(10, dtype=np.float32).reshape(1, 1, 10))
    conv = Conv1D(1, 2, 2, useBias=False)
    conv.setVar("W", cc.Variable(xp.asarray(np.array([[[[1., 1.]]], [[[0., -1.]]]],
                                                     np.float32))))
    out = conv(data)
    assert isinstance(out, xp.ndarray)
    assert_array_equal(cc.to_numpy(out), [[[1., 3., 5., 7., 9., 11., 13., 15., 17.],
                                           [-1., -2., -3., -4., -5., -6., -7., -8., -9.]]])


def test_backend_name_and_gpuarray_follow_the_active_backend():
    expected = "cupy" if "cupy" in cc.available_backends() else "numpy"
    if os.environ.get("CONVCORE_BACKEND", "").strip().lower() == "numpy":
        expected = "numpy"
    assert cc.backend_name() == expected
    assert cc.available_backends()[0] == "numpy"
    on_device = gpuarray.to_gpu(np.arange(3.0))
    assert (type(on_device).__module__.split(".")[0]) == expected
    assert_array_equal(gpuarray.to_host(on_device), [0., 1., 2.])
    assert isinstance(Conv2D(1, 1, 1).W, type(on_device))


def test_backend_is_numpy_without_a_gpu():
    if "cupy" in cc.available_backends():
        pytest.skip("CuPy works here")
    assert cc.backend_name() == "numpy"
    assert cc.available_backends() == ["numpy"]
    assert backend.cupy_unavailable_reason()  # a reason is kept for the app to show


def test_environment_numpy_is_respected(monkeypatch):
    fresh_resolver(monkeypatch, "numpy", probe=lambda: pytest.fail("numpy must not probe CuPy"))
    assert cc.backend_name() == "numpy"
    assert backend.active_xp() is np
    assert type(gpuarray.to_gpu([1.0])) is np.ndarray


@pytest.mark.parametrize("choice", [" NumPy ", "numpy"])
def test_environment_value_is_normalised(monkeypatch, choice):
    fresh_resolver(monkeypatch, choice)
    assert cc.backend_name() == "numpy"


@pytest.mark.parametrize("choice", ["tensorflow", "gpu", "cuda"])
def test_invalid_environment_value(monkeypatch, choice):
    fresh_resolver(monkeypatch, choice)
    with pytest.raises(cc.ConvError) as info:
        cc.backend_name()
    for phrase in ("CONVCORE_BACKEND", repr(choice), "auto", "numpy", "cupy"):
        assert phrase in str(info.value)


def test_auto_falls_back_to_numpy_when_cupy_fails(monkeypatch):
    fresh_resolver(monkeypatch, "auto", probe=no_gpu)
    assert cc.backend_name() == "numpy"
    assert "simulated" in backend.cupy_unavailable_reason()
    assert cc.available_backends() == ["numpy"]


def test_cupy_requested_but_broken_is_a_clear_error(monkeypatch):
    fresh_resolver(monkeypatch, "cupy", probe=no_gpu)
    with pytest.raises(cc.ConvError) as info:
        cc.backend_name()
    assert "CONVCORE_BACKEND=cupy" in str(info.value)
    assert "simulated: no CUDA device" in str(info.value)  # the reason is passed on


def test_cupy_requested_where_it_cannot_run(monkeypatch):
    if "cupy" in cc.available_backends():
        pytest.skip("CuPy works here")
    fresh_resolver(monkeypatch, "cupy")
    with pytest.raises(cc.ConvError, match="CuPy cannot run here"):
        cc.backend_name()


def test_probe_reports_a_reason_instead_of_raising():
    cupy, why = backend._probe_cupy()
    if cupy is None:
        assert isinstance(why, str) and why
    else:
        assert why is None


def test_xp_by_name():
    assert backend.xp_by_name("numpy") is np
    with pytest.raises(cc.ConvError, match="'torch'"):
        backend.xp_by_name("torch")


def run_python(code, choice):
    env = {**os.environ, "CONVCORE_BACKEND": choice}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=root, capture_output=True,
                          text=True, timeout=120)


def test_environment_in_a_fresh_process():
    done = run_python("import convcore; print(convcore.backend_name())", "numpy")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "numpy"
    done = run_python("import convcore; convcore.backend_name()", "opencl")
    assert done.returncode != 0
    assert "ConvError" in done.stderr and "CONVCORE_BACKEND" in done.stderr
    assert "'opencl'" in done.stderr


def test_float16_accumulates_and_adds_bias_in_float32(xp):
    """Products, sums and bias in float32, one rounding to float16 at the end.

    1 + 2**-11 is a tie between the float16 neighbours 1 and 1 + 2**-10, and rounds to even (1):
    summing or adding the bias in float16 would lose every 2**-11 term.  In float32 the total
    1 + 2**-10 is exact and representable in float16.
    """
    tiny = 2.0**-11
    x = xp.asarray(np.array([[[1.0, tiny, tiny, 0.0]]], np.float16))
    w = xp.asarray(np.ones((1, 1, 3), np.float16))
    out = cc.conv1d(x, w)  # windows [1, t, t] and [t, t, 0]
    assert out.dtype == np.float16
    assert_array_equal(cc.to_numpy(out), np.array([[[1 + 2 * tiny, 2 * tiny]]], np.float16))
    out = cc.conv1d(x[:, :, :2], w[:, :, :2], xp.asarray(np.array([tiny], np.float16)),
                    compute_mode="float32")
    assert_array_equal(cc.to_numpy(out), np.array([[[1 + 2 * tiny]]], np.float16))
