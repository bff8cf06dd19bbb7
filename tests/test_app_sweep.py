"""A randomized sweep of explorer settings through AppTest: every one ends in a figure or in
an inline error message, never in an exception."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from test_app_state import random_settings  # noqa: E402

from app import state  # noqa: E402

SCRIPT = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from app.utils import explorer_page
explorer_page(NDIM)
"""
PER_PAGE = 120
GARBAGE = {"stride": ["0", "-3", "99", "x"], "size": ["0", "64", "2,2,2"], "pad": ["-1", "9:9"],
           "groups": ["0", "5", "64"], "dilation": ["0", "40"], "step": ["-1", "10000"],
           "omap": ["99"], "item": ["7"], "shape": ["0", "5000"], "w": ["1,2"]}


def settings_queries(ndim: int, n: int):
    rng = np.random.default_rng(100 + ndim)
    for _ in range(n):
        q = state.to_query(random_settings(rng, ndim))
        if rng.random() < 0.3:  # out-of-range or unreadable URL values
            key = list(GARBAGE)[int(rng.integers(len(GARBAGE)))]
            q[key] = GARBAGE[key][int(rng.integers(len(GARBAGE[key])))]
        yield q


@pytest.mark.parametrize("ndim", [1, 2])
def test_random_settings_give_a_figure_or_an_inline_error(ndim):
    outcomes = {"figure": 0, "error": 0}
    for q in settings_queries(ndim, PER_PAGE):
        at = AppTest.from_string(SCRIPT.replace("NDIM", str(ndim)), default_timeout=60)
        at.query_params.update(q)
        at.run()
        assert not at.exception, (q, [e.value for e in at.exception])
        has_chart = bool(at.get("plotly_chart"))
        assert has_chart != bool(at.error), (q, [e.value for e in at.error])
        outcomes["figure" if has_chart else "error"] += 1
        if has_chart and at.slider:  # one more interaction on the same session
            at.slider(key=f"e{ndim}.step").set_value(0).run()
            assert not at.exception, (q, [e.value for e in at.exception])
    assert outcomes["figure"] > PER_PAGE // 2 and outcomes["error"] > 0, outcomes
