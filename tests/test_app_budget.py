"""app/budget.py: a configuration is weighed from shapes before anything is computed, and a
refusal names the rule, the value and a way back under the budget that really is under it."""

from __future__ import annotations

import math
import re
import sys
from dataclasses import replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import convcore as cc  # noqa: E402
from app.shared import budget, model, settings  # noqa: E402


def test_accepted_layers_report_the_core_multiply_adds():
    for x, w, kw in (((1, 1, 5, 5), (2, 1, 2, 2), {}),
                     ((2, 4, 30, 20), (6, 2, 3, 5), dict(stride=(2, 1), padding=1, groups=2)),
                     ((1, 3, 100), (8, 3, 7), dict(dilation=2, padding="same"))):
        full = {**dict(stride=1, padding=0, dilation=1, groups=1), **kw}
        assert budget.check(x, w, **full) == cc.multiply_adds(x, w, **full)


def test_inputs_over_budget_are_refused_before_they_are_made():
    budget.check_input((1, 4, 1024, 1024))  # 4 Mi values: at the limit
    with pytest.raises(budget.BudgetError, match=r"input: N·C_in·H·W = 4·64·1024·1024 = "
                                                 r"2\.68e\+08 values.*at most 4,194,304"):
        budget.check_input((4, 64, 1024, 1024))
    s = replace(settings.defaults(2), batch=4, inmaps=64, shape=(1024, 1024))
    with pytest.raises(budget.BudgetError, match="size 128×128 with N=4, C_in=64"):
        model.load_input(s, None)  # refused before a 1 GB arange exists


def test_outputs_and_compute_over_budget_suggest_a_setting_that_fits():
    with pytest.raises(budget.BudgetError, match=r"output: .*\(at most 4\)"):
        budget.check((1, 1, 1024, 1024), (64, 1, 3, 3), 1, 0, 1, 1)
    x, w = (1, 32, 256, 256), (32, 32, 15, 15)
    with pytest.raises(budget.BudgetError) as err:
        budget.check(x, w, 1, 0, 1, 1)
    text = str(err.value)
    assert text.startswith("compute: N·C_out·outputs·(C_in/groups)·taps = 1.35e+10")
    maps = int(re.search(r"output maps (\d+)", text).group(1))
    size = int(re.search(r"kernel size (\d+)×", text).group(1))
    groups = int(re.search(r"groups=(\d+)", text).group(1))
    # every suggestion really is under the budget
    assert budget.check(x, (maps, 32, 15, 15), 1, 0, 1, 1) <= budget.MAX_MULTIPLY_ADDS
    assert budget.check(x, (32, 32, size, size), 1, 0, 1, 1) <= budget.MAX_MULTIPLY_ADDS
    assert budget.check(x, (32, 32 // groups, 15, 15), 1, 0, 1, groups) <= \
        budget.MAX_MULTIPLY_ADDS


def test_the_268_second_url_of_the_issue_is_refused_at_once():
    s = replace(settings.defaults(2), batch=1, inmaps=64, outmaps=64, shape=(384, 384),
                size=(31, 31), pad=((15, 15), (15, 15)))
    with pytest.raises(budget.BudgetError, match="input: N·C_in·H·W = 1·64·384·384"):
        model.compute(s)
    smaller = replace(s, inmaps=16, outmaps=16, shape=(256, 256))
    assert math.prod((1, 16, 256, 256)) <= budget.MAX_INPUT_VALUES
    with pytest.raises(budget.BudgetError, match=r"compute: .* multiply-adds"):
        model.compute(smaller)


def test_memory_is_weighed_with_the_core_estimate_and_the_algorithm_it_would_choose():
    # the largest layer the controls allow runs as an FFT within the page's memory budget
    est = budget.check_memory((4, 1, 1024, 1024), (1, 1, 31, 31), 1, 15, 1, 1)
    assert est == cc.estimate_memory((4, 1, 1024, 1024), (1, 1, 31, 31), padding=15,
                                     max_bytes=budget.MAX_BYTES)
    assert est.algorithm == "fft" and 100 * 2**20 < est.total <= budget.MAX_BYTES
    # a layer no algorithm can run within it is refused with every buffer named
    # (60001² float32 values are 13.4 GiB: padded input, accumulator and output)
    with pytest.raises(budget.BudgetError, match=r"^memory: this layer would allocate 40\.2 GiB "
                                                 r"\(padded input 13\.4 GiB, direct workspace "
                                                 r"13\.4 GiB, output 13\.4 GiB\); one page run "
                                                 r"may use 256 MiB\."):
        budget.check_memory((1, 1, 1, 1), (1, 1, 1, 1), 1, 30000, 1, 1)
