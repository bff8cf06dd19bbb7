"""The code panel: the PyTorch, documented module API and convcore code the explorer shows for
a configuration runs as printed and computes the output the page draws."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from test_app_settings import random_settings  # noqa: E402

import convcore as cc  # noqa: E402
from app.shared import codegen, export, model, settings  # noqa: E402


def run_code(code: str, comp, tmp_path):
    """Execute generated code in ``tmp_path`` (with the exported .npy files it may load)."""
    (tmp_path / "input.npy").write_bytes(export.npy_bytes(comp.x))
    (tmp_path / "weight.npy").write_bytes(export.npy_bytes(comp.weight))
    if comp.bias is not None:
        (tmp_path / "bias.npy").write_bytes(export.npy_bytes(comp.bias))
    scope: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, "<generated>", "exec"), scope)
    finally:
        os.chdir(cwd)
    return scope


def configurations(n: int):
    """Valid random configurations of both pages (the ones the core accepts)."""
    rng = np.random.default_rng(7)
    found = 0
    while found < n:
        ndim = 1 + found % 2
        s = random_settings(rng, ndim)
        s = replace(s, source=("arange", "random", "typed", "sample")[found % 4],
                    kernel=("customW", "random", "preset", "customW")[found % 4],
                    weights=None)
        try:
            comp = model.compute(s)
        except (cc.ConvError, ValueError):
            continue
        found += 1
        yield s, comp


CASES = list(configurations(24)) + [
    (s, model.compute(s)) for s in (
        settings.defaults(1), settings.defaults(2),
        replace(settings.defaults(1), kernel="table", weights=(0.5, -2.0, 1.0, 0.25),
                bias=(0.25, -1.0)),
        replace(settings.defaults(2), pad_form="side", pad=((1, 0), (2, 3)), mode="reflect",
                stride=(2, 1), dilation=(1, 2)),
    )]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_generated_code_computes_the_drawn_output(case, tmp_path):
    s, comp = CASES[case]
    args = (s, comp.x, comp.weight, comp.bias)
    out = run_code(codegen.code_convcore(*args), comp, tmp_path)["out"]
    np.testing.assert_allclose(cc.to_numpy(out), comp.out, rtol=1e-5, atol=1e-4)
    scope = run_code(codegen.code_module_api(*args), comp, tmp_path)
    got = scope["conv"].data if "conv" in scope else scope["out"]
    np.testing.assert_allclose(cc.to_numpy(got), comp.out, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_pytorch_code_computes_the_drawn_output(case, tmp_path):
    pytest.importorskip("torch")
    s, comp = CASES[case]
    out = run_code(codegen.code_pytorch(s, comp.x, comp.weight, comp.bias), comp, tmp_path)["out"]
    np.testing.assert_allclose(out.numpy(), comp.out, rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("form,stride", [("same", (2, 3)), ("tfsame", (2, 1)), ("tfsame", (1, 1))])
def test_same_with_a_stride_is_spelled_for_both_frameworks(form, stride, tmp_path):
    s = replace(settings.defaults(2), shape=(7, 8), size=(3, 2), stride=stride, pad_form=form,
        source="random", bias=(0.5,))
    comp = model.compute(s)
    pads = cc.tf_same_pads((7, 8), (3, 2), stride)
    assert comp.padded.pads == pads
    assert comp.out.shape[2:] == tuple(-(-n // v) for n, v in zip((7, 8), stride))
    args = (s, comp.x, comp.weight, comp.bias)
    torch_code = codegen.code_pytorch(*args)
    assert f"pads {pads}" in torch_code  # PyTorch: the pads given explicitly
    out = run_code(torch_code, comp, tmp_path)["out"]
    np.testing.assert_allclose(out.numpy(), comp.out, rtol=1e-4, atol=1e-3)
    out = run_code(codegen.code_convcore(*args), comp, tmp_path)["out"]
    np.testing.assert_allclose(cc.to_numpy(out), comp.out, rtol=1e-5, atol=1e-4)
    tf = codegen.code_tensorflow_jax(*args)  # TensorFlow and JAX say SAME themselves
    assert 'padding = "SAME"' in tf and f"window_strides={stride}" in tf
    assert f'strides={stride}, padding="SAME"' in tf and "tf.nn.convolution" in tf


def test_module_api_code_is_the_documents_own():
    s = replace(settings.defaults(1), stride=(2,))
    comp = model.compute(s)
    code = codegen.code_module_api(s, comp.x, comp.weight, comp.bias)
    assert "conv = Conv1D(inmaps=1, outmaps=2, size=2, stride=2, pad=0, dilation=1, groups=1, " \
           "useBias=False)" in code
    assert 'conv.setVar("W", Variable(gpuarray.to_gpu(w.reshape(2, 1, 1, 2))))' in code
    assert "np.arange(1 * 1 * 10, dtype=np.float32).reshape(1, 1, 10)" in code
    side = replace(s, pad_form="side", pad=((1, 0),))
    assert "not expressible" in codegen.code_module_api(side, comp.x, comp.weight, None)
