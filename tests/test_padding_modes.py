"""The padding-mode table (convcore.padding_modes) against NumPy and PyTorch, and the core's
structure around it: one table, no second copy of its rules, no import circle."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import convcore as cc
from convcore import padding_modes as pm

CORE = Path(cc.__file__).parent
CASES = [(mode, n, lo, hi) for mode, n in itertools.product(pm.PADDING_MODES, (1, 4))
         for lo, hi in itertools.product(sorted({0, 1, n - 1, n, n + 1}), repeat=2)
         if pm.MODES[mode].max_pad(n) is None or max(lo, hi) <= pm.MODES[mode].max_pad(n)]


@pytest.mark.parametrize(("mode", "n", "lo", "hi"), CASES)
def test_pad_is_numpys_and_pytorchs_and_reads_its_source(mode, n, lo, hi):
    row = pm.MODES[mode]
    x = np.random.default_rng(n).standard_normal((2, 3, n))
    padded = pm.pad(np, x, ((lo, hi),), mode)
    np.testing.assert_array_equal(padded, np.pad(x, ((0, 0), (0, 0), (lo, hi)), mode=row.numpy))
    np.testing.assert_array_equal(padded, F.pad(torch.from_numpy(x), (lo, hi),
                                                mode=row.torch_pad).numpy())
    source = pm.source_of(np.arange(-lo, n + hi), n, mode)
    np.testing.assert_array_equal(padded, np.where(source >= 0, x[..., source], 0.0))


@pytest.mark.parametrize("mode", pm.PADDING_MODES)
def test_most_pad_is_pytorchs_limit(mode):
    n, most = 4, pm.MODES[mode].max_pad(4)
    assert cc.max_padding(n, mode) == most
    if most is None:
        return
    F.pad(torch.ones(1, 1, n), (most, most), mode=pm.MODES[mode].torch_pad)
    with pytest.raises(RuntimeError):
        F.pad(torch.ones(1, 1, n), (most + 1, 0), mode=pm.MODES[mode].torch_pad)
    with pytest.raises(cc.ConvError, match=f"padding_mode='{mode}' needs padding"):
        cc.conv1d(np.ones((1, 1, n), np.float32), np.ones((1, 1, 1), np.float32),
                  padding=((most + 1, 0),), padding_mode=mode)


@pytest.mark.parametrize("mode", pm.PADDING_MODES)
def test_fold_is_the_adjoint_of_pad(mode):
    """<pad(x), g> = <x, fold(g)> for every x, g: fold is pad's gradient."""
    rng = np.random.default_rng(7)
    in_spatial, pads = (4, 3), ((2, 3), (0, 2))
    x = rng.standard_normal((2, 3) + in_spatial)
    padded = pm.pad(np, x, pads, mode)
    g = rng.standard_normal(padded.shape)
    folded = pm.fold(np, g, in_spatial, pads, mode)
    assert folded.shape == x.shape
    assert np.isclose(np.sum(padded * g), np.sum(x * folded), rtol=1e-12)


def test_no_module_repeats_the_table():
    """NumPy's mode names live in the table only; geometry and params do not import each other."""
    for path in CORE.rglob("*.py"):
        if path.name != "padding_modes.py":
            text = path.read_text()
            assert '"edge"' not in text and '"wrap"' not in text, path
    imports = {path.stem: {node.module for node in ast.walk(ast.parse(path.read_text()))
                           if isinstance(node, ast.ImportFrom) and node.module}
               for path in (CORE / "geometry.py", CORE / "params.py")}
    assert "params" not in imports["geometry"] and "geometry" in imports["params"]


def test_the_app_can_import_the_constants():
    assert cc.PADDING_MODES == tuple(pm.MODES) == ("zeros", "reflect", "replicate", "circular")
    assert "he" in cc.INIT_SCHEMES and cc.FAN_MODES == ("in", "out", "avg")
